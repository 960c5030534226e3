"""Publish/subscribe through the drop-in on a real Mosquitto (items 23-29, 35-43, 47-50).

Negative checks ("X was not delivered") never sleep: a marker message published after X on the
same path arrives after X would have, so once the marker is in, the count is final.
"""

from __future__ import annotations

import asyncio

import orjson
import pytest
from compat_support import Collector, MakeCompat, MakeObserver
from pydantic import BaseModel

from mqttwire.compat.tars import Envelope, MQTTClient

pytestmark = pytest.mark.integration


class TtsSay(BaseModel):
    text: str
    voice: str | None = None


async def _pair(compat: MakeCompat, **subscriber: object) -> tuple[MQTTClient, MQTTClient]:
    sender = compat("sender", source_name="router")
    receiver = compat("receiver", **subscriber)
    await sender.connect()
    await receiver.connect()
    return sender, receiver


async def test_delivery_with_the_seed_envelope(compat: MakeCompat) -> None:
    sender, receiver = await _pair(compat)
    got = Collector()
    await receiver.subscribe("tts/say", got.handler)
    returned = await sender.publish_event("tts/say", "tts.say", TtsSay(text="hello"))
    correlated = await sender.publish_event(
        "tts/say", "tts.say", {"text": "again"}, correlation_id="utt-7"
    )
    assert correlated == "utt-7"
    first, second = (orjson.loads(p) for p in await got.wait_for(2))
    assert set(first) == {"id", "type", "ts", "source", "data"}
    assert first["id"] == returned and len(returned) == 32
    assert first["type"] == "tts.say"
    assert first["source"] == "router"
    assert first["data"] == {"text": "hello", "voice": None}
    assert second["id"] == "utt-7"
    envelope = Envelope.model_validate_json(got.payloads[1])  # the services' own parsing
    assert envelope.data == {"text": "again"}


async def test_source_falls_back_to_the_client_id(compat: MakeCompat) -> None:
    sender = compat("tars-llm")
    receiver = compat("receiver")
    await sender.connect()
    await receiver.connect()
    got = Collector()
    await receiver.subscribe("llm/response", got.handler)
    await sender.publish_event("llm/response", "llm.response", {"reply": "hi"})
    (payload,) = await got.wait_for(1)
    assert orjson.loads(payload)["source"] == "tars-llm"


async def test_qos_and_retain_defaults_and_opt_in(
    compat: MakeCompat, observe: MakeObserver
) -> None:
    seen = await observe("qos/#")
    sender = compat("sender")
    await sender.connect()
    await sender.publish_event("qos/default", "t", {})
    await sender.publish_event("qos/one", "t", {}, qos=1)
    await sender.publish_event("qos/two", "t", {}, qos=2)
    await sender.publish_event("qos/kept", "t", {"kept": True}, qos=1, retain=True)
    items = await seen.wait_for(4)
    assert [(m.topic, m.qos, m.retain) for _, m in items] == [
        ("qos/default", 0, False),
        ("qos/one", 1, False),
        ("qos/two", 2, False),
        ("qos/kept", 1, False),
    ]
    late = await observe("qos/kept")
    ((payload, meta),) = await late.wait_for(1)
    assert meta.retain is True
    assert orjson.loads(payload)["data"] == {"kept": True}


async def test_subscribe_qos_is_sent_to_the_broker(compat: MakeCompat) -> None:
    sender, receiver = await _pair(compat)
    got: list[bytes] = []
    arrived = asyncio.Event()

    async def handler(payload: bytes) -> None:
        got.append(payload)
        arrived.set()

    await receiver.subscribe("sub/qos", handler, qos=1)
    await sender.publish_event("sub/qos", "t", {}, qos=1)
    await asyncio.wait_for(arrived.wait(), 15)
    runtime = receiver.runtime
    assert runtime is not None
    assert [(s.topic_filter, s.qos) for s in runtime.subscriptions] == [("sub/qos", 1)]


async def test_non_dict_data_is_a_validation_error(compat: MakeCompat) -> None:
    sender = compat("sender")
    await sender.connect()
    with pytest.raises(ValueError):
        await sender.publish_event("x", "t", [1, 2])  # type: ignore[arg-type]


async def test_a_raising_handler_does_not_stop_the_others(compat: MakeCompat) -> None:
    sender, receiver = await _pair(compat)
    calls: list[str] = []
    third_call = asyncio.Event()
    good = Collector()

    async def bad(payload: bytes) -> None:
        calls.append(orjson.loads(payload)["data"]["n"])
        if len(calls) == 3:
            third_call.set()
        raise RuntimeError("handler bug")

    await receiver.subscribe("iso/bad", bad)
    await receiver.subscribe("iso/good", good.handler)
    for n in ("1", "2"):
        await sender.publish_event("iso/bad", "t", {"n": n}, qos=1)
        await sender.publish_event("iso/good", "t", {"n": n}, qos=1)
    await good.wait_for(2)
    assert good.data == [{"n": "1"}, {"n": "2"}]
    await sender.publish_event("iso/bad", "t", {"n": "3"}, qos=1)
    await sender.publish_event("iso/good", "t", {"n": "marker"}, qos=1)
    await good.wait_for(3)

    await asyncio.wait_for(third_call.wait(), 15)
    assert calls == ["1", "2", "3"]  # the raising handler itself keeps being called too


async def test_same_correlation_id_five_times_is_delivered_once(compat: MakeCompat) -> None:
    sender, receiver = await _pair(compat, dedupe_ttl=30, dedupe_max_entries=100)
    got = Collector()
    await receiver.subscribe("dedupe/t", got.handler)
    for _ in range(5):
        await sender.publish_event("dedupe/t", "t", {"n": 1}, correlation_id="same", qos=1)
    await sender.publish_event("dedupe/t", "t", {"n": "marker"}, qos=1)
    await got.wait_for(2)
    assert got.data == [{"n": 1}, {"n": "marker"}]


async def test_same_correlation_id_with_different_data_is_delivered_every_time(
    compat: MakeCompat,
) -> None:
    sender, receiver = await _pair(compat, dedupe_ttl=30, dedupe_max_entries=100)
    got = Collector()
    await receiver.subscribe("dedupe/t", got.handler)
    for n in range(5):
        await sender.publish_event("dedupe/t", "t", {"n": n}, correlation_id="same", qos=1)
    for seq in range(3):  # stream chunks: one id, distinct seq, same text
        await sender.publish_event("dedupe/t", "llm.stream", {"seq": seq}, correlation_id="s")
    await got.wait_for(8)
    assert got.data == [{"n": n} for n in range(5)] + [{"seq": s} for s in range(3)]


async def test_without_dedupe_every_copy_is_delivered(compat: MakeCompat) -> None:
    sender, receiver = await _pair(compat)
    got = Collector()
    await receiver.subscribe("dedupe/t", got.handler)
    for _ in range(3):
        await sender.publish_event("dedupe/t", "t", {"n": 1}, correlation_id="same", qos=1)
    await got.wait_for(3)


async def test_plus_matches_exactly_one_level(compat: MakeCompat) -> None:
    sender, receiver = await _pair(compat)
    got = Collector()
    await receiver.subscribe("system/health/+", got.handler)
    for topic in ("system/health/stt", "system/health/stt/extra", "system/health", "system/x/y"):
        await sender.publish_event(topic, "t", {"topic": topic}, qos=1)
    await sender.publish_event("system/health/marker", "t", {"topic": "marker"}, qos=1)
    await got.wait_for(2)
    assert got.data == [{"topic": "system/health/stt"}, {"topic": "marker"}]


async def test_hash_matches_by_levels_not_by_string_prefix(compat: MakeCompat) -> None:
    """Spec over seed: the seed's prefix test sent ``eventsX/a`` to the ``events/#`` handler."""
    sender, receiver = await _pair(compat)
    events = Collector()
    other = Collector()
    await receiver.subscribe("events/#", events.handler)
    await receiver.subscribe("eventsX/+", other.handler)  # so eventsX/a reaches the client
    for topic in ("events", "events/a", "events/a/b/c", "eventsX/a"):
        await sender.publish_event(topic, "t", {"topic": topic}, qos=1)
    await sender.publish_event("events/marker", "t", {"topic": "marker"}, qos=1)
    await events.wait_for(4)
    await other.wait_for(1)
    assert events.data == [
        {"topic": "events"},
        {"topic": "events/a"},
        {"topic": "events/a/b/c"},
        {"topic": "marker"},
    ]
    assert other.data == [{"topic": "eventsX/a"}]


async def test_exact_topic_wins_over_a_wildcard(compat: MakeCompat) -> None:
    sender, receiver = await _pair(compat)
    wildcard = Collector()
    exact = Collector()
    await receiver.subscribe("tts/+", wildcard.handler)  # registered first, still loses
    await receiver.subscribe("tts/say", exact.handler)
    await sender.publish_event("tts/say", "t", {"n": "say"}, qos=1)
    await sender.publish_event("tts/status", "t", {"n": "status"}, qos=1)
    await exact.wait_for(1)
    await wildcard.wait_for(1)
    assert exact.data == [{"n": "say"}]
    assert wildcard.data == [{"n": "status"}]


async def test_first_matching_wildcard_in_registration_order(compat: MakeCompat) -> None:
    sender, receiver = await _pair(compat)
    first = Collector()
    second = Collector()
    await receiver.subscribe("a/+/c", first.handler)
    await receiver.subscribe("a/#", second.handler)
    await sender.publish_event("a/b/c", "t", {"n": 1}, qos=1)
    await sender.publish_event("a/b/d", "t", {"n": 2}, qos=1)
    await second.wait_for(1)
    await first.wait_for(1)
    assert first.data == [{"n": 1}]
    assert second.data == [{"n": 2}]  # a/b/c went to exactly one handler


async def test_subscribing_again_replaces_the_handler(compat: MakeCompat) -> None:
    sender, receiver = await _pair(compat)
    old = Collector()
    new = Collector()
    await receiver.subscribe("swap/t", old.handler)
    await sender.publish_event("swap/t", "t", {"n": 1}, qos=1)
    await old.wait_for(1)
    await receiver.subscribe("swap/t", new.handler)
    await sender.publish_event("swap/t", "t", {"n": 2}, qos=1)
    await receiver.subscribe("swap/t", new.handler, qos=1)  # new QoS: a new SUBSCRIBE
    await sender.publish_event("swap/t", "t", {"n": 3}, qos=1)
    await new.wait_for(2)
    assert new.data == [{"n": 2}, {"n": 3}]
    assert old.data == [{"n": 1}]
    runtime = receiver.runtime
    assert runtime is not None
    assert (
        runtime.subscriptions[0].handler is not new.handler
    )  # the drop-in routes, not the runtime
    assert max(s.qos for s in runtime.subscriptions if s.topic_filter == "swap/t") == 1


async def test_not_connected_raises_runtime_error(compat: MakeCompat) -> None:
    client = compat("idle", enable_health=True)

    async def handler(payload: bytes) -> None:
        pass

    with pytest.raises(RuntimeError):
        await client.publish_event("x", "t", {})
    with pytest.raises(RuntimeError):
        await client.subscribe("x", handler)
    with pytest.raises(RuntimeError):
        await client.wait_for_disconnect()
    await client.publish_health(True, event="ready")  # logs, does not raise
    await client.disconnect()  # no-op
    await client.shutdown()  # no-op
    assert client.connected is False
    assert client.client is None
    await client.connect()
    await client.shutdown()
    with pytest.raises(RuntimeError):
        await client.publish_event("x", "t", {})
    with pytest.raises(RuntimeError):
        await client.subscribe("x", handler)
