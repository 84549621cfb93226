"""Shared fixtures: real services, each test session isolated by its own database names and key prefix.

Integration tests never mock a store. When a service is missing they fail with the command to run,
they do not skip (``make test`` starts every service first).
"""

from __future__ import annotations

import os
import secrets
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pika
import psycopg
import pymongo
import pytest
import redis

ROOT = Path(__file__).resolve().parent.parent
PG_ADMIN_URL = os.environ.get("TEST_PG_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
MONGODB_URL = os.environ.get("MONGODB_URL", "mongodb://127.0.0.1:27017")
REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
RABBITMQ_URL = os.environ.get("RABBITMQ_URL", "amqp://guest:guest@127.0.0.1:5672/%2F")
HINT = "start the services with `scripts/services.sh up` (make test does this)"


@dataclass(frozen=True)
class Services:
    """Where this test session's isolated stores live."""

    database_url: str
    mongodb_url: str
    mongodb_database: str
    redis_url: str
    redis_prefix: str
    rabbitmq_url: str
    tag: str

    def env(self, **extra: str) -> dict[str, str]:
        """Environment for a function process or ``Settings.from_env`` pointing at these stores."""
        base = {
            "DATABASE_URL": self.database_url,
            "MONGODB_URL": self.mongodb_url,
            "MONGODB_DATABASE": self.mongodb_database,
            "REDIS_URL": self.redis_url,
            "REDIS_PREFIX": self.redis_prefix,
            "RABBITMQ_URL": self.rabbitmq_url,
        }
        return {**base, **extra}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _require(name: str, check: object) -> None:
    try:
        check()  # type: ignore[operator]
    except Exception as exc:
        pytest.fail(f"{name} is not reachable ({exc.__class__.__name__}: {exc}); {HINT}", pytrace=False)


@pytest.fixture(scope="session")
def services() -> Iterator[Services]:
    tag = secrets.token_hex(4)
    dbname = f"obs_test_{tag}"

    def pg() -> None:
        with psycopg.connect(PG_ADMIN_URL, autocommit=True, connect_timeout=5) as conn:
            conn.execute(f'CREATE DATABASE "{dbname}"')

    def mongo() -> None:
        pymongo.MongoClient(MONGODB_URL, serverSelectionTimeoutMS=3000).admin.command("ping")

    def rds() -> None:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=3).ping()

    def rabbit() -> None:
        pika.BlockingConnection(
            pika.URLParameters(RABBITMQ_URL + "?connection_attempts=1&socket_timeout=3")
        ).close()

    for name, check in (
        ("PostgreSQL", pg),
        ("MongoDB-wire server", mongo),
        ("Redis", rds),
        ("RabbitMQ", rabbit),
    ):
        _require(name, check)

    from functions.core.migrations import migrate

    database_url = urlunsplit(urlsplit(PG_ADMIN_URL)._replace(path=f"/{dbname}"))
    migrate(database_url)
    found = Services(
        database_url=database_url,
        mongodb_url=MONGODB_URL,
        mongodb_database=dbname,
        redis_url=REDIS_URL,
        redis_prefix=f"{dbname}:",
        rabbitmq_url=RABBITMQ_URL,
        tag=tag,
    )
    yield found
    pymongo.MongoClient(MONGODB_URL, serverSelectionTimeoutMS=3000).drop_database(dbname)
    client = redis.Redis.from_url(REDIS_URL)
    for key in client.scan_iter(match=f"{dbname}:*", count=1000):
        client.delete(key)
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{dbname}" WITH (FORCE)')
