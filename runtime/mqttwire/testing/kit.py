"""Typed clients for unit tests: ``for_testing(Client)`` and its kit (deliver, see what went out).

::

    from mqttwire.testing import for_testing, kit_of

    async with for_testing(TarsClient) as tars:
        await service.start(tars)                                   # registers its handlers
        await kit_of(tars).deliver("stt_final", FinalTranscript(text="hello"))
        [said] = kit_of(tars).published("tts_say", TtsSay)
        assert said.model.text == "HELLO" and said.meta.qos == 1

``for_testing`` builds the client on an in-memory broker with a strict
:class:`~mqttwire.codec.Codec`; :func:`kit_of` finds the client's :class:`TestKit`. The typed
layer knows nothing of this module: the kit is attached from here (the dependency points from
``mqttwire.testing`` to ``mqttwire.typed``, never back).

``deliver`` publishes like another client would (through the in-memory broker, so topic
filters, QoS and retain apply), then waits until every handler is done and re-raises the first
handler error or validation failure. The client is strict: an invalid payload, incoming or
outgoing, raises :class:`~mqttwire.errors.PayloadValidationError` instead of being counted.
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Generic, Literal, TypeVar, overload

from mqttwire.client import MQTTClient
from mqttwire.codec import Codec
from mqttwire.config import MQTTClientConfig
from mqttwire.envelope import encode_envelope
from mqttwire.errors import PayloadValidationError
from mqttwire.meta import MessageMeta
from mqttwire.specs import ChannelSpec, InvalidPayload, outgoing_properties
from mqttwire.testing.memory import MEMORY_URL, BrokerMessage, MemoryBroker
from mqttwire.topic_filter import topic_matches
from mqttwire.transport import MessageProperties
from mqttwire.typed import TypedClient

__all__ = ["Published", "TestKit", "for_testing", "kit_of"]

M = TypeVar("M")
TC = TypeVar("TC", bound=TypedClient)

TEST_PEER = "test-peer"
"""The envelope ``source`` of messages that :meth:`TestKit.deliver` sends."""


@dataclass(frozen=True, slots=True)
class Published(Generic[M]):
    """A message the client under test published: its channel, model, metadata and bytes."""

    channel: str
    model: M
    meta: MessageMeta
    payload: bytes


_KITS: weakref.WeakKeyDictionary[TypedClient, TestKit] = weakref.WeakKeyDictionary()


def for_testing(
    cls: type[TC],
    *,
    broker: MemoryBroker | None = None,
    client_id: str = "test-client",
    protocol: Literal["3.1.1", "5"] = "3.1.1",
    **settings: Any,
) -> TC:
    """A ``cls`` client on an in-memory broker (a fresh one unless ``broker`` is given), with a
    strict codec: invalid payloads, in or out, raise :class:`PayloadValidationError` and
    handler errors are re-raised by :meth:`TestKit.settle`. ``settings`` are further
    :class:`MQTTClientConfig` fields. Its kit: :func:`kit_of`."""
    broker = broker if broker is not None else MemoryBroker()
    options = {"shutdown_timeout": 1.0, **settings}
    config = MQTTClientConfig(url=MEMORY_URL, client_id=client_id, protocol=protocol, **options)
    raw = MQTTClient(config, transport=broker.transport())
    codec = Codec(strict=True)
    client = cls(client=raw, codec=codec)
    _KITS[client] = TestKit(client, raw, broker, codec)
    return client


def kit_of(client: TypedClient) -> TestKit:
    """The test kit of a client made by :func:`for_testing`."""
    kit = _KITS.get(client)
    if kit is None:
        raise RuntimeError(
            f"this {type(client).__name__} was not made by for_testing(); it has no test kit"
        )
    return kit


def _meta(message: BrokerMessage) -> MessageMeta:
    props = message.properties
    if props is None:
        return MessageMeta(topic=message.topic, qos=message.qos, retain=message.retain)
    return MessageMeta(
        topic=message.topic,
        qos=message.qos,
        retain=message.retain,
        user_properties=dict(props.user_properties),
        response_topic=props.response_topic,
        correlation_data=props.correlation_data,
        content_type=props.content_type,
        message_expiry_interval=props.message_expiry_interval,
    )


def _by_contract_name(spec: ChannelSpec[object], params: Mapping[str, str]) -> dict[str, str]:
    """Topic parameters given by Python name (as in generated methods) or contract name; for a
    channel without address, ``topic`` only (the topic, or in ``published`` a filter)."""
    if spec.topic is None:
        if set(params) != {"topic"}:
            raise TypeError(
                f"channel {spec.name} has no address: give its topic (topic=...), "
                f"not {sorted(params)}"
            )
        return dict(params)
    names = {p.py_name or p.name: p.name for p in spec.topic.params.values()}
    out: dict[str, str] = {}
    for key, value in params.items():
        name = names.get(key, key)
        if name not in spec.topic.params:
            raise TypeError(f"channel {spec.name} has no topic parameter {key!r}")
        out[name] = value
    return out


def _match(
    spec: ChannelSpec[object], wanted: Mapping[str, str], topic: str
) -> dict[str, str] | None:
    """The topic parameters of ``topic`` on ``spec`` (``None``: not this channel); a channel
    without address matches the topics of its ``topic`` filter."""
    if spec.topic is not None:
        return spec.topic.match(topic)
    return {} if topic_matches(wanted["topic"], topic) else None


class TestKit:
    """Drive and inspect a client made by :func:`for_testing` (``kit_of(client)``).

    The kit holds the client weakly (a client is forgotten with its kit when the test drops
    it), its raw ``MQTTClient``, the in-memory broker and the client's strict codec.
    """

    __test__ = False  # not a test class, whatever pytest thinks of the name

    def __init__(
        self, client: TypedClient, raw: MQTTClient, broker: MemoryBroker, codec: Codec
    ) -> None:
        self._client = weakref.ref(client)
        self._channels = client.CHANNELS
        self._raw = raw
        self._codec = codec
        self.broker = broker
        self._since = 0

    def _channel(self, channel: str | ChannelSpec[object]) -> ChannelSpec[object]:
        if isinstance(channel, ChannelSpec):
            return channel
        try:
            return self._channels[channel]
        except KeyError:
            known = ", ".join(sorted(self._channels))
            raise KeyError(f"no channel {channel!r}; the channels are: {known}") from None

    # -- what went out -------------------------------------------------------------------------
    def clear(self) -> None:
        """Forget what was published so far (``published`` starts from here)."""
        self._since = len(self.broker.log)

    @overload
    def published(
        self, channel: str | ChannelSpec[object] | None = None, model: None = None, **params: str
    ) -> list[Published[object]]: ...

    @overload
    def published(
        self, channel: str | ChannelSpec[object] | None, model: type[M], **params: str
    ) -> list[Published[M]]: ...

    def published(
        self,
        channel: str | ChannelSpec[object] | None = None,
        model: type[Any] | None = None,
        **params: str,
    ) -> list[Published[Any]]:
        """What this client published (in order), decoded: on ``channel`` only when given, with
        these topic parameters; ``model`` checks (and types) the payload model. A channel
        without address is named and takes ``topic=`` (a filter: what matches it counts); the
        other form (``channel=None``) leaves such channels out."""
        specs = (
            [self._channel(channel)]
            if channel is not None
            else [spec for spec in self._channels.values() if spec.topic is not None]
        )
        wanted = {spec.name: _by_contract_name(spec, params) for spec in specs}
        found: list[Published[Any]] = []
        for message in self.broker.log[self._since :]:
            if message.sender != self._raw.client_id:
                continue
            for spec in specs:
                values = _match(spec, wanted[spec.name], message.topic)
                if values is None or (
                    spec.topic is not None
                    and any(values.get(k) != v for k, v in wanted[spec.name].items())
                ):
                    continue
                try:
                    decoded, meta = self._codec.decode(spec, message.payload, _meta(message))
                except InvalidPayload as exc:
                    raise PayloadValidationError(
                        message.topic, exc.model, exc.errors, exc.reason
                    ) from None
                if model is not None and not isinstance(decoded, model):
                    raise TypeError(
                        f"{message.topic}: published a {type(decoded).__name__}, not a "
                        f"{model.__name__}"
                    )
                found.append(Published(spec.name, decoded, meta, message.payload))
                break
        return found

    # -- what comes in -------------------------------------------------------------------------
    async def deliver(
        self,
        channel: str | ChannelSpec[object],
        payload: object,
        *,
        event_type: str | None = None,
        correlation_id: str | None = None,
        retain: bool = False,
        properties: MessageProperties | None = None,
        source: str = TEST_PEER,
        **params: str,
    ) -> str | None:
        """Publish ``payload`` on ``channel`` as another client would (envelope, QoS and MQTT 5
        properties from the contract), wait until the handlers are done, and re-raise the first
        error they raised. Returns the envelope id (``None`` on a bare-JSON channel). On a
        channel without address ``topic=`` gives the topic (validated)."""
        spec = self._channel(channel)
        given = _by_contract_name(spec, params)
        topic = spec.topic_for(given, given.get("topic") if spec.topic is None else None)
        message = spec.message_for(payload, event_type)
        model = self._codec.wrap(message, payload, topic)  # a str / bytes payload: its model
        envelope_id: str | None = None
        if spec.enveloped(message):
            data = self._codec.envelope_data(model)
            envelope_id, body = encode_envelope(
                message.event_type, data, source=source, correlation_id=correlation_id
            )
        else:
            body = self._codec.body(message, model)
        props = None
        if self._raw.protocol == "5":
            props = outgoing_properties(spec, message, properties)
            if envelope_id is not None:
                mirrored = (("type", message.event_type), ("id", envelope_id), ("source", source))
                props = MessageProperties(
                    content_type=props.content_type,
                    payload_format_indicator=props.payload_format_indicator,
                    message_expiry_interval=props.message_expiry_interval,
                    response_topic=props.response_topic,
                    correlation_data=props.correlation_data,
                    user_properties=mirrored + props.user_properties,
                )
        await self.deliver_raw(topic, body, qos=spec.publish_qos, retain=retain, properties=props)
        return envelope_id

    async def deliver_raw(
        self,
        topic: str,
        payload: bytes,
        *,
        qos: int = 1,
        retain: bool = False,
        properties: MessageProperties | None = None,
    ) -> None:
        """Publish raw bytes from another client (e.g. an invalid payload), then :meth:`settle`."""
        if not self._raw.connected:
            raise RuntimeError("the client is not connected: use `async with` or connect() first")
        self.broker.publish(topic, payload, qos=qos, retain=retain, properties=properties)
        await self.settle()

    async def settle(self, timeout: float = 5.0) -> None:  # noqa: ASYNC109 - a test deadline
        """Wait until no message is in flight and no handler runs, then re-raise the first error
        a handler raised (or an invalid payload) since the last call; others become notes."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        quiet = spins = 0
        while quiet < 3:
            await asyncio.sleep(0 if spins < 100 else 0.001)
            spins += 1
            if self._busy():
                quiet = 0
                if loop.time() > deadline:
                    raise TimeoutError(f"handlers still busy after {timeout:g}s")
            else:
                quiet += 1
        errors = self._codec.take_errors()
        if errors:
            first = errors[0]
            for other in errors[1:]:
                first.add_note(f"also raised: {type(other).__name__}: {other}")
            raise first

    def _busy(self) -> bool:
        raw = self._raw
        client = self._client()
        return bool(
            self.broker.in_flight
            or any(sub.pending for sub in raw.subscriptions)
            or (raw.connected and raw.offline_queue_length)
            or (client is not None and client.subscribing)
        )

    @property
    def errors(self) -> list[BaseException]:
        """Errors kept so far and not yet raised by :meth:`settle` (read-only view)."""
        return self._codec.errors
