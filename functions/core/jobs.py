"""Pure rules about jobs: statuses, their order, event types and deterministic ids. No I/O."""

from __future__ import annotations

import uuid
from enum import IntEnum, StrEnum

EVENT_PREFIX = "dev.observatory.job."
# Idempotency keys map to job ids through this namespace, so the same key always names the same job.
IDEMPOTENCY_NAMESPACE = uuid.UUID("6f1c3a52-6c1e-4f0b-9a47-3d1f2b7c8e90")


class JobStatus(StrEnum):
    PENDING = "PENDING"
    EXECUTING = "EXECUTING"
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"
    DEAD_LETTERED = "DEAD_LETTERED"

    @property
    def rank(self) -> int:
        return _RANK[self]

    @property
    def terminal(self) -> bool:
        return _RANK[self] == Rank.TERMINAL


class Rank(IntEnum):
    PENDING = 0
    EXECUTING = 1
    TERMINAL = 2


_RANK = {
    JobStatus.PENDING: Rank.PENDING,
    JobStatus.EXECUTING: Rank.EXECUTING,
    JobStatus.COMPLETED: Rank.TERMINAL,
    JobStatus.FAILED: Rank.TERMINAL,
    JobStatus.DEAD_LETTERED: Rank.TERMINAL,
}


class EventType(StrEnum):
    SUBMITTED = EVENT_PREFIX + "submitted"
    STARTED = EVENT_PREFIX + "started"
    COMPLETED = EVENT_PREFIX + "completed"
    FAILED = EVENT_PREFIX + "failed"
    DEADLETTERED = EVENT_PREFIX + "deadlettered"

    @property
    def phase(self) -> str:
        return self.value.removeprefix(EVENT_PREFIX)


STATUS_OF_EVENT = {
    EventType.SUBMITTED: JobStatus.PENDING,
    EventType.STARTED: JobStatus.EXECUTING,
    EventType.COMPLETED: JobStatus.COMPLETED,
    EventType.FAILED: JobStatus.FAILED,
    EventType.DEADLETTERED: JobStatus.DEAD_LETTERED,
}


def may_advance(current: JobStatus | None, new: JobStatus) -> bool:
    """A job moves only forward; the first terminal status wins; a repeat is not an advance."""
    if current is None:
        return True
    return new.rank > current.rank


def next_status(current: JobStatus | None, new: JobStatus) -> JobStatus:
    """The status after applying ``new`` to ``current``: late and repeated events change nothing."""
    return new if may_advance(current, new) else current  # type: ignore[return-value]


def job_id_for_key(idempotency_key: str) -> str:
    return str(uuid.uuid5(IDEMPOTENCY_NAMESPACE, idempotency_key))


def reply_event_id(job_id: str, event_type: EventType, generation: int = 0) -> str:
    """Replies get deterministic ids so a redelivered request yields the same reply, deduped downstream."""
    return f"{job_id}.{event_type.phase}.{generation}"


def canonical_uuid(value: object) -> str | None:
    """The canonical lower-case form of a UUID string, or None when ``value`` is not one."""
    if not isinstance(value, str):
        return None
    try:
        return str(uuid.UUID(value))
    except ValueError:
        return None
