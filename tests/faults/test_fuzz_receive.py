"""Fuzzing the receive path: random bytes, wrong JSON, wrong envelopes, ~1 MB payloads, deep
nesting.

Through the generated ``TarsClient`` (every channel) the client never raises, only payloads that
validate reach a typed handler, and every other one is counted in ``tars.stats.invalid`` (an empty
payload on a retained channel, which clears it, in ``tars.stats.cleared``). Through
the raw ``MQTTClient`` (dedupe on) every payload reaches the handler byte for byte or is counted
as a duplicate, and the reader never dies (no reconnect). Most examples run without a broker; a
smaller number make real round trips through mosquitto.
"""

from __future__ import annotations

import asyncio
import json
import os
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping, Sequence
from typing import Any

import pytest
from fault_support import wait_until
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel

from mqttwire import MessageMeta, MQTTClient, MQTTClientConfig
from mqttwire.envelope import encode_envelope
from mqttwire.testing.broker import MosquittoBroker
from mqttwire.transport import ConnectOptions, IncomingMessage
from mqttwire.typed import ChannelSpec
from tars_mqtt import TarsClient

pytestmark = [pytest.mark.faults]

CHANNELS: Mapping[str, ChannelSpec] = TarsClient.CHANNELS
NAMES = sorted(CHANNELS)
EVENT_TYPES = sorted({m.event_type for spec in CHANNELS.values() for m in spec.messages})
MB = 1 << 20

# --------------------------------------------------------------------------------- strategies

_leaf = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=30)
)
json_values = st.recursive(
    _leaf,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=5)
    ),
    max_leaves=25,
)


def _dumps(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode()  # big integers too


def _nested(depth: int, kind: str) -> bytes:
    if kind == "list":
        return b"[" * depth + b"]" * depth
    return b'{"a":' * depth + b"1" + b"}" * depth


@st.composite
def wrong_envelopes(draw: st.DrawFn) -> bytes:
    """Envelope-shaped objects with fields missing, mistyped or extra; sometimes valid."""
    fields: dict[str, Any] = {
        "id": draw(st.one_of(st.text(max_size=40), json_values)),
        "type": draw(st.one_of(st.sampled_from(EVENT_TYPES), st.text(max_size=20), json_values)),
        "ts": draw(st.one_of(st.floats(allow_nan=False), json_values)),
        "source": draw(st.one_of(st.text(max_size=20), json_values)),
        "data": draw(
            st.one_of(
                json_values,
                st.fixed_dictionaries(
                    {"text": json_values}, optional={"ok": json_values, "seq": json_values}
                ),
            )
        ),
    }
    drop = draw(st.sets(st.sampled_from(sorted(fields)), max_size=2))
    envelope = {k: v for k, v in fields.items() if k not in drop}
    if draw(st.booleans()):
        envelope[draw(st.text(min_size=1, max_size=8))] = draw(json_values)
    return _dumps(envelope)


@st.composite
def huge_payloads(draw: st.DrawFn) -> bytes:
    size = draw(st.integers(min_value=MB - 4096, max_value=MB + 4096))
    kind = draw(st.sampled_from(["text", "bytes", "array", "envelope"]))
    if kind == "text":  # a valid FinalTranscript with a 1 MB text: allowed by the model
        return encode_envelope("stt.final", {"text": "x" * size}, source="fuzz")[1]
    if kind == "bytes":
        return b"{" + os.urandom(16).hex().encode() * (size // 32)
    if kind == "array":
        return b"[" + b"1," * (size // 2) + b"1]"
    return _dumps({"id": "h", "type": "tts.say", "data": {"text": 1, "pad": "y" * size}})


@st.composite
def deep_payloads(draw: st.DrawFn) -> bytes:
    depth = draw(st.sampled_from([64, 255, 256, 300, 1023, 1024, 1025, 5000, 100_000]))
    kind = draw(st.sampled_from(["list", "dict", "envelope-data", "envelope-text"]))
    if kind in ("list", "dict"):
        return _nested(depth, kind)
    inner = _nested(min(depth, 1000), "dict").decode()
    if kind == "envelope-data":
        return f'{{"id":"deep","type":"stt.final","data":{inner}}}'.encode()
    return f'{{"id":"deep","type":"stt.final","data":{{"text":"t","x":{inner}}}}}'.encode()


payloads = st.one_of(
    st.binary(max_size=200),
    st.text(max_size=100).map(str.encode),
    json_values.map(_dumps),
    wrong_envelopes(),
    deep_payloads(),
)
# Huge payloads are slow to generate and validate: a few per run, not in every batch.
batches = st.lists(st.tuples(st.sampled_from(NAMES), payloads), min_size=1, max_size=25) | st.lists(
    st.tuples(st.sampled_from(NAMES), huge_payloads()), min_size=1, max_size=2
)


def _topic(spec: ChannelSpec) -> str:
    return spec.topic.filter().replace("+", "fuzz")


# ---------------------------------------------------------------------- typed, no broker

RawHandler = Callable[[bytes, MessageMeta], Awaitable[None]]


class FakeClient:
    """Stands in for MQTTClient under TarsClient: records raw handlers, feeds them."""

    client_id = "fuzz"
    protocol = "3.1.1"

    def __init__(self) -> None:
        self.subs: list[tuple[str, RawHandler, int]] = []

    async def connect(self) -> None: ...
    async def disconnect(self) -> None: ...
    async def shutdown(self) -> None: ...

    async def publish(self, topic: str, payload: bytes, **kwargs: Any) -> None: ...

    async def publish_event(self, topic: str, event_type: str, data: Any, **kwargs: Any) -> str:
        return ""

    async def subscribe(self, topic_filter: str, handler: RawHandler, **kwargs: Any) -> Any:
        self.subs.append((topic_filter, handler, int(kwargs.get("qos", 0))))
        return len(self.subs) - 1

    async def unsubscribe(self, subscription: Any) -> None: ...


class TypedRecorder:
    """One typed handler per channel, subscribed through the generated ``subscribe_*`` methods."""

    def __init__(self) -> None:
        self.got: Counter[str] = Counter()

    async def subscribe_all(self, tars: TarsClient) -> None:
        for name in NAMES:
            await getattr(tars, f"subscribe_{name}")(self._handler(name))

    def _handler(self, name: str) -> Callable[[BaseModel, MessageMeta], Awaitable[None]]:
        models = tuple(m.model for m in CHANNELS[name].messages)

        async def handler(message: BaseModel, meta: MessageMeta) -> None:
            assert isinstance(message, models), (name, type(message))
            # Nothing invalid: what arrives is exactly a valid instance of the channel's model.
            type(message).model_validate(message.model_dump(by_alias=True))
            self.got[name] += 1

        return handler


async def _feed_typed(batch: Sequence[tuple[str, bytes]]) -> None:
    fake = FakeClient()
    tars = TarsClient(client=fake)
    recorder = TypedRecorder()
    await recorder.subscribe_all(tars)
    by_filter = {f: h for f, h, _ in fake.subs}
    fed: Counter[str] = Counter()
    for name, payload in batch:
        spec = CHANNELS[name]
        handler = by_filter[spec.topic.filter()]
        await handler(payload, MessageMeta(topic=_topic(spec), qos=spec.subscribe_qos))
        fed[name] += 1
    for name in NAMES:
        assert tars.stats.received[name] == recorder.got[name]
        counted = tars.stats.received[name] + tars.stats.invalid[name] + tars.stats.cleared[name]
        assert counted == fed[name], name


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(batch=batches)
def test_typed_client_never_crashes_and_counts_every_drop(batch: list[tuple[str, bytes]]) -> None:
    asyncio.run(_feed_typed(batch))


# -------------------------------------------------------------------- raw, scripted link


class InjectTransport:
    """A transport whose only traffic is what the test injects (acks are immediate)."""

    def __init__(self) -> None:
        self.connects = 0
        self._inbox: asyncio.Queue[IncomingMessage] = asyncio.Queue()

    @property
    def native(self) -> object | None:
        return self

    async def connect(self, options: ConnectOptions) -> None:
        self.connects += 1

    async def publish(self, *args: Any, **kwargs: Any) -> None: ...

    async def subscribe(self, filters: Sequence[tuple[str, int]], *a: Any, **k: Any) -> list[int]:
        return [qos for _, qos in filters]

    async def unsubscribe(self, *args: Any, **kwargs: Any) -> None: ...

    async def messages(self) -> AsyncIterator[IncomingMessage]:
        while True:
            yield await self._inbox.get()

    async def disconnect(self, ack_timeout: float) -> None: ...

    def inject(self, topic: str, payload: bytes) -> None:
        self._inbox.put_nowait(IncomingMessage(topic, payload, 1, False))


def _raw_config(
    client_id: str, url: str = "mqtt://127.0.0.1:9", *, dedupe: bool = True
) -> MQTTClientConfig:
    return MQTTClientConfig(
        url=url,
        client_id=client_id,
        dedupe_ttl=60.0 if dedupe else 0.0,
        dedupe_max_entries=10_000 if dedupe else 0,
        reconnect_min_delay=0.1,
        reconnect_max_delay=0.5,
        shutdown_timeout=2.0,
    )


async def _feed_raw(batch: Sequence[tuple[str, bytes]]) -> None:
    transport = InjectTransport()
    client = MQTTClient(_raw_config("fuzz-raw"), transport=transport)
    got: list[bytes] = []

    async def handler(payload: bytes) -> None:
        got.append(payload)

    await client.subscribe("#", handler)
    await client.connect()
    try:
        for name, payload in batch:
            transport.inject(_topic(CHANNELS[name]), payload)
        n = len(batch)

        def handled() -> bool:
            # A dead reader shows up as a reconnect: fail at once, not after a timeout.
            assert transport.connects == 1, "the reader died on a payload"
            return len(got) + client.metrics.duplicates == n

        await wait_until(handled, 10, "all handled or deduped")
        assert client.metrics.messages_received == n
        assert Counter(got) <= Counter(p for _, p in batch)
        assert len(set(got)) == len({p for _, p in batch})  # only repeats were deduped
        assert transport.connects == 1 and client.connected  # the reader never died
        assert client.metrics.handler_errors == 0
    finally:
        await client.shutdown()


@settings(
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(batch=batches)
def test_raw_client_reader_survives_anything(batch: list[tuple[str, bytes]]) -> None:
    asyncio.run(_feed_raw(batch))


# ----------------------------------------------------------------- real broker round trips


@pytest.fixture(scope="module")
def fuzz_broker() -> Iterator[MosquittoBroker]:
    broker = MosquittoBroker()
    broker.start()
    try:
        yield broker
    finally:
        broker.close()


SENTINEL = b"--end-of-batch--"


async def _round_trip(url: str, batch: Sequence[tuple[str, bytes]]) -> None:
    tag = os.urandom(4).hex()
    raw = MQTTClient(_raw_config(f"fuzz-raw-{tag}", url))
    # No dedupe under the typed client: every copy must be counted as received or invalid.
    tars = TarsClient(client=MQTTClient(_raw_config(f"fuzz-typed-{tag}", url, dedupe=False)))
    sender = MQTTClient(_raw_config(f"fuzz-sender-{tag}", url))
    raw_got: list[bytes] = []
    done = asyncio.Event()

    async def on_raw(payload: bytes, meta: MessageMeta) -> None:
        if payload == SENTINEL:
            done.set()
        else:
            raw_got.append(payload)

    recorder = TypedRecorder()
    try:
        await raw.subscribe(f"{tag}/#", on_raw, qos=1)
        await raw.connect()
        await recorder.subscribe_all(tars)
        await tars.connect()
        await sender.connect()
        fed: Counter[str] = Counter()
        for name, payload in batch:
            spec = CHANNELS[name]
            await sender.publish(_topic(spec), payload, qos=1)
            await sender.publish(f"{tag}/{name}", payload, qos=1)
            fed[name] += 1
        await sender.publish(f"{tag}/end", SENTINEL, qos=1)
        await asyncio.wait_for(done.wait(), 30)
        stats = tars.stats
        total = len(batch)
        await wait_until(
            lambda: (
                sum(stats.received.values()) + stats.invalid_total + stats.cleared.total() == total
            ),
            30,
            "typed side",
        )
        assert len(raw_got) + raw.metrics.duplicates == total
        assert Counter(raw_got) <= Counter(p for _, p in batch)
        for name in NAMES:
            assert stats.received[name] == recorder.got[name]
            counted = stats.received[name] + stats.invalid[name] + stats.cleared[name]
            assert counted == fed[name], name
        typed_raw = tars.client
        assert isinstance(typed_raw, MQTTClient)
        for client in (raw, typed_raw):
            assert client.metrics.reconnects == 0 and client.metrics.connects == 1
    finally:
        for closing in (raw, tars, sender):
            await closing.shutdown()


@settings(
    max_examples=40,
    deadline=None,
    # No shrinking: each step is a broker round trip; a failure prints its full batch anyway.
    phases=[Phase.explicit, Phase.reuse, Phase.generate],
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.function_scoped_fixture,
    ],
)
@given(batch=batches)
@pytest.mark.integration
def test_real_broker_round_trips_raw_and_typed(
    fuzz_broker: MosquittoBroker, batch: list[tuple[str, bytes]]
) -> None:
    asyncio.run(_round_trip(fuzz_broker.url, batch))
