"""Routing through the real headers exchange: each Trigger's queue gets only what its filter matches."""

from __future__ import annotations

import logging

import httpx
import pytest

from tests.integration.knlocal.brokerkit import (
    Subscriber,
    build_topology,
    counters,
    post_event,
    running_broker,
    trigger,
    wait_until,
)

pytestmark = pytest.mark.integration


async def test_triggers_receive_only_the_types_they_filter_and_an_unfiltered_one_gets_all() -> None:
    started, completed, everything = Subscriber("started"), Subscriber("completed"), Subscriber("all")
    for sub in (started, completed, everything):
        await sub.start()
    topo = build_topology(
        [
            trigger("on-started", started.url, filter_attributes={"type": "job.started"}),
            trigger("on-completed", completed.url, filter_attributes={"type": "job.completed"}),
            trigger("on-all", everything.url),
        ]
    )
    try:
        async with running_broker(topo) as broker, httpx.AsyncClient() as client:
            for i, kind in enumerate(["job.started", "job.completed", "job.failed", "job.started"]):
                assert (await post_event(client, broker.ingress_url, f"e{i}", kind)).status_code == 202
            await wait_until(
                lambda: len(everything.requests) == 4, what="the unfiltered trigger to get 4 events"
            )
            await wait_until(
                lambda: len(started.requests) == 2 and len(completed.requests) == 1, what="routing"
            )
            assert sorted(started.ids()) == ["e0", "e3"]
            assert completed.ids() == ["e1"]
            assert sorted(everything.ids()) == ["e0", "e1", "e2", "e3"]
            assert {r.type for r in started.requests} == {"job.started"}
            assert counters(broker, "on-all")["delivered"] == 4
            # queue depth comes from a passive declare; None until the first poll
            await wait_until(lambda: counters(broker, "on-all")["queue_depth"] == 0, what="the depth poll")
    finally:
        for sub in (started, completed, everything):
            await sub.server.stop()


async def test_extension_filters_are_exact_and_all_must_match() -> None:
    sub = Subscriber("echo-only")
    await sub.start()
    topo = build_topology(
        [trigger("echo-submitted", sub.url, filter_attributes={"type": "job.submitted", "jobtype": "echo"})]
    )
    try:
        async with running_broker(topo) as broker, httpx.AsyncClient() as client:
            await post_event(client, broker.ingress_url, "a", "job.submitted", jobtype="hash")
            await post_event(client, broker.ingress_url, "b", "job.started", jobtype="echo")
            await post_event(client, broker.ingress_url, "c", "job.submitted", jobtype="echo")
            await post_event(client, broker.ingress_url, "d", "job.submitted")
            await post_event(client, broker.ingress_url, "e", "job.submitted", jobtype="echo")
            await wait_until(lambda: len(sub.requests) >= 2, what="two matching events")
            # "e" was published after the non-matching ones; FIFO says they were routed (or not) before it.
            assert sub.ids() == ["c", "e"]
    finally:
        await sub.server.stop()


async def test_a_trigger_with_spec_filters_logs_that_they_are_unsupported(
    caplog: pytest.LogCaptureFixture,
) -> None:
    sub = Subscriber("filters")
    await sub.start()
    topo = build_topology([trigger("uses-filters", sub.url, has_filters=True)])
    try:
        with caplog.at_level(logging.WARNING, logger="knlocal.eventing.broker"):
            async with running_broker(topo) as broker, httpx.AsyncClient() as client:
                await post_event(client, broker.ingress_url, "any", "whatever.type")
                await wait_until(lambda: sub.ids() == ["any"], what="the event (spec.filters is ignored)")
        assert any("kit/uses-filters" in r.message and "spec.filters" in r.message for r in caplog.records)
    finally:
        await sub.server.stop()
