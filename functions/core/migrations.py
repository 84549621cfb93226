"""Versioned SQL migrations, applied idempotently and recorded in ``schema_migrations``.

Each file ``stores/migrations/NNNN_name.sql`` runs once, inside a transaction, under an advisory lock so
two processes migrating at the same time do not race.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import psycopg

from functions.core.errors import StoreError

MIGRATIONS_DIR = Path(__file__).parent / "stores" / "migrations"
_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")
_LOCK_ID = 0x0B5E_7A70  # any constant shared by every migrator of this schema


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()[:16]


def discover(directory: Path = MIGRATIONS_DIR) -> list[Migration]:
    found = []
    for path in sorted(directory.glob("*.sql")):
        match = _NAME.match(path.name)
        if not match:
            raise StoreError("migrations", f"{path.name} is not named NNNN_name.sql")
        found.append(Migration(int(match[1]), match[2], path.read_text(encoding="utf-8")))
    versions = [m.version for m in found]
    if len(set(versions)) != len(versions):
        raise StoreError("migrations", "two migrations share a version number")
    return found


def _one_line(exc: Exception) -> str:
    return " ".join(str(exc).split())


def ensure_database(url: str) -> bool:
    """Create the database named in ``url`` when it is missing (connecting to ``postgres``). True if created."""
    info = psycopg.conninfo.conninfo_to_dict(url)
    dbname = str(info.get("dbname") or "")
    if not dbname:
        return False
    admin = psycopg.conninfo.make_conninfo(url, dbname="postgres")
    try:
        with psycopg.connect(admin, autocommit=True, connect_timeout=5) as conn:
            exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (dbname,)).fetchone()
            if exists:
                return False
            conn.execute(psycopg.sql.SQL("CREATE DATABASE {}").format(psycopg.sql.Identifier(dbname)))
            return True
    except psycopg.errors.DuplicateDatabase:
        return False
    except psycopg.OperationalError as exc:
        raise StoreError(
            "postgresql", f"cannot connect ({_one_line(exc)}); start it with `scripts/services.sh up`"
        ) from exc
    except psycopg.Error as exc:
        raise StoreError("postgresql", f"cannot create database {dbname}: {_one_line(exc)}") from exc


def migrate(url: str, *, progress: Callable[[str], None] = lambda _line: None) -> list[Migration]:
    """Apply pending migrations; return those applied now (empty on a second run)."""
    ensure_database(url)
    applied_now: list[Migration] = []
    try:
        with psycopg.connect(url, autocommit=True, connect_timeout=5) as conn:
            conn.execute("SELECT pg_advisory_lock(%s)", (_LOCK_ID,))
            try:
                conn.execute(
                    """CREATE TABLE IF NOT EXISTS schema_migrations (
                           version integer PRIMARY KEY, name text NOT NULL, checksum text NOT NULL,
                           applied_at timestamptz NOT NULL DEFAULT now())"""
                )
                done = {
                    row[0]: row[1]
                    for row in conn.execute("SELECT version, checksum FROM schema_migrations").fetchall()
                }
                for migration in discover():
                    if migration.version in done:
                        if done[migration.version] != migration.checksum:
                            progress(
                                f"warning: migration {migration.version:04d}_{migration.name} changed after it was applied"
                            )
                        continue
                    progress(f"applying {migration.version:04d}_{migration.name}")
                    with conn.transaction():
                        conn.execute(migration.sql)
                        conn.execute(
                            "INSERT INTO schema_migrations (version, name, checksum) VALUES (%s, %s, %s)",
                            (migration.version, migration.name, migration.checksum),
                        )
                    applied_now.append(migration)
            finally:
                conn.execute("SELECT pg_advisory_unlock(%s)", (_LOCK_ID,))
    except psycopg.OperationalError as exc:
        raise StoreError(
            "postgresql", f"cannot connect ({_one_line(exc)}); start it with `scripts/services.sh up`"
        ) from exc
    return applied_now
