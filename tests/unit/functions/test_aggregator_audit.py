"""Vectors for the aggregator's pure part: audit document, contract check, what gets counted."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
from cloudevents.http import CloudEvent

from functions.aggregator.audit import audit
from functions.core.contracts import default_registry
from functions.core.jobs import EventType
from functions.core.times import parse_rfc3339 as parse_time

JOB = str(uuid.UUID(int=7))
RECEIVED = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
SUBMITTED_SCHEMA = "https://observatory.dev/schemas/events/job-submitted/1.0.0"


def event(attrs: dict[str, Any], data: Any) -> CloudEvent:
    base = {"type": EventType.SUBMITTED.value, "source": "/observatory/gateway", "id": "e1",
            "specversion": "1.0", "time": "2026-01-02T03:04:00Z"}  # fmt: skip
    return CloudEvent({**base, **attrs}, data)


GOOD = {
    "jobId": JOB,
    "type": "echo",
    "payload": {"m": 1},
    "submittedAt": "2026-01-02T03:04:00Z",
    "generation": 0,
}

CASES = [
    # (name, attrs, data, valid, violation pointers, counted)
    ("valid submitted", {"dataschema": SUBMITTED_SCHEMA, "jobid": JOB, "jobtype": "echo"}, GOOD, True, [], True),
    ("valid without dataschema (by type)", {}, GOOD, True, [], True),
    ("missing field", {}, {k: v for k, v in GOOD.items() if k != "generation"}, False, ["/generation"], True),
    ("wrong schema family", {"dataschema": "https://observatory.dev/schemas/events/job-failed/1.0.0"},
     GOOD, False, ["/dataschema"], True),
    ("unknown schema version", {"dataschema": SUBMITTED_SCHEMA.replace("1.0.0", "9.0.0")}, GOOD, False,
     ["/dataschema"], True),
    ("unknown event type", {"type": "dev.observatory.job.exploded"}, GOOD, False, [""], False),
    ("jobid extension disagrees", {"jobid": str(uuid.UUID(int=8))}, GOOD, False, ["/jobId"], True),
    ("jobtype extension disagrees", {"jobtype": "hash"}, GOOD, False, ["/type"], True),
    ("data not an object, no job", {}, "hello", False, [""], False),
    ("bad job id in data", {}, {**GOOD, "jobId": "nope"}, False, ["/jobId"], False),
]  # fmt: skip


@pytest.mark.parametrize(
    ("name", "attrs", "data", "valid", "pointers", "counted"), CASES, ids=[c[0] for c in CASES]
)
def test_audit_vectors(
    name: str, attrs: dict[str, Any], data: Any, valid: bool, pointers: list[str], counted: bool
) -> None:
    outcome = audit(event(attrs, data), default_registry(), RECEIVED)
    doc = outcome.document
    assert doc["valid"] is valid
    assert sorted({v["pointer"] for v in doc.get("violations", [])}) == sorted(set(pointers))
    assert ("violations" in doc) is (not valid)
    assert (outcome.count is not None) is counted


def test_document_shape() -> None:
    attrs = {"dataschema": SUBMITTED_SCHEMA, "jobid": JOB, "jobtype": "echo", "correlationid": "c-1"}
    outcome = audit(event(attrs, GOOD), default_registry(), RECEIVED)
    assert outcome.document == {
        "source": "/observatory/gateway", "id": "e1", "type": EventType.SUBMITTED.value,
        "time": datetime(2026, 1, 2, 3, 4, tzinfo=UTC), "jobid": JOB, "jobtype": "echo",
        "correlationid": "c-1", "dataschema": SUBMITTED_SCHEMA, "data": GOOD, "receivedAt": RECEIVED,
        "valid": True,
    }  # fmt: skip
    assert outcome.count is not None
    assert outcome.count.time_ms == int(datetime(2026, 1, 2, 3, 4, tzinfo=UTC).timestamp() * 1000)
    assert outcome.count.event_type is EventType.SUBMITTED


def test_event_without_time_uses_received_at() -> None:
    ce = event({}, GOOD)
    del ce._attributes["time"]
    outcome = audit(ce, default_registry(), RECEIVED)
    assert outcome.document["time"] == RECEIVED


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("2026-01-02T03:04:05Z", datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)),
        ("2026-01-02T04:04:05+01:00", datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)),
        ("2026-01-02T03:04:05.250z", datetime(2026, 1, 2, 3, 4, 5, 250000, tzinfo=UTC)),
        ("yesterday", None),
        (None, None),
        (17, None),
    ],
)
def test_parse_time(raw: object, expected: datetime | None) -> None:
    assert parse_time(raw) == expected
