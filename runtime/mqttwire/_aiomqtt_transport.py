"""The production :class:`~mqttwire.transport.Transport` on aiomqtt (the only aiomqtt import)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import socket
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import AsyncExitStack
from typing import TypeVar

import aiomqtt
from aiomqtt.exceptions import MqttConnectError
from paho.mqtt.client import MQTT_CLEAN_START_FIRST_ONLY
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from mqttwire.transport import (
    ConnectOptions,
    IncomingMessage,
    TLSOptions,
    TransportConnectError,
    TransportDisconnectedError,
    TransportTimeoutError,
)

__all__ = ["NODELAY_OPTION", "AiomqttTransport"]

_LOG = logging.getLogger("mqttwire.transport")


class _ExpectedNoise(logging.Filter):
    """aiomqtt warns when closing a link that is already gone; for us that is routine."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith("Could not gracefully disconnect")


_LOG.addFilter(_ExpectedNoise())
T = TypeVar("T")

# Without TCP_NODELAY a QoS 1 round trip waits on Nagle + delayed ACK (~40-90 ms instead of ~1 ms).
NODELAY_OPTION = (socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

# CONNACK codes that retrying will not fix: 3.1.1 return codes and MQTT 5 reason codes.
_AUTH_CONNACK = {
    4,  # 3.1.1 bad user name or password
    5,  # 3.1.1 not authorized
    0x86,  # bad user name or password
    0x87,  # not authorized
    0x8A,  # banned
    0x8C,  # bad authentication method
}
_FATAL_CONNACK = _AUTH_CONNACK | {
    1,  # 3.1.1 unacceptable protocol version
    2,  # 3.1.1 identifier rejected
    0x84,  # unsupported protocol version
    0x85,  # client identifier not valid
}


def _code(rc: object) -> int | None:
    if isinstance(rc, ReasonCode):
        return int(rc.value)
    if isinstance(rc, int):
        return rc
    return None


def _tls_context(options: TLSOptions) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=options.ca_file)
    if options.cert_file:
        context.load_cert_chain(options.cert_file, options.key_file)
    if options.insecure:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


class AiomqttTransport:
    """One aiomqtt client per connection; a fresh one on every ``connect``."""

    def __init__(self) -> None:
        self._client: aiomqtt.Client | None = None
        self._stack: AsyncExitStack | None = None
        self._lost = True
        # Deadlines of operations waiting for an ack; moved to "now" when the link drops,
        # because aiomqtt never resolves them then.
        self._waiting: set[asyncio.Timeout] = set()
        self._tls: tuple[TLSOptions, ssl.SSLContext] | None = None

    @property
    def native(self) -> object | None:
        return self._client

    async def connect(self, options: ConnectOptions) -> None:
        if self._client is not None:
            await self.disconnect(options.timeout)
        tls_context = await self._tls_context(options.tls) if options.tls else None
        v5 = options.protocol == "5"
        properties = None
        if v5 and not options.clean_session:
            properties = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
            properties.SessionExpiryInterval = options.session_expiry
        will = None
        if options.will is not None:
            w = options.will
            will = aiomqtt.Will(w.topic, w.payload, w.qos, w.retain)
        client = aiomqtt.Client(
            options.host,
            options.port,
            username=options.username,
            password=options.password,
            identifier=options.client_id,
            protocol=aiomqtt.ProtocolVersion.V5 if v5 else aiomqtt.ProtocolVersion.V311,
            will=will,
            clean_session=None if v5 else options.clean_session,
            clean_start=options.clean_session if v5 else MQTT_CLEAN_START_FIRST_ONLY,
            properties=properties,
            keepalive=options.keepalive,
            timeout=options.timeout,
            tls_context=tls_context,
            socket_options=[NODELAY_OPTION],
            max_inflight_messages=1000,
            logger=_LOG,
        )
        # aiomqtt warns on more than 10 pending calls; bursts of QoS 1 publishes are normal here.
        client.pending_calls_threshold = 1 << 30
        stack = AsyncExitStack()
        try:
            await stack.enter_async_context(client)
        except MqttConnectError as exc:
            code = _code(exc.rc)
            await _discard(client, options.timeout)
            raise TransportConnectError(
                str(exc),
                fatal=code in _FATAL_CONNACK,
                code=code,
                authentication=code in _AUTH_CONNACK,
            ) from None
        except aiomqtt.MqttError as exc:
            await _discard(client, options.timeout)
            raise TransportConnectError(str(exc) or type(exc).__name__) from None
        except (OSError, ValueError, ssl.SSLError) as exc:
            await _discard(client, options.timeout)
            raise TransportConnectError(f"{type(exc).__name__}: {exc}", fatal=True) from None
        self._client = client
        self._stack = stack
        self._lost = False

    async def _tls_context(self, options: TLSOptions) -> ssl.SSLContext:
        if self._tls is None or self._tls[0] != options:
            # Loading certificates reads files: keep it off the event loop.
            self._tls = (options, await asyncio.to_thread(_tls_context, options))
        return self._tls[1]

    def _mark_lost(self) -> None:
        if self._lost:
            return
        self._lost = True
        now = asyncio.get_running_loop().time()
        for deadline in self._waiting:
            deadline.reschedule(now)

    async def _acked(self, call: Callable[[], Awaitable[T]], ack_timeout: float) -> T:
        if self._lost:
            raise TransportDisconnectedError("not connected")
        try:
            async with asyncio.timeout(ack_timeout) as deadline:
                self._waiting.add(deadline)
                try:
                    return await call()
                finally:
                    self._waiting.discard(deadline)
        except TimeoutError:
            if self._lost:
                raise TransportDisconnectedError("link lost before acknowledgement") from None
            raise TransportTimeoutError(f"no acknowledgement within {ack_timeout:g}s") from None
        except aiomqtt.MqttError as exc:
            raise TransportDisconnectedError(str(exc)) from None

    async def publish(
        self, topic: str, payload: bytes, qos: int, retain: bool, ack_timeout: float
    ) -> None:
        client = self._client
        if client is None or self._lost:
            raise TransportDisconnectedError("not connected")
        await self._acked(
            lambda: client.publish(topic, payload, qos, retain, timeout=math.inf), ack_timeout
        )

    async def subscribe(self, filters: Sequence[tuple[str, int]], ack_timeout: float) -> list[int]:
        client = self._client
        if client is None:
            raise TransportDisconnectedError("not connected")
        result = await self._acked(
            lambda: client.subscribe(list(filters), timeout=math.inf), ack_timeout
        )
        return [_code(rc) or 0 for rc in result]

    async def unsubscribe(self, filters: Sequence[str], ack_timeout: float) -> None:
        client = self._client
        if client is None:
            raise TransportDisconnectedError("not connected")
        await self._acked(lambda: client.unsubscribe(list(filters), timeout=math.inf), ack_timeout)

    async def messages(self) -> AsyncIterator[IncomingMessage]:
        client = self._client
        if client is None:
            return
        try:
            async for message in client.messages:
                payload = message.payload
                if not isinstance(payload, bytes):
                    payload = b"" if payload is None else str(payload).encode()
                yield IncomingMessage(message.topic.value, payload, message.qos, message.retain)
        except aiomqtt.MqttError:
            if self._client is client:
                self._mark_lost()

    async def disconnect(self, ack_timeout: float) -> None:
        stack, self._stack, self._client = self._stack, None, None
        self._mark_lost()
        if stack is None:
            return
        try:
            async with asyncio.timeout(ack_timeout):
                await stack.aclose()
        except (TimeoutError, aiomqtt.MqttError, OSError) as exc:
            _LOG.debug("disconnect did not complete cleanly: %s", exc)


async def _discard(client: aiomqtt.Client, ack_timeout: float) -> None:
    """Close the socket of a client whose connect failed (aiomqtt leaves it open on timeout)."""
    with contextlib.suppress(Exception):
        async with asyncio.timeout(min(ack_timeout, 1.0)):
            await client.__aexit__(None, None, None)
