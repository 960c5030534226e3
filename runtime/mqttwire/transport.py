"""The seam between the client and an MQTT implementation.

:class:`MQTTClient` drives one :class:`Transport`; the production one wraps aiomqtt
(``mqttwire._aiomqtt_transport``, the only module that imports it) and an in-memory one serves
tests. A transport is reusable: ``connect`` -> use -> ``disconnect`` -> ``connect`` ... Transport
errors stay inside the client, which turns them into :mod:`mqttwire.errors`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from typing import Literal, Protocol

__all__ = [
    "ConnectOptions",
    "IncomingMessage",
    "TLSOptions",
    "Transport",
    "TransportConnectError",
    "TransportDisconnectedError",
    "TransportError",
    "TransportTimeoutError",
    "WillMessage",
]


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


@dataclass(frozen=True, slots=True)
class IncomingMessage:
    topic: str
    payload: bytes
    qos: int = 0
    retain: bool = False


class TransportError(Exception):
    """Base of the errors a transport raises."""


class TransportConnectError(TransportError):
    """The connection attempt failed.

    ``fatal`` marks failures that retrying will not fix (client id rejected, bad TLS setup);
    ``authentication`` the fatal CONNACK refusals for credentials or authorization.
    """

    def __init__(
        self,
        reason: str,
        *,
        fatal: bool = False,
        code: int | None = None,
        authentication: bool = False,
    ) -> None:
        super().__init__(reason)
        self.reason = reason
        self.fatal = fatal or authentication
        self.code = code
        self.authentication = authentication


class TransportDisconnectedError(TransportError):
    """The link is down (or went down before the operation was acknowledged)."""


class TransportTimeoutError(TransportError):
    """The link looked up but the operation was not acknowledged in time."""


class Transport(Protocol):
    """What the client needs from an MQTT connection."""

    @property
    def native(self) -> object | None:
        """The underlying library client while connected (``aiomqtt.Client``), else ``None``."""
        ...

    async def connect(self, options: ConnectOptions) -> None:
        """Open the link and wait for CONNACK; raise :class:`TransportConnectError`."""
        ...

    async def publish(
        self, topic: str, payload: bytes, qos: int, retain: bool, ack_timeout: float
    ) -> None:
        """Send and wait for the write (QoS 0) or the acknowledgement (QoS 1/2)."""
        ...

    async def subscribe(self, filters: Sequence[tuple[str, int]], ack_timeout: float) -> list[int]:
        """Subscribe in one packet; returns the granted QoS per filter (>= 0x80 = refused)."""
        ...

    async def unsubscribe(self, filters: Sequence[str], ack_timeout: float) -> None: ...

    def messages(self) -> AsyncIterator[IncomingMessage]:
        """Incoming messages of the current link; the iterator ends when the link goes down."""
        ...

    async def disconnect(self, ack_timeout: float) -> None:
        """Close the link with a DISCONNECT (the broker drops the will); never raises."""
        ...
