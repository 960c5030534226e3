"""``for_testing(TarsClient)``: a service's handlers unit-tested on the in-memory broker."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Literal

import orjson
import pytest

from mqttwire import MessageMeta, PayloadValidationError, PublishError, SubscribeError
from mqttwire.testing import MemoryBroker, for_testing, kit_of
from tars_mqtt import TarsClient, channels
from tars_mqtt.models import (
    FinalTranscript,
    HealthPing,
    LLMRequest,
    LLMResponse,
    LLMStreamDelta,
    ToolCallRequest,
    ToolCallResult,
    TtsSay,
)

MQTTVersion = Literal["3.1.1", "5"]


@pytest.fixture(params=["3.1.1", "5"])
def protocol(request: pytest.FixtureRequest) -> MQTTVersion:
    return request.param  # type: ignore[no-any-return]


async def start_echo_service(tars: TarsClient) -> None:
    """A tiny "service": says back, in upper case, whatever it hears."""

    async def heard(msg: FinalTranscript, meta: MessageMeta) -> None:
        if msg.text == "boom":
            raise RuntimeError("handler bug")
        await tars.publish_tts_say(TtsSay(text=msg.text.upper()))

    await tars.subscribe_stt_final(heard)


async def test_deliver_runs_the_handler_and_published_is_typed(protocol: MQTTVersion) -> None:
    async with for_testing(TarsClient, protocol=protocol) as tars:
        await start_echo_service(tars)
        envelope_id = await kit_of(tars).deliver("stt_final", FinalTranscript(text="hello"))
        assert envelope_id is not None
        [said] = kit_of(tars).published("tts_say", TtsSay)
        assert said.model.text == "HELLO"
        assert said.channel == "tts_say"
        assert (said.meta.topic, said.meta.qos, said.meta.event_type) == ("tts/say", 1, "tts.say")
        assert said.meta.source == "test-client"
        assert orjson.loads(said.payload)["data"]["text"] == "HELLO"
        assert tars.stats.received["stt_final"] == 1
        if protocol == "5":
            assert said.meta.content_type == "application/json"
            assert dict(said.meta.user_properties) == {
                "type": "tts.say",
                "id": said.meta.envelope_id,
                "source": "test-client",
            }
        else:
            assert said.meta.user_properties == {}


async def test_handler_errors_and_invalid_payloads_fail_the_test() -> None:
    async with for_testing(TarsClient) as tars:
        await start_echo_service(tars)
        with pytest.raises(RuntimeError, match="handler bug"):
            await kit_of(tars).deliver("stt_final", FinalTranscript(text="boom"))
        with pytest.raises(PayloadValidationError) as info:
            await kit_of(tars).deliver_raw(
                "stt/final", b'{"id":"1","type":"stt.final","ts":1,"source":"x","data":{}}'
            )
        assert info.value.topic == "stt/final" and info.value.model == "FinalTranscript"
        assert tars.stats.invalid["stt_final"] == 1
        with pytest.raises(PayloadValidationError, match="outgoing"):
            await tars.publish_tts_say(TtsSay.model_construct(text=42))
        assert kit_of(tars).published("tts_say") == []  # nothing invalid went out
        await kit_of(tars).deliver("stt_final", FinalTranscript(text="fine"))  # errors were reset
        assert [p.model.text for p in kit_of(tars).published("tts_say", TtsSay)] == ["FINE"]


async def test_published_filters_by_channel_and_parameters_and_clear() -> None:
    async with for_testing(TarsClient) as tars:
        await tars.publish_system_health(HealthPing(ok=True), client_id="a")
        await tars.publish_system_health(HealthPing(ok=False), client_id="b")
        await tars.publish_tts_say(TtsSay(text="x"))
        assert [p.meta.params["client_id"] for p in kit_of(tars).published("system_health")] == [
            "a",
            "b",
        ]
        [b] = kit_of(tars).published(channels.CH_SYSTEM_HEALTH, client_id="b")
        assert isinstance(b.model, HealthPing) and b.model.ok is False
        assert [p.channel for p in kit_of(tars).published()] == [
            "system_health",
            "system_health",
            "tts_say",
        ]
        with pytest.raises(TypeError):
            kit_of(tars).published("tts_say", HealthPing)
        with pytest.raises(KeyError, match="no channel 'nope'"):
            kit_of(tars).published("nope")
        kit_of(tars).clear()
        assert kit_of(tars).published() == []


async def test_request_and_serve_on_one_client(protocol: MQTTVersion) -> None:
    async with for_testing(TarsClient, protocol=protocol) as tars:

        async def fake_llm(request: LLMRequest, meta: MessageMeta) -> LLMResponse:
            for seq, word in enumerate(request.text.split()):
                await tars.publish_llm_stream(
                    LLMStreamDelta(id=request.id, seq=seq, delta=word),
                    correlation_id=meta.envelope_id,
                )
            return LLMResponse(id=request.id, reply=request.text.upper())

        async def tool(call: ToolCallRequest, meta: MessageMeta) -> ToolCallResult:
            return ToolCallResult(call_id=call.call_id, result={"tool": call.name})

        await tars.serve_llm_request(fake_llm)
        await tars.serve_llm_tool_call_request(tool)
        reply = await tars.request_llm_request(LLMRequest(id="1", text="a b"), timeout=5)
        assert reply.reply == "A B"
        items = [i async for i in tars.stream_llm_request(LLMRequest(id="2", text="c d"))]
        assert [type(i).__name__ for i in items] == ["LLMStreamDelta"] * 2 + ["LLMResponse"]
        result = await tars.request_llm_tool_call_request(ToolCallRequest(call_id="7", name="t"))
        assert result.result == {"tool": "t"}
        replies = kit_of(tars).published("llm_response", LLMResponse)
        if protocol == "5":  # answered on the requester's response topic, not llm/response
            assert replies == []
            topics = {m.topic for m in kit_of(tars).broker.log}
            assert tars.response_topic in topics
        else:
            assert [r.model.reply for r in replies] == ["A B", "C D"]


async def test_retained_deliveries_reach_late_subscribers() -> None:
    async with for_testing(TarsClient) as tars:
        await kit_of(tars).deliver("tts_say", TtsSay(text="kept"), retain=True)
        got: asyncio.Queue[tuple[TtsSay, MessageMeta]] = asyncio.Queue()

        async def late(msg: TtsSay, meta: MessageMeta) -> None:
            await got.put((msg, meta))

        await tars.subscribe_tts_say(late)
        await kit_of(tars).settle()
        msg, meta = got.get_nowait()
        assert msg.text == "kept" and meta.retain is True
        assert set(kit_of(tars).broker.retained) == {"tts/say"}


async def test_decorators_are_subscribed_before_deliver() -> None:
    async with for_testing(TarsClient) as tars:
        heard: list[str] = []

        @tars.on_tts_say
        async def on_say(msg: TtsSay, meta: MessageMeta) -> None:
            heard.append(msg.text)

        await tars.wait_subscribed()
        await kit_of(tars).deliver("tts_say", TtsSay(text="via decorator"))
        assert heard == ["via decorator"]


async def test_share_groups_split_deliveries_between_testing_clients() -> None:
    broker = MemoryBroker()
    a = for_testing(TarsClient, broker=broker, client_id="worker-a")
    b = for_testing(TarsClient, broker=broker, client_id="worker-b")
    seen: dict[str, list[str]] = {"a": [], "b": []}

    def collect(name: str) -> Callable[[TtsSay, MessageMeta], Awaitable[None]]:
        async def handler(msg: TtsSay, meta: MessageMeta) -> None:
            seen[name].append(msg.text)

        return handler

    async with a, b:
        await a.subscribe_tts_say(collect("a"), share_group="speakers")
        await b.subscribe_tts_say(collect("b"), share_group="speakers")
        assert broker.subscriptions("worker-a") == {"$share/speakers/tts/say": 1}
        for i in range(10):
            await kit_of(a).deliver("tts_say", TtsSay(text=str(i)))
        await kit_of(b).settle()
    assert sorted(seen["a"] + seen["b"], key=int) == [str(i) for i in range(10)]
    assert seen["a"] and seen["b"]


async def test_refusals_surface_reason_codes_in_memory() -> None:
    broker = MemoryBroker()
    broker.deny("tts/#")
    async with for_testing(TarsClient, broker=broker, protocol="5") as tars:
        with pytest.raises(PublishError) as pub:
            await tars.publish_tts_say(TtsSay(text="no"))
        assert pub.value.reason_code == 0x87
        with pytest.raises(SubscribeError) as sub:
            await tars.subscribe_tts_status(lambda m, meta: asyncio.sleep(0))
        assert sub.value.reason_code == 0x87


async def test_a_normal_client_has_no_test_kit(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MQTT_CLIENT_ID", "real")
    with pytest.raises(RuntimeError, match="for_testing"):
        kit_of(TarsClient.from_env())


async def test_deliver_needs_a_connected_client() -> None:
    tars = for_testing(TarsClient)
    with pytest.raises(RuntimeError, match="not connected"):
        await kit_of(tars).deliver("tts_say", TtsSay(text="x"))
