"""Names of a benchmark's private namespace (pure parts of tui.bench.isolation)."""

from __future__ import annotations

import pytest

from tui.bench.isolation import management_url, new_namespace, with_database


@pytest.mark.parametrize(
    ("url", "name", "expected"),
    [
        (
            "postgresql://postgres@127.0.0.1:5432/observatory",
            "obs_x",
            "postgresql://postgres@127.0.0.1:5432/obs_x",
        ),
        (
            "postgresql://u:p@db/observatory?sslmode=disable",
            "obs_x",
            "postgresql://u:p@db/obs_x?sslmode=disable",
        ),
        ("postgres://127.0.0.1", "postgres", "postgres://127.0.0.1/postgres"),
    ],
)
def test_with_database(url: str, name: str, expected: str) -> None:
    assert with_database(url, name) == expected


@pytest.mark.parametrize(
    ("amqp", "expected"),
    [
        ("amqp://guest:guest@127.0.0.1:5672/%2F", ("http://127.0.0.1:15672", "guest", "guest", "/")),
        ("amqp://bob:s%40cret@rabbit/dev", ("http://rabbit:15672", "bob", "s@cret", "dev")),
        ("amqp://127.0.0.1", ("http://127.0.0.1:15672", "guest", "guest", "/")),
    ],
)
def test_management_url(amqp: str, expected: tuple[str, str, str, str]) -> None:
    assert management_url(amqp) == expected


def test_namespace_names_derive_from_one_run_id() -> None:
    ns = new_namespace("e2e", {"DATABASE_URL": "postgresql://postgres@127.0.0.1:5432/observatory"}, "abc123")
    assert ns.tag == "obs_bench_abc123_e2e"
    assert ns.database_url.endswith("/obs_bench_abc123_e2e")
    assert ns.mongodb_database == ns.tag
    assert ns.redis_prefix == "obs_bench_abc123_e2e:"
    assert ns.broker_uid == "bench-abc123-e2e"
    env = ns.env()
    assert env["KNLOCAL_BROKER_UID"] == ns.broker_uid and env["REDIS_PREFIX"] == ns.redis_prefix


def test_namespaces_of_two_runs_differ() -> None:
    assert new_namespace("e2e", {}).tag != new_namespace("e2e", {}).tag
