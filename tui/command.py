"""What every ``observatory`` sub-command shares: one readable error line and its exit code."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable

from knlocal.config import ConfigError
from knlocal.state import StateFileError


class CommandError(Exception):
    """One readable line for the user; the exit code travels with it."""

    def __init__(self, message: str, code: int = 1) -> None:
        super().__init__(message)
        self.code = code


def guard(handler: Callable[[argparse.Namespace], int], name: str) -> Callable[[argparse.Namespace], int]:
    """Run ``handler``; a CommandError or a settings error becomes ``observatory NAME: message`` on stderr."""

    def run(args: argparse.Namespace) -> int:
        try:
            return handler(args)
        except CommandError as exc:
            print(f"observatory {name}: {exc}", file=sys.stderr)
            return exc.code
        except (ConfigError, StateFileError) as exc:
            print(f"observatory {name}: {exc}", file=sys.stderr)
            return 2

    return run
