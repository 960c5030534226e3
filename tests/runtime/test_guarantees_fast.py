"""Key guarantees of docs/guarantees.md caught fast, on the in-memory broker (no Mosquitto)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import orjson
import pytest

from mqttwire import MessageMeta, MQTTClient, MQTTClientConfig, TopicParameterError
from mqttwire.testing.memory import MemoryBroker


def client_on(broker: MemoryBroker, client_id: str, **settings: object) -> MQTTClient:
    config = MQTTClientConfig(url=broker.url, client_id=client_id, **settings)
    return MQTTClient(config, transport=broker.transport())


async def test_envelope_source_is_source_name_else_client_id() -> None:
    broker = MemoryBroker()
    named = client_on(broker, "tts-1", source_name="tts")
    plain = client_on(broker, "stt-1")
    async with named, plain:
        await named.publish_event("x", "t.e", {"a": 1}, qos=1)
        await plain.publish_event("x", "t.e", {"a": 1}, qos=1)
    sources = [orjson.loads(m.payload)["source"] for m in broker.log if m.topic == "x"]
    assert sources == ["tts", "stt-1"]


async def test_slash_in_a_topic_parameter_is_refused_before_anything_is_sent() -> None:
    from tars_mqtt import TarsClient
    from tars_mqtt.models import HealthPing

    broker = MemoryBroker()
    tars = TarsClient(client=client_on(broker, "svc"))
    async with tars:
        with pytest.raises(TopicParameterError):
            await tars.publish_system_health(HealthPing(ok=True), client_id="a/b")
    assert not [m for m in broker.log if m.topic.startswith("system/health/a")]


async def test_shutdown_leaves_retained_health_shutdown_and_no_will() -> None:
    broker = MemoryBroker()
    client = client_on(broker, "svc", enable_health=True)
    await client.connect()
    await client.shutdown()
    retained = broker.retained["system/health/svc"]
    body = orjson.loads(retained.payload)["data"]
    assert body["ok"] is False and body["event"] == "shutdown"  # not the will's "offline"


async def test_mqtt5_dedupe_is_scoped_per_subscription_copy() -> None:
    broker = MemoryBroker()
    client = client_on(broker, "svc", protocol="5", dedupe_ttl=60, dedupe_max_entries=100)
    wide: list[MessageMeta] = []
    narrow: list[MessageMeta] = []
    both = asyncio.Event()

    async def on_wide(payload: bytes, meta: MessageMeta) -> None:
        wide.append(meta)
        if wide and narrow:
            both.set()

    async def on_narrow(payload: bytes, meta: MessageMeta) -> None:
        narrow.append(meta)
        if wide and narrow:
            both.set()

    await client.subscribe("a/#", on_wide, qos=1)
    await client.subscribe("a/b", on_narrow, qos=1)
    sender = client_on(broker, "sender", protocol="5")
    async with client, sender:
        _id = await sender.publish_event("a/b", "t.e", {"n": 1}, qos=1)
        await asyncio.wait_for(both.wait(), 5)  # one copy per subscription: neither deduped
        again = [m for m in broker.log if m.topic == "a/b"][-1].payload
        await sender.publish("a/b", again, qos=1)  # the same envelope again: a duplicate
        await _until(lambda: client.metrics.duplicates == 2)  # both copies of the resend
    assert len(wide) == 1 and len(narrow) == 1


async def _until(condition: Callable[[], bool], within: float = 5.0) -> None:
    """Poll a counter (no event to wait on); the deadline only catches hangs."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while not condition():
        assert loop.time() < deadline, "timed out"
        await asyncio.sleep(0.005)
