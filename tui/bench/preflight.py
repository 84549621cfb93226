"""Before a run: every service answers on loopback, so a broken one fails the run in seconds with one line
instead of every scenario timing out in turn."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pika
import psycopg
import redis
from pymongo import MongoClient

from tui.bench.isolation import (
    DEFAULT_DATABASE_URL,
    DEFAULT_MONGODB_URL,
    DEFAULT_RABBITMQ_URL,
    DEFAULT_REDIS_URL,
    with_database,
)

__all__ = ["preflight"]


def preflight(env: Mapping[str, str], timeout_s: float = 5.0) -> list[str]:
    """One line per service that does not answer; empty when all do."""
    problems: list[str] = []
    amqp = env.get("RABBITMQ_URL") or DEFAULT_RABBITMQ_URL
    try:
        params = pika.URLParameters(amqp)
        params.connection_attempts, params.socket_timeout = 1, timeout_s
        params.blocked_connection_timeout = params.stack_timeout = timeout_s
        pika.BlockingConnection(params).close()
    except Exception as exc:  # pika's connect failures do not share one base class
        problems.append(f"RabbitMQ does not complete an AMQP connection ({exc.__class__.__name__})")
    try:
        url = with_database(env.get("DATABASE_URL") or DEFAULT_DATABASE_URL, "postgres")
        psycopg.connect(url, connect_timeout=int(timeout_s)).close()
    except psycopg.Error as exc:
        problems.append(f"PostgreSQL: {str(exc).strip().splitlines()[0]}")
    try:
        r = redis.Redis.from_url(env.get("REDIS_URL") or DEFAULT_REDIS_URL, socket_timeout=timeout_s)
        r.ping()
        r.close()
    except redis.RedisError as exc:
        problems.append(f"Redis: {exc}")
    try:
        client: MongoClient[dict[str, Any]] = MongoClient(
            env.get("MONGODB_URL") or DEFAULT_MONGODB_URL, serverSelectionTimeoutMS=int(timeout_s * 1000)
        )
        client.admin.command("ping")
        client.close()
    except Exception as exc:  # any driver error means "not usable"
        problems.append(f"MongoDB: {exc.__class__.__name__}")
    return problems
