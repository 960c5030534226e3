"""The production :class:`~mqttwire.transport.Transport` on aiomqtt (the only aiomqtt import)."""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import logging
import math
import socket
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import AsyncExitStack
from typing import Any, TypeVar

import aiomqtt
from aiomqtt.exceptions import MqttConnectError
from paho.mqtt.client import MQTT_CLEAN_START_FIRST_ONLY
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from mqttwire.reason_codes import reason_name
from mqttwire.transport import (
    ConnectOptions,
    IncomingMessage,
    MessageProperties,
    TLSOptions,
    TransportConnectError,
    TransportDisconnectedError,
    TransportRefusedError,
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


# The packet id of the PUBLISH the current task just sent (set by the wrapper around paho's
# ``publish``, read right after aiomqtt's ``publish`` returns in the same task).
_SENT_MID: contextvars.ContextVar[int | None] = contextvars.ContextVar(
    "mqttwire_sent_mid", default=None
)


def _paho_properties(properties: MessageProperties) -> Properties:
    props = Properties(PacketTypes.PUBLISH)  # type: ignore[no-untyped-call]
    if properties.content_type is not None:
        props.ContentType = properties.content_type
    if properties.payload_format_indicator is not None:
        props.PayloadFormatIndicator = properties.payload_format_indicator
    if properties.message_expiry_interval is not None:
        props.MessageExpiryInterval = properties.message_expiry_interval
    if properties.response_topic is not None:
        props.ResponseTopic = properties.response_topic
    if properties.correlation_data is not None:
        props.CorrelationData = properties.correlation_data
    if properties.user_properties:
        # paho appends on every assignment of a multi-valued property: assign once.
        props.UserProperty = list(properties.user_properties)
    return props


def _incoming_properties(props: Any) -> MessageProperties | None:
    """Our :class:`MessageProperties` from paho's (``None`` on 3.1.1 or when there are none)."""
    if props is None:
        return None
    correlation = getattr(props, "CorrelationData", None)
    user = getattr(props, "UserProperty", None) or ()
    properties = MessageProperties(
        content_type=getattr(props, "ContentType", None),
        payload_format_indicator=getattr(props, "PayloadFormatIndicator", None),
        message_expiry_interval=getattr(props, "MessageExpiryInterval", None),
        response_topic=getattr(props, "ResponseTopic", None),
        correlation_data=bytes(correlation) if correlation is not None else None,
        user_properties=tuple((str(k), str(v)) for k, v in user),
    )
    return properties if properties else None


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
        self._v5 = False
        # MQTT 5: reason code of each acknowledged PUBLISH by packet id, until its sender reads it.
        self._ack_codes: dict[int, int] = {}

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
        _fail_connect_on_close(client)
        stack = AsyncExitStack()
        try:
            await stack.enter_async_context(client)
        except _ClosedBeforeConnack as exc:
            await _discard(client, options.timeout)
            raise TransportConnectError(str(exc), closed_before_connack=True) from None
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
        self._v5 = v5
        self._ack_codes.clear()
        if v5:
            self._capture_ack_codes(client)

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

    def _capture_ack_codes(self, client: aiomqtt.Client) -> None:
        """Record PUBACK/PUBREC reason codes, which aiomqtt drops (MQTT 5 only).

        aiomqtt keeps its paho client private and offers no hook for this; both wrappers only
        observe and forward, so aiomqtt's own bookkeeping is unchanged.
        """
        paho = client._client
        forward = paho.on_publish
        send = paho.publish
        codes = self._ack_codes

        def on_publish(*args: Any) -> None:
            _client, _userdata, mid, reason_code = args[:4]
            code = _code(reason_code)
            codes[mid] = 0 if code is None else code
            if forward is not None:
                forward(*args)

        def publish(*args: Any, **kwargs: Any) -> Any:
            info = send(*args, **kwargs)
            _SENT_MID.set(info.mid)
            return info

        paho.on_publish = on_publish
        paho.publish = publish  # type: ignore[method-assign]

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
        client = self._client
        if client is None or self._lost:
            raise TransportDisconnectedError("not connected")
        if not self._v5:
            await self._acked(
                lambda: client.publish(topic, payload, qos, retain, timeout=math.inf),
                ack_timeout,
            )
            return
        props = _paho_properties(properties) if properties else None
        token = _SENT_MID.set(None)
        try:
            await self._acked(
                lambda: client.publish(topic, payload, qos, retain, props, timeout=math.inf),
                ack_timeout,
            )
        finally:
            mid = _SENT_MID.get()
            _SENT_MID.reset(token)
            code = self._ack_codes.pop(mid, 0) if mid is not None else 0
        if code >= 0x80:
            raise TransportRefusedError(code, reason_name(code))

    async def subscribe(
        self,
        filters: Sequence[tuple[str, int]],
        ack_timeout: float,
        *,
        subscription_id: int | None = None,
    ) -> list[int]:
        client = self._client
        if client is None:
            raise TransportDisconnectedError("not connected")
        props = None
        if self._v5 and subscription_id is not None:
            props = Properties(PacketTypes.SUBSCRIBE)  # type: ignore[no-untyped-call]
            props.SubscriptionIdentifier = subscription_id
        result = await self._acked(
            lambda: client.subscribe(list(filters), properties=props, timeout=math.inf),
            ack_timeout,
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
            async for message in _drained(client):
                payload = message.payload
                if not isinstance(payload, bytes):
                    payload = b"" if payload is None else str(payload).encode()
                if self._v5:
                    props = message.properties
                    ids = getattr(props, "SubscriptionIdentifier", None) or ()
                    yield IncomingMessage(
                        message.topic.value,
                        payload,
                        message.qos,
                        message.retain,
                        _incoming_properties(props),
                        tuple(int(i) for i in ids),
                    )
                else:
                    yield IncomingMessage(message.topic.value, payload, message.qos, message.retain)
        except aiomqtt.MqttError:
            if self._client is client:
                self._mark_lost()

    def abort(self) -> None:
        """Drop the link without a DISCONNECT, as a crash would (for tests): the broker then
        publishes the will. The client sees a lost link and reconnects."""
        client = self._client
        sock = client._client.socket() if client is not None else None
        shutdown = getattr(sock, "shutdown", None)
        if shutdown is not None:
            with contextlib.suppress(OSError):
                shutdown(socket.SHUT_RDWR)

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


class _ClosedBeforeConnack(aiomqtt.MqttError):
    """The broker closed the connection after CONNECT, without a CONNACK."""


def _fail_connect_on_close(client: aiomqtt.Client) -> None:
    """End ``connect`` at once when the broker closes the link before CONNACK.

    aiomqtt ignores a disconnect that comes before CONNACK and waits for its whole timeout, so
    a broker refusing the protocol by closing the socket (RabbitMQ < 3.13 to MQTT 5) would look
    merely slow. Observe-and-forward only: aiomqtt's own callback still runs.
    """
    paho = client._client
    forward = paho.on_disconnect

    def on_disconnect(*args: Any) -> None:
        connected = client._connected
        if not connected.done():
            connected.set_exception(
                _ClosedBeforeConnack("broker closed the connection before CONNACK")
            )
        if forward is not None:
            forward(*args)

    paho.on_disconnect = on_disconnect


async def _drained(client: aiomqtt.Client) -> AsyncIterator[aiomqtt.Message]:
    """``client.messages``, emptying aiomqtt's queue on every wake-up and once more at the end.

    aiomqtt's iterator costs a task per message, so under a burst paho filled its unbounded
    queue faster than we took from it (thousands of messages, around our bounded handler
    queues); and when the link dropped it discarded what was still queued although paho had
    already acknowledged it to the broker (lost QoS 1 messages). Both go through its queue.
    """
    queue: asyncio.Queue[aiomqtt.Message] | None = getattr(client, "_queue", None)
    iterator = client.messages
    while True:
        try:
            message = await anext(iterator)
        except aiomqtt.MqttError:
            while queue is not None and not queue.empty():
                yield queue.get_nowait()
            raise
        yield message
        while queue is not None and not queue.empty():
            yield queue.get_nowait()


async def _discard(client: aiomqtt.Client, ack_timeout: float) -> None:
    """Close the socket of a client whose connect failed (aiomqtt leaves it open on timeout)."""
    with contextlib.suppress(Exception):
        async with asyncio.timeout(min(ack_timeout, 1.0)):
            await client.__aexit__(None, None, None)
