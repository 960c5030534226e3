"""The seam between the client and an MQTT implementation.

:class:`MQTTClient` drives one :class:`Transport`; the production one drives paho-mqtt
through its public external-event-loop API (:mod:`mqttwire.paho_transport`, the only module
that imports paho) and an in-memory one serves tests. A transport is reusable: ``connect`` -> use -> ``disconnect`` -> ``connect`` ... Transport
errors stay inside the client, which turns them into :mod:`mqttwire.errors`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from typing import Literal, Protocol

__all__ = [
    "ConnectOptions",
    "IncomingMessage",
    "MessageProperties",
    "TLSOptions",
    "Transport",
    "TransportConnectError",
    "TransportDisconnectedError",
    "TransportError",
    "TransportRefusedError",
    "TransportTimeoutError",
    "WillMessage",
]


@dataclass(frozen=True, slots=True)
class MessageProperties:
    """MQTT 5 PUBLISH properties. Sent only on MQTT 5 links; a 3.1.1 link drops them.

    ``user_properties`` keeps order and duplicates, as on the wire.
    """

    content_type: str | None = None
    payload_format_indicator: int | None = None  # 1: the payload is UTF-8 text
    message_expiry_interval: int | None = None  # seconds
    response_topic: str | None = None
    correlation_data: bytes | None = None
    user_properties: tuple[tuple[str, str], ...] = ()

    def __bool__(self) -> bool:
        return any(
            value is not None and value != ()
            for value in (
                self.content_type,
                self.payload_format_indicator,
                self.message_expiry_interval,
                self.response_topic,
                self.correlation_data,
                self.user_properties,
            )
        )


@dataclass(frozen=True, slots=True)
class WillMessage:
    topic: str
    payload: bytes
    qos: int = 1
    retain: bool = True


@dataclass(frozen=True, slots=True)
class TLSOptions:
    ca_file: str | None = None
    cert_file: str | None = None
    key_file: str | None = None
    insecure: bool = False


@dataclass(frozen=True, slots=True)
class ConnectOptions:
    host: str
    port: int
    client_id: str
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    keepalive: int = 60
    clean_session: bool = True
    protocol: Literal["3.1.1", "5"] = "3.1.1"
    session_expiry: int = 0
    tls: TLSOptions | None = None
    will: WillMessage | None = None
    timeout: float = 10.0
    # QoS >= 1 messages are acknowledged by :meth:`Transport.ack`, not on receipt.
    manual_ack: bool = False


@dataclass(frozen=True, slots=True)
class IncomingMessage:
    """A received PUBLISH. ``subscription_ids`` (MQTT 5) name the subscriptions it was sent for:
    a v5 broker sends one copy per matching subscription, so the client dispatches each copy
    only to the handlers of those filters."""

    topic: str
    payload: bytes
    qos: int = 0
    retain: bool = False
    properties: MessageProperties | None = None
    subscription_ids: tuple[int, ...] = ()
    # Set on QoS >= 1 messages of a ``manual_ack`` link: pass the message to ``Transport.ack``.
    ack_id: int | None = None


class TransportError(Exception):
    """Base of the errors a transport raises."""


class TransportConnectError(TransportError):
    """The connection attempt failed.

    ``fatal`` marks failures that retrying will not fix (client id rejected, bad TLS setup);
    ``authentication`` the fatal CONNACK refusals for credentials or authorization;
    ``closed_before_connack`` a broker that accepted TCP and then closed the connection in
    reply to CONNECT without a CONNACK (what RabbitMQ < 3.13 does to MQTT 5).
    """

    def __init__(
        self,
        reason: str,
        *,
        fatal: bool = False,
        code: int | None = None,
        authentication: bool = False,
        closed_before_connack: bool = False,
    ) -> None:
        super().__init__(reason)
        self.reason = reason
        self.fatal = fatal or authentication
        self.code = code
        self.authentication = authentication
        self.closed_before_connack = closed_before_connack


class TransportDisconnectedError(TransportError):
    """The link is down (or went down before the operation was acknowledged)."""


class TransportTimeoutError(TransportError):
    """The link looked up but the operation was not acknowledged in time."""


class TransportRefusedError(TransportError):
    """The broker acknowledged the operation with a failure reason code (MQTT 5, >= 0x80)."""

    def __init__(self, reason_code: int, reason: str) -> None:
        super().__init__(f"{reason} ({reason_code:#04x})")
        self.reason_code = reason_code
        self.reason = reason


class Transport(Protocol):
    """What the client needs from an MQTT connection."""

    @property
    def native(self) -> object | None:
        """The underlying library client while connected (e.g. ``paho.mqtt.client.Client``), else ``None``."""
        ...

    async def connect(self, options: ConnectOptions) -> None:
        """Open the link and wait for CONNACK; raise :class:`TransportConnectError`."""
        ...

    async def publish(
        self,
        topic: str,
        payload: bytes,
        qos: int,
        retain: bool,
        ack_timeout: float,
        *,
        properties: MessageProperties | None = None,
    ) -> None:
        """Send; QoS 0 returns once the connection took the message (waiting only while its
        outgoing buffer is full), QoS 1/2 once the broker acknowledged it.

        ``properties`` are sent on MQTT 5 links only. A failure reason code in the PUBACK/PUBREC
        (MQTT 5) raises :class:`TransportRefusedError`; the client passes ``properties`` only when
        it has some, so transports without MQTT 5 support keep working on 3.1.1.
        """
        ...

    async def subscribe(
        self,
        filters: Sequence[tuple[str, int]],
        ack_timeout: float,
        *,
        subscription_id: int | None = None,
    ) -> list[int]:
        """Subscribe in one packet; returns the granted QoS per filter, or its failure reason
        code (>= 0x80: 0x80 on 3.1.1, e.g. 0x87 "not authorized" on MQTT 5).

        ``subscription_id`` (MQTT 5 only, passed only on MQTT 5 links) tags the filters so
        that messages sent for them carry it in :attr:`IncomingMessage.subscription_ids`.
        """
        ...

    async def unsubscribe(self, filters: Sequence[str], ack_timeout: float) -> None: ...

    def ack(self, message: IncomingMessage) -> None:
        """The message was handled (``manual_ack`` links): its PUBACK/PUBCOMP goes out once
        every message received before it was acknowledged too (MQTT's order). A message
        without ``ack_id``, or one of a link that is gone, is ignored."""
        ...

    def messages(self) -> AsyncIterator[IncomingMessage]:
        """Incoming messages of the current link; the iterator ends when the link goes down."""
        ...

    async def disconnect(self, ack_timeout: float) -> None:
        """Close the link with a DISCONNECT (the broker drops the will); never raises."""
        ...
