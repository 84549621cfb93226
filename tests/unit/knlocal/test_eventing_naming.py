"""knlocal.eventing.naming: eventing-rabbitmq names and the 255-byte AMQP limit."""

from __future__ import annotations

import hashlib

import pytest

from knlocal.eventing.naming import (
    AMQP_NAME_LIMIT,
    broker_names,
    child_name,
    stable_uid,
    trigger_names,
)

UID = "1b2d3f4a-0000-4000-8000-00000000abcd"
TUID = "9c8b7a6d-0000-4000-8000-00000000dcba"


def test_broker_names() -> None:
    names = broker_names("observatory", "default", UID)
    assert names.exchange == f"b.observatory.default.{UID}"
    assert names.dlx == f"b.observatory.default.dlx.{UID}"
    assert names.dlq == f"b.observatory.default.dlq.{UID}"


def test_trigger_names() -> None:
    names = trigger_names("observatory", "processor", UID, TUID)
    assert names.queue == f"observatory.processor.{UID}"
    assert names.dlx == f"t.observatory.processor.dlx.{TUID}"
    assert names.dlq == f"t.observatory.processor.dlq.{TUID}"
    # The broker's DLX policy targets queues ending in the broker UID: trigger queues yes, trigger DLQs no.
    assert names.queue.endswith(UID)
    assert not names.dlq.endswith(UID)


def test_longest_kubernetes_names_fit_unchanged() -> None:
    ns, trig = "n" * 63, "t" * 63
    assert trigger_names(ns, trig, UID, TUID).queue == f"{ns}.{trig}.{UID}"


@pytest.mark.parametrize(
    ("prefix", "suffix"),
    [
        ("a" * 300 + ".", UID),
        ("b" * 254 + ".", "x"),
        ("é" * 200 + ".", UID),  # multi-byte: the cut must not split a character
    ],
)
def test_child_name_truncates_and_hashes(prefix: str, suffix: str) -> None:
    name = child_name(prefix, suffix)
    assert len(name.encode()) <= AMQP_NAME_LIMIT
    assert name.endswith(hashlib.md5(prefix.encode()).hexdigest() + suffix)
    assert prefix.startswith(name[: len(name) - 32 - len(suffix)])


def test_child_name_distinct_for_distinct_long_prefixes() -> None:
    a = child_name("x" * 300 + "a.", UID)
    b = child_name("x" * 300 + "b.", UID)
    assert a != b and a.endswith(UID) and b.endswith(UID)


def test_child_name_huge_suffix_hashes_everything() -> None:
    name = child_name("p.", "s" * 260)
    assert len(name) == AMQP_NAME_LIMIT
    assert name == ("p." + "s" * 221) + hashlib.md5(("p." + "s" * 260).encode()).hexdigest()


def test_child_name_exact_fit() -> None:
    prefix = "a" * (AMQP_NAME_LIMIT - len(UID))
    assert child_name(prefix, UID) == prefix + UID


def test_stable_uid() -> None:
    assert stable_uid("observatory", "default") == stable_uid("observatory", "default")
    assert stable_uid("observatory", "default") != stable_uid("observatory", "other")
    assert len(stable_uid("a")) == 36
