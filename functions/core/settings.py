"""Settings for every function, read once from an explicit mapping (normally ``os.environ``).

Nothing here reads the environment at import time: a function builds ``Settings.from_env(os.environ)``
when it starts, so tests pass their own mapping and a malformed value fails loudly, naming the variable.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from functions.core.errors import SettingsError

DEFAULT_CORS = ("http://localhost:*", "http://127.0.0.1:*", "null")
_TOKEN_RE = re.compile(r"^[\x21-\x7e]{8,}$")


def _url(env: Mapping[str, str], name: str, default: str, schemes: tuple[str, ...]) -> str:
    value = env.get(name, default).strip()
    parts = urlsplit(value)
    if parts.scheme not in schemes or not parts.netloc:
        raise SettingsError(name, f"{value!r} is not a URL with scheme {' or '.join(schemes)}")
    try:
        parts.port  # noqa: B018 - raises ValueError on a malformed port
    except ValueError as exc:
        raise SettingsError(name, f"{value!r} has an invalid port") from exc
    return value


def _optional_url(env: Mapping[str, str], name: str) -> str | None:
    if not env.get(name, "").strip():
        return None
    return _url(env, name, "", ("http", "https"))


def _int(env: Mapping[str, str], name: str, default: int, low: int, high: int) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError as exc:
        raise SettingsError(name, f"{raw!r} is not a whole number") from exc
    if not low <= value <= high:
        raise SettingsError(name, f"{value} is outside {low}..{high}")
    return value


def _token(env: Mapping[str, str]) -> str | None:
    """The API token comes from OBSERVATORY_API_TOKEN or the file OBSERVATORY_API_TOKEN_FILE names."""
    value = env.get("OBSERVATORY_API_TOKEN", "").strip()
    path = env.get("OBSERVATORY_API_TOKEN_FILE", "").strip()
    if value and path:
        raise SettingsError("OBSERVATORY_API_TOKEN_FILE", "set only one of OBSERVATORY_API_TOKEN and _FILE")
    if path:
        try:
            value = Path(path).read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise SettingsError("OBSERVATORY_API_TOKEN_FILE", f"cannot read {path}: {exc.strerror}") from exc
    if not value:
        return None
    if not _TOKEN_RE.match(value):
        raise SettingsError("OBSERVATORY_API_TOKEN", "must be at least 8 printable characters without spaces")
    return value


def _origins(env: Mapping[str, str]) -> tuple[str, ...]:
    raw = env.get("OBSERVATORY_CORS_ORIGINS", "").strip()
    if not raw:
        return DEFAULT_CORS
    origins = tuple(o.strip() for o in raw.split(",") if o.strip())
    for origin in origins:
        if origin not in ("*", "null") and not re.match(r"^https?://[^/\s]+$", origin):
            raise SettingsError(
                "OBSERVATORY_CORS_ORIGINS", f"{origin!r} is not an origin like http://host:port"
            )
    return origins


@dataclass(frozen=True)
class Settings:
    """Every setting a function may need; each function uses the part it needs."""

    database_url: str = "postgresql://postgres@127.0.0.1:5432/observatory"
    mongodb_url: str = "mongodb://127.0.0.1:27017"
    mongodb_database: str = "observatory"
    redis_url: str = "redis://127.0.0.1:6379/0"
    redis_prefix: str = "obs:"
    rabbitmq_url: str = "amqp://guest:guest@127.0.0.1:5672/%2F"
    k_sink: str | None = None
    port: int = 8080
    api_token: str | None = None
    cors_origins: tuple[str, ...] = field(default=DEFAULT_CORS)
    max_body_bytes: int = 1024 * 1024
    alertmanager_url: str | None = None
    runtime_url: str | None = None
    function_name: str = "function"
    pg_pool_max: int = 10

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Settings:
        prefix = env.get("REDIS_PREFIX", "obs:")
        if not re.match(r"^[A-Za-z0-9_.:-]{1,64}$", prefix):
            raise SettingsError("REDIS_PREFIX", f"{prefix!r} must be 1-64 characters of A-Z a-z 0-9 _ . : -")
        mongodb_database = env.get("MONGODB_DATABASE", "observatory").strip()
        if not re.match(r"^[A-Za-z0-9_-]{1,63}$", mongodb_database):
            raise SettingsError("MONGODB_DATABASE", f"{mongodb_database!r} is not a valid database name")
        return cls(
            database_url=_url(env, "DATABASE_URL", cls.database_url, ("postgresql", "postgres")),
            mongodb_url=_url(env, "MONGODB_URL", cls.mongodb_url, ("mongodb", "mongodb+srv")),
            mongodb_database=mongodb_database,
            redis_url=_url(env, "REDIS_URL", cls.redis_url, ("redis", "rediss", "unix")),
            redis_prefix=prefix,
            rabbitmq_url=_url(env, "RABBITMQ_URL", cls.rabbitmq_url, ("amqp", "amqps")),
            k_sink=_optional_url(env, "K_SINK"),
            port=_int(env, "PORT", 8080, 1, 65535),
            api_token=_token(env),
            cors_origins=_origins(env),
            max_body_bytes=_int(env, "OBSERVATORY_MAX_BODY_BYTES", 1024 * 1024, 1024, 64 * 1024 * 1024),
            alertmanager_url=_optional_url(env, "ALERTMANAGER_URL"),
            runtime_url=_optional_url(env, "OBSERVATORY_RUNTIME_URL"),
            function_name=env.get("K_SERVICE", env.get("FUNCTION_TARGET", "function")),
            pg_pool_max=_int(env, "OBSERVATORY_PG_POOL_MAX", 10, 1, 200),
        )
