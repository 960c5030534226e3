"""Request/reply on a real Mosquitto: reconnects, stream ordering, MQTT 5 response topics,
mixed protocol versions, share groups of responders, envelope metadata in user properties."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import pytest
from generated_support import Factory, Inbox, restart_and_reconnect

from mqttwire import MessageMeta, MQTTClient
from mqttwire.testing.broker import MosquittoBroker
from tars_mqtt.models import (
    LLMRequest,
    LLMResponse,
    LLMStreamDelta,
    ToolCallRequest,
    ToolCallResult,
    TtsSay,
)

pytestmark = pytest.mark.integration


async def test_a_reply_that_comes_after_a_reconnect_still_resolves(
    tars: Factory, mqtt_broker: MosquittoBroker
) -> None:
    llm, router = tars("llm-worker"), tars("router")
    got_request = asyncio.Event()
    release = asyncio.Event()

    async def answer(request: LLMRequest, meta: MessageMeta) -> LLMResponse:
        got_request.set()
        await release.wait()
        return LLMResponse(id=request.id, reply="after the restart")

    await llm.connect()
    await llm.serve_llm_request(answer)
    await router.connect()
    pending = asyncio.create_task(
        router.request_llm_request(LLMRequest(id="r1", text="hi"), timeout=30)
    )
    await asyncio.wait_for(got_request.wait(), 10)
    # The broker forgets every session: the reply subscription (and on MQTT 5 the response
    # topic) exist again only because the runtime resubscribes after reconnecting.
    await restart_and_reconnect(mqtt_broker, llm, router)
    release.set()
    reply = await asyncio.wait_for(pending, 20)
    assert reply.reply == "after the restart" and reply.id == "r1"
    assert isinstance(router.client, MQTTClient) and router.client.metrics.reconnects >= 1
    assert router.requests_in_flight == 0


async def test_stream_keeps_deltas_before_the_final_reply_under_load(tars: Factory) -> None:
    llm, router = tars("llm-worker"), tars("router")

    async def answer(request: LLMRequest, meta: MessageMeta) -> LLMResponse:
        for seq in range(50):
            delta = LLMStreamDelta(id=request.id, seq=seq, delta=f"{request.id}:{seq}")
            await llm.publish_llm_stream(delta, correlation_id=meta.envelope_id)
        return LLMResponse(id=request.id, reply="end")

    await llm.connect()
    await llm.serve_llm_request(answer)
    await router.connect()

    async def consume(i: int) -> list[str]:
        request = LLMRequest(id=f"q{i}", text="go")
        return [
            x.delta if isinstance(x, LLMStreamDelta) else f"final:{x.reply}"
            async for x in router.stream_llm_request(request, timeout=20)
            if isinstance(x, LLMStreamDelta | LLMResponse)
        ]

    results = await asyncio.gather(*(consume(i) for i in range(10)))
    for i, items in enumerate(results):
        assert items == [f"q{i}:{seq}" for seq in range(50)] + ["final:end"]


@pytest.mark.parametrize("protocol", ["5"])
@pytest.mark.publishes_invalid  # a raw b"marker" on llm/response, on purpose
async def test_mqtt5_replies_go_to_the_response_topic_with_correlation_data(
    tars: Factory,
) -> None:
    llm, router, spy = tars("llm-worker"), tars("router"), tars("spy")
    requests: Inbox[LLMRequest] = Inbox()
    replies = Inbox[bytes]()

    async def answer(request: LLMRequest, meta: MessageMeta) -> LLMResponse:
        await requests(request, meta)
        return LLMResponse(id=request.id, reply="via response topic")

    await llm.connect()
    await llm.serve_llm_request(answer)
    await spy.connect()
    await spy.client.subscribe("mqttwire/reply/#", replies, qos=1)
    await spy.client.subscribe("llm/response", replies, qos=1)
    await router.connect()
    reply = await router.request_llm_request(LLMRequest(id="v5", text="hi"), timeout=10)
    assert reply.reply == "via response topic"

    _, request_meta = await requests.get()
    assert request_meta.response_topic == router.response_topic
    assert router.response_topic == f"mqttwire/reply/{router.client.client_id}"
    assert request_meta.correlation_data == request_meta.envelope_id.encode()  # type: ignore[union-attr]
    _, reply_meta = await replies.get()
    assert reply_meta.topic == router.response_topic
    assert reply_meta.correlation_data == request_meta.correlation_data
    assert reply_meta.content_type == "application/json"
    assert reply_meta.user_properties["type"] == "llm.response"
    assert reply_meta.user_properties["id"] == request_meta.envelope_id
    await spy.client.publish("llm/response", b"marker", qos=1)
    marker, _ = await replies.get()
    assert marker == b"marker"  # nothing went to the contract's reply address


@pytest.mark.parametrize("protocol", ["5"])
@pytest.mark.parametrize(("requester", "responder"), [("5", "3.1.1"), ("3.1.1", "5")])
async def test_mqtt5_and_3_1_1_peers_answer_each_other(
    tars: Factory, requester: str, responder: str
) -> None:
    llm = tars("llm-worker", protocol=responder)  # type: ignore[arg-type]
    router = tars("router", protocol=requester)  # type: ignore[arg-type]

    async def answer(request: LLMRequest, meta: MessageMeta) -> LLMResponse:
        assert meta.response_topic is None or responder == "5"
        return LLMResponse(id=request.id, reply=f"{responder} answers {requester}")

    await llm.connect()
    await llm.serve_llm_request(answer)
    await router.connect()
    replies = await asyncio.gather(
        *(
            router.request_llm_request(LLMRequest(id=str(i), text="x"), timeout=10)
            for i in range(20)
        )
    )
    assert {r.reply for r in replies} == {f"{responder} answers {requester}"}
    assert [r.id for r in replies] == [str(i) for i in range(20)]


async def test_responders_in_a_share_group_split_the_requests(tars: Factory) -> None:
    workers = [tars("tools-a"), tars("tools-b")]
    caller = tars("llm-worker")
    served: dict[str, list[str]] = {"tools-a": [], "tools-b": []}

    def serve_as(
        name: str,
    ) -> Callable[[ToolCallRequest, MessageMeta], Awaitable[ToolCallResult]]:
        async def run(call: ToolCallRequest, meta: MessageMeta) -> ToolCallResult:
            served[name].append(call.call_id)
            return ToolCallResult(call_id=call.call_id, result={"by": name})

        return run

    for worker, name in zip(workers, served, strict=True):
        await worker.connect()
        await worker.serve_llm_tool_call_request(serve_as(name), share_group="tools")
        sub = worker.client.subscriptions[-1]  # type: ignore[attr-defined]
        assert sub.topic_filter == "$share/tools/llm/tool.call.request"
    await caller.connect()
    results = await asyncio.gather(
        *(
            caller.request_llm_tool_call_request(ToolCallRequest(call_id=str(i), name="t"))
            for i in range(40)
        )
    )
    assert [r.call_id for r in results] == [str(i) for i in range(40)]
    assert sorted(served["tools-a"] + served["tools-b"], key=int) == [str(i) for i in range(40)]
    assert served["tools-a"] and served["tools-b"]
    assert {r.result["by"] for r in results if r.result} == {"tools-a", "tools-b"}


@pytest.mark.parametrize("protocol", ["5"])
async def test_mqtt5_typed_messages_carry_envelope_metadata_and_content_type(
    tars: Factory,
) -> None:
    pub, sub = tars("router"), tars("tts-worker")
    inbox: Inbox[TtsSay] = Inbox()
    await sub.connect()
    await sub.subscribe_tts_say(inbox)
    await pub.connect()
    envelope_id = await pub.publish_tts_say(TtsSay(text="hello"))
    _, meta = await inbox.get()
    assert dict(meta.user_properties) == {"type": "tts.say", "id": envelope_id, "source": "router"}
    assert meta.content_type == "application/json"
