"""Pure reading of dead-lettered events: error extensions, job identity, what marks the job."""

from __future__ import annotations

import base64
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
from cloudevents.http import CloudEvent

from functions.deadletter.record import decode_error_data, error_code, read_dead_letter

NOW = datetime(2024, 5, 1, tzinfo=UTC)
JOB = str(uuid.uuid4())


@pytest.mark.parametrize(
    ("raw", "text"),
    [
        (None, None),
        ("", ""),
        (base64.b64encode(b"upstream said no").decode(), "upstream said no"),
        ("plain words", "plain words"),  # not base64 (a space)
        ("abcd", "abcd"),  # base64 alphabet but decodes to bytes that are not UTF-8
        (base64.b64encode(b"\xff\xfe").decode(), base64.b64encode(b"\xff\xfe").decode()),
    ],
)
def test_decode_error_data(raw: str | None, text: str | None) -> None:
    assert decode_error_data(raw) == text


@pytest.mark.parametrize(
    ("raw", "code"), [("503", 503), ("-1", -1), (None, -1), ("x", -1), ("700", -1), (" 404 ", 404)]
)
def test_error_code(raw: str | None, code: int) -> None:
    assert error_code(raw) == code


def event(event_type: str, data: Any, **attrs: str) -> CloudEvent:
    return CloudEvent({"type": event_type, "source": "/observatory/gateway", "id": "e1", **attrs}, data)


SUBMITTED = {"jobId": JOB, "type": "fail", "payload": {"retryable": True}, "generation": 2}


@pytest.mark.parametrize(
    ("ev", "job_id", "job_type", "generation", "marks"),
    [
        (event("dev.observatory.job.submitted", SUBMITTED), JOB, "fail", 2, True),
        (event("dev.observatory.job.submitted", "raw", jobid=JOB, jobtype="echo"), JOB, "echo", 0, True),
        (event("dev.observatory.job.submitted", {"type": "fail"}), None, "fail", 0, False),
        (event("dev.observatory.job.started", SUBMITTED), JOB, "fail", 2, False),
        (event("com.example.other", {}), None, "unknown", 0, False),
    ],
)
def test_read_dead_letter(
    ev: CloudEvent, job_id: str | None, job_type: str, generation: int, marks: bool
) -> None:
    letter = read_dead_letter(ev, NOW)
    assert (letter.job_id, letter.job_type, letter.generation, letter.marks_job) == (
        job_id, job_type, generation, marks,
    )  # fmt: skip


def test_document_and_job_error() -> None:
    ev = event("dev.observatory.job.submitted", SUBMITTED, knativeerrordest="http://p", knativeerrorcode="500",
               knativeerrordata=base64.b64encode(b"crash").decode(), correlationid="c")  # fmt: skip
    letter = read_dead_letter(ev, NOW)
    doc = letter.document
    assert (doc["knativeerrordest"], doc["knativeerrorcode"], doc["knativeerrordata"]) == (
        "http://p",
        500,
        "crash",
    )
    assert (doc["source"], doc["id"], doc["jobid"], doc["correlationid"]) == (
        "/observatory/gateway",
        "e1",
        JOB,
        "c",
    )
    assert doc["data"] == SUBMITTED and doc["receivedAt"] == NOW and doc["attributes"]["type"] == ev["type"]
    error = letter.job_error()
    assert (
        error["code"] == "deadlettered" and error["httpStatus"] == 500 and error["destination"] == "http://p"
    )
    assert "crash" in error["message"] and error["retryable"] is False


def test_missing_extensions_have_defaults() -> None:
    letter = read_dead_letter(event("dev.observatory.job.submitted", SUBMITTED), NOW)
    assert (letter.error_dest, letter.error_code, letter.error_data) == ("unknown", -1, None)
