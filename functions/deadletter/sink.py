"""What the dead-letter sink does with one dead-lettered event: store, mark, count, reply.

Every step is idempotent, so the broker may deliver the same dead letter again after a crash:
``dead_letters`` is unique on source+id, ``finish`` lets the first terminal status win, and the Redis
count is applied once per source+id of the (deterministic) reply.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from starlette.responses import Response

from functions.core.cloudevents import CORRELATION, CloudEvent, build, to_binary_http
from functions.core.contracts import ContractRegistry
from functions.core.jobs import EventType, JobStatus, reply_event_id
from functions.core.stores.mongo import AuditStore
from functions.core.stores.postgres import JobRepository
from functions.core.stores.redis import Aggregates
from functions.core.telemetry import correlation_id
from functions.core.times import rfc3339
from functions.deadletter import metrics
from functions.deadletter.record import DeadLetter, read_dead_letter

SOURCE = "/observatory/deadletter"


class DeadLetterSink:
    def __init__(
        self,
        contracts: ContractRegistry,
        jobs: JobRepository,
        audit: AuditStore,
        aggregates: Aggregates,
        log: logging.Logger,
    ) -> None:
        self.contracts = contracts
        self.jobs = jobs
        self.audit = audit
        self.aggregates = aggregates
        self.log = log

    async def receive(self, event: CloudEvent) -> Response:
        letter = read_dead_letter(event, datetime.now(UTC))
        correlation_id.set(letter.correlation_id)
        if await self.audit.add_dead_letter(letter.document):
            metrics.EVENTS.labels(letter.event_type).inc()
            self.log.warning(
                "dead letter %s from %s (%s)", letter.event_type, letter.error_dest, letter.error_code,
                extra={"jobId": letter.job_id, "eventId": letter.document["id"]},
            )  # fmt: skip
        if not letter.marks_job:
            return Response(status_code=200)
        return await self._mark(letter)

    async def _mark(self, letter: DeadLetter) -> Response:
        assert letter.job_id is not None  # marks_job guarantees it
        if await self.jobs.finish(
            letter.job_id, letter.job_type, JobStatus.DEAD_LETTERED, error=letter.job_error(),
            payload=letter.payload, correlation_id=letter.correlation_id, generation=letter.generation,
        ):  # fmt: skip
            metrics.JOBS_MARKED.inc()
        # Decide from the row, not from finish(): a redelivery after a crash must still reply and count.
        row = await self.jobs.get(letter.job_id)
        if row is None or row["status"] != JobStatus.DEAD_LETTERED or row["generation"] != letter.generation:
            return Response(status_code=200)  # it finished otherwise first; nothing to announce
        at: datetime = row.get("finished_at") or datetime.now(UTC)
        reply = self._reply(letter, row["type"], at)
        # Counted here as well as by the aggregator (same source+id, applied once) so the count holds
        # even if the reply is lost.
        await self.aggregates.apply(
            source=SOURCE, event_id=str(reply["id"]), event_type=EventType.DEADLETTERED,
            job_id=letter.job_id, job_type=row["type"], time_ms=int(at.timestamp() * 1000),
        )  # fmt: skip
        headers, body = to_binary_http(reply)
        return Response(body, status_code=200, headers=headers)

    def _reply(self, letter: DeadLetter, job_type: str, at: datetime) -> CloudEvent:
        assert letter.job_id is not None
        extensions = {"jobid": letter.job_id, "jobtype": job_type}
        if letter.correlation_id:
            extensions[CORRELATION] = letter.correlation_id
        return build(
            EventType.DEADLETTERED.value,
            SOURCE,
            {
                "jobId": letter.job_id,
                "type": job_type,
                "errorDest": letter.error_dest,
                "errorCode": letter.error_code,
                "deadLetteredAt": rfc3339(at),
            },
            event_id=reply_event_id(letter.job_id, EventType.DEADLETTERED, letter.generation),
            dataschema=self.contracts.event_schema_id(EventType.DEADLETTERED.value),
            extensions=extensions,
            time=at,
        )
