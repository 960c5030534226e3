"""What generated code declares about a contract: channels, messages, requests (pure data).

A generated package describes each channel once as a :class:`ChannelSpec` and each request
with a declared reply as a :class:`RequestSpec`; :mod:`mqttwire.typed` does the rest.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar, cast

from pydantic import BaseModel, RootModel

from mqttwire.content import WireFormat, wire_format
from mqttwire.errors import InvalidTopicError
from mqttwire.topic_filter import (
    share_filter,
    split_shared,
    validate_topic_filter,
    validate_topic_name,
)
from mqttwire.topic_template import TopicTemplate
from mqttwire.transport import MessageProperties

__all__ = [
    "ChannelSpec",
    "InvalidPayload",
    "MessageSpec",
    "RawMessageSpec",
    "RequestSpec",
    "StreamingRequestSpec",
    "lookup",
    "outgoing_properties",
]

# The payload type of a message or channel (a union for a channel of several messages), of a
# request (Q), its reply (R) and its streamed partial replies (S): a model, or ``str`` / ``bytes``
# for a plain-text or binary message (:class:`RawMessageSpec`). Specs are frozen data, so a
# ``ChannelSpec[FinalTranscript]`` is a ``ChannelSpec[object]`` (covariant).
M = TypeVar("M", covariant=True)
Q = TypeVar("Q", covariant=True)
R = TypeVar("R", covariant=True)
S = TypeVar("S", covariant=True)


class InvalidPayload(Exception):
    """A received payload does not fit its channel (``errors``: pydantic's error list)."""

    def __init__(self, reason: str, errors: list[Any], model: str = "") -> None:
        super().__init__(reason)
        self.reason = reason
        self.errors = errors
        self.model = model


@dataclass(frozen=True, slots=True)
class MessageSpec(Generic[M]):
    """One message of a channel: its event type (envelope ``type``) and payload model ``M``.

    ``envelope`` overrides the channel's envelope rule for this message (``None`` inherits it).
    ``content_type`` is the message's ``contentType`` (sent as an MQTT 5 property).
    """

    event_type: str
    model: type[M]
    envelope: bool | None = None
    content_type: str | None = None

    def __post_init__(self) -> None:
        if not (isinstance(self.model, type) and issubclass(self.model, BaseModel)):
            raise TypeError(f"message {self.event_type}: {self.model!r} is not a pydantic model")

    @property
    def wire(self) -> WireFormat:
        """How the payload travels when not enveloped: JSON, plain text or raw bytes."""
        return wire_format(self.content_type)

    @property
    def validator(self) -> type[BaseModel]:
        """The pydantic model that validates this message (``model``, checked at creation)."""
        return cast(type[BaseModel], self.model)


@dataclass(frozen=True, slots=True)
class RawMessageSpec(Generic[M]):
    """A message whose payload is the text or bytes itself (``contentType`` ``text/plain`` or
    ``application/octet-stream`` with a string schema): published from and delivered as ``M``
    (``str`` or ``bytes``), validated by ``model`` (the schema's ``RootModel``)."""

    event_type: str
    model: type[RootModel[M]]
    python_type: type[M]
    envelope: bool | None = None
    content_type: str | None = None

    @property
    def wire(self) -> WireFormat:
        """How the payload travels when not enveloped: plain text or raw bytes."""
        return wire_format(self.content_type)

    @property
    def validator(self) -> type[BaseModel]:
        """The pydantic model that validates this message (the schema's ``RootModel``)."""
        return self.model


AnyMessageSpec = MessageSpec[Any] | RawMessageSpec[Any]
"""Either kind of message spec (what the runtime reads of both: ``event_type``, ``model``,
``validator``, ``envelope``, ``content_type``, ``wire``)."""


@dataclass(frozen=True, slots=True)
class ChannelSpec(Generic[M]):
    """A channel as generated from the contract (pure data); ``M`` is its payload type (the
    union of its messages' models).

    ``message_expiry_interval`` comes from the send operation's MQTT binding and
    ``share_group`` from ``x-share-group`` on the receive operation (or the channel): when set,
    subscriptions are shared (``$share/<group>/<filter>``) unless the call names another group.

    ``topic`` is ``None`` for an AsyncAPI 3 channel without ``address`` (unknown until runtime):
    every publish then names its topic and every subscription its filter (see
    :meth:`topic_for` and :meth:`subscription_filter`).
    """

    name: str
    topic: TopicTemplate | None
    messages: tuple[MessageSpec[M] | RawMessageSpec[M], ...]
    envelope: bool = False
    publish_qos: int = 0
    publish_retain: bool = False
    subscribe_qos: int = 0
    message_expiry_interval: int | None = None
    share_group: str | None = None

    def enveloped(self, message: AnyMessageSpec) -> bool:
        return self.envelope if message.envelope is None else message.envelope

    @property
    def may_carry_envelopes(self) -> bool:
        return any(self.enveloped(m) for m in self.messages)

    def message_for(
        self, payload: object, event_type: str | None = None
    ) -> MessageSpec[M] | RawMessageSpec[M]:
        """The message a payload is published as (exact model first, then subclasses; a
        ``str`` or ``bytes`` payload: the raw message of that type)."""
        candidates = [m for m in self.messages if event_type is None or m.event_type == event_type]
        for spec in candidates:
            if type(payload) is _python_type(spec):
                return spec
        for spec in candidates:
            if isinstance(payload, _python_type(spec) | spec.model):  # also a raw one's model
                return spec
        if event_type is not None:
            raise TypeError(
                f"channel {self.name} has no message {event_type!r} carrying {type(payload).__name__}"
            )
        allowed = ", ".join(_python_type(s).__name__ for s in self.messages)
        raise TypeError(f"channel {self.name} carries {allowed}, not {type(payload).__name__}")

    def event_type_for(self, payload: object) -> str:
        return self.message_for(payload).event_type

    @property
    def address(self) -> str | None:
        """The contract's address (``None``: given at runtime)."""
        return None if self.topic is None else self.topic.address

    @property
    def label(self) -> str:
        """The address for logs and metrics (bounded): as declared, or
        ``<name> (address given at runtime)``."""
        return (
            self.topic.address
            if self.topic is not None
            else f"{self.name} (address given at runtime)"
        )

    @property
    def template(self) -> TopicTemplate:
        """The topic template; :class:`InvalidTopicError` for a channel without address."""
        if self.topic is None:
            raise InvalidTopicError(
                "", f"channel {self.name} has no address: its topic is given at runtime"
            )
        return self.topic

    def topic_for(self, params: Mapping[str, str], topic: str | None = None) -> str:
        """The topic to publish on: ``topic`` when given (a response topic, or the runtime
        topic of a channel without address, then validated as an MQTT topic name), else the
        channel's address filled with ``params``."""
        if self.topic is not None:
            return topic if topic is not None else self.topic.format(params)
        if topic is None:
            raise InvalidTopicError(
                "", f"channel {self.name} has no address: its topic is given at runtime (topic=)"
            )
        validate_topic_name(topic)
        return topic

    def subscription_filter(
        self,
        filters: Mapping[str, str | None] | None = None,
        share_group: str | None = None,
        topic_filter: str | None = None,
    ) -> str:
        """The broker filter for ``filters`` (topic parameters; ``None`` values match any),
        shared when ``share_group`` (or the contract's group) is set. A channel without
        address takes ``topic_filter`` instead (validated; wildcards allowed, no ``$share/``:
        the group is ``share_group``)."""
        group = share_group if share_group is not None else self.share_group
        if self.topic is not None:
            if topic_filter is not None:
                raise TypeError(
                    f"channel {self.name} has an address; its filter comes from its parameters"
                )
            return share_filter(group, self.topic.filter(filters))
        if topic_filter is None:
            raise InvalidTopicError(
                "",
                f"channel {self.name} has no address: its filter is given at runtime "
                "(topic_filter=)",
            )
        validate_topic_filter(topic_filter)
        if split_shared(topic_filter)[0] is not None:
            raise InvalidTopicError(
                topic_filter, "give the share group with share_group=, not in the filter"
            )
        return share_filter(group, topic_filter)


@dataclass(frozen=True, slots=True)
class RequestSpec(Generic[Q, R]):
    """A request channel (payload ``Q``) with its declared reply (``R``, AsyncAPI 3 ``reply``)."""

    request: ChannelSpec[Q]
    reply: ChannelSpec[R]
    correlation: str = "envelope-id"
    # the channel of streamed partial replies: typed in :class:`StreamingRequestSpec`; here
    # for code generated for runtime API 2
    stream: ChannelSpec[Any] | None = None
    reply_to: str | None = None  # reply ``address`` ``$message.header#/<name>``: that header

    @property
    def header_name(self) -> str | None:
        """For ``$message.header#/<name>``: the MQTT 5 user property carrying the correlation."""
        prefix = "$message.header#/"
        if not self.correlation.startswith(prefix):
            return None
        return self.correlation[len(prefix) :].replace("~1", "/").replace("~0", "~")

    @property
    def needs_mqtt5(self) -> bool:
        """Correlation that only MQTT 5 properties can carry (a header, or correlation data)."""
        return self.correlation == "correlation-data" or self.header_name is not None

    @property
    def payload_pointer(self) -> tuple[str, ...] | None:
        """For ``$message.payload#/a/b``: the path in the payload that carries the correlation;
        ``None`` for ``envelope-id`` (the reply envelope's id equals the request's)."""
        prefix = "$message.payload#/"
        if not self.correlation.startswith(prefix):
            return None
        return tuple(
            t.replace("~1", "/").replace("~0", "~")
            for t in self.correlation[len(prefix) :].split("/")
        )


@dataclass(frozen=True, slots=True)
class StreamingRequestSpec(RequestSpec[Q, R], Generic[Q, R, S]):
    """A request whose partial replies (``S``) stream on their own channel before the final
    reply (``x-reply-stream``)."""

    stream: ChannelSpec[S] = field(kw_only=True)


def _python_type(message: AnyMessageSpec) -> type:
    """What a publisher passes for ``message``: its model, or ``str`` / ``bytes``."""
    return message.python_type if isinstance(message, RawMessageSpec) else message.model


def lookup(data: Any, path: tuple[str, ...]) -> str | None:
    """The scalar at ``path`` in decoded JSON, as a string (``None`` when absent)."""
    for token in path:
        if isinstance(data, dict) and token in data:
            data = data[token]
        elif isinstance(data, list) and token.isdigit() and int(token) < len(data):
            data = data[int(token)]
        else:
            return None
    if data is None or isinstance(data, dict | list):
        return None
    return str(data)


_TEXT_TYPES = ("text/", "application/json", "application/yaml", "application/xml")


def outgoing_properties(
    channel: ChannelSpec[object],
    message: AnyMessageSpec,
    extra: MessageProperties | None = None,
) -> MessageProperties:
    """MQTT 5 properties from the contract: content type, payload format indicator (1 for
    text and JSON content), message expiry; ``extra`` adds response topic, correlation data and
    user properties."""
    content_type = message.content_type
    textual = content_type is not None and (
        content_type.startswith(_TEXT_TYPES) or content_type.endswith("+json")
    )
    base = extra if extra is not None else MessageProperties()
    return MessageProperties(
        content_type=content_type if base.content_type is None else base.content_type,
        payload_format_indicator=1 if textual else base.payload_format_indicator,
        message_expiry_interval=channel.message_expiry_interval
        if base.message_expiry_interval is None
        else base.message_expiry_interval,
        response_topic=base.response_topic,
        correlation_data=base.correlation_data,
        user_properties=base.user_properties,
    )
