"""The four topics where deployed services disagree on the wire, migrated in the order of
docs/migration.md ("Where deployed services disagree with each other"), on a real Mosquitto.

End state: on tts/control, stt/final, movement/test and memory/query every typed publisher
reaches every typed subscriber, and the party that is never migrated (the ESP32 firmware, which
reads bare JSON on movement/test) accepts what the typed publisher sends. Transition: a migrated
subscriber also accepts the other form that a not-yet-migrated peer sends.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any

import jsonschema
import orjson
import pytest
from pydantic import BaseModel
from shared_data import TARS_INTERFACE

from mqttwire import MessageMeta, MQTTClient, MQTTClientConfig
from mqttwire.testing.broker import MosquittoBroker
from tars_mqtt import TarsClient, models

pytestmark = pytest.mark.integration

WAIT = 10.0


class Inbox:
    def __init__(self) -> None:
        self.items: list[tuple[Any, MessageMeta]] = []
        self._changed = asyncio.Event()

    async def handler(self, item: Any, meta: MessageMeta) -> None:
        self.items.append((item, meta))
        self._changed.set()

    async def wait_for(self, count: int) -> list[tuple[Any, MessageMeta]]:
        async def wait() -> None:
            while len(self.items) < count:
                self._changed.clear()
                await self._changed.wait()

        await asyncio.wait_for(wait(), WAIT)
        return self.items


@pytest.fixture
async def make(mqtt_broker: MosquittoBroker) -> AsyncIterator[Callable[..., Any]]:
    """``make("tars", id)`` / ``make("raw", id)``: connected-later clients, shut down after."""
    made: list[Any] = []

    def build(kind: str, client_id: str) -> Any:
        config = MQTTClientConfig(url=mqtt_broker.url, client_id=client_id, shutdown_timeout=2)
        client: Any = TarsClient(config) if kind == "tars" else MQTTClient(config)
        made.append(client)
        return client

    yield build
    for client in reversed(made):
        await client.shutdown()


def _deployed_schema(model: str) -> dict[str, Any]:
    return orjson.loads((TARS_INTERFACE / "schemas" / f"{model}.json").read_bytes())  # type: ignore[no-any-return]


# channel -> (payload the migrated publisher sends, wire form the contract gives it)
END_STATE: dict[str, tuple[BaseModel, str]] = {
    "tts_control": (models.TtsControl(action="pause", reason="wake", id="utt-1"), "envelope"),
    "stt_final": (models.FinalTranscript(text="hello tars"), "envelope"),
    "movement_test": (models.TestMovementRequest(command="wave", speed=0.5), "bare"),
    "memory_query": (models.MemoryQuery(text="what did I say", top_k=3), "envelope"),
}


async def test_end_state_every_pair_interoperates(make: Callable[..., Any]) -> None:
    # migrated publishers (wake-activation, stt-worker, llm-worker, ui-web) in one client,
    # migrated subscribers (tts-worker, wake-activation, movement-service, memory-worker) in
    # another, plus a raw tap that sees the bytes on the wire.
    subscriber: TarsClient = make("tars", "migrated-subscribers")
    inboxes = {channel: Inbox() for channel in END_STATE}
    for channel, inbox in inboxes.items():
        await getattr(subscriber, f"subscribe_{channel}")(inbox.handler)
    tap: MQTTClient = make("raw", "wire-tap")
    raw = Inbox()
    for channel in END_STATE:
        await tap.subscribe(subscriber.CHANNELS[channel].topic.filter(None), raw.handler, qos=1)
    await subscriber.connect()
    await tap.connect()
    publisher: TarsClient = make("tars", "migrated-publishers")
    await publisher.connect()

    for channel, (payload, _) in END_STATE.items():
        await getattr(publisher, f"publish_{channel}")(payload)

    await raw.wait_for(len(END_STATE))
    for channel, (payload, _) in END_STATE.items():
        [(received, meta)] = await inboxes[channel].wait_for(1)
        assert type(received) is type(payload)
        assert received.model_dump() == payload.model_dump()
        assert meta.source == (
            "migrated-publishers" if END_STATE[channel][1] == "envelope" else None
        )
    assert subscriber.stats.invalid_total == 0

    wire = {meta.topic: orjson.loads(body) for body, meta in raw.items}
    for channel, (payload, form) in END_STATE.items():
        topic = publisher.CHANNELS[channel].topic.filter(None)
        body = wire[topic]
        if form == "envelope":
            assert list(body) == ["id", "type", "ts", "source", "data"]
            assert body["data"] == payload.model_dump(mode="json")
        else:
            assert body == payload.model_dump(mode="json")

    # The never-migrated ESP32 reads bare JSON on movement/test: top-level `command`, and the
    # deployed TestMovementRequest model accepts it.
    esp32_view = wire["movement/test"]
    assert esp32_view["command"] == "wave"
    jsonschema.validate(esp32_view, _deployed_schema("TestMovementRequest"))
    # tts-worker's deployed parser wanted a top-level action; the migrated one reads the
    # envelope wake-activation has always sent, whose data the deployed model accepts.
    jsonschema.validate(wire["tts/control"]["data"], _deployed_schema("wake_activation.TtsControl"))


async def test_migrated_subscribers_accept_what_unmigrated_peers_send(
    make: Callable[..., Any],
) -> None:
    subscriber: TarsClient = make("tars", "migrated-subscribers")
    control, final, query = Inbox(), Inbox(), Inbox()
    await subscriber.subscribe_tts_control(control.handler)
    await subscriber.subscribe_stt_final(final.handler)
    await subscriber.subscribe_memory_query(query.handler)
    await subscriber.connect()
    old: MQTTClient = make("raw", "old-services")
    await old.connect()

    # step 1 of tts/control: the old wake-activation still publishes its envelope by hand
    await old.publish_event(
        "tts/control", "tts.control", {"action": "stop", "reason": "wake", "id": None}, qos=1
    )
    # step 1 of stt/final: the old stt-worker's envelope reaches the migrated wake-activation
    await old.publish_event("stt/final", "stt.final", {"text": "hi", "is_final": True}, qos=1)
    # memory/query: the old llm-worker's envelope, and ui-web's bare {text, top_k}
    await old.publish_event("memory/query", "memory.query", {"text": "a", "top_k": 2}, qos=1)
    await old.publish("memory/query", orjson.dumps({"text": "b", "top_k": 4}), qos=1)

    [(ctl, _)] = await control.wait_for(1)
    assert isinstance(ctl, models.TtsControl) and ctl.action == "stop"
    [(heard, meta)] = await final.wait_for(1)
    assert isinstance(heard, models.FinalTranscript) and meta.source == "old-services"
    (first, _), (second, second_meta) = await query.wait_for(2)
    assert (first.text, first.top_k, second.text, second.top_k) == ("a", 2, "b", 4)
    assert second_meta.envelope_id is None  # the bare one
    assert subscriber.stats.invalid_total == 0


async def test_movement_test_step_one_old_bare_subscribers_read_the_migrated_publisher(
    make: Callable[..., Any],
) -> None:
    """Step 1 of movement/test: the llm-worker's directive moves to publish_movement_test; the
    firmware and the old movement-service parse bare JSON with the deployed model."""
    old_movement: MQTTClient = make("raw", "tars-movement")
    seen = Inbox()
    await old_movement.subscribe("movement/test", seen.handler, qos=1)
    await old_movement.connect()
    llm: TarsClient = make("tars", "tars-llm")
    await llm.connect()
    await llm.publish_movement_test(models.TestMovementRequest(command="bow", request_id="r1"))
    [(body, meta)] = await seen.wait_for(1)
    parsed = orjson.loads(body)
    jsonschema.validate(parsed, _deployed_schema("TestMovementRequest"))
    assert parsed["command"] == "bow" and parsed["request_id"] == "r1" and meta.qos == 1
