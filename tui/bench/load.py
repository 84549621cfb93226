"""HTTP load against the gateway, from a child process so the generator never shares a CPU slice with
the bench's own sampling loop (it still shares the machine's two cores, as any client would).

Closed loop: ``concurrency`` keep-alive clients, each sending the next request when its answer arrives,
for ``count`` requests or ``duration_s`` seconds, optionally held back by a shared ``allowed`` counter
(the parent raises it as jobs complete, which bounds the backlog). Open loop: requests started at a fixed
rate whatever the answers do. Each request records (wall-clock send time, latency, status, job id).
"""

from __future__ import annotations

import asyncio
import json
import multiprocessing
import queue
import time
from dataclasses import dataclass, field
from typing import Any

import httpx

__all__ = ["JobSpec", "LoadFailed", "LoadPlan", "LoadResult", "RunningLoad", "Sent", "run_load", "start_load"]


class LoadFailed(Exception):
    """The load generator process failed or hung."""


@dataclass(frozen=True)
class JobSpec:
    job_type: str
    payload: dict[str, Any]

    def body(self) -> bytes:
        # No client-side id: the gateway's common path names the job itself (and skips a duplicate lookup).
        return json.dumps({"type": self.job_type, "payload": self.payload}).encode()


@dataclass(frozen=True)
class Sent:
    at: float  # time.time() just before the request went out
    latency_s: float
    status: int  # 0: transport error, -1: a 202 without a jobId
    job_id: str


@dataclass
class LoadResult:
    sent: list[Sent] = field(default_factory=list)
    elapsed_s: float = 0.0

    def accepted(self, status: int = 202) -> list[Sent]:
        return [s for s in self.sent if s.status == status]

    def statuses(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for s in self.sent:
            out[str(s.status)] = out.get(str(s.status), 0) + 1
        return out


@dataclass(frozen=True)
class LoadPlan:
    url: str
    spec: JobSpec
    concurrency: int = 1
    count: int | None = None  # closed loop: stop after this many requests
    duration_s: float | None = None  # closed or open loop: stop after this long
    rate_per_s: float | None = None  # open loop when set
    warmup: int = 0  # requests sent (and not recorded) before timing starts

    @property
    def body(self) -> bytes:
        return self.spec.body()


async def _one(client: httpx.AsyncClient, plan: LoadPlan, out: list[Sent]) -> None:
    job_id = ""
    at, start = time.time(), time.perf_counter()
    try:
        response = await client.post(
            plan.url, content=plan.body, headers={"content-type": "application/json"}
        )
        status = response.status_code
    except httpx.HTTPError:
        status = 0
    latency = time.perf_counter() - start
    if status == 202:
        try:
            job_id = str(response.json()["jobId"])
        except (ValueError, KeyError, TypeError):
            status = -1  # a 202 without the documented body
    out.append(Sent(at, latency, status, job_id))


async def _drive(plan: LoadPlan, allowed: Any) -> LoadResult:
    limits = httpx.Limits(
        max_connections=max(plan.concurrency, 64), max_keepalive_connections=max(plan.concurrency, 64)
    )
    result = LoadResult()
    async with httpx.AsyncClient(limits=limits, timeout=60.0) as client:
        scratch: list[Sent] = []
        for _ in range(plan.warmup):
            await _one(client, plan, scratch)
        start = time.perf_counter()
        deadline = start + plan.duration_s if plan.duration_s is not None else None
        if plan.rate_per_s is not None:
            tasks: list[asyncio.Task[None]] = []
            i = 0
            while deadline is None or time.perf_counter() < deadline:
                if plan.count is not None and i >= plan.count:
                    break
                due = start + i / plan.rate_per_s
                delay = due - time.perf_counter()
                if delay > 0:
                    await asyncio.sleep(delay)
                tasks.append(asyncio.create_task(_one(client, plan, result.sent)))
                i += 1
            await asyncio.gather(*tasks)
        else:
            issued = 0

            async def worker() -> None:
                nonlocal issued
                while True:
                    if deadline is not None and time.perf_counter() >= deadline:
                        return
                    if plan.count is not None and issued >= plan.count:
                        return
                    if allowed is not None and issued >= allowed.value:
                        await asyncio.sleep(0.005)
                        continue
                    issued += 1
                    await _one(client, plan, result.sent)

            await asyncio.gather(*(worker() for _ in range(plan.concurrency)))
        result.elapsed_s = time.perf_counter() - start
    return result


def _child(plan: LoadPlan, allowed: Any, out: Any) -> None:
    out.put(asyncio.run(_drive(plan, allowed)))


class RunningLoad:
    """A load generator running in a child process; ``result()`` waits for it."""

    def __init__(self, plan: LoadPlan, backlog_limit: bool) -> None:
        ctx = multiprocessing.get_context("spawn")
        self.allowed = ctx.Value("q", 0) if backlog_limit else None
        self._out = ctx.Queue()
        self._proc = ctx.Process(target=_child, args=(plan, self.allowed, self._out), daemon=True)
        self._proc.start()

    def allow(self, total: int) -> None:
        if self.allowed is not None:
            self.allowed.value = total

    def result(self, timeout_s: float = 900.0) -> LoadResult:
        deadline = time.monotonic() + timeout_s
        try:
            while True:
                try:
                    got: LoadResult = self._out.get(timeout=0.5)
                    return got
                except queue.Empty:
                    # A child that died (or never started) would otherwise leave us waiting forever.
                    if not self._proc.is_alive():
                        raise LoadFailed(f"the load generator exited with {self._proc.exitcode}") from None
                    if time.monotonic() > deadline:
                        raise LoadFailed(f"the load generator did not finish in {timeout_s:.0f}s") from None
        finally:
            self._proc.join(5)
            if self._proc.is_alive():
                self._proc.kill()

    def kill(self) -> None:
        if self._proc.is_alive():
            self._proc.kill()


def start_load(plan: LoadPlan, *, backlog_limit: bool = False) -> RunningLoad:
    return RunningLoad(plan, backlog_limit)


def run_load(plan: LoadPlan) -> LoadResult:
    running = start_load(plan)
    try:
        return running.result()
    except BaseException:
        running.kill()
        raise
