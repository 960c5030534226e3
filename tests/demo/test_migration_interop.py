"""Old and new services interoperate on the wire (docs/migration.md), on a real broker.

"Old" = written as the deployed py-tars services are (``legacy_tars``: raw ``MQTTClient``,
``publish_event("tts/say", "tts.say", ...)``, manual envelope parsing with ``extra="forbid"``
models; or plain paho with a hand-built envelope). "New" = the generated ``TarsClient``.
Every direction is checked, including request/reply across the two styles, and what the new
client sends is also validated against the deployed models' JSON Schemas.
"""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import jsonschema
import orjson
import paho.mqtt.client as paho
import pytest
from legacy_tars import (
    Envelope,
    LLMRequest,
    LLMResponse,
    OldLlmWorker,
    OldTtsWorker,
    Received,
    decode,
    old_client,
)
from legacy_tars import HealthPing as OldHealthPing
from legacy_tars import TtsSay as OldTtsSay
from shared_data import TARS_INTERFACE

from mqttwire import MessageMeta, MQTTClient, MQTTClientConfig
from mqttwire.testing.broker import MosquittoBroker
from tars_mqtt import TarsClient, models

pytestmark = pytest.mark.integration

WAIT = 10.0


def _schema_ok(model: str, data: Any) -> None:
    """``data`` is accepted by the deployed model's exported JSON Schema."""
    schema = orjson.loads((TARS_INTERFACE / "schemas" / f"{model}.json").read_bytes())
    jsonschema.validate(data, schema)


class Typed:
    """Collects what a new-style (typed) handler received."""

    def __init__(self) -> None:
        self.items: list[tuple[Any, MessageMeta]] = []
        self._changed = asyncio.Event()

    async def handler(self, msg: Any, meta: MessageMeta) -> None:
        self.items.append((msg, meta))
        self._changed.set()

    async def wait_for(self, count: int) -> list[tuple[Any, MessageMeta]]:
        async def wait() -> None:
            while len(self.items) < count:
                self._changed.clear()
                await self._changed.wait()

        await asyncio.wait_for(wait(), WAIT)
        return self.items


@pytest.fixture
async def clients(mqtt_broker: MosquittoBroker) -> AsyncIterator[Callable[..., Any]]:
    """Factory: ``make(kind, ...)`` builds old workers or new TarsClients; all shut down after."""
    stops: list[Callable[[], Any]] = []

    def make(kind: str, client_id: str = "new") -> Any:
        obj: Any
        if kind == "tars":
            config = MQTTClientConfig(
                url=mqtt_broker.url, client_id=client_id, enable_health=True, shutdown_timeout=2
            )
            obj = TarsClient(config)
            stops.append(obj.shutdown)
        elif kind == "old-tts":
            obj = OldTtsWorker(mqtt_broker.url)
            stops.append(obj.client.shutdown)
        elif kind == "old-llm":
            obj = OldLlmWorker(mqtt_broker.url)
            stops.append(obj.client.shutdown)
        else:
            obj = old_client(mqtt_broker.url, client_id, source_name=client_id)
            stops.append(obj.shutdown)
        return obj

    yield make
    for stop in reversed(stops):
        await stop()


async def test_old_publish_event_reaches_new_typed_subscriber(clients: Callable[..., Any]) -> None:
    tars: TarsClient = clients("tars", "tars-tts-new")
    inbox = Typed()
    await tars.subscribe_tts_say(inbox.handler)
    await tars.connect()
    old: MQTTClient = clients("old", "router")
    await old.connect()

    # exactly how the deployed router/llm-worker publish it
    say = OldTtsSay(text="hello from the old router", utt_id="u1", stt_ts=1.5)
    message_id = await old.publish_event("tts/say", "tts.say", say, qos=1)
    await old.publish_event("tts/say", "tts.say", {"text": "a plain dict works too"}, qos=1)

    (first, meta), (second, _) = await inbox.wait_for(2)
    assert isinstance(first, models.TtsSay)
    assert first.model_dump() == say.model_dump()  # every field, message_id included
    assert meta.topic == "tts/say" and meta.event_type == "tts.say"
    assert meta.envelope_id == message_id and meta.source == "router"
    assert second.text == "a plain dict works too" and len(second.message_id) == 32
    assert tars.stats.invalid_total == 0


async def test_new_typed_publish_reaches_old_subscriber(clients: Callable[..., Any]) -> None:
    worker: OldTtsWorker = clients("old-tts")
    await worker.start()
    tars: TarsClient = clients("tars", "tars-router-new")
    await tars.connect()

    sent = models.TtsSay(text="hello from the new router", utt_id="u2", wake_ack=False)
    envelope_id = await tars.publish_tts_say(sent, correlation_id="corr-42")

    [(envelope, say, raw)] = await worker.said.wait_for(1)
    wire = orjson.loads(raw)
    assert list(wire) == ["id", "type", "ts", "source", "data"]  # the TARS envelope, exactly
    assert envelope.id == envelope_id == "corr-42"
    assert envelope.type == "tts.say" and envelope.source == "tars-router-new"
    assert say.model_dump() == sent.model_dump()
    _schema_ok("Envelope", wire)
    _schema_ok("TtsSay", wire["data"])


async def test_old_status_reports_reach_new_subscriber(clients: Callable[..., Any]) -> None:
    """The old tts-worker answers a new publisher; the new side reads its tts/status."""
    worker: OldTtsWorker = clients("old-tts")
    await worker.start()
    tars: TarsClient = clients("tars", "tars-router-new")
    statuses = Typed()
    await tars.subscribe_tts_status(statuses.handler)
    await tars.connect()

    envelope_id = await tars.publish_tts_say(models.TtsSay(text="status please", utt_id="u3"))
    items = await statuses.wait_for(2)
    assert [s.event for s, _ in items] == ["speaking_start", "speaking_end"]
    assert all(isinstance(s, models.TtsStatus) and s.utt_id == "u3" for s, _ in items)
    assert {m.envelope_id for _, m in items} == {envelope_id}  # correlated by the old worker
    assert {m.source for _, m in items} == {"tts"}


async def test_new_router_request_is_answered_by_old_llm(clients: Callable[..., Any]) -> None:
    llm: OldLlmWorker = clients("old-llm")
    await llm.start()
    tars: TarsClient = clients("tars", "tars-router-new")
    await tars.connect()

    reply = await tars.request_llm_request(
        models.LLMRequest(id="r-1", text="what is MQTT", stream=False), timeout=WAIT
    )
    assert isinstance(reply, models.LLMResponse)
    assert reply.id == "r-1" and reply.reply == "echo: what is MQTT" and reply.provider == "legacy"
    [(envelope, request, raw)] = llm.requests.items
    assert envelope.type == "llm.request" and request.text == "what is MQTT"
    _schema_ok("LLMRequest", orjson.loads(raw)["data"])


async def test_old_router_request_is_answered_by_new_llm(clients: Callable[..., Any]) -> None:
    tars: TarsClient = clients("tars", "tars-llm-new")
    requests = Typed()

    async def answer(request: models.LLMRequest, meta: MessageMeta) -> models.LLMResponse:
        await requests.handler(request, meta)
        return models.LLMResponse(id=request.id, reply=f"new says: {request.text}")

    await tars.serve_llm_request(answer)
    await tars.connect()

    # the deployed router: publish_event on llm/request, match llm/response by envelope id
    router: MQTTClient = clients("old", "router")
    replies = Received()

    async def on_response(payload: bytes) -> None:
        envelope, response = decode(payload, LLMResponse)
        replies.add(envelope, response, payload)

    await router.subscribe("llm/response", on_response)
    await router.connect()
    request_id = await router.publish_event(
        "llm/request", "llm.request", LLMRequest(id="r-2", text="hi there"), qos=1
    )

    [(envelope, response, raw)] = await replies.wait_for(1)
    assert envelope.id == request_id  # the correlation the old router relies on
    assert envelope.type == "llm.response" and envelope.source == "tars-llm-new"
    assert response.id == "r-2" and response.reply == "new says: hi there"
    _schema_ok("LLMResponse", orjson.loads(raw)["data"])
    [(request, meta)] = requests.items
    assert isinstance(request, models.LLMRequest) and request.text == "hi there"
    assert meta.envelope_id == request_id and meta.source == "router"


async def test_one_connection_serves_old_and_new_calls(clients: Callable[..., Any]) -> None:
    """Migration topic by topic: TarsClient(client=existing MQTTClient) next to publish_event."""
    raw: MQTTClient = clients("old", "half-migrated")
    tars = TarsClient(client=raw)
    said, statuses = Typed(), Typed()
    await tars.subscribe_tts_say(said.handler)
    await tars.subscribe_tts_status(statuses.handler)
    await tars.connect()

    await raw.publish_event("tts/say", "tts.say", OldTtsSay(text="old call"), qos=1)
    await tars.publish_tts_status(models.TtsStatus(event="speaking_start", text="new call"))
    [(say, say_meta)] = await said.wait_for(1)
    [(status, status_meta)] = await statuses.wait_for(1)
    assert say.text == "old call" and status.text == "new call"
    assert say_meta.source == status_meta.source == "half-migrated"


async def test_old_health_variants_reach_new_health_subscriber(clients: Callable[..., Any]) -> None:
    old: MQTTClient = clients("old", "tts-old-health")
    await old.connect()
    # the deployed tts-worker: its own event type on the fixed topic, retained
    await old.publish_event(
        "system/health/tts",
        "system.health.tts",
        OldHealthPing(ok=True, event="ready"),
        qos=1,
        retain=True,
    )
    tars: TarsClient = clients("tars", "ui-new")
    health = Typed()
    await tars.subscribe_system_health(health.handler, client_id="tts")
    await tars.connect()
    [(ping, meta)] = await health.wait_for(1)
    assert isinstance(ping, models.HealthPing) and ping.ok and ping.event == "ready"
    assert meta.event_type == "system.health.tts" and meta.params == {"client_id": "tts"}
    assert meta.retain  # delivered from the broker's retained store


class PahoService:
    """A plain paho-mqtt service that builds the TARS envelope by hand (no mqttwire at all)."""

    def __init__(self, broker: MosquittoBroker) -> None:
        self.client = paho.Client(paho.CallbackAPIVersion.VERSION2, client_id="paho-old")
        self.received: list[paho.MQTTMessage] = []
        self.got = threading.Event()
        self.subscribed = threading.Event()
        self.client.on_message = self._on_message
        self.client.on_subscribe = lambda *_: self.subscribed.set()
        self.client.connect(broker.host, broker.port)
        self.client.loop_start()

    def _on_message(self, _c: object, _u: object, message: paho.MQTTMessage) -> None:
        self.received.append(message)
        self.got.set()

    def publish_event(self, topic: str, event_type: str, data: dict[str, Any]) -> str:
        envelope = {
            "id": uuid.uuid4().hex,
            "type": event_type,
            "ts": time.time(),
            "source": "paho-old",
            "data": data,
        }
        self.client.publish(topic, orjson.dumps(envelope), qos=1).wait_for_publish(WAIT)
        return str(envelope["id"])

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


async def test_plain_paho_service_both_directions(
    mqtt_broker: MosquittoBroker, clients: Callable[..., Any]
) -> None:
    tars: TarsClient = clients("tars", "tars-new")
    finals = Typed()
    await tars.subscribe_stt_final(finals.handler)
    await tars.connect()
    service = PahoService(mqtt_broker)
    try:
        service.client.subscribe("tts/status", qos=1)
        assert await asyncio.to_thread(service.subscribed.wait, WAIT), "no SUBACK"
        # old -> new: a hand-built stt/final envelope
        sent_id = await asyncio.to_thread(
            service.publish_event,
            "stt/final",
            "stt.final",
            {"text": "paho speaks", "confidence": 0.9},
        )
        [(final, meta)] = await finals.wait_for(1)
        assert isinstance(final, models.FinalTranscript)
        assert final.text == "paho speaks" and final.confidence == 0.9 and final.is_final
        assert meta.envelope_id == sent_id and meta.source == "paho-old"
        # new -> old: the paho side parses the envelope JSON itself
        status_id = await tars.publish_tts_status(models.TtsStatus(event="stopped", reason="done"))
        assert await asyncio.to_thread(service.got.wait, WAIT), "paho received nothing"
        message = service.received[0]
        assert message.topic == "tts/status" and message.qos == 1
        envelope = Envelope.model_validate_json(message.payload)
        assert envelope.id == status_id and envelope.type == "tts.status"
        _schema_ok("TtsStatus", envelope.data)
        assert envelope.data["event"] == "stopped" and envelope.data["reason"] == "done"
    finally:
        service.close()
