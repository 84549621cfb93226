"""One benchmark run's private corner of the shared services, and its removal.

Other developers use the same PostgreSQL, MongoDB-wire server, Redis and RabbitMQ at the same time, so
each run (and each scenario) gets its own database names, Redis key prefix and broker UID, and drops
them at the end, whatever happened in between.
"""

from __future__ import annotations

import contextlib
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from urllib.parse import quote, unquote, urlsplit, urlunsplit

import httpx
import psycopg
import redis
from psycopg import sql
from pymongo import MongoClient

from functions.core.migrations import migrate

__all__ = ["Namespace", "cleanup", "management_url", "new_namespace", "with_database"]

DEFAULT_DATABASE_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
DEFAULT_MONGODB_URL = "mongodb://127.0.0.1:27017"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"
DEFAULT_RABBITMQ_URL = "amqp://guest:guest@127.0.0.1:5672/%2F"


@dataclass(frozen=True)
class Namespace:
    tag: str  # e.g. "obs_bench_3fa9c1_e2e"
    database_url: str
    mongodb_url: str
    mongodb_database: str
    redis_url: str
    redis_prefix: str
    rabbitmq_url: str
    broker_uid: str

    def env(self) -> dict[str, str]:
        """The settings every function and the runtime read (ARCHITECTURE "Settings")."""
        return {
            "DATABASE_URL": self.database_url,
            "MONGODB_URL": self.mongodb_url,
            "MONGODB_DATABASE": self.mongodb_database,
            "REDIS_URL": self.redis_url,
            "REDIS_PREFIX": self.redis_prefix,
            "RABBITMQ_URL": self.rabbitmq_url,
            "KNLOCAL_BROKER_UID": self.broker_uid,
        }

    def migrate(self) -> None:
        migrate(self.database_url)


def new_namespace(scenario: str, base: Mapping[str, str], run_id: str | None = None) -> Namespace:
    """Names derived from one random run id; ``base`` supplies the service URLs (normally os.environ)."""
    rid = run_id or secrets.token_hex(3)
    tag = f"obs_bench_{rid}_{scenario}"
    pg = with_database(base.get("DATABASE_URL") or DEFAULT_DATABASE_URL, tag)
    return Namespace(
        tag=tag,
        database_url=pg,
        mongodb_url=base.get("MONGODB_URL") or DEFAULT_MONGODB_URL,
        mongodb_database=tag,
        redis_url=base.get("REDIS_URL") or DEFAULT_REDIS_URL,
        redis_prefix=f"{tag}:",
        rabbitmq_url=base.get("RABBITMQ_URL") or DEFAULT_RABBITMQ_URL,
        broker_uid=f"bench-{rid}-{scenario}",
    )


def with_database(url: str, name: str) -> str:
    """The PostgreSQL URL with its database replaced (query string kept)."""
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, "/" + name, parts.query, parts.fragment))


def cleanup(ns: Namespace, extra_databases: tuple[str, ...] = ()) -> list[str]:
    """Drop everything the namespace names; return one line per part that could not be removed."""
    problems: list[str] = []
    for name in (ns.tag, *extra_databases):
        try:
            admin = with_database(ns.database_url, "postgres")
            with psycopg.connect(admin, autocommit=True, connect_timeout=5) as conn:
                conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        except psycopg.Error as exc:
            problems.append(f"postgresql {name}: {str(exc).strip()}")
    try:
        client: MongoClient[dict[str, object]] = MongoClient(ns.mongodb_url, serverSelectionTimeoutMS=3000)
        with contextlib.closing(client):
            client.drop_database(ns.mongodb_database)
    except Exception as exc:  # any driver failure is reported, never raised: cleanup goes on
        problems.append(f"mongodb {ns.mongodb_database}: {exc}")
    try:
        r = redis.Redis.from_url(ns.redis_url)
        with contextlib.closing(r):
            batch = list(r.scan_iter(match=f"{ns.redis_prefix}*", count=1000))
            for i in range(0, len(batch), 1000):
                r.delete(*batch[i : i + 1000])
    except redis.RedisError as exc:
        problems.append(f"redis {ns.redis_prefix}*: {exc}")
    problems.extend(delete_broker_objects(ns.rabbitmq_url, ns.broker_uid, _trigger_objects(ns.broker_uid)))
    return problems


def _trigger_objects(broker_uid: str) -> list[tuple[str, str]]:
    from tui.bench.broker_names import trigger_dead_letter_objects
    from tui.bench.runtime import repo_root

    try:
        return trigger_dead_letter_objects(repo_root() / "knative", broker_uid)
    except Exception:  # unreadable manifests: the marker still finds the broker's own objects
        return []


def management_url(amqp_url: str) -> tuple[str, str, str, str]:
    """(base URL of the management API, user, password, vhost) for an amqp:// URL (port 15672)."""
    parts = urlsplit(amqp_url)
    vhost = unquote(parts.path[1:]) if len(parts.path) > 1 else "/"
    user = unquote(parts.username or "guest")
    password = unquote(parts.password or "guest")
    return f"http://{parts.hostname or '127.0.0.1'}:15672", user, password, vhost


def delete_broker_objects(amqp_url: str, marker: str, exact: Sequence[tuple[str, str]] = ()) -> list[str]:
    """Delete the queues and exchanges whose names contain ``marker`` or are listed in ``exact`` as
    (kind, name): the runtime leaves them declared, and a Trigger's dead-letter queue and exchange carry a
    UID derived from the broker UID rather than the UID itself."""
    base, user, password, vhost = management_url(amqp_url)
    problems: list[str] = []
    try:
        with httpx.Client(auth=(user, password), timeout=10) as http:
            for kind in ("queues", "exchanges"):
                listed = http.get(f"{base}/api/{kind}/{quote(vhost, safe='')}")
                listed.raise_for_status()
                wanted = {name for k, name in exact if k == kind}
                for item in listed.json():
                    name = str(item.get("name", ""))
                    if marker in name or name in wanted:
                        http.delete(f"{base}/api/{kind}/{quote(vhost, safe='')}/{quote(name, safe='')}")
    except (httpx.HTTPError, ValueError) as exc:
        problems.append(f"rabbitmq objects named *{marker}*: {exc}")
    return problems
