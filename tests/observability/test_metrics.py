"""The metrics count what the services did: messages sent/consumed per destination, handler
and request durations, timeouts, invalid and dropped messages, queue depth."""

from __future__ import annotations

import asyncio

import pytest
from otel_chain import chain
from otel_support import Collected, Otel

from mqttwire import MessageMeta, MQTTClient, MQTTClientConfig, RequestTimeoutError
from mqttwire.testing.broker import MosquittoBroker
from tars_mqtt import TarsClient
from tars_mqtt.models import MemoryQuery

pytestmark = pytest.mark.integration

SENT = "messaging.client.sent.messages"
CONSUMED = "messaging.client.consumed.messages"


async def test_counters_match_the_messages_sent(mqtt_broker: MosquittoBroker, otel: Otel) -> None:
    async with chain(mqtt_broker.url, "5", otel.telemetry) as services:
        await services.say_and_wait("one", "two", "three")
        ids = {
            name: getattr(services, name).client.client_id
            for name in ("stt", "router", "llm", "tts")
        }
        reply_topic = services.router.response_topic
        async with MQTTClient(MQTTClientConfig(url=mqtt_broker.url, client_id="bad")) as raw:
            await raw.publish("stt/final", b'{"text": 42}', qos=1)
            await asyncio.wait_for(_invalid_seen(services.router), 30)
    got = Collected(otel.metrics)

    def sent(client: str, template: str) -> float:
        return got.total(
            SENT, messaging__client__id=ids[client], messaging__destination__template=template
        )

    def consumed(client: str, template: str) -> float:
        return got.total(
            CONSUMED, messaging__client__id=ids[client], messaging__destination__template=template
        )

    assert sent("stt", "stt/final") == 3
    assert sent("router", "llm/request") == 3
    assert reply_topic == f"mqttwire/reply/{ids['router']}"
    assert sent("llm", "mqttwire/reply/{client_id}") == 3
    assert sent("router", "tts/say") == 3
    assert got.total(SENT) == 12
    assert consumed("router", "stt/final") == 4  # three valid, one invalid
    assert consumed("llm", "llm/request") == 3
    assert consumed("router", "mqttwire/reply/{client_id}") == 3
    assert consumed("tts", "tts/say") == 3
    assert got.total(CONSUMED, **{"mqttwire.channel": "tts_say"}) == 3

    assert got.total("messaging.process.duration", messaging__client__id=ids["tts"]) == 3
    assert got.total("messaging.client.operation.duration") == 12
    assert got.total("mqttwire.request.duration", messaging__client__id=ids["router"]) == 3
    assert got.total("mqttwire.request.timeouts") == 0
    assert got.total("mqttwire.messages.invalid", mqttwire__channel="stt_final") == 1
    # The runtime's own counters, exported as they are.
    assert got.total("mqttwire.client.messages_received", messaging__client__id=ids["router"]) == 7
    assert got.total("mqttwire.client.connects", messaging__client__id=ids["tts"]) == 1
    assert got.total("mqttwire.client.reconnects") == 0
    assert got.total("mqttwire.offline_queue.size") == 0
    assert got.total("mqttwire.requests.in_flight") == 0


async def _invalid_seen(router: TarsClient) -> None:
    while router.stats.invalid["stt_final"] < 1:  # noqa: ASYNC110 - a counter has no event
        await asyncio.sleep(0.01)


async def test_request_timeouts_are_counted(mqtt_broker: MosquittoBroker, otel: Otel) -> None:
    config = MQTTClientConfig(url=mqtt_broker.url, client_id="asker", protocol="5")
    async with TarsClient(config, telemetry=otel.telemetry) as tars:
        with pytest.raises(RequestTimeoutError):
            await tars.request_memory_query(MemoryQuery(text="anyone?"), timeout=0.2)
    got = Collected(otel.metrics)
    assert got.total("mqttwire.request.timeouts", mqttwire__channel="memory_query") == 1
    assert got.total("mqttwire.request.duration", error__type="RequestTimeoutError") == 1
    (span,) = [s for s in otel.spans.get_finished_spans() if s.name.startswith("request ")]
    assert (span.attributes or {})["error.type"] == "RequestTimeoutError"


async def test_queue_depth_and_drops_per_subscription(
    mqtt_broker: MosquittoBroker, otel: Otel
) -> None:
    config = MQTTClientConfig(url=mqtt_broker.url, client_id="slow", handler_queue_size=2)
    release = asyncio.Event()
    started = asyncio.Event()

    async def stuck(payload: bytes, meta: MessageMeta) -> None:
        started.set()
        await release.wait()

    async with (
        MQTTClient(config, telemetry=otel.telemetry) as client,
        MQTTClient(MQTTClientConfig(url=mqtt_broker.url, client_id="pub")) as publisher,
    ):
        await client.subscribe("slow/#", stuck, qos=1)
        await publisher.publish("slow/1", b"first", qos=1)
        await asyncio.wait_for(started.wait(), 30)
        for n in range(5):
            await publisher.publish(f"slow/{n}", b"more", qos=1)
        while client.metrics.messages_received < 6:  # noqa: ASYNC110 - a counter has no event
            await asyncio.sleep(0.01)
        got = Collected(otel.metrics)
        release.set()
    subscription = {"messaging.destination.subscription.name": "slow/#"}
    assert got.total("mqttwire.handler.queue.depth", **subscription) == 3  # 1 running + 2 queued
    assert got.total("mqttwire.messages.dropped", **subscription) == 3
    assert got.total("mqttwire.client.queue_overflow") == 3
