"""POST /dead-letters/{id}/replay: run a dead-lettered job again as a new generation.

Order of effects, so that a failure anywhere leaves nothing half-done:
1. check the token, find the dead letter, re-validate its event against the *current* contract (pure);
2. in one PostgreSQL transaction: lock the row, refuse COMPLETED unless forced, start the next generation,
   publish job.submitted for it to K_SINK, and commit only after the broker accepted the event. A sink
   failure rolls the row back (503, nothing changed). Holding the row lock while publishing also means
   a processor that receives the new event at once waits for the commit and then sees the new
   generation, instead of ignoring the event as one from a generation it does not know;
3. record the replay in the audit trail and on the dead letter.

The dead letter is named by its MongoDB ``_id`` (24 hex digits, the ``id`` that /dead-letters lists);
when no document has that ``_id``, the value is taken as the dead-lettered CloudEvent's ``id`` (the
newest such dead letter wins).
"""

from __future__ import annotations

import hmac
import re
import uuid
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, cast

import psycopg
from bson import ObjectId
from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool
from pymongo.errors import PyMongoError

from functions.core.cloudevents import CORRELATION, build
from functions.core.contracts import ContractRegistry
from functions.core.errors import (
    Conflict,
    FieldError,
    NotFound,
    StoreError,
    Unauthorized,
    Unavailable,
    Unprocessable,
)
from functions.core.jobs import EventType, JobStatus
from functions.core.sink import SinkUnavailable
from functions.core.stores.postgres import JobRepository
from functions.readmodel.resources import ReadModelResources
from functions.readmodel.views import iso, valid_uuid

SOURCE = "/observatory/readmodel"
REPLAYED = "dev.observatory.job.replayed"
_OBJECT_ID = re.compile(r"^[0-9a-f]{24}$")


def check_token(expected: str | None, authorization: str | None) -> None:
    """No token configured means no auth (local development, as for the gateway)."""
    if expected is None:
        return
    scheme, _, given = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(), expected.encode()):
        raise Unauthorized(
            "replay needs the header Authorization: Bearer <token> (OBSERVATORY_API_TOKEN)",
            headers={"WWW-Authenticate": 'Bearer realm="observatory"'},
        )


@dataclass(frozen=True)
class Plan:
    """What a replay resubmits; ``payload`` None means "take it from the PostgreSQL row"."""

    job_id: str
    job_type: str
    payload: dict[str, Any] | None
    correlation_id: str | None
    event_type: str
    event_generation: int


def original_event(letter: Mapping[str, Any]) -> Mapping[str, Any]:
    """The dead-lettered CloudEvent: nested under ``event`` if the sink stored it so, else the letter itself."""
    nested = letter.get("event")
    return nested if isinstance(nested, Mapping) else letter


def plan(letter: Mapping[str, Any], contracts: ContractRegistry) -> Plan:
    """Re-validate the dead-lettered event against today's contract; 422 with pointers if it fails."""
    event = original_event(letter)
    event_type = str(event.get("type", ""))
    data = event.get("data")
    body = data if isinstance(data, Mapping) else {}
    errors: list[FieldError] = []
    try:
        schema = contracts.event_schema_id(event_type)
    except LookupError:
        raise Unprocessable(
            f"dead-lettered event type {event_type!r} has no contract today",
            [FieldError("/type", "no current contract for this event type")],
        ) from None
    errors += [FieldError("/data" + v.pointer, v.message) for v in contracts.validate(schema, data)]
    job_id = valid_uuid(event.get("jobid") or body.get("jobId"))
    job_type = str(event.get("jobtype") or body.get("type") or "")
    payload: dict[str, Any] | None = None
    if event_type == EventType.SUBMITTED and isinstance(body.get("payload"), dict):
        payload = dict(body["payload"])
        errors += payload_errors(contracts, job_type, payload)
    if job_id is None:
        errors.append(FieldError("/data/jobId", "the dead letter names no job"))
    if errors or job_id is None:
        raise Unprocessable(
            "the dead-lettered event does not satisfy the current contract", sorted_errors(errors)
        )
    generation = body.get("generation")
    return Plan(
        job_id=job_id, job_type=job_type, payload=payload,
        correlation_id=str(event.get(CORRELATION)) if event.get(CORRELATION) else None,
        event_type=event_type,
        event_generation=generation if isinstance(generation, int) and not isinstance(generation, bool) else 0,
    )  # fmt: skip


def payload_errors(contracts: ContractRegistry, job_type: str, payload: object) -> list[FieldError]:
    try:
        schema = contracts.payload_schema_id(job_type)
    except LookupError:
        return [FieldError("/data/type", f"{job_type!r} is not a job type of the current contract")]
    return [FieldError("/data/payload" + v.pointer, v.message) for v in contracts.validate(schema, payload)]


def sorted_errors(errors: list[FieldError]) -> list[FieldError]:
    return sorted(set(errors), key=lambda e: (e.pointer, e.message))


class _InTransaction:
    """Looks like a pool to JobRepository but hands out one connection inside an open transaction,
    so the repository's own restart_generation statement takes part in the replay's transaction."""

    def __init__(self, conn: AsyncConnection[Any]) -> None:
        self._conn = conn

    @asynccontextmanager
    async def connection(self) -> AsyncIterator[AsyncConnection[Any]]:
        yield self._conn


async def find_letter(resources: ReadModelResources, key: str) -> dict[str, Any]:
    try:
        found = None
        if _OBJECT_ID.match(key):
            found = await resources.audit.dead_letters.find_one({"_id": ObjectId(key)})
        if found is None:
            cursor = resources.audit.dead_letters.find({"id": key}).sort([("receivedAt", -1)]).limit(1)
            matches = await cursor.to_list(length=1)
            found = matches[0] if matches else None
    except PyMongoError as exc:
        raise StoreError("mongodb", str(exc)) from exc
    if found is None:
        raise NotFound(f"no dead letter with _id or event id {key!r}")
    return dict(found)


async def replay(
    resources: ReadModelResources, contracts: ContractRegistry, key: str, *, force: bool
) -> dict[str, Any]:
    letter = await find_letter(resources, key)
    wanted = plan(letter, contracts)
    now = datetime.now(UTC)
    event_id = str(uuid.uuid4())
    try:
        async with resources.pool.connection() as conn, conn.transaction():
            cur = await conn.execute(
                "SELECT status, generation, type, payload FROM jobs WHERE id = %(id)s FOR UPDATE",
                {"id": wanted.job_id},
            )
            row: dict[str, Any] | None = await cur.fetchone()  # type: ignore[assignment]
            previous = None if row is None else str(row["status"])
            if previous == JobStatus.COMPLETED and not force:
                raise Conflict(
                    f"job {wanted.job_id} already COMPLETED in generation {row['generation'] if row else 0}; "
                    "add ?force=true to run it again"
                )
            payload = wanted.payload
            job_type = wanted.job_type or (str(row["type"]) if row else "")
            if payload is None:
                if row is None:
                    raise Unprocessable(
                        "the dead letter carries no payload and the job has no PostgreSQL row to take it from",
                        [FieldError("/data/payload", "missing")],
                    )
                payload = dict(row["payload"])
                if errors := payload_errors(contracts, job_type, payload):
                    raise Unprocessable("the job's payload does not satisfy the current contract", errors)
            if row is not None:
                repository = JobRepository(cast(AsyncConnectionPool, _InTransaction(conn)))
                generation = await repository.restart_generation(wanted.job_id)
                assert generation is not None  # the row is locked: it cannot have vanished
            else:
                # The job never reached PostgreSQL: the processor's claim creates the row in this generation.
                generation = wanted.event_generation + 1
            extensions = {"jobid": wanted.job_id, "jobtype": job_type}
            if wanted.correlation_id:
                extensions[CORRELATION] = wanted.correlation_id
            data = {"jobId": wanted.job_id, "type": job_type, "payload": payload, "submittedAt": iso(now),
                    "generation": generation}  # fmt: skip
            schema = contracts.event_schema_id(EventType.SUBMITTED.value)
            event = build(EventType.SUBMITTED.value, SOURCE, data, event_id=event_id, dataschema=schema,
                          extensions=extensions, time=now)  # fmt: skip
            try:
                await resources.sink.publish(event)
            except SinkUnavailable as exc:
                raise Unavailable(f"replay not done, nothing changed: {exc}") from exc
    except psycopg.Error as exc:
        raise StoreError("postgresql", str(exc).strip()) from exc
    count = int(letter.get("replayCount") or 0) + 1
    await record(resources, letter, wanted, job_type, generation, event_id, previous, force, now, count)
    return {
        "jobId": wanted.job_id, "generation": generation, "eventId": event_id, "deadLetterId": str(letter["_id"]),
        "previousStatus": previous, "replayCount": count, "forced": force,
    }  # fmt: skip


async def record(
    resources: ReadModelResources, letter: Mapping[str, Any], wanted: Plan, job_type: str, generation: int,
    event_id: str, previous: str | None, force: bool, now: datetime, count: int,
) -> None:  # fmt: skip
    """The replay in the audit trail (its own id, so every replay is kept) and on the dead letter."""
    await resources.audit.append_event({
        "source": SOURCE, "id": f"replay-{event_id}", "type": REPLAYED, "time": now,
        "jobid": wanted.job_id, "jobtype": job_type, "correlationid": wanted.correlation_id,
        "dataschema": None, "receivedAt": now, "valid": True,
        "data": {"deadLetterId": str(letter["_id"]), "deadLetterEventId": letter.get("id"),
                 "submittedEventId": event_id, "generation": generation, "previousStatus": previous,
                 "forced": force},
    })  # fmt: skip
    try:
        await resources.audit.dead_letters.update_one(
            {"_id": letter["_id"]},
            {"$set": {"replayedAt": now, "replayCount": count, "lastReplayEventId": event_id}},
        )
    except PyMongoError as exc:
        raise StoreError("mongodb", str(exc)) from exc
