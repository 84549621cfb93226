"""Every job type the contracts declare has a handler module; each handler's behaviour, without I/O."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest

from functions.core.contracts import default_registry
from functions.processor.errors import JobFailure
from functions.processor.registry import HandlerRegistry, RegistryError, UnknownJobType, load_handler


def registry(scale: float = 1.0) -> HandlerRegistry:
    return HandlerRegistry.discover(default_registry().job_types(), scale)


def test_every_contract_type_has_a_handler() -> None:
    assert registry().types() == default_registry().job_types()


def test_a_schema_without_a_module_fails_discovery() -> None:
    with pytest.raises(RegistryError, match="no handler module"):
        load_handler("teleport")


def test_unknown_type_lookup_is_typed() -> None:
    with pytest.raises(UnknownJobType):
        registry().get("teleport")


def test_timeouts_scale() -> None:
    assert registry(0.5).timeout_for("sleep") == pytest.approx(registry().timeout_for("sleep") / 2)
    # sleep's schema allows 30 s: its timeout must leave room for that.
    assert registry().timeout_for("sleep") > 30


def _hash(data: bytes, rounds: int, algorithm: str) -> str:
    for _ in range(rounds):
        data = hashlib.new(algorithm, data).digest()
    return data.hex()


CASES: list[tuple[str, dict[str, Any], dict[str, Any]]] = [
    ("echo", {"message": "hi"}, {"message": "hi"}),
    ("sleep", {"seconds": 0}, {"slept": 0.0}),
    ("wordcount", {"text": "a b  c\nd"}, {"words": 4, "lines": 2, "characters": 8}),
    ("wordcount", {"text": ""}, {"words": 0, "lines": 0, "characters": 0}),
    ("hash", {"data": "abc"}, {"algorithm": "sha256", "rounds": 1, "digest": _hash(b"abc", 1, "sha256")}),
    ("hash", {"data": "abc", "rounds": 5, "algorithm": "blake2b"},
     {"algorithm": "blake2b", "rounds": 5, "digest": _hash(b"abc", 5, "blake2b")}),
    ("flaky", {"failureRate": 0}, {"failureRate": 0.0}),
]  # fmt: skip


@pytest.mark.parametrize(("job_type", "payload", "expected"), CASES)
async def test_handler_results(job_type: str, payload: dict[str, Any], expected: dict[str, Any]) -> None:
    # Every case's payload is valid for its contract, as the processor guarantees before running it.
    assert default_registry().validate(f"payloads/{job_type}", payload) == []
    result = await registry().get(job_type).execute(payload)
    assert {k: result[k] for k in expected} == expected


@pytest.mark.parametrize(
    ("job_type", "payload", "code", "retryable"),
    [
        ("fail", {}, "requested_failure", False),
        ("fail", {"retryable": True, "message": "m"}, "requested_failure", True),
        ("flaky", {"failureRate": 1}, "flaky", True),
    ],
)
async def test_handler_failures(job_type: str, payload: dict[str, Any], code: str, retryable: bool) -> None:
    with pytest.raises(JobFailure) as caught:
        await registry().get(job_type).execute(payload)
    assert (caught.value.code, caught.value.retryable) == (code, retryable)


def test_hash_runs_in_a_thread_and_others_on_the_loop() -> None:
    found = registry()
    assert not found.get("hash").is_async and found.get("sleep").is_async
