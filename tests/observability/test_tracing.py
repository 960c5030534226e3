"""A trace runs from stt/final through router and llm to tts/say (MQTT 5); on 3.1.1 the same
spans are made, unlinked."""

from __future__ import annotations

from collections import defaultdict

import pytest
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.trace import SpanKind
from otel_chain import chain
from otel_support import Collected, Otel

from mqttwire import MessageMeta, MQTTClientConfig
from mqttwire.testing.broker import MosquittoBroker
from tars_mqtt import TarsClient
from tars_mqtt.models import LLMRequest, LLMResponse, LLMStreamDelta

pytestmark = pytest.mark.integration

# Every span of one utterance: (name, parent name) on MQTT 5; the reply goes to the router's
# response topic, a temporary destination named by its template.
CHAIN = [
    ("send stt/final", None),
    ("process stt/final", "send stt/final"),
    ("request llm/request", "process stt/final"),
    ("send llm/request", "request llm/request"),
    ("process llm/request", "send llm/request"),
    ("send mqttwire/reply/{client_id}", "process llm/request"),
    ("process mqttwire/reply/{client_id}", "send mqttwire/reply/{client_id}"),
    ("send tts/say", "process stt/final"),
    ("process tts/say", "send tts/say"),
]


def _by_trace(spans: tuple[ReadableSpan, ...]) -> dict[int, list[ReadableSpan]]:
    traces: dict[int, list[ReadableSpan]] = defaultdict(list)
    for span in spans:
        assert span.context is not None
        traces[span.context.trace_id].append(span)
    return traces


async def test_three_services_make_one_connected_trace_on_mqtt5(
    mqtt_broker: MosquittoBroker, otel: Otel
) -> None:
    async with chain(mqtt_broker.url, "5", otel.telemetry) as services:
        (stt_id,) = await services.say_and_wait("hello robot")
    spans = otel.spans.get_finished_spans()
    assert services.spoken[0][0].text == "HELLO ROBOT"

    traces = _by_trace(spans)
    assert len(traces) == 1, [s.name for s in spans]
    (trace_spans,) = traces.values()
    by_id = {s.context.span_id: s for s in trace_spans if s.context is not None}
    found = sorted(
        (
            s.name,
            by_id[s.parent.span_id].name if s.parent is not None else None,
        )
        for s in trace_spans
    )
    assert found == sorted(CHAIN)

    named = {s.name: s for s in trace_spans}
    send, process = named["send stt/final"], named["process stt/final"]
    assert send.kind is SpanKind.PRODUCER and process.kind is SpanKind.CONSUMER
    assert named["request llm/request"].kind is SpanKind.CLIENT
    assert process.parent is not None and process.parent.is_remote
    assert [link.context.span_id for link in process.links] == [send.context.span_id]
    for span in (send, process):
        attributes = span.attributes or {}
        assert attributes["messaging.system"] == "mqtt"
        assert attributes["messaging.destination.name"] == "stt/final"
        assert attributes["messaging.destination.template"] == "stt/final"
        assert attributes["messaging.message.id"] == stt_id
        assert attributes["mqttwire.channel"] == "stt_final"
        assert attributes["mqtt.qos"] == 1
        body_size = attributes["messaging.message.body.size"]
        assert isinstance(body_size, int) and body_size > len('"hello robot"')
    assert (send.attributes or {})["messaging.operation.type"] == "send"
    assert (process.attributes or {})["messaging.operation.type"] == "process"
    reply = named["process mqttwire/reply/{client_id}"].attributes or {}
    assert reply["messaging.destination.temporary"] is True
    assert reply["messaging.destination.name"] == services.router.response_topic
    say = named["process tts/say"].attributes or {}
    assert say["messaging.message.conversation_id"] == stt_id  # correlation_id=envelope id
    assert services.spoken[0][1].user_properties["traceparent"].split("-")[1] == (
        f"{send.context.trace_id:032x}"
    )


async def test_each_utterance_is_its_own_trace(mqtt_broker: MosquittoBroker, otel: Otel) -> None:
    async with chain(mqtt_broker.url, "5", otel.telemetry) as services:
        await services.say_and_wait("one", "two", "three")
    traces = _by_trace(otel.spans.get_finished_spans())
    assert len(traces) == 3
    for spans in traces.values():
        assert sorted(s.name for s in spans) == sorted(name for name, _ in CHAIN)


async def test_on_mqtt311_the_spans_are_made_unlinked(
    mqtt_broker: MosquittoBroker, otel: Otel
) -> None:
    async with chain(mqtt_broker.url, "3.1.1", otel.telemetry) as services:
        await services.say_and_wait("hello robot")
        assert "traceparent" not in services.spoken[0][1].user_properties
    spans = otel.spans.get_finished_spans()
    names = sorted(s.name for s in spans)
    # 3.1.1: replies come on the contract's reply channel, llm/response.
    assert names == sorted(
        [
            "send stt/final",
            "process stt/final",
            "request llm/request",
            "send llm/request",
            "process llm/request",
            "send llm/response",
            "process llm/response",
            "send tts/say",
            "process tts/say",
        ]
    )
    for span in spans:
        if span.kind is SpanKind.CONSUMER:
            assert span.parent is None and not span.links, span.name
    # In-process parents remain: the handler's publishes are children of its span.
    named = {s.name: s for s in spans}
    request = named["request llm/request"]
    assert request.parent is not None
    assert request.parent.span_id == named["process stt/final"].context.span_id
    assert len(_by_trace(spans)) == 5  # stt's send + one per process span


async def test_a_streamed_request_is_one_request_span_with_its_deltas(
    mqtt_broker: MosquittoBroker, otel: Otel
) -> None:
    def client(name: str) -> TarsClient:
        config = MQTTClientConfig(url=mqtt_broker.url, client_id=name, protocol="5")
        return TarsClient(config, telemetry=otel.telemetry)

    async def answer(request: LLMRequest, meta: MessageMeta) -> LLMResponse:
        for seq in range(3):
            delta = LLMStreamDelta(id=request.id, seq=seq, delta=str(seq))
            await llm.publish_llm_stream(delta, correlation_id=meta.envelope_id)
        return LLMResponse(id=request.id, reply="done")

    llm, router = client("llm-s"), client("router-s")
    async with llm, router:
        await llm.serve_llm_request(answer)
        items = [x async for x in router.stream_llm_request(LLMRequest(id="q", text="go"))]
        assert len(items) == 4
        assert router.requests_in_flight == 0
    spans = otel.spans.get_finished_spans()
    assert len(_by_trace(spans)) == 1
    named = {s.name: s for s in spans}
    request = named["request llm/request"]
    assert request.status.is_ok
    children = [s.name for s in spans if s.parent and s.parent.span_id == request.context.span_id]
    assert children == ["send llm/request"]
    assert sorted(s.name for s in spans if s.name.startswith("process")) == [
        "process llm/request",
        "process llm/stream",
        "process llm/stream",
        "process llm/stream",
        "process mqttwire/reply/{client_id}",
    ]
    got = Collected(otel.metrics)
    assert got.total("mqttwire.request.duration", mqttwire__channel="llm_request") == 1
