import sys

from tui.validate.cli import main

sys.exit(main())
