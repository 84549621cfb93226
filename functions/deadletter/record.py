"""Pure reading of a dead-lettered event: the stored document, and what it says about its job.

The broker adds ``knativeerrordest`` (the destination that kept failing), ``knativeerrorcode`` (its last
HTTP status, -1 without a response) and sometimes ``knativeerrordata`` (base64 of the failing response
body, or plain text from the RabbitMQ dispatcher when forwarding a reply failed) to the original event.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from functions.core.cloudevents import CORRELATION, CloudEvent
from functions.core.jobs import EVENT_PREFIX, EventType, canonical_uuid

ERROR_DEST = "knativeerrordest"
ERROR_CODE = "knativeerrorcode"
ERROR_DATA = "knativeerrordata"
_BASE64 = re.compile(r"^[A-Za-z0-9+/]*={0,2}$")


def decode_error_data(raw: str | None) -> str | None:
    """The failing response body as text: base64-decoded when it is base64, else as sent."""
    if raw is None or raw == "":
        return raw
    if len(raw) % 4 == 0 and _BASE64.match(raw):
        try:
            # Text that merely looks like base64 rarely decodes to valid UTF-8: keep it as sent then.
            return base64.b64decode(raw, validate=True).decode("utf-8")
        except (binascii.Error, ValueError):
            pass
    return raw


def error_code(raw: str | None) -> int:
    """The last HTTP status; -1 (no HTTP response) when missing or not a status code."""
    try:
        code = int(str(raw).strip())
    except (TypeError, ValueError):
        return -1
    return code if -1 <= code <= 599 else -1


@dataclass(frozen=True)
class DeadLetter:
    event_type: str
    job_id: str | None
    job_type: str
    generation: int
    payload: dict[str, Any]
    correlation_id: str | None
    error_dest: str
    error_code: int
    error_data: str | None
    document: dict[str, Any]

    @property
    def is_job_event(self) -> bool:
        return self.event_type.startswith(EVENT_PREFIX)

    @property
    def marks_job(self) -> bool:
        """Only the job's work event failing for good dead-letters the job itself.

        A job.started/completed/failed event that could not be delivered (to the aggregator) is stored
        and counted as a dead letter, but must not override what the processor recorded.
        """
        return self.event_type == EventType.SUBMITTED.value and self.job_id is not None

    def job_error(self) -> dict[str, Any]:
        message = f"the broker gave up delivering {self.event_type} to {self.error_dest} (last status {self.error_code})"
        if self.error_data:
            message += f": {self.error_data[:500]}"
        return {
            "code": "deadlettered", "message": message, "retryable": False,
            "httpStatus": self.error_code, "destination": self.error_dest,
        }  # fmt: skip


def read_dead_letter(event: CloudEvent, received_at: datetime) -> DeadLetter:
    attrs = {k: v for k, v in event.get_attributes().items()}
    data = event.get_data()
    body: dict[str, Any] = data if isinstance(data, dict) else {}
    job_id = canonical_uuid(attrs.get("jobid")) or canonical_uuid(body.get("jobId"))
    job_type = attrs.get("jobtype") or body.get("type")
    generation = body.get("generation")
    payload = body.get("payload")
    dest = str(attrs.get(ERROR_DEST) or "unknown")
    code = error_code(attrs.get(ERROR_CODE))
    error_data = decode_error_data(None if attrs.get(ERROR_DATA) is None else str(attrs[ERROR_DATA]))
    document = {
        "source": str(attrs["source"]), "id": str(attrs["id"]), "type": str(attrs["type"]),
        "jobid": job_id, "correlationid": attrs.get(CORRELATION),
        ERROR_DEST: dest, ERROR_CODE: code, ERROR_DATA: error_data,
        "data": data if isinstance(data, dict | list | str | int | float | bool) or data is None
        else base64.b64encode(bytes(data)).decode("ascii"),
        "attributes": {k: str(v) for k, v in attrs.items()},
        "receivedAt": received_at,
    }  # fmt: skip
    return DeadLetter(
        event_type=str(attrs["type"]),
        job_id=job_id,
        job_type=str(job_type) if isinstance(job_type, str) and job_type else "unknown",
        generation=generation
        if isinstance(generation, int) and not isinstance(generation, bool) and generation >= 0
        else 0,
        payload=payload if isinstance(payload, dict) else {},
        correlation_id=None if attrs.get(CORRELATION) is None else str(attrs[CORRELATION]),
        error_dest=dest,
        error_code=code,
        error_data=error_data,
        document=document,
    )
