"""The intermediate representation: what the contract means, independent of AsyncAPI version.

Frozen dataclasses; every Python name is resolved once here (see ``naming``). The generator's
templates and the ``diff`` command both read this; nothing downstream re-reads the raw document.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Literal

from mqttwire_codegen.diagnostics import Location

Action = Literal["send", "receive"]

_EMPTY: Mapping[str, Any] = MappingProxyType({})


@dataclass(frozen=True, slots=True)
class Parameter:
    """A channel (topic) parameter, e.g. ``{roomId}``."""

    name: str  # as written in the address
    py_name: str  # keyword argument name in generated methods
    description: str | None = None
    enum: tuple[str, ...] | None = None
    default: str | None = None
    examples: tuple[str, ...] = ()
    location: Location | None = None
    pattern: str | None = None


@dataclass(frozen=True, slots=True)
class TopicTemplate:
    """An MQTT topic with ``{param}`` placeholders."""

    address: str | None  # None: unknown, given at runtime (AsyncAPI 3 channel without address)
    parameters: tuple[Parameter, ...] = ()

    @property
    def is_static(self) -> bool:
        return not self.parameters

    @property
    def has_wildcards(self) -> bool:
        return self.address is not None and any(
            level in ("+", "#") for level in self.address.split("/")
        )


@dataclass(frozen=True, slots=True)
class DeliveryPolicy:
    """How a message is delivered: QoS, retain and MQTT 5 expiry, plus where that was declared."""

    qos: int = 0
    retain: bool = False
    message_expiry_interval: int | None = None
    declared_at: Location | None = None


@dataclass(frozen=True, slots=True)
class Message:
    """A message a channel carries. ``name`` is the envelope event type."""

    key: str  # id of the message in its channel (3.0) or synthesized (2.x)
    name: str  # event type on the wire (message ``name``, falls back to the key)
    class_name: str  # Python model class of the payload
    payload_schema: Mapping[str, Any]  # resolved JSON Schema (refs bundled as #/$defs/<Class>)
    title: str | None = None
    summary: str | None = None
    description: str | None = None
    content_type: str | None = None
    headers_schema: Mapping[str, Any] | None = None
    correlation_id: Mapping[str, Any] | None = None
    bindings: Mapping[str, Any] = field(default_factory=lambda: _EMPTY)
    envelope: bool = False
    payload_location: Location | None = None
    location: Location | None = None
    headers_class: str | None = None  # model of ``headers`` (sent as MQTT 5 user properties)


@dataclass(frozen=True, slots=True)
class Reply:
    """A declared reply of a request operation (AsyncAPI 3 ``reply``)."""

    channel_id: str
    messages: tuple[Message, ...]
    correlation: str = "envelope-id"
    address: str | None = None
    location: Location | None = None
    # why no typed request_/serve_ methods can be made for it (None: they are made)
    problem: str | None = None


@dataclass(frozen=True, slots=True)
class Operation:
    """What the application does on a channel: ``send`` or ``receive`` (2.x normalized)."""

    id: str
    action: Action
    channel_id: str
    message_keys: tuple[str, ...]
    delivery: DeliveryPolicy
    reply: Reply | None = None
    reply_stream_channel_id: str | None = None
    share_group: str | None = None  # ``x-share-group`` (receive operations): $share/<group>/...
    summary: str | None = None
    description: str | None = None
    bindings: Mapping[str, Any] = field(default_factory=lambda: _EMPTY)
    location: Location | None = None
    declared_id: bool = True  # False for a 2.x operation without operationId (id synthesized)


@dataclass(frozen=True, slots=True)
class Channel:
    """One topic (template) with its messages and the delivery policies for each direction."""

    id: str  # channel id (3.0) or address (2.x)
    py_name: str  # snake_case used in method names
    const_name: str  # UPPER_CASE topic constant
    topic: TopicTemplate
    messages: tuple[Message, ...]
    envelope: bool
    publish_policy: DeliveryPolicy
    subscribe_policy: DeliveryPolicy
    share_group: str | None = None  # default share group of subscriptions (x-share-group)
    description: str | None = None
    bindings: Mapping[str, Any] = field(default_factory=lambda: _EMPTY)
    publishers: tuple[str, ...] = ()
    subscribers: tuple[str, ...] = ()
    location: Location | None = None
    publish_method: str = ""  # the send operation's operationId, else publish_<py_name>
    subscribe_method: str = ""  # the receive operation's operationId, else subscribe_<py_name>

    @property
    def address_text(self) -> str:
        """The address for people: as written, or the channel id and that the address is
        given at runtime."""
        if self.topic.address is not None:
            return self.topic.address
        return f"{self.id} (address given at runtime)"

    @property
    def publish_name(self) -> str:
        return self.publish_method or f"publish_{self.py_name}"

    @property
    def subscribe_name(self) -> str:
        return self.subscribe_method or f"subscribe_{self.py_name}"


@dataclass(frozen=True, slots=True)
class Server:
    name: str
    host: str
    protocol: str
    protocol_version: str | None = None
    bindings: Mapping[str, Any] = field(default_factory=lambda: _EMPTY)


@dataclass(frozen=True, slots=True)
class Contract:
    """The whole API, version-neutral."""

    asyncapi_version: str
    title: str
    version: str
    client_name: str
    channels: tuple[Channel, ...]
    operations: tuple[Operation, ...]
    servers: tuple[Server, ...]
    schema_defs: Mapping[str, Mapping[str, Any]]  # model class -> JSON Schema (bundled)
    source_file: Location
    sha256: str
    description: str | None = None
    default_content_type: str | None = None
    # Root ``x-mqttwire: {whole-system: true}``: every channel in both directions.
    whole_system: bool = False
    # Root ``x-mqttwire: {enums: ...}``: "literal" (named string enums become ``Literal[...]``)
    # or "str-enum" (they become ``enum.StrEnum`` classes; inline enums stay ``Literal``).
    enums: str = "literal"

    def channel(self, channel_id: str) -> Channel:
        for ch in self.channels:
            if ch.id == channel_id:
                return ch
        raise KeyError(channel_id)

    def directions(self, channel_id: str) -> tuple[bool, bool]:
        """(send, receive): which sides the generated client offers on a channel. They follow
        the operations declared on it; a channel without any operation (a reply channel, a
        channels-only document) or a whole-system contract gets both."""
        actions = {op.action for op in self.operations if op.channel_id == channel_id}
        if self.whole_system or not actions:
            return True, True
        return "send" in actions, "receive" in actions

    @property
    def client_channels(self) -> tuple[Channel, ...]:
        """The channels the generated client has methods for: those with messages (a channel
        whose address is given at runtime gets methods that take the topic)."""
        return tuple(ch for ch in self.channels if ch.messages)

    @property
    def requests(self) -> tuple[Operation, ...]:
        return tuple(op for op in self.operations if op.reply is not None)

    @property
    def request_methods(self) -> tuple[tuple[Operation, Channel, Channel], ...]:
        """(operation, request channel, reply channel) of each request the generated client
        offers ``request_``/``serve_`` methods for: a reply without a problem, both channels
        with messages, the first operation of each request channel."""
        by_id = {ch.id: ch for ch in self.client_channels}
        out: dict[str, tuple[Operation, Channel, Channel]] = {}
        for op in self.requests:
            assert op.reply is not None
            req, rep = by_id.get(op.channel_id), by_id.get(op.reply.channel_id)
            if req is None or rep is None or op.reply.problem is not None:
                continue
            out.setdefault(req.py_name, (op, req, rep))
        return tuple(out.values())
