"""The generated TARS client on a real Mosquitto: typed publish -> typed subscribe."""

from __future__ import annotations

import asyncio
from typing import Generic, TypeVar

import pytest
from generated_support import Factory, wait_until

from mqttwire import MessageMeta, MQTTClientConfig, RequestTimeoutError, TopicParameterError
from mqttwire.testing.broker import MosquittoBroker
from tars_mqtt import TarsClient
from tars_mqtt.models import (
    ConfigHealthPayload,
    HealthPing,
    LLMRequest,
    LLMResponse,
    LLMStreamDelta,
    MovementStatusUpdate,
    ToolCallRequest,
    ToolCallResult,
    TtsSay,
    WakeHealthPayload,
)

pytestmark = pytest.mark.integration

T = TypeVar("T")
Health = HealthPing | WakeHealthPayload | ConfigHealthPayload


class Inbox(Generic[T]):
    """Collects (payload, meta) pairs; ``get`` waits for the next one."""

    def __init__(self) -> None:
        self.queue: asyncio.Queue[tuple[T, MessageMeta]] = asyncio.Queue()

    async def __call__(self, payload: T, meta: MessageMeta) -> None:
        await self.queue.put((payload, meta))

    async def get(self, wait: float = 5.0) -> tuple[T, MessageMeta]:
        return await asyncio.wait_for(self.queue.get(), wait)


async def test_enveloped_publish_reaches_typed_subscriber(tars: Factory) -> None:
    pub, sub = tars("router"), tars("tts-worker")
    inbox: Inbox[TtsSay] = Inbox()
    await sub.connect()
    await sub.subscribe_tts_say(inbox)
    await pub.connect()
    envelope_id = await pub.publish_tts_say(TtsSay(text="hello"))
    msg, meta = await inbox.get()
    assert isinstance(msg, TtsSay)
    assert msg.text == "hello"
    assert meta.topic == "tts/say"
    assert meta.event_type == "tts.say"
    assert meta.envelope_id == envelope_id == meta.correlation_id
    assert meta.source == "router"
    assert meta.qos == 1


async def test_parameterized_topic_and_filters(tars: Factory) -> None:
    pub, sub = tars("tts"), tars("ui-web")
    everyone: Inbox[Health] = Inbox()
    only_stt: Inbox[Health] = Inbox()
    await sub.connect()
    await sub.subscribe_system_health(everyone)
    await sub.subscribe_system_health(only_stt, client_id="stt")
    await pub.connect()
    await pub.publish_system_health(HealthPing(ok=True, event="ready"), client_id="tts")
    msg, meta = await everyone.get()
    assert isinstance(msg, HealthPing) and msg.ok is True
    assert meta.topic == "system/health/tts"
    assert dict(meta.params) == {"client_id": "tts"}
    await pub.publish_system_health(HealthPing(ok=False), client_id="stt")
    _, meta2 = await only_stt.get()
    assert meta2.params["client_id"] == "stt"
    assert only_stt.queue.empty()


async def test_topic_parameters_are_validated(tars: Factory) -> None:
    client = tars("tts")
    for bad in ("", "a/b", "+", "#", "x\x00"):
        with pytest.raises(TopicParameterError):
            await client.publish_system_health(HealthPing(ok=True), client_id=bad)


@pytest.mark.publishes_invalid  # on purpose: the receiver's side is tested
async def test_invalid_payload_is_counted_and_not_delivered(tars: Factory) -> None:
    pub, sub = tars("router"), tars("tts-worker")
    inbox: Inbox[TtsSay] = Inbox()
    await sub.connect()
    await sub.subscribe_tts_say(inbox)
    await pub.connect()
    await pub.client.publish(
        "tts/say", b'{"id":"1","type":"tts.say","ts":1.0,"source":"x","data":{}}', qos=1
    )
    await pub.client.publish("tts/say", b"not json", qos=1)
    await pub.publish_tts_say(TtsSay(text="valid"))
    msg, _ = await inbox.get()
    assert msg.text == "valid"
    assert sub.stats.invalid["tts_say"] == 2
    assert inbox.queue.empty()


@pytest.mark.publishes_invalid  # on purpose: the receiver's side is tested
async def test_bare_json_channel_and_envelope_fallback(tars: Factory) -> None:
    pub, sub = tars("esp32"), tars("router")
    inbox: Inbox[MovementStatusUpdate] = Inbox()
    await sub.connect()
    await sub.subscribe_movement_status(inbox)
    await pub.connect()
    assert await pub.publish_movement_status(MovementStatusUpdate(event="connected")) is None
    msg, meta = await inbox.get()
    assert msg.event == "connected"
    assert meta.envelope_id is None
    # enveloped channel, bare payload: accepted ("envelope first, bare fallback")
    says: Inbox[TtsSay] = Inbox()
    await sub.subscribe_tts_say(says)
    await pub.client.publish("tts/say", b'{"text": "bare"}', qos=1)
    said, said_meta = await says.get()
    assert said.text == "bare"
    assert said_meta.envelope_id is None


async def test_request_reply_resolves_to_the_right_callers(tars: Factory) -> None:
    llm, router = tars("llm-worker"), tars("router")

    async def answer(request: LLMRequest, meta: MessageMeta) -> LLMResponse:
        await asyncio.sleep(0.001 * (len(request.text) % 7))
        return LLMResponse(id=request.id, reply=request.text.upper())

    await llm.connect()
    await llm.serve_llm_request(answer)  # returns after the SUBACK
    await router.connect()
    texts = [f"question {i}" for i in range(1000)]
    # the timeout only guards against a hang: 1000 requests can take seconds on a loaded 2-core CI
    replies = await asyncio.gather(
        *(
            router.request_llm_request(LLMRequest(id=str(i), text=t), timeout=60)
            for i, t in enumerate(texts)
        )
    )
    assert [r.reply for r in replies] == [t.upper() for t in texts]
    assert [r.id for r in replies] == [str(i) for i in range(1000)]


async def test_request_timeout_raises_and_late_reply_is_counted(tars: Factory) -> None:
    router, slow = tars("router"), tars("llm-worker")

    async def answer(request: LLMRequest, meta: MessageMeta) -> LLMResponse:
        await asyncio.sleep(0.5)
        return LLMResponse(id=request.id, reply="late")

    await slow.connect()
    await slow.serve_llm_request(answer)
    await router.connect()
    with pytest.raises(RequestTimeoutError) as info:
        await router.request_llm_request(LLMRequest(id="1", text="hi"), timeout=0.1)
    assert info.value.topic == "llm/request"
    late = "response_topic" if router.mqtt5 else "llm_response"  # where the late reply lands
    await wait_until(lambda: router.stats.late_replies[late] == 1)
    assert router.requests_in_flight == 0


async def test_decorator_form(tars: Factory) -> None:
    pub, sub = tars("router"), tars("tts-worker")
    got: asyncio.Queue[str] = asyncio.Queue()

    @sub.on_tts_say
    async def heard(msg: TtsSay, meta: MessageMeta) -> None:
        await got.put(msg.text)

    await sub.connect()  # waits for the decorator's subscription
    await pub.connect()
    await pub.publish_tts_say(TtsSay(text="decorated"))
    assert await asyncio.wait_for(got.get(), 5) == "decorated"


async def test_streamed_partial_replies_then_final(tars: Factory) -> None:
    llm, router = tars("llm-worker"), tars("router")

    async def answer(request: LLMRequest, meta: MessageMeta) -> LLMResponse:
        words = request.text.split()
        for seq, word in enumerate(words):
            delta = LLMStreamDelta(id=request.id, seq=seq, delta=word, done=seq == len(words) - 1)
            await llm.publish_llm_stream(delta, correlation_id=meta.envelope_id)
        return LLMResponse(id=request.id, reply=request.text)  # right behind the deltas

    await llm.connect()
    await llm.serve_llm_request(answer)
    await router.connect()
    text = " ".join(f"w{i}" for i in range(200))
    items = [
        item async for item in router.stream_llm_request(LLMRequest(id="s1", text=text), timeout=10)
    ]
    assert [type(i).__name__ for i in items] == ["LLMStreamDelta"] * 200 + ["LLMResponse"]
    deltas = [i for i in items if isinstance(i, LLMStreamDelta)]
    assert [d.delta for d in deltas] == text.split()
    assert [d.seq for d in deltas] == list(range(200)) and deltas[-1].done


async def test_payload_field_correlation(tars: Factory) -> None:
    """llm/tool.call.request -> llm/tool.call.result correlate by ``call_id`` (bare JSON)."""
    worker, llm = tars("tools"), tars("llm-worker")

    async def run_tool(call: ToolCallRequest, meta: MessageMeta) -> ToolCallResult:
        await asyncio.sleep(0.01 * int(call.call_id))
        return ToolCallResult(call_id=call.call_id, result={"echo": call.name})

    await worker.connect()
    await worker.serve_llm_tool_call_request(run_tool)
    await llm.connect()
    results = await asyncio.gather(
        *(
            llm.request_llm_tool_call_request(
                ToolCallRequest(call_id=str(i), name=f"t{i}"), timeout=5
            )
            for i in (3, 1, 2)
        )
    )
    assert [(r.call_id, r.result) for r in results] == [
        ("3", {"echo": "t3"}),
        ("1", {"echo": "t1"}),
        ("2", {"echo": "t2"}),
    ]


async def test_constructors_and_async_with(
    mqtt_broker: MosquittoBroker, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = MQTTClientConfig(url=mqtt_broker.url, client_id="cfg-client", source_name="cfg")
    monkeypatch.setenv("MQTT_URL", mqtt_broker.url)
    monkeypatch.setenv("MQTT_CLIENT_ID", "env-client")
    inbox: Inbox[TtsSay] = Inbox()
    async with TarsClient(config) as a, TarsClient.from_env() as b:
        await b.subscribe_tts_say(inbox)  # connected: returns after the SUBACK
        await a.publish_tts_say(TtsSay(text="ctor"))
        msg, meta = await inbox.get()
        assert msg.text == "ctor" and meta.source == "cfg"
