"""``observatory submit``: a bounded load generator for the gateway, on loopback only.

The job is checked against the contract before anything is sent, so bad input is one line and exit 2.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ipaddress
import json
import os
import time
from typing import Any
from urllib.parse import urlsplit

import httpx
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from functions.core.contracts import default_registry
from knlocal.config import RuntimeConfig
from knlocal.state import read_state
from tui.command import CommandError, guard

MAX_COUNT = 100_000


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    submit = subparsers.add_parser("submit", help="submit jobs to the gateway (a bounded load generator)")
    submit.add_argument("type", metavar="TYPE", help="job type: echo, sleep, hash, wordcount, fail, flaky")
    submit.add_argument("--payload", default="{}", help='the job payload as JSON, e.g. \'{"message": "hi"}\'')
    submit.add_argument("--count", type=int, default=1, help=f"jobs to submit (1..{MAX_COUNT})")
    submit.add_argument("--rate", type=float, default=0.0, help="jobs per second (0 = as fast as allowed)")
    submit.add_argument("--concurrency", type=int, default=32, help="requests in flight at most (1..512)")
    submit.add_argument(
        "--gateway", help="gateway URL on loopback (default: the running runtime's, else :3000)"
    )
    submit.set_defaults(func=guard(_submit, "submit"))


def _loopback_url(url: str) -> str:
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.scheme not in ("http", "https") or not host:
        raise CommandError(f"--gateway {url!r} is not an http URL", 2)
    loopback = host == "localhost"
    with contextlib.suppress(ValueError):
        loopback = loopback or ipaddress.ip_address(host).is_loopback
    if not loopback:
        raise CommandError(f"--gateway {url!r}: submit only talks to loopback (127.0.0.1, ::1, localhost)", 2)
    return url.rstrip("/")


def _submit(args: argparse.Namespace) -> int:
    try:
        payload = json.loads(args.payload)
    except json.JSONDecodeError as exc:
        raise CommandError(
            f"--payload is not valid JSON: {exc.msg} at column {exc.colno}; nothing was sent", 2
        ) from exc
    if not isinstance(payload, dict):
        raise CommandError('--payload must be a JSON object, e.g. \'{"message": "hi"}\'; nothing was sent', 2)
    if not 1 <= args.count <= MAX_COUNT:
        raise CommandError(f"--count must be in 1..{MAX_COUNT}", 2)
    if args.rate < 0 or not 1 <= args.concurrency <= 512:
        raise CommandError("--rate must be >= 0 and --concurrency in 1..512", 2)
    if args.gateway:
        gateway = _loopback_url(args.gateway)
    else:
        state = read_state(RuntimeConfig.from_env(os.environ).state_dir)
        gateway = _loopback_url(
            state.services.get("gateway", "")
            if state
            else os.environ.get("GATEWAY_URL", "http://127.0.0.1:3000")
        )
    body = {"type": args.type, "payload": payload}
    violations = default_registry().validate_submission(body)
    if violations:
        found = "; ".join(f"{v.pointer or '/'}: {v.message}" for v in violations)
        raise CommandError(f"the job does not match the contract ({found}); nothing was sent", 2)
    accepted, rejected, latencies, errors, elapsed = asyncio.run(_load(gateway + "/jobs", body, args))
    print(
        f"accepted {accepted}, rejected {rejected} of {args.count} in {elapsed:.2f}s ({args.count / max(elapsed, 1e-9):.0f} jobs/s)"
    )
    if latencies:
        ordered = sorted(latencies)
        p50, p99 = ordered[len(ordered) // 2], ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
        print(f"latency p50 {p50 * 1000:.1f} ms, p99 {p99 * 1000:.1f} ms")
    for reason, n in sorted(errors.items(), key=lambda kv: -kv[1])[:5]:
        print(f"  {n} x {reason}")
    if accepted == 0 and rejected:
        if all(reason.startswith("HTTP 4") for reason in errors):
            raise CommandError("the gateway refused every job; fix the payload as the lines above say", 1)
        raise CommandError("no job was accepted; is the runtime up (`observatory status`)?")
    return 0 if rejected == 0 else 1


async def _load(
    url: str, body: dict[str, Any], args: argparse.Namespace
) -> tuple[int, int, list[float], dict[str, int], float]:
    accepted = rejected = 0
    latencies: list[float] = []
    errors: dict[str, int] = {}
    slots = asyncio.Semaphore(args.concurrency)
    start = time.monotonic()
    columns = (TextColumn("submitting"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    async with httpx.AsyncClient(timeout=60) as client:
        with Progress(*columns, console=Console(stderr=True), transient=True) as progress:
            task = progress.add_task("submit", total=args.count)

            async def one(i: int) -> None:
                nonlocal accepted, rejected
                if args.rate > 0:
                    await asyncio.sleep(max(0.0, start + i / args.rate - time.monotonic()))
                async with slots:
                    t0 = time.monotonic()
                    try:
                        resp = await client.post(url, json=body)
                        ok, reason = (
                            resp.status_code in (200, 201, 202),
                            f"HTTP {resp.status_code}: {_detail(resp)}",
                        )
                    except httpx.HTTPError as exc:
                        ok, reason = False, f"{exc.__class__.__name__}: {exc}"
                    latencies.append(time.monotonic() - t0)
                if ok:
                    accepted += 1
                else:
                    rejected += 1
                    errors[reason] = errors.get(reason, 0) + 1
                progress.advance(task)

            await asyncio.gather(*(one(i) for i in range(args.count)))
    return accepted, rejected, latencies, errors, time.monotonic() - start


def _detail(resp: httpx.Response) -> str:
    with contextlib.suppress(ValueError):
        doc = resp.json()
        if isinstance(doc, dict):
            text = str(doc.get("detail") or doc.get("title") or "")
            fields = [
                f"{e.get('pointer') or '/'}: {e.get('message')}"
                for e in doc.get("errors") or []
                if isinstance(e, dict)
            ]
            return (text + (" (" + "; ".join(fields) + ")" if fields else ""))[:400]
    return resp.text[:200]
