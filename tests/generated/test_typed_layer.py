"""mqttwire.typed and mqttwire.topic_template without a broker (a recording fake client)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import BaseModel, ConfigDict

from mqttwire import InvalidTopicError, MessageMeta, TopicParameterError
from mqttwire.envelope import encode_envelope
from mqttwire.mqtt_text import text_problem
from mqttwire.topic_template import ParamSpec, TopicTemplate, validate_param_value
from mqttwire.transport import MessageProperties
from mqttwire.typed import ChannelSpec, MessageSpec, RequestSpec, TypedClient

RawHandler = Callable[[bytes, MessageMeta], Awaitable[None]]


class FakeClient:
    """Records publishes; ``deliver`` feeds subscribed handlers like the runtime would."""

    client_id = "fake"

    def __init__(self, protocol: str = "3.1.1") -> None:
        self.protocol = protocol
        self.published: list[tuple[str, bytes, int, bool]] = []
        self.properties: list[MessageProperties | None] = []
        self.subs: list[tuple[str, RawHandler, int]] = []
        self.sent = asyncio.Event()  # set by every publish: wait on it, not on a sleep

    async def connect(self) -> None: ...
    async def disconnect(self) -> None: ...
    async def shutdown(self) -> None: ...

    async def publish(
        self,
        topic: str,
        payload: bytes,
        *,
        qos: int = 0,
        retain: bool = False,
        properties: MessageProperties | None = None,
    ) -> None:
        self.published.append((topic, payload, qos, retain))
        self.properties.append(properties)
        self.sent.set()

    async def publish_event(
        self,
        topic: str,
        event_type: str,
        data: Mapping[str, Any] | BaseModel,
        *,
        correlation_id: str | None = None,
        qos: int = 0,
        retain: bool = False,
        properties: MessageProperties | None = None,
    ) -> str:
        mid, payload = encode_envelope(
            event_type, data, source="fake", correlation_id=correlation_id
        )
        await self.publish(topic, payload, qos=qos, retain=retain, properties=properties)
        return mid

    async def subscribe(self, topic_filter: str, handler: RawHandler, *, qos: int = 0) -> Any:
        self.subs.append((topic_filter, handler, qos))
        return len(self.subs) - 1

    async def unsubscribe(self, subscription: Any) -> None: ...

    async def deliver(self, topic: str, payload: bytes) -> None:
        for _, handler, qos in self.subs:
            await handler(payload, MessageMeta(topic=topic, qos=qos))


class Say(BaseModel):
    model_config = ConfigDict(extra="forbid")
    text: str


class Stop(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: str


ROOM = TopicTemplate("home/{room}/say", [ParamSpec("room", ("kitchen", "office"))])
SAY = ChannelSpec(
    "say",
    ROOM,
    (MessageSpec("tts.say", Say), MessageSpec("tts.stop", Stop)),
    envelope=True,
    publish_qos=1,
    publish_retain=True,
    subscribe_qos=1,
)
BARE = ChannelSpec("bare", TopicTemplate("bare"), (MessageSpec("bare", Say),))
REPLY = ChannelSpec(
    "answer", TopicTemplate("answer"), (MessageSpec("answer", Stop),), envelope=True
)
ASK = RequestSpec(
    request=ChannelSpec("ask", TopicTemplate("ask"), (MessageSpec("ask", Say),), envelope=True),
    reply=REPLY,
)


def make() -> tuple[TypedClient, FakeClient]:
    fake = FakeClient()
    return TypedClient(client=fake), fake


async def test_publish_picks_event_type_by_payload_and_policy_from_spec() -> None:
    client, fake = make()
    await client._publish(SAY, Stop(reason="x"), {"room": "kitchen"})
    topic, payload, qos, retain = fake.published[0]
    assert (topic, qos, retain) == ("home/kitchen/say", 1, True)
    assert orjson.loads(payload)["type"] == "tts.stop"
    with pytest.raises(TopicParameterError):
        await client._publish(SAY, Say(text="x"), {"room": "attic"})
    assert await client._publish(BARE, Say(text="b"), {}) is None
    assert orjson.loads(fake.published[-1][1]) == {"text": "b"}


async def test_receive_discriminates_by_type_then_tries_each_model() -> None:
    client, fake = make()
    got: list[tuple[BaseModel, MessageMeta]] = []

    async def handler(msg: BaseModel, meta: MessageMeta) -> None:
        got.append((msg, meta))

    await client._subscribe(SAY, handler, {"room": None})
    assert fake.subs[0][0] == "home/+/say"
    _, env = encode_envelope("tts.stop", {"reason": "r"}, source="s")
    await fake.deliver("home/office/say", env)
    await fake.deliver("home/office/say", b'{"text": "bare fallback"}')
    _, wrong = encode_envelope("tts.say", {"reason": "r"}, source="s")
    await fake.deliver("home/office/say", wrong)  # type says Say, data is a Stop: invalid
    await fake.deliver("home/office/say", b"\xff not json")
    assert [type(m).__name__ for m, _ in got] == ["Stop", "Say"]
    meta = got[0][1]
    assert (
        meta.event_type == "tts.stop"
        and meta.source == "s"
        and dict(meta.params) == {"room": "office"}
    )
    assert got[1][1].envelope_id is None
    assert client.stats.invalid["say"] == 2 and client.stats.received["say"] == 2


async def test_invalid_messages_are_logged_with_topic_and_reason(
    caplog: pytest.LogCaptureFixture,
) -> None:
    client, fake = make()

    async def handler(msg: BaseModel, meta: MessageMeta) -> None:
        raise AssertionError("must not be called")

    await client._subscribe(BARE, handler)
    await fake.deliver("bare", b'{"text": 1}')
    assert "bare" in caplog.text and "text" in caplog.text


async def test_request_resolves_by_envelope_id_and_counts_late_replies() -> None:
    client, fake = make()
    task = asyncio.create_task(client._request(ASK, Say(text="q"), {}, timeout=2))
    await asyncio.wait_for(fake.sent.wait(), 5)  # the request is out
    request_id = orjson.loads(fake.published[0][1])["id"]
    _, other = encode_envelope("answer", {"reason": "not yours"}, source="s", correlation_id="zzz")
    await fake.deliver("answer", other)
    _, mine = encode_envelope("answer", {"reason": "yours"}, source="s", correlation_id=request_id)
    await fake.deliver("answer", mine)
    reply = await task
    assert isinstance(reply, Stop) and reply.reason == "yours"
    assert client.stats.late_replies["answer"] == 1


async def test_serve_publishes_reply_with_request_id() -> None:
    client, fake = make()

    async def answer(request: Say, meta: MessageMeta) -> Stop:
        return Stop(reason=request.text.upper())

    await client._serve(ASK, answer)
    _, req = encode_envelope("ask", {"text": "hi"}, source="s", correlation_id="abc")
    await fake.deliver("ask", req)
    topic, payload, _, _ = fake.published[-1]
    body = orjson.loads(payload)
    assert (topic, body["id"], body["type"], body["data"]) == (
        "answer",
        "abc",
        "answer",
        {"reason": "HI"},
    )


def test_topic_template_wildcards_and_match() -> None:
    t = TopicTemplate("a/{x}/b-{y}/c", [ParamSpec("x"), ParamSpec("y")])
    assert t.format({"x": "1", "y": "2"}) == "a/1/b-2/c"
    assert t.filter({"x": None, "y": "2"}) == "a/+/b-2/c"
    assert t.match("a/1/b-2/c") == {"x": "1", "y": "2"}
    assert t.match("a/1/x-2/c") is None
    w = TopicTemplate("home/+/set/#")
    assert w.match("home/k/set") == {} and w.match("home/k/set/a/b") == {}
    with pytest.raises(InvalidTopicError):
        w.format({})


@given(st.text(min_size=1).filter(lambda s: not any(c in s for c in "/+#") and not text_problem(s)))
def test_valid_values_round_trip(value: str) -> None:
    t = TopicTemplate("p/{v}/q", [ParamSpec("v")])
    assert t.match(t.format({"v": value})) == {"v": value}


@given(st.text().filter(lambda s: s == "" or any(c in s for c in "/+#\x00")))
def test_forbidden_values_are_rejected(value: str) -> None:
    with pytest.raises(TopicParameterError):
        validate_param_value("v", value)


async def test_event_type_override_must_match_the_model() -> None:
    client, fake = make()
    shared = ChannelSpec(
        "h", TopicTemplate("h"), (MessageSpec("a", Say), MessageSpec("b", Say)), envelope=True
    )
    await client._publish(shared, Say(text="x"), {})
    await client._publish(shared, Say(text="x"), {}, event_type="b")
    assert [orjson.loads(p[1])["type"] for p in fake.published] == ["a", "b"]
    with pytest.raises(TypeError):
        await client._publish(shared, Say(text="x"), {}, event_type="c")


async def test_payload_pointer_correlation_on_bare_channels() -> None:
    client, fake = make()
    req = ChannelSpec("q", TopicTemplate("q"), (MessageSpec("q", Stop),))
    rep = ChannelSpec("r", TopicTemplate("r"), (MessageSpec("r", Stop),))
    spec = RequestSpec(req, rep, correlation="$message.payload#/reason")
    task = asyncio.create_task(client._request(spec, Stop(reason="k1"), {}, timeout=2))
    await asyncio.wait_for(fake.sent.wait(), 5)  # the request is out
    await fake.deliver("r", b'{"reason": "other"}')
    await fake.deliver("r", b'{"reason": "k1"}')
    assert (await task) == Stop(reason="k1")
    assert client.stats.late_replies["r"] == 1
    with pytest.raises(TypeError):  # envelope-id needs envelopes
        await client._request(RequestSpec(req, rep), Stop(reason="x"), {}, timeout=1)


MIXED = ChannelSpec(
    "health",
    TopicTemplate("health"),
    (MessageSpec("health.status", Say), MessageSpec("device.health", Stop, envelope=False)),
    envelope=True,
)


async def test_a_message_can_depart_from_its_channels_envelope_rule() -> None:
    """A bare message on an enveloped channel is published bare and received as bare JSON."""
    client, fake = make()
    assert await client._publish(MIXED, Stop(reason="esp32"), {}) is None
    assert orjson.loads(fake.published[-1][1]) == {"reason": "esp32"}
    assert isinstance(await client._publish(MIXED, Say(text="ok"), {}), str)
    assert orjson.loads(fake.published[-1][1])["type"] == "health.status"

    got: list[tuple[BaseModel, MessageMeta]] = []

    async def handler(msg: BaseModel, meta: MessageMeta) -> None:
        got.append((msg, meta))

    await client._subscribe(MIXED, handler)
    for _, payload, _, _ in fake.published:
        await fake.deliver("health", payload)
    assert [(type(m).__name__, meta.event_type) for m, meta in got] == [
        ("Stop", None),
        ("Say", "health.status"),
    ]
    assert client.stats.received["health"] == 2


class Reading(BaseModel):
    value: float
    history: list[float] = []


READING = ChannelSpec(
    "reading", TopicTemplate("reading"), (MessageSpec("sensor.reading", Reading),), envelope=True
)


async def test_non_finite_numbers_never_reach_typed_handlers() -> None:
    client, fake = make()
    got: list[BaseModel] = []

    async def handler(msg: BaseModel, meta: MessageMeta) -> None:
        got.append(msg)

    await client._subscribe(READING, handler)
    for data in (
        {"value": "nan"},
        {"value": "inf"},
        {"value": "-Infinity"},
        {"value": 1.0, "history": [1.0, "NaN"]},
    ):
        _, env = encode_envelope("sensor.reading", data, source="s")
        await fake.deliver("reading", env)
    _, fine = encode_envelope("sensor.reading", {"value": 2.5}, source="s")
    await fake.deliver("reading", fine)
    assert got == [Reading(value=2.5)]
    assert client.stats.invalid["reading"] == 4


async def test_wrong_envelope_type_on_a_single_message_channel_is_rejected(
    caplog: pytest.LogCaptureFixture,
) -> None:
    client, fake = make()
    got: list[BaseModel] = []

    async def handler(msg: BaseModel, meta: MessageMeta) -> None:
        got.append(msg)

    await client._subscribe(READING, handler)
    _, wrong = encode_envelope("robot.shutdown", {"value": 1.0}, source="s")
    await fake.deliver("reading", wrong)
    assert got == [] and client.stats.invalid["reading"] == 1
    assert "robot.shutdown" in caplog.text


async def test_invalid_payload_logs_are_escaped_bounded_and_rate_limited(
    caplog: pytest.LogCaptureFixture,
) -> None:
    client, fake = make()

    async def handler(msg: BaseModel, meta: MessageMeta) -> None:
        raise AssertionError("must not be called")

    await client._subscribe(BARE, handler)
    forged = b'{"text": 1, "x\\nCRITICAL forged line": 2}'
    huge = b'{"' + b"k" * 1_000_000 + b'": 1}'
    with caplog.at_level("WARNING", logger="mqttwire.typed"):
        await fake.deliver("bare", forged)
        await fake.deliver("bare", huge)
        for _ in range(200):
            await fake.deliver("bare", b"not json")
    records = [r for r in caplog.records if r.name == "mqttwire.typed"]
    assert records and all("\n" not in r.getMessage() for r in records)
    assert all(len(r.getMessage()) < 2000 for r in records)
    assert len(records) <= 15  # first few, then summarised
    assert client.stats.invalid["bare"] == 202
