"""Dispatchers against real subscribers and a real RabbitMQ: retries, outcomes, dead letters, replies, order.

Retry waits are checked only as lower bounds (a wait can be longer on a busy machine, never shorter),
which is what tells the RabbitMQ timing (first retry waits 2 x delay) from the MT broker's (immediate).
"""

from __future__ import annotations

import asyncio
import logging

import httpx
import pytest

from knlocal.eventing.broker import Broker
from knlocal.manifests import DeliverySpec, Destination
from tests.conftest import free_port
from tests.integration.knlocal.brokerkit import (
    Script,
    Subscriber,
    build_topology,
    counters,
    delete_topology,
    post_event,
    resolve,
    running_broker,
    runtime_config,
    trigger,
    wait_until,
)

pytestmark = pytest.mark.integration


def answers(*statuses: int) -> Script:
    """A script answering the n-th attempt of each event with statuses[n-1] (the last one repeats)."""

    def script(n: int, _h: dict[str, str], _b: bytes) -> tuple[int, dict[str, str], bytes]:
        return statuses[min(n, len(statuses)) - 1], {}, b""

    return script


async def test_retries_follow_the_rabbitmq_timing_until_delivered() -> None:
    sub = Subscriber("flaky", answers(500, 500, 200))
    await sub.start()
    delivery = DeliverySpec(retry=3, backoff_policy="exponential", backoff_delay_s=0.05)
    topo = build_topology([trigger("flaky", sub.url, delivery=delivery)])
    try:
        async with running_broker(topo) as broker, httpx.AsyncClient() as client:
            await post_event(client, broker.ingress_url, "r-1", "t")
            await wait_until(lambda: counters(broker, "flaky")["delivered"] == 1, what="delivery")
            c = counters(broker, "flaky")
            assert (c["delivered"], c["retried"], c["dead_lettered"], c["dropped"]) == (1, 2, 0, 0)
            assert sub.ids() == ["r-1", "r-1", "r-1"]
            gaps = [b.at - a.at for a, b in zip(sub.requests, sub.requests[1:], strict=False)]
            # exponential, 1-based: d*2^1 then d*2^2 (the MT broker would retry the first time at once)
            assert gaps[0] >= 0.1
            assert gaps[1] >= 0.2
    finally:
        await sub.server.stop()


async def test_a_non_retryable_400_counts_as_delivered() -> None:
    sub, dls = Subscriber("bad-request", answers(400)), Subscriber("dls")
    await sub.start()
    await dls.start()
    delivery = DeliverySpec(retry=3, backoff_delay_s=0.01, dead_letter_sink=Destination(uri=dls.url))
    topo = build_topology([trigger("strict", sub.url, delivery=delivery)])
    try:
        async with running_broker(topo) as broker, httpx.AsyncClient() as client:
            await post_event(client, broker.ingress_url, "b-1", "t")
            await wait_until(lambda: counters(broker, "strict")["delivered"] == 1, what="delivery")
            c = counters(broker, "strict")
            assert (c["retried"], c["dead_lettered"]) == (0, 0)
            assert sub.ids() == ["b-1"]
    finally:
        await sub.server.stop()
        await dls.server.stop()


async def test_exhausted_retries_reach_the_dead_letter_sink_with_error_extensions() -> None:
    sub, dls = Subscriber("down", answers(503)), Subscriber("dls")
    await sub.start()
    await dls.start()
    unreachable = f"http://127.0.0.1:{free_port()}/"
    delivery = DeliverySpec(retry=2, backoff_delay_s=0.01, dead_letter_sink=Destination(uri=dls.url))
    topo = build_topology(
        [
            trigger("down", sub.url, delivery=delivery, filter_attributes={"type": "to-down"}),
            trigger("nowhere", unreachable, delivery=delivery, filter_attributes={"type": "to-nowhere"}),
        ]
    )
    try:
        async with running_broker(topo) as broker, httpx.AsyncClient() as client:
            await post_event(client, broker.ingress_url, "d-1", "to-down", {"x": 1}, jobid="j-9")
            await post_event(client, broker.ingress_url, "n-1", "to-nowhere")
            await wait_until(lambda: len(dls.requests) == 2, what="both events at the dead-letter sink")
            by_id = {r.id: r for r in dls.requests}
            down = by_id["d-1"]
            assert down.headers["ce-knativeerrordest"] == sub.url
            assert down.headers["ce-knativeerrorcode"] == "503"
            assert "ce-knativeerrordata" not in down.headers
            assert down.headers["ce-jobid"] == "j-9"  # the original event, extensions and data intact
            assert down.body == b'{"x": 1}'
            nowhere = by_id["n-1"]
            assert nowhere.headers["ce-knativeerrordest"] == unreachable
            assert nowhere.headers["ce-knativeerrorcode"] == "-1"  # no HTTP response at all
            assert len(sub.requests) == 3  # one attempt plus two retries
            assert counters(broker, "down")["dead_lettered"] == 1
            assert counters(broker, "nowhere")["dead_lettered"] == 1
            await wait_until(
                lambda: counters(broker, "down (dead letters)")["delivered"] == 1, what="DLQ ack"
            )
    finally:
        await sub.server.stop()
        await dls.server.stop()


async def test_without_a_dead_letter_sink_the_event_is_dropped_with_a_warning(
    caplog: pytest.LogCaptureFixture,
) -> None:
    sub, broker_dls = Subscriber("down", answers(500)), Subscriber("broker-dls")
    await sub.start()
    await broker_dls.start()
    # The Trigger has its own delivery without a DLS, so the Broker's DLS does not apply (RabbitMQ broker rule).
    topo = build_topology(
        [trigger("no-dls", sub.url, delivery=DeliverySpec(retry=1, backoff_delay_s=0.01))],
        broker_delivery=DeliverySpec(retry=1, dead_letter_sink=Destination(uri=broker_dls.url)),
    )
    try:
        with caplog.at_level(logging.WARNING, logger="knlocal.eventing.dispatcher"):
            async with running_broker(topo) as broker, httpx.AsyncClient() as client:
                await post_event(client, broker.ingress_url, "lost-1", "t")
                await wait_until(lambda: counters(broker, "no-dls")["dropped"] == 1, what="the drop")
                assert counters(broker, "no-dls")["dead_lettered"] == 0
                assert len(sub.requests) == 2
        assert any("kit/no-dls" in r.message and "lost-1" in r.message for r in caplog.records)
    finally:
        await sub.server.stop()
        await broker_dls.server.stop()


async def test_a_cloudevent_reply_is_published_and_routed_to_another_trigger() -> None:
    def reply(_n: int, headers: dict[str, str], _b: bytes) -> tuple[int, dict[str, str], bytes]:
        out = {
            "ce-specversion": "1.0",
            "ce-id": f"{headers['ce-id']}.started",
            "ce-source": "/observatory/processor",
            "ce-type": "job.started",
            "ce-jobid": "j-1",
            "content-type": "application/json",
        }
        return 200, out, b'{"jobId": "j-1"}'

    processor, aggregator = Subscriber("processor", reply), Subscriber("aggregator")
    await processor.start()
    await aggregator.start()
    topo = build_topology(
        [
            trigger("processor", processor.url, filter_attributes={"type": "job.submitted"}),
            trigger("aggregator", aggregator.url, filter_attributes={"type": "job.started"}),
        ]
    )
    try:
        async with running_broker(topo) as broker, httpx.AsyncClient() as client:
            await post_event(client, broker.ingress_url, "j-1", "job.submitted")
            await wait_until(lambda: aggregator.ids() == ["j-1.started"], what="the reply at the aggregator")
            got = aggregator.requests[0]
            assert got.headers["ce-source"] == "/observatory/processor"
            assert got.headers["ce-jobid"] == "j-1"
            assert got.body == b'{"jobId": "j-1"}'
            assert counters(broker, "processor")["replies"] == 1
            assert "prefer" not in processor.requests[0].headers  # the RabbitMQ dispatcher does not ask
    finally:
        await processor.server.stop()
        await aggregator.server.stop()


async def test_parallelism_one_delivers_in_publish_order() -> None:
    sub = Subscriber("fifo")
    await sub.start()
    topo = build_topology([trigger("fifo", sub.url, parallelism=1)])
    ids = [f"o-{i:03d}" for i in range(40)]
    try:
        async with running_broker(topo) as broker, httpx.AsyncClient() as client:
            for event_id in ids:
                assert (await post_event(client, broker.ingress_url, event_id, "t")).status_code == 202
            await wait_until(lambda: len(sub.requests) == len(ids), what="all events")
            assert sub.ids() == ids
    finally:
        await sub.server.stop()


async def test_parallelism_n_delivers_concurrently() -> None:
    sub = Subscriber("wide")
    sub.release = asyncio.Event()
    await sub.start()
    topo = build_topology([trigger("wide", sub.url, parallelism=4)])
    try:
        async with running_broker(topo) as broker, httpx.AsyncClient() as client:
            for i in range(6):
                await post_event(client, broker.ingress_url, f"w-{i}", "t")
            await wait_until(lambda: len(sub.requests) == 4, what="four deliveries in flight at once")
            assert counters(broker, "wide")["in_flight"] == 4
            sub.release.set()
            await wait_until(lambda: counters(broker, "wide")["delivered"] == 6, what="all delivered")
    finally:
        sub.release.set()
        await sub.server.stop()


async def test_a_dispatcher_killed_mid_delivery_leaves_the_event_to_be_redelivered() -> None:
    stuck, healthy = Subscriber("stuck"), Subscriber("healthy")
    stuck.release = asyncio.Event()
    await stuck.start()
    await healthy.start()
    config = runtime_config()
    first = build_topology([trigger("work", stuck.url)])
    first_broker = Broker(config, first, resolve)
    await first_broker.start()
    second_broker: Broker | None = None
    try:
        async with httpx.AsyncClient() as client:
            await post_event(client, first_broker.ingress_url, "k-1", "t")
        await wait_until(lambda: stuck.ids() == ["k-1"], what="the first delivery to start")
        # The crash: the AMQP connection goes away with the delivery unacked.
        await first_broker.connection.stop()
        second_broker = Broker(config, build_topology([trigger("work", healthy.url)]), resolve)
        await second_broker.start()
        await wait_until(lambda: healthy.ids() == ["k-1"], what="redelivery to the second dispatcher")
        await wait_until(lambda: counters(second_broker, "work")["delivered"] == 1, what="the ack")
        assert counters(second_broker, "work")["redelivered"] == 1
    finally:
        stuck.release.set()
        await first_broker.stop(grace_s=2)
        if second_broker is not None:
            await second_broker.stop(grace_s=2)
        await delete_topology(config, first)
        await stuck.server.stop()
        await healthy.server.stop()
