"""The ``observatory`` command: the one composition root that reaches into the functions' contracts and
migrations, the local runtime and the validator. Each sub-command lives in its own module and registers
itself with ``add_parser(subparsers)``; the handler returns the exit code.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

# Modules that contribute sub-commands, in the order ``--help`` lists them.
COMMAND_MODULES = (
    "tui.runtime_cmd",
    "tui.submit_cmd",
    "tui.dashboard_cmd",
    "tui.web_cmd",
    "tui.db_cmd",
    "tui.contracts_cmd",
    "tui.validate",
    "tui.bench_cmd",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="observatory",
        description="Task Observatory: submit jobs as CloudEvents and watch them through Knative-style functions.",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name != name:
                raise
            continue
        module.add_parser(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    handler = getattr(args, "func", None)
    if handler is None:
        parser.print_help()
        return 2
    try:
        return int(handler(args))
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
