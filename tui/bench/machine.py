"""The machine and software a run measured: cores, memory, load, versions of the services and libraries."""

from __future__ import annotations

import contextlib
import os
import platform
import subprocess
from importlib import metadata
from pathlib import Path
from typing import Any

import httpx
import psycopg
import redis
from pymongo import MongoClient

from tui.bench.isolation import (
    DEFAULT_DATABASE_URL,
    DEFAULT_MONGODB_URL,
    DEFAULT_RABBITMQ_URL,
    DEFAULT_REDIS_URL,
    management_url,
    with_database,
)

__all__ = ["describe"]

PACKAGES = ("functions-framework", "uvicorn", "starlette", "httpx", "pika", "psycopg", "pymongo", "redis",
            "celery", "cloudevents")  # fmt: skip


def _memory_mb() -> int | None:
    with contextlib.suppress(OSError, ValueError, IndexError):
        for line in Path("/proc/meminfo").read_text(encoding="ascii").splitlines():
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) // 1024
    return None


def _cpu_model() -> str | None:
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return None


def _git_commit() -> str | None:
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        out = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, timeout=5
        )
        return out.stdout.strip() or None
    return None


def _service_versions(env: dict[str, str]) -> dict[str, str | None]:
    found: dict[str, str | None] = {}
    try:
        with psycopg.connect(with_database(env.get("DATABASE_URL") or DEFAULT_DATABASE_URL, "postgres"),
                             connect_timeout=3) as conn:  # fmt: skip
            row = conn.execute("SHOW server_version").fetchone()
            found["postgresql"] = str(row[0]) if row else None
    except psycopg.Error:
        found["postgresql"] = None
    try:
        r = redis.Redis.from_url(env.get("REDIS_URL") or DEFAULT_REDIS_URL)
        found["redis"] = str(r.info("server").get("redis_version"))
        r.close()
    except redis.RedisError:
        found["redis"] = None
    try:
        client: MongoClient[dict[str, Any]] = MongoClient(env.get("MONGODB_URL") or DEFAULT_MONGODB_URL,
                                                          serverSelectionTimeoutMS=3000)  # fmt: skip
        found["mongodb_wire"] = str(client.server_info().get("version"))
        client.close()
    except Exception:  # any driver error: the version is simply unknown
        found["mongodb_wire"] = None
    try:
        base, user, password, _ = management_url(env.get("RABBITMQ_URL") or DEFAULT_RABBITMQ_URL)
        overview = httpx.get(f"{base}/api/overview", auth=(user, password), timeout=5).json()
        found["rabbitmq"] = str(overview.get("rabbitmq_version"))
        found["erlang"] = str(overview.get("erlang_version"))
    except (httpx.HTTPError, ValueError):
        found["rabbitmq"] = None
    return found


def describe(env: dict[str, str]) -> dict[str, Any]:
    packages: dict[str, str | None] = {}
    for name in PACKAGES:
        try:
            packages[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            packages[name] = None
    return {
        "cpus": os.cpu_count(),
        "cpu_model": _cpu_model(),
        "memory_mb": _memory_mb(),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "git_commit": _git_commit(),
        "services": _service_versions(env),
        "packages": packages,
    }
