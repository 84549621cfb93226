"""Benchmark (not a test): broker ingress events/s at concurrency 1/8/64 against raw pika with confirms.

Run: ``python -m knlocal.eventing.bench_ingress [--events N]`` with RabbitMQ up (``RABBITMQ_URL``).
Everything publishes to one headers exchange with one bound queue of the type the runtime declares
(quorum), so every confirm includes the enqueue. The HTTP load runs in a child process so it does not
share the ingress's event loop. It prints its conditions, then one line per measurement:

* ``pika blocking``: ``BlockingConnection`` publishing one message and waiting for its confirm, in a loop
  (what an I/O-thread design does per request unless it pipelines);
* ``pika asyncio``: this package's ``Channel`` on pika's asyncio adapter, ``c`` publishes in flight;
* ``ingress``: HTTP POSTs of binary CloudEvents to the ingress from ``c`` concurrent keep-alive connections.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import multiprocessing
import os
import platform
import secrets
import time
from typing import Any

import pika

from knlocal import manifests
from knlocal.config import RuntimeConfig
from knlocal.eventing.amqp import Connection
from knlocal.eventing.broker import Broker
from knlocal.eventing.message import AmqpMessage

LEVELS = (1, 8, 64)
BODY = b'{"jobId":"00000000-0000-0000-0000-000000000000","type":"echo","payload":{"text":"hello"}}'


def _headers(i: int) -> dict[str, str]:
    return {
        "ce-specversion": "1.0",
        "ce-id": f"bench-{i}",
        "ce-source": "/observatory/bench",
        "ce-type": "dev.observatory.job.submitted",
        "content-type": "application/json",
    }


def _topology() -> manifests.Topology:
    ref = manifests.Ref("eventing.knative.dev/v1alpha1", "RabbitmqBrokerConfig", "c", "bench")
    broker = manifests.Broker("default", "bench", "RabbitMQBroker", ref, None)
    config = manifests.BrokerConfig("c", "bench", None, "s", "quorum", "")
    return manifests.Topology({}, {"default": broker}, {}, {"c": config})


def _blocking(url: str, exchange: str, n: int) -> float:
    conn = pika.BlockingConnection(pika.URLParameters(url))
    channel = conn.channel()
    channel.confirm_delivery()
    props = pika.BasicProperties(headers=dict(_headers(0)), delivery_mode=2)
    start = time.perf_counter()
    for _ in range(n):
        channel.basic_publish(exchange, "", BODY, props)
    elapsed = time.perf_counter() - start
    conn.close()
    return n / elapsed


async def _asyncio_raw(connection: Connection, exchange: str, n: int, concurrency: int) -> float:
    channel = await connection.channel()
    await channel.confirm()
    message = AmqpMessage(
        headers=dict(_headers(0)), body=BODY, content_type="application/json", message_id="x"
    )
    left = n

    async def worker() -> None:
        nonlocal left
        while left > 0:
            left -= 1
            await channel.publish(exchange, message)

    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    elapsed = time.perf_counter() - start
    channel.close()
    return n / elapsed


def _http_load(port: int, n: int, concurrency: int, out: Any) -> None:
    """``concurrency`` keep-alive connections, one request at a time each (a minimal client: httpx's own
    per-request cost on this machine is larger than the ingress's and would be what gets measured)."""

    async def run() -> tuple[float, int]:
        fields = "".join(f"{k}: {v}\r\n" for k, v in _headers(0).items())
        request = (
            f"POST / HTTP/1.1\r\nhost: bench\r\n{fields}content-length: {len(BODY)}\r\n\r\n".encode() + BODY
        )
        left, bad = n, 0

        async def worker() -> None:
            nonlocal left, bad
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            while left > 0:
                left -= 1
                writer.write(request)
                head = await reader.readuntil(b"\r\n\r\n")
                status = head.split(b" ", 2)[1]
                length = int(
                    next(
                        (
                            ln.split(b":")[1]
                            for ln in head.lower().split(b"\r\n")
                            if ln.startswith(b"content-length:")
                        ),
                        b"0",
                    )
                )
                if length:
                    await reader.readexactly(length)
                bad += status != b"202"
            writer.close()

        start = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return n / (time.perf_counter() - start), bad

    out.put(asyncio.run(run()))


async def main(events: int) -> None:
    url = os.environ.get("RABBITMQ_URL", "amqp://guest:guest@127.0.0.1:5672/%2F")
    config = RuntimeConfig(rabbitmq_url=url, ingress_port=0, broker_uid=f"bench-{secrets.token_hex(4)}")
    broker = Broker(config, _topology(), lambda d: d.uri or "")
    await broker.start()
    probe = f"{broker.plan.exchange}.probe"
    channel = await broker.connection.channel()
    await channel.queue_declare(probe, arguments={"x-queue-type": "quorum"})
    await channel.queue_bind(probe, broker.plan.exchange, {"x-match": "all"})
    try:
        load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
        http_impl = "httptools" if importlib.util.find_spec("httptools") else "h11"
        print(
            f"conditions: {os.cpu_count()} CPUs, load average {load}, Python {platform.python_version()}, "
            f"pika {pika.__version__}, uvicorn on {http_impl}, a minimal keep-alive HTTP/1.1 load client, "
            f"one quorum queue bound, {len(BODY)}-byte body, {events} events per line, "
            "HTTP load from a separate process, ingress and raw publishes on one asyncio loop"
        )
        rate = await asyncio.to_thread(_blocking, url, broker.plan.exchange, events)
        print(f"pika blocking  c=1   {rate:8.0f} events/s (publish, wait for the confirm, repeat)")
        for level in LEVELS:
            rate = await _asyncio_raw(broker.connection, broker.plan.exchange, events, level)
            print(f"pika asyncio   c={level:<3d} {rate:8.0f} events/s")
        ctx = multiprocessing.get_context("spawn")
        for level in LEVELS:
            out = ctx.Queue()
            proc = ctx.Process(
                target=_http_load,
                args=(int(broker.ingress_url.rsplit(":", 1)[1].strip("/")), events, level, out),
            )
            proc.start()
            rate, bad = await asyncio.to_thread(out.get)
            await asyncio.to_thread(proc.join)
            print(f"ingress HTTP   c={level:<3d} {rate:8.0f} events/s ({bad} non-202)")
    finally:
        await channel.queue_delete(probe)
        await channel.exchange_delete(broker.plan.exchange)
        channel.close()
        await broker.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=3000)
    asyncio.run(main(parser.parse_args().events))
