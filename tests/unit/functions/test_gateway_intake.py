"""Pure checks of the gateway: auth, size, media type, header values, job ids and validation."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
from cloudevents.http import CloudEvent

from functions.core.contracts import default_registry
from functions.core.errors import (
    BadRequest,
    PayloadTooLarge,
    ProblemError,
    Unauthorized,
    Unprocessable,
    UnsupportedMediaType,
)
from functions.core.jobs import job_id_for_key
from functions.gateway import intake
from functions.gateway.metrics import reason_of

NOW = datetime(2024, 5, 1, 10, 0, tzinfo=UTC)
FIXED = "00000000-0000-4000-8000-000000000001"
TOKEN = "s3cret-token"


def new_id() -> str:
    return FIXED


@pytest.mark.parametrize(
    ("header", "token", "error"),
    [
        (None, None, None),
        ("Bearer anything", None, None),
        (f"Bearer {TOKEN}", TOKEN, None),
        (f"bearer {TOKEN}", TOKEN, None),
        (None, TOKEN, Unauthorized),
        ("Bearer ", TOKEN, Unauthorized),
        ("Bearer wrong", TOKEN, Unauthorized),
        (f"Basic {TOKEN}", TOKEN, Unauthorized),
    ],
)
def test_check_auth(header: str | None, token: str | None, error: type[Exception] | None) -> None:
    if error is None:
        intake.check_auth(header, token)
    else:
        with pytest.raises(error):
            intake.check_auth(header, token)


@pytest.mark.parametrize(
    ("value", "outcome"),
    [
        (None, None),
        ("10", 10),
        ("1024", 1024),
        ("1025", PayloadTooLarge),
        ("-1", BadRequest),
        ("x", BadRequest),
    ],
)
def test_declared_length(value: str | None, outcome: Any) -> None:
    if isinstance(outcome, type):
        with pytest.raises(outcome):
            intake.declared_length(value, 1024)
    else:
        assert intake.declared_length(value, 1024) == outcome


@pytest.mark.parametrize(
    ("content_type", "allowed", "ok"),
    [
        ("application/json", intake.JSON_TYPES, True),
        ("application/json; charset=utf-8", intake.JSON_TYPES, True),
        ("application/vnd.thing+json", intake.JSON_TYPES, True),
        ("application/cloudevents+json", intake.JSON_TYPES, False),
        ("text/plain", intake.JSON_TYPES, False),
        (None, intake.JSON_TYPES, False),
        ("application/cloudevents-batch+json", intake.EVENT_TYPES, True),
        ("application/cloudevents+json; charset=utf-8", intake.EVENT_TYPES, True),
        ("application/xml", intake.EVENT_TYPES, False),
    ],
)
def test_require_media(content_type: str | None, allowed: tuple[str, ...], ok: bool) -> None:
    if ok:
        intake.require_media(content_type, allowed)
    else:
        with pytest.raises(UnsupportedMediaType):
            intake.require_media(content_type, allowed)


@pytest.mark.parametrize(("value", "ok"), [("abc-123", True), ("a" * 256, True), ("a" * 257, False),
                                            ("has space", False), ("", False), ("é", False)])  # fmt: skip
def test_header_value(value: str, ok: bool) -> None:
    if ok:
        assert intake.header_value("X", value) == value
    else:
        with pytest.raises(BadRequest):
            intake.header_value("X", value)


def plain(body: Any, key: str | None = None) -> intake.Submission:
    return intake.plain_submission(
        default_registry(), body, idempotency_key=key, correlation_id="c", now=NOW, new_id=new_id
    )


@pytest.mark.parametrize(
    ("body", "key", "job_id"),
    [
        ({"type": "echo", "payload": {"message": "m"}}, None, FIXED),
        ({"type": "echo", "payload": {"message": "m"}}, "k1", job_id_for_key("k1")),
        ({"type": "echo", "payload": {"message": "m"}, "id": FIXED.upper()}, "k1", FIXED),
    ],
)
def test_plain_job_id(body: dict[str, Any], key: str | None, job_id: str) -> None:
    submission = plain(body, key)
    assert submission.job_id == job_id
    assert submission.event_id == f"{job_id}.submitted.0" and submission.idempotency_key == key


@pytest.mark.parametrize(
    ("body", "pointers"),
    [
        ([], [""]),
        ({"type": "echo"}, ["/payload"]),
        ({"type": "teleport", "payload": {}}, ["/type"]),
        ({"type": "hash", "payload": {"data": "a", "rounds": 100001}}, ["/payload/rounds"]),
        ({"type": "echo", "payload": {"message": "m"}, "extra": 1}, ["/extra"]),
    ],
)
def test_plain_violations(body: Any, pointers: list[str]) -> None:
    with pytest.raises(Unprocessable) as caught:
        plain(body)
    assert [e.pointer for e in caught.value.errors] == pointers


def ce(data: Any, **attrs: str) -> CloudEvent:
    return CloudEvent({"type": "dev.observatory.job.submitted", "source": "/c", "id": "e1", **attrs}, data)


def events(evs: list[CloudEvent], *, batch: bool = False, key: str | None = None, header: str | None = None) -> list[intake.Submission]:  # fmt: skip
    return intake.event_submissions(
        default_registry(),
        evs,
        batch=batch,
        idempotency_key=key,
        correlation_header=header,
        now=NOW,
        new_id=new_id,
    )


ECHO = {"type": "echo", "payload": {"message": "m"}}


def test_event_job_id_order() -> None:
    assert events([ce({**ECHO, "id": FIXED})])[0].job_id == FIXED
    assert events([ce(ECHO)], key="k")[0].job_id == job_id_for_key("k")
    assert [s.job_id for s in events([ce(ECHO), ce(ECHO, id="e2")], batch=True, key="k")] == [
        job_id_for_key("k#0"), job_id_for_key("k#1"),
    ]  # fmt: skip
    # Without an explicit id or key, the CloudEvent's own source+id names the job.
    assert events([ce(ECHO)])[0].job_id == events([ce(ECHO)])[0].job_id == job_id_for_key("cloudevent:/c|e1")


def test_event_correlation_order() -> None:
    assert events([ce(ECHO, correlationid="ext")], header="hdr")[0].correlation_id == "hdr"
    assert events([ce(ECHO, correlationid="ext")])[0].correlation_id == "ext"
    assert events([ce(ECHO)])[0].correlation_id == FIXED


def test_event_keeps_client_identity_and_extensions_but_not_reserved_ones() -> None:
    [s] = events([ce(ECHO, subject="s", tenant="t1", knativeerrorcode="500", jobtype="forged")])
    assert (s.source, s.event_id) == ("/c", "e1")
    assert s.extensions == {"subject": "s", "tenant": "t1"}
    published = intake.to_event(default_registry(), s, NOW).get_attributes()
    assert published["jobtype"] == "echo" and "knativeerrorcode" not in published
    assert published["dataschema"] == "https://observatory.dev/schemas/events/job-submitted/1.0.0"


@pytest.mark.parametrize(
    ("evs", "batch", "pointers"),
    [
        ([ce(ECHO, type="dev.observatory.job.failed")], False, ["/type"]),
        ([ce("text")], False, ["/data"]),
        ([ce({"jobId": FIXED, "type": "echo", "payload": {}, "submittedAt": "2024-01-01T00:00:00Z",
              "generation": 0})], False, ["/data/payload/message"]),
        ([ce({"jobId": FIXED, "type": "nope", "payload": {}, "submittedAt": "2024-01-01T00:00:00Z",
              "generation": 0})], False, ["/data/type"]),
        ([ce(ECHO), ce({"type": "sleep", "payload": {"seconds": -1}}, id="e2")], True, ["/1/data/payload/seconds"]),
        ([ce({"type": "sleep", "payload": {}}), ce(ECHO, type="x", id="e2")], True, ["/0/data/payload/seconds", "/1/type"]),
    ],
)  # fmt: skip
def test_event_violations(evs: list[CloudEvent], batch: bool, pointers: list[str]) -> None:
    with pytest.raises(Unprocessable) as caught:
        events(evs, batch=batch)
    assert [e.pointer for e in caught.value.errors] == pointers


def test_empty_batch() -> None:
    with pytest.raises(BadRequest):
        events([], batch=True)


@pytest.mark.parametrize(
    ("err", "reason"),
    [
        (BadRequest("x"), "malformed"),
        (Unauthorized("x"), "unauthorized"),
        (PayloadTooLarge("x"), "too_large"),
        (UnsupportedMediaType("x"), "unsupported_media_type"),
        (Unprocessable("x"), "invalid"),
    ],
)
def test_rejection_reasons(err: ProblemError, reason: str) -> None:
    assert reason_of(err) == reason


def test_accepted_body_matches_the_contract() -> None:
    body = intake.accepted(str(uuid.uuid4()), "e1", duplicate=False)
    assert default_registry().validate("jobs/accepted", body) == []
