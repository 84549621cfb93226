"""``observatory db migrate``: apply the versioned SQL migrations to DATABASE_URL."""

from __future__ import annotations

import argparse
import os
import sys

from functions.core.errors import ObservatoryError
from functions.core.migrations import migrate
from functions.core.settings import Settings


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    db = subparsers.add_parser("db", help="database maintenance")
    db_sub = db.add_subparsers(dest="db_command", metavar="ACTION", required=True)
    run = db_sub.add_parser("migrate", help="apply pending migrations (idempotent)")
    run.add_argument("--database-url", help="defaults to DATABASE_URL")
    run.set_defaults(func=_migrate)


def _migrate(args: argparse.Namespace) -> int:
    try:
        url = args.database_url or Settings.from_env(os.environ).database_url
        applied = migrate(url, progress=lambda line: print(line, flush=True))
    except ObservatoryError as exc:
        print(f"observatory db migrate: {exc}", file=sys.stderr)
        return 1
    print(f"{len(applied)} migration(s) applied" if applied else "database is up to date")
    return 0
