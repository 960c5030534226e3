"""The production :class:`~mqttwire.transport.Transport` on aiomqtt (the only aiomqtt import).

aiomqtt owns the connection (CONNECT/CONNACK, TLS, the keepalive task, SUBSCRIBE, DISCONNECT).
The per-message paths go to its paho client directly, on the event loop's thread (aiomqtt
drives paho from the loop: socket readiness callbacks, no network thread):

* **publish**: paho's non-blocking ``publish`` queues the packet; the transport writes what a
  loop turn queued at the start of the next turn, coalesced into one ``send`` (paho alone sends
  each packet by itself). QoS 0 does not wait for anything: while the socket is busy the
  packets wait in paho's outgoing queue, and a publish waits only while that queue holds
  :data:`HIGH_WATER` packets or more (bounded memory). QoS 1/2 wait for their PUBACK/PUBCOMP
  on a future per packet id (many in flight, one timeout each, failures reported). aiomqtt's
  ``publish`` instead waits for paho's confirmation of every write: a self-pipe write, an
  ``epoll_ctl`` pair, two event-loop turns and two timeout layers per message.
* **receive**: paho's ``on_message`` feeds a deque that :meth:`AiomqttTransport.messages`
  empties (aiomqtt's iterator creates a task and runs ``asyncio.wait`` per message), and the
  socket is read through a 64 KiB buffer, many packets per readiness callback (paho alone reads
  one packet per callback with three or more ``recv`` calls).

These paths use aiomqtt and paho internals (``Client._client``, ``Client._connected``,
``Client._disconnected``, ``Client._pending_publishes``; paho's ``_out_packet``,
``_packet_write``, ``_sock_recv``, ``_sock_send``, ``_sock``, ``_on_publish``,
``_registered_write`` ...). aiomqtt is pinned ``>=2.5,<3``;
``tests/runtime/test_aiomqtt_internals.py`` checks every one of them, so a release that changes
them fails the tests instead of the robot.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import socket
import ssl
import threading
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import AsyncExitStack
from typing import Any, TypeVar

import aiomqtt
import paho.mqtt.client as paho_mqtt
from aiomqtt.exceptions import MqttConnectError
from paho.mqtt.client import MQTT_CLEAN_START_FIRST_ONLY
from paho.mqtt.enums import MQTTErrorCode
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

__all__ = ["HIGH_WATER", "LOW_WATER", "NODELAY_OPTION", "AiomqttTransport"]

_LOG = logging.getLogger("mqttwire.transport")


class _ExpectedNoise(logging.Filter):
    """aiomqtt warns when closing a link that is already gone; for us that is routine."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith("Could not gracefully disconnect")


_LOG.addFilter(_ExpectedNoise())
T = TypeVar("T")

# Without TCP_NODELAY a QoS 1 round trip waits on Nagle + delayed ACK (~40-90 ms instead of ~1 ms).
NODELAY_OPTION = (socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

# Outgoing packets paho may hold while the socket is busy before a QoS 0 publish waits, and the
# level at which waiting publishers resume.
HIGH_WATER = 1000
LOW_WATER = 250
# A publisher that never has to wait still lets the loop run (reader, handlers, heartbeat)
# after this many QoS 0 publishes.
_YIELD_EVERY = 256
# Packets parsed per socket-readable callback before other callbacks get a turn.
_READ_BUDGET = 256
_RECV_SIZE = 65536
_SEND_SIZE = 65536
_MQTT_ERR_SUCCESS = paho_mqtt.MQTT_ERR_SUCCESS
_PUBLISH = int(paho_mqtt.PUBLISH)
_DISCONNECT = int(paho_mqtt.DISCONNECT)

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


class _ClosedBeforeConnack(aiomqtt.MqttError):
    """The broker closed the connection after CONNECT, without a CONNACK."""


class _Link:
    """The fast paths of one connection, hooked into aiomqtt's paho client before it connects.

    Everything here runs on the event loop's thread, except the socket callbacks paho makes
    from the executor thread in which aiomqtt runs ``connect`` (they hop to the loop).

    Writing: paho queues each packet in ``_out_packet`` and asks for a write (the
    "register write" callback) when the queue was empty. The link then writes everything queued
    at the start of the next loop turn, coalesced into one ``send`` (up to 64 KiB), and only
    when the socket cannot take it all does it register a writer with the loop. So a burst of
    publishes from one loop turn costs one system call, and no ``epoll_ctl`` at all.
    """

    __slots__ = (
        "_again",
        "_aiomqtt_on_disconnect",
        "_aiomqtt_on_publish",
        "_aiomqtt_on_socket_open",
        "_flush_scheduled",
        "_paho_packet_write",
        "_paho_recv",
        "_paused",
        "_rbuf",
        "_reader_wakeup",
        "_rpos",
        "_unyielded",
        "_writer",
        "acks",
        "client",
        "closed",
        "consuming",
        "drain_waiters",
        "incoming",
        "loop",
        "on_down",
        "paho",
        "thread",
        "v5",
    )

    def __init__(
        self,
        client: aiomqtt.Client,
        loop: asyncio.AbstractEventLoop,
        *,
        v5: bool,
        on_down: Callable[[], None],
    ) -> None:
        self.client = client
        self.paho = paho = client._client
        self.loop = loop
        self.thread = threading.get_ident()
        self.v5 = v5
        self.on_down = on_down
        self.closed = False
        # QoS >= 1 publishes waiting for PUBACK/PUBCOMP: packet id -> future of the reason code.
        self.acks: dict[int, asyncio.Future[int]] = {}
        self.drain_waiters: list[asyncio.Future[None]] = []
        self.incoming: deque[IncomingMessage] = deque()
        self._reader_wakeup: asyncio.Future[None] | None = None
        self._flush_scheduled = False  # a write is queued for the start of the next loop turn
        self._writer = False  # our writer callback is registered with the loop (socket full)
        self._unyielded = 0
        self._rbuf = b""
        self._rpos = 0
        self._again = False
        self._paused = False  # reading stopped until the consumer catches up
        # Pause only once ``messages()`` consumes this link: before that (CONNACK to the end of
        # resubscribing) a persistent session's backlog would pause reading and hide the SUBACK.
        self.consuming = False
        self._paho_recv = paho._sock_recv
        self._paho_packet_write = paho._packet_write
        self._aiomqtt_on_publish: Callable[..., object] | None = paho.on_publish
        self._aiomqtt_on_disconnect: Callable[..., object] | None = paho.on_disconnect
        self._aiomqtt_on_socket_open: Callable[..., object] | None = paho.on_socket_open
        paho.on_publish = self._on_publish
        paho.on_message = self._on_message
        paho.on_disconnect = self._on_disconnect
        paho.on_socket_open = self._on_socket_open
        paho.on_socket_register_write = self._on_register_write
        paho.on_socket_unregister_write = self._on_unregister_write
        paho._sock_recv = self._recv  # type: ignore[method-assign]
        paho._packet_write = self._packet_write  # type: ignore[method-assign]

    # -- helpers ------------------------------------------------------------------------------
    def _on_loop(self, callback: Callable[..., object], *args: Any) -> None:
        if threading.get_ident() == self.thread:
            callback(*args)
        else:
            self.loop.call_soon_threadsafe(callback, *args)

    def down(self, error: BaseException | None = None) -> None:
        """The link is gone: fail what waits on it, end the message iterator (loop thread)."""
        if self.closed:
            return
        self.closed = True
        acks, self.acks = self.acks, {}
        for future in acks.values():
            if not future.done():
                future.set_exception(TransportDisconnectedError("link lost before acknowledgement"))
        waiters, self.drain_waiters = self.drain_waiters, []
        for waiter in waiters:
            if not waiter.done():
                waiter.set_exception(TransportDisconnectedError("link lost while sending"))
        self._wake_reader()
        self.on_down()
        if error is not None:
            # What aiomqtt's own socket callbacks do when paho raises (a connect in progress
            # fails at once instead of waiting for CONNACK until its timeout).
            client = self.client
            waiting = client._connected if not client._connected.done() else client._disconnected
            if not waiting.done():
                waiting.set_exception(aiomqtt.MqttError(f"{type(error).__name__}: {error}"))
                waiting.exception()  # retrieved: aiomqtt may never look at it

    # -- connection events (paho callbacks) ---------------------------------------------------
    def _on_disconnect(self, *args: Any) -> None:
        # aiomqtt ignores a disconnect before CONNACK and would wait its whole timeout: a broker
        # closing or resetting the link in reply to CONNECT must end ``connect`` at once.
        connected = self.client._connected
        if not connected.done():
            connected.set_exception(
                _ClosedBeforeConnack("broker closed the connection before CONNACK")
            )
        self._on_loop(self.down)
        if self._aiomqtt_on_disconnect is not None:
            self._aiomqtt_on_disconnect(*args)
        disconnected = self.client._disconnected
        if disconnected.done() and not disconnected.cancelled():
            disconnected.exception()  # retrieved: aiomqtt's message iterator is not used

    def _on_socket_open(self, client: Any, userdata: Any, sock: Any) -> None:
        if self._aiomqtt_on_socket_open is not None:
            # Registers aiomqtt's reader and its keepalive task (``loop_misc``) on the loop.
            self._aiomqtt_on_socket_open(client, userdata, sock)
        # Queued after aiomqtt's own registration, so this reader replaces aiomqtt's.
        self.loop.call_soon_threadsafe(self._add_reader, sock)

    def _add_reader(self, sock: Any) -> None:
        fd: int = sock.fileno()
        if self.paho._sock is sock and not self.closed and fd >= 0:
            self.loop.add_reader(fd, self._on_readable)

    # -- writing ------------------------------------------------------------------------------
    def _on_register_write(self, client: Any, userdata: Any, sock: Any) -> None:
        # paho queued a packet into an empty queue (it calls this once until the queue is
        # written out): write at the start of the next loop turn, with whatever else this turn
        # queues. From the connect thread, hop to the loop.
        if threading.get_ident() == self.thread:
            self._schedule_flush()
        else:
            self.loop.call_soon_threadsafe(self._schedule_flush)

    def _schedule_flush(self) -> None:
        if not self._flush_scheduled and not self._writer:
            self._flush_scheduled = True
            self.loop.call_soon(self._flush)

    def _on_unregister_write(self, client: Any, userdata: Any, sock: Any) -> None:
        if self._writer:
            self._on_loop(self._remove_writer, sock.fileno())

    def _remove_writer(self, fd: int) -> None:
        if self._writer:
            self._writer = False
            if fd >= 0:
                self.loop.remove_writer(fd)

    def _flush(self) -> None:
        """Write what paho queued; register a writer only if the socket cannot take it all."""
        self._flush_scheduled = False
        if self._writer:
            return  # the writer callback takes over once the socket is writable
        self._on_writable()
        paho = self.paho
        sock = paho._sock
        if paho._out_packet and sock is not None and not self._writer:
            fd: int = sock.fileno()
            if fd >= 0:
                self.loop.add_writer(fd, self._on_writable)
                self._writer = True

    def _on_writable(self) -> None:
        paho = self.paho
        try:
            if self.client._pending_publishes:
                # Someone awaits aiomqtt's own publish (the ``client`` escape hatch): it needs
                # paho's callback for each written QoS 0 packet.
                paho.loop_write()
            else:
                # paho builds a ReasonCode and a Properties object (~8 µs) for the callback of
                # every QoS 0 packet it writes; nobody here waits for that callback.
                paho._on_publish = None
                try:
                    paho.loop_write()
                finally:
                    paho._on_publish = self._on_publish
        except Exception as exc:  # paho raises from callbacks; the link is unusable then
            _LOG.warning("MQTT write failed: %s", exc)
            self.down(exc)
            return
        if self.drain_waiters and len(paho._out_packet) <= LOW_WATER:
            waiters, self.drain_waiters = self.drain_waiters, []
            for waiter in waiters:
                if not waiter.done():
                    waiter.set_result(None)

    def _packet_write(self) -> MQTTErrorCode:
        """paho's ``_packet_write`` with many packets per ``send``.

        paho sends each queued packet with its own ``send``; this joins the queued packets (up
        to 64 KiB) into one buffer and sends it at once, then does for each packet that got out
        what paho does: a QoS 0 PUBLISH is marked published (its callback is off here, see
        :meth:`_on_writable`). A DISCONNECT packet, or a write while aiomqtt's own ``publish``
        waits for callbacks, goes through paho's own method.
        """
        paho = self.paho
        out = paho._out_packet
        if self.client._pending_publishes:
            return self._paho_packet_write()
        written_any = False
        while out:
            chunks: list[bytes | bytearray] = []
            size = 0
            for packet in out:
                if packet["command"] & 0xF0 == _DISCONNECT:
                    break
                data = packet["packet"]
                chunks.append(data if packet["pos"] == 0 else data[packet["pos"] :])
                size += packet["to_process"]
                if size >= _SEND_SIZE:
                    break
            if not chunks:  # a DISCONNECT first in line: paho closes the link after it
                return self._paho_packet_write()
            try:
                sent = paho._sock_send(chunks[0] if len(chunks) == 1 else b"".join(chunks))
            except (AttributeError, ValueError):
                return _MQTT_ERR_SUCCESS
            except BlockingIOError:
                return paho_mqtt.MQTT_ERR_AGAIN
            except OSError as err:
                _LOG.error("failed to send on socket: %s", err)
                return paho_mqtt.MQTT_ERR_CONN_LOST
            if sent <= 0:
                break
            written_any = True
            while sent > 0:
                packet = out[0]
                left = packet["to_process"]
                if sent < left:
                    packet["pos"] += sent
                    packet["to_process"] = left - sent
                    break
                sent -= left
                packet["pos"] += left
                packet["to_process"] = 0
                out.popleft()
                if packet["command"] & 0xF0 == _PUBLISH and packet["qos"] == 0:
                    info = packet["info"]
                    if info is not None:
                        info._set_as_published()
        if written_any:
            with paho._msgtime_mutex:
                paho._last_msg_out = paho_mqtt.time_func()
        return _MQTT_ERR_SUCCESS

    def send(
        self, topic: str, payload: bytes, qos: int, retain: bool, props: Properties | None
    ) -> int:
        """Queue a PUBLISH with paho (written at the start of the next loop turn, with the rest
        of this turn's packets); the packet id."""
        if self.closed:
            raise TransportDisconnectedError("not connected")
        info = self.paho.publish(topic, payload, qos, retain, props)
        if info.rc != _MQTT_ERR_SUCCESS:
            raise TransportDisconnectedError(f"publish failed: {paho_mqtt.error_string(info.rc)}")
        return info.mid

    def backlog(self) -> int:
        """Packets queued in paho and not yet written."""
        return len(self.paho._out_packet)

    async def drained(self, timeout: float) -> None:  # noqa: ASYNC109 - the caller's ack timeout
        if self.closed:
            raise TransportDisconnectedError("link lost while sending")
        waiter: asyncio.Future[None] = self.loop.create_future()
        self.drain_waiters.append(waiter)
        try:
            async with asyncio.timeout(timeout):
                await waiter
        except TimeoutError:
            raise TransportTimeoutError(
                f"outgoing buffer still full after {timeout:g}s (socket not writable)"
            ) from None

    def should_yield(self) -> bool:
        self._unyielded += 1
        if self._unyielded >= _YIELD_EVERY:
            self._unyielded = 0
            return True
        return False

    def _on_publish(self, client: Any, userdata: Any, mid: int, rc: Any, props: Any) -> None:
        future = self.acks.pop(mid, None)
        if future is not None:
            if not future.done():
                code = _code(rc)
                future.set_result(0 if code is None else code)
        elif self.client._pending_publishes and self._aiomqtt_on_publish is not None:
            self._aiomqtt_on_publish(client, userdata, mid, rc, props)

    # -- reading ------------------------------------------------------------------------------
    def _recv(self, bufsize: int) -> bytes:
        """paho's ``_sock_recv`` through a buffer: one ``recv`` for many packets, not 3 per."""
        buf = self._rbuf
        pos = self._rpos
        if pos >= len(buf):
            try:
                data = self._paho_recv(_RECV_SIZE)
            except BlockingIOError:
                self._again = True
                raise
            if len(data) <= bufsize:
                return data
            buf, pos = data, 0
            self._rbuf = data
        end = pos + bufsize
        self._rpos = end
        return buf[pos:end]

    def _buffered(self) -> bool:
        if self._rpos < len(self._rbuf):
            return True
        pending = getattr(self.paho._sock, "pending", None)  # TLS: decrypted, not yet read
        return pending is not None and pending() > 0

    def _on_readable(self) -> None:
        paho = self.paho
        incoming = self.incoming
        try:
            for _ in range(_READ_BUDGET):
                if len(incoming) >= _READ_BUDGET and self.consuming:
                    # The consumer is a batch behind: it resumes us once it took them (so
                    # the handler queues see at most a batch per loop turn, not a socketful).
                    self._paused = True
                    break
                self._again = False
                rc = paho.loop_read()
                if rc != _MQTT_ERR_SUCCESS or self._again or paho._sock is None:
                    break
            else:
                if self._buffered():
                    # Bytes wait in our buffer, where epoll cannot see them: read on next turn.
                    self.loop.call_soon(self._on_readable)
        except Exception as exc:
            _LOG.warning("MQTT read failed: %s", exc)
            self.down(exc)

    def _on_message(self, client: Any, userdata: Any, message: Any) -> None:
        try:
            topic = message.topic
        except UnicodeDecodeError:
            _LOG.warning("dropped a message whose topic is not UTF-8: %r", message._topic)
            return
        payload = message.payload
        if not isinstance(payload, bytes):
            payload = bytes(payload)
        if self.v5:
            props = message.properties
            ids = getattr(props, "SubscriptionIdentifier", None) or ()
            self.incoming.append(
                IncomingMessage(
                    topic,
                    payload,
                    message.qos,
                    message.retain,
                    _incoming_properties(props),
                    tuple(int(i) for i in ids),
                )
            )
        else:
            self.incoming.append(IncomingMessage(topic, payload, message.qos, message.retain))
        if self._reader_wakeup is not None:
            self._wake_reader()

    def _wake_reader(self) -> None:
        wakeup, self._reader_wakeup = self._reader_wakeup, None
        if wakeup is not None and not wakeup.done():
            wakeup.set_result(None)

    def resume(self) -> None:
        """The consumer took what was read: read on (next loop turn) if reading had paused."""
        if self._paused:
            self._paused = False
            self.loop.call_soon(self._on_readable)

    async def wait_incoming(self) -> None:
        wakeup: asyncio.Future[None] = self.loop.create_future()
        self._reader_wakeup = wakeup
        try:
            await wakeup
        finally:
            if self._reader_wakeup is wakeup:
                self._reader_wakeup = None


class AiomqttTransport:
    """One aiomqtt client per connection; a fresh one on every ``connect``."""

    def __init__(self) -> None:
        self._client: aiomqtt.Client | None = None
        self._link: _Link | None = None
        self._stack: AsyncExitStack | None = None
        self._lost = True
        # Deadlines of subscribe/unsubscribe calls waiting for an ack; moved to "now" when the
        # link drops, because aiomqtt never resolves them then.
        self._waiting: set[asyncio.Timeout] = set()
        self._tls: tuple[TLSOptions, ssl.SSLContext] | None = None
        self._v5 = False

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
        # aiomqtt warns on more than 10 pending calls (the ``client`` escape hatch may have many).
        client.pending_calls_threshold = 1 << 30
        link = _Link(client, asyncio.get_running_loop(), v5=v5, on_down=lambda: None)
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
        if link.closed:
            # Closed right after CONNACK, before we got here.
            await _discard(client, options.timeout)
            raise TransportConnectError("link closed right after CONNACK")
        link.on_down = lambda: self._link_down(link)
        self._client = client
        self._link = link
        self._stack = stack
        self._lost = False
        self._v5 = v5

    async def _tls_context(self, options: TLSOptions) -> ssl.SSLContext:
        if self._tls is None or self._tls[0] != options:
            # Loading certificates reads files: keep it off the event loop.
            self._tls = (options, await asyncio.to_thread(_tls_context, options))
        return self._tls[1]

    def _link_down(self, link: _Link) -> None:
        if self._link is link:
            self._mark_lost()

    def _mark_lost(self) -> None:
        if self._lost:
            return
        self._lost = True
        link = self._link
        if link is not None:
            link.down()
        now = asyncio.get_running_loop().time()
        for deadline in self._waiting:
            deadline.reschedule(now)

    async def _acked(self, call: Callable[[], Awaitable[T]], ack_timeout: float) -> T:
        """Subscribe/unsubscribe through aiomqtt, with our deadline as the only timeout."""
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
        self,
        topic: str,
        payload: bytes,
        qos: int,
        retain: bool,
        ack_timeout: float,
        *,
        properties: MessageProperties | None = None,
    ) -> None:
        link = self._link
        if link is None or self._lost:
            raise TransportDisconnectedError("not connected")
        props = _paho_properties(properties) if properties and self._v5 else None
        mid = link.send(topic, payload, qos, retain, props)
        if qos == 0:
            # Handed to the connection: written with the rest of this loop turn's packets at
            # the start of the next turn. Wait only when paho's queue is long because the
            # socket is busy (bounded memory, backpressure).
            if len(link.paho._out_packet) >= HIGH_WATER:
                await link.drained(ack_timeout)
            elif link.should_yield():
                await asyncio.sleep(0)
            return
        if link.closed:
            raise TransportDisconnectedError("link lost before acknowledgement")
        future: asyncio.Future[int] = link.loop.create_future()
        link.acks[mid] = future
        try:
            async with asyncio.timeout(ack_timeout):
                code = await future
        except TimeoutError:
            if self._lost:
                raise TransportDisconnectedError("link lost before acknowledgement") from None
            raise TransportTimeoutError(f"no acknowledgement within {ack_timeout:g}s") from None
        finally:
            if link.acks.get(mid) is future:
                del link.acks[mid]
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

    def ack(self, message: IncomingMessage) -> None:
        """paho acknowledges on receipt here (no manual acknowledgement on this transport)."""

    async def messages(self) -> AsyncIterator[IncomingMessage]:
        """Every message of this link in arrival order; ends when the link goes down, after
        yielding what arrived before (paho already acknowledged those QoS 1 messages)."""
        link = self._link
        if link is None:
            return
        incoming = link.incoming
        link.consuming = True
        while True:
            taken = 0
            while incoming:
                yield incoming.popleft()
                taken += 1
                if taken >= _READ_BUDGET and incoming:
                    # A backlog (a persistent session's, read before we consumed): hand it to
                    # the handler queues a batch per loop turn, so their workers keep up.
                    taken = 0
                    await asyncio.sleep(0)
            link.resume()
            if link.closed:
                if self._link is link:
                    self._mark_lost()
                return
            await link.wait_incoming()

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
        stack, self._stack, client, self._client = self._stack, None, self._client, None
        self._mark_lost()
        self._link = None
        if stack is None:
            return
        try:
            async with asyncio.timeout(ack_timeout):
                await stack.aclose()
        except (TimeoutError, aiomqtt.MqttError, OSError) as exc:
            _LOG.debug("disconnect did not complete cleanly: %s", exc)
        if client is not None and client._client.socket() is not None:
            # A link that failed in a read or write callback: aiomqtt leaves the socket open.
            with contextlib.suppress(Exception):
                client._client._sock_close()
        lost = getattr(client, "_disconnected", None)
        if isinstance(lost, asyncio.Future) and lost.done() and not lost.cancelled():
            # A link that died while nobody read messages (e.g. during resubscribe): mark
            # aiomqtt's error seen, or asyncio reports "Future exception was never retrieved".
            lost.exception()


async def _discard(client: aiomqtt.Client, ack_timeout: float) -> None:
    """Close the socket of a client whose connect failed (aiomqtt leaves it open on timeout)."""
    with contextlib.suppress(Exception):
        async with asyncio.timeout(min(ack_timeout, 1.0)):
            await client.__aexit__(None, None, None)
    if client._client.socket() is not None:
        with contextlib.suppress(Exception):
            client._client._sock_close()
