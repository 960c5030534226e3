"""Subscriber-bound receive: drain a backlog the broker holds for a persistent session.

The flood cases (`typed_receive`, `raw_receive`) measure a live publish -> broker -> subscriber
path, so their rate is capped by the one flood process (a paho publisher, ~25-38k msg/s on the
reference machine): a subscriber faster than the publisher cannot show it. Here the broker
holds `n` messages for an offline persistent session (`clean_session=False`, QoS 1
subscription; `queue_qos0_messages` so QoS 0 is kept too) before the subscriber connects, then
sends them as fast as the subscriber takes them. The rate is first to last arrival, as in the
flood cases, and every message must arrive (`lost`).

Each repetition starts its own broker (`broker="own"`), so no backlog leaks between runs.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import os
from collections.abc import Awaitable, Callable
from typing import Any

import aiomqtt
from harness.broker import BenchBroker

from cases.common import NODELAY
from cases.paho_pub import PahoPublisher
from cases.receive_util import Arrivals, transcript_payload

__all__ = ["BACKLOG_CONFIG", "raw_aiomqtt_qos0", "raw_aiomqtt_qos1", "typed_qos0", "typed_qos1"]

# Keep every queued message for the offline session (mosquitto keeps 1,000 by default) and
# queue QoS 0 messages too.
BACKLOG_CONFIG = ("max_queued_messages 1000000", "queue_qos0_messages true")
TOPICS = {0: "stt/partial", 1: "stt/final"}  # the contract's QoS 0 and QoS 1 transcript topics


def _preload(url: str, topic: str, n: int, qos: int) -> None:
    publisher = PahoPublisher(url, window=100)
    try:
        publisher.publish_many(topic, transcript_payload(qos), n, qos=qos)
    finally:
        publisher.close()


async def _with_backlog(
    qos: int,
    n: int,
    subscribe: Callable[[BenchBroker], Awaitable[None]],
    drain: Callable[[BenchBroker], Awaitable[dict[str, float]]],
) -> dict[str, float]:
    """Start a broker, make the session and its subscription, fill the backlog, drain it."""
    broker = BenchBroker(extra_config=BACKLOG_CONFIG)
    broker.start()
    try:
        await subscribe(broker)
        await asyncio.to_thread(_preload, broker.url, TOPICS[qos], n, qos)
        return await drain(broker)
    finally:
        broker.close()


async def _typed(params: dict[str, Any], qos: int) -> dict[str, float]:
    from mqttwire.client import MQTTClient  # imports tars_mqtt: typed cases only
    from mqttwire.config import MQTTClientConfig
    from tars_mqtt import TarsClient

    n = int(params["n"])
    arrivals = Arrivals(n)
    client_id = f"backlog-typed-{os.getpid()}-{os.urandom(3).hex()}"

    async def handler(message: object, meta: object) -> None:
        arrivals.hit()

    def make(url: str) -> TarsClient:
        config = MQTTClientConfig(url=url, client_id=client_id, clean_session=False)
        transport = params.get("transport")
        if transport is None:
            return TarsClient(config)
        module, _, name = str(transport).partition(":")
        candidate = getattr(importlib.import_module(module), name)()
        return TarsClient(client=MQTTClient(config, transport=candidate))

    async def session(tars: TarsClient) -> None:
        if qos == 0:
            await tars.subscribe_stt_partial(handler)
        else:
            await tars.subscribe_stt_final(handler)

    async def subscribe(broker: BenchBroker) -> None:
        tars = make(broker.url)
        await session(tars)  # before connect: subscribed with the CONNECT
        async with tars:
            pass

    async def drain(broker: BenchBroker) -> dict[str, float]:
        tars = make(broker.url)
        await session(tars)
        async with tars:
            await arrivals.settle()
            result = arrivals.result()
            client = tars.client
            assert isinstance(client, MQTTClient)
            result["invalid"] = float(tars.stats.invalid_total)
            result["queue_overflow"] = float(client.metrics.queue_overflow)
        return result

    return await _with_backlog(qos, n, subscribe, drain)


async def _raw_aiomqtt(params: dict[str, Any], qos: int) -> dict[str, float]:
    n = int(params["n"])
    arrivals = Arrivals(n)
    client_id = f"backlog-raw-{os.getpid()}-{os.urandom(3).hex()}"

    def make(broker: BenchBroker) -> aiomqtt.Client:
        return aiomqtt.Client(
            broker.host,
            broker.port,
            identifier=client_id,
            clean_session=False,
            socket_options=[NODELAY],
        )

    async def subscribe(broker: BenchBroker) -> None:
        async with make(broker) as client:
            await client.subscribe(TOPICS[qos], qos=qos)

    async def drain(broker: BenchBroker) -> dict[str, float]:
        async with make(broker) as client:

            async def consume() -> None:
                async for _message in client.messages:
                    arrivals.hit()

            consumer = asyncio.create_task(consume())
            await arrivals.settle()
            consumer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await consumer
        return arrivals.result()

    return await _with_backlog(qos, n, subscribe, drain)


def typed_qos0(params: dict[str, Any]) -> dict[str, float]:
    return asyncio.run(_typed(params, 0))


def typed_qos1(params: dict[str, Any]) -> dict[str, float]:
    return asyncio.run(_typed(params, 1))


def raw_aiomqtt_qos0(params: dict[str, Any]) -> dict[str, float]:
    return asyncio.run(_raw_aiomqtt(params, 0))


def raw_aiomqtt_qos1(params: dict[str, Any]) -> dict[str, float]:
    return asyncio.run(_raw_aiomqtt(params, 1))
