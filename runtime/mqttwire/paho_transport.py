"""A :class:`~mqttwire.transport.Transport` on paho-mqtt's documented external-event-loop API.

paho-mqtt 2.x lets an application drive the client from its own event loop: the socket
callbacks (``on_socket_open``, ``on_socket_close``, ``on_socket_register_write``,
``on_socket_unregister_write``) say when to watch the socket, and ``loop_read``,
``loop_write`` and ``loop_misc`` do the work. This module drives them from asyncio's
``add_reader``/``add_writer`` on the event loop's thread, and uses only paho's public API.

* **Writing**: ``publish()`` only queues the packet (paho calls our register-write callback
  instead of writing). What one loop turn queued is written at the start of the next turn by
  one ``loop_write()``; only when the socket cannot take it all does a writer get registered.
  A QoS 0 publish waits only while :data:`HIGH_WATER` packets are unwritten (bounded memory).
  paho builds a reason code and a properties object for the ``on_publish`` callback of every
  written QoS 0 packet; nobody waits for that here, so the callback is set only while QoS >= 1
  publishes wait for their PUBACK/PUBCOMP.
* **Reading**: each readable event runs ``loop_read()`` while it makes progress (a callback
  fired), up to a budget per event; paho's ``on_message`` feeds a deque that
  :meth:`PahoTransport.messages` empties.
* **Acknowledging**: with :attr:`ConnectOptions.manual_ack`, paho sends no PUBACK (QoS 1) or
  PUBCOMP (QoS 2) by itself; :meth:`PahoTransport.ack` marks a message handled and the
  acknowledgements go out in the order the messages arrived, as MQTT requires.
* **Connecting**: paho's ``connect`` resolves, connects and shakes hands (TLS) blocking, so it
  runs in a worker thread; everything after CONNECT is sent runs on the loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import socket
import ssl
import threading
from collections import deque
from collections.abc import AsyncIterator, Callable, Sequence
from typing import Any

import paho.mqtt.client as paho_mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode
from paho.mqtt.subscribeoptions import SubscribeOptions

from mqttwire.reason_codes import reason_name
from mqttwire.safe_log import RateLimitedLog
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

__all__ = ["HIGH_WATER", "LOW_WATER", "NODELAY_OPTION", "PahoTransport"]

_LOG = logging.getLogger("mqttwire.transport")
_NON_UTF8_LOG = RateLimitedLog(_LOG)

# Without TCP_NODELAY a QoS 1 round trip waits on Nagle + delayed ACK (~40-90 ms instead of ~1 ms).
NODELAY_OPTION = (socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
# Unwritten packets at which a QoS 0 publish waits, and the level at which it resumes.
HIGH_WATER = 1000
LOW_WATER = 250
# A publisher that never has to wait still lets the loop run after this many QoS 0 publishes.
_YIELD_EVERY = 256
# ``loop_read`` calls per readable event, and messages waiting for the consumer at which
# reading pauses until it caught up.
_READ_BUDGET = 256
_KEEPALIVE_TICK = 1.0
_SUCCESS = MQTTErrorCode.MQTT_ERR_SUCCESS

# CONNACK codes that retrying will not fix. paho reports 3.1.1 return codes as the MQTT 5
# reason codes they correspond to; both are listed.
_AUTH_CONNACK = {4, 5, 0x86, 0x87, 0x8A, 0x8C}
_FATAL_CONNACK = _AUTH_CONNACK | {1, 2, 0x84, 0x85}


def _code(rc: object) -> int:
    if isinstance(rc, ReasonCode):
        return int(rc.value)
    if isinstance(rc, int):
        return rc
    return 0


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
    """Our :class:`MessageProperties` from paho's (``None`` when there are none)."""
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


class _Link:
    """One connection: a paho client driven from the event loop (all on the loop's thread,
    except the callbacks paho makes from the connect thread, which hop to the loop)."""

    def __init__(self, loop: asyncio.AbstractEventLoop, options: ConnectOptions, v5: bool) -> None:
        self.loop = loop
        self.thread = threading.get_ident()
        self.v5 = v5
        self.manual_ack = options.manual_ack
        self.closed = False
        self.on_down: Callable[[], None] = lambda: None
        # CONNACK: (reason code, paho's name of it)
        self.connected: asyncio.Future[tuple[int, str]] = loop.create_future()
        # QoS >= 1 publishes waiting for PUBACK/PUBCOMP; subscribe/unsubscribe waiting for
        # SUBACK/UNSUBACK: packet id -> future.
        self.acks: dict[int, asyncio.Future[int]] = {}
        self.subacks: dict[int, asyncio.Future[list[int]]] = {}
        self.drain_waiters: list[asyncio.Future[None]] = []
        self.incoming: deque[IncomingMessage] = deque()
        # Manual acknowledgement: received QoS >= 1 messages in arrival order,
        # [ack id, packet id, qos, handled].
        self.unacked: deque[list[int | bool]] = deque()
        self.unacked_by_id: dict[int, list[int | bool]] = {}
        self._ack_ids = itertools.count(1)
        self._reader_wakeup: asyncio.Future[None] | None = None
        self._flush_scheduled = False
        self._writer_fd: int | None = None
        self._reader_fd: int | None = None
        self._keepalive: asyncio.TimerHandle | None = None
        self._unyielded = 0
        self._progress = 0
        self._paused = False
        self.consuming = False
        self.unwritten = 0  # packets queued since the last complete write
        client = paho_mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=options.client_id,
            clean_session=None if v5 else options.clean_session,
            protocol=paho_mqtt.MQTTv5 if v5 else paho_mqtt.MQTTv311,
            manual_ack=options.manual_ack,
        )
        self.client = client
        if _LOG.isEnabledFor(logging.DEBUG):
            # paho formats a log call for every packet: only when someone reads them.
            client.enable_logger(_LOG)
        client.max_inflight_messages_set(1000)
        client.max_queued_messages_set(0)
        if options.username is not None:
            client.username_pw_set(options.username, options.password)
        if options.will is not None:
            w = options.will
            client.will_set(w.topic, w.payload, w.qos, w.retain)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_message = self._on_message
        client.on_subscribe = self._on_subscribe
        client.on_unsubscribe = self._on_unsubscribe
        client.on_socket_open = self._on_socket_open
        client.on_socket_close = self._on_socket_close
        client.on_socket_register_write = self._on_register_write
        client.on_socket_unregister_write = self._on_unregister_write

    def _on_loop(self, callback: Callable[..., object], *args: Any) -> None:
        if threading.get_ident() == self.thread:
            callback(*args)
        else:
            self.loop.call_soon_threadsafe(callback, *args)

    # -- connection events --------------------------------------------------------------------
    def _on_connect(self, client: Any, userdata: Any, flags: Any, rc: Any, props: Any) -> None:
        self._progress += 1
        if not self.connected.done():
            self.connected.set_result((_code(rc), str(rc)))

    def _on_disconnect(self, client: Any, userdata: Any, flags: Any, rc: Any, props: Any) -> None:
        self._progress += 1
        self._on_loop(self.down)

    def _on_socket_open(self, client: Any, userdata: Any, sock: Any) -> None:
        with contextlib.suppress(OSError, AttributeError):
            sock.setsockopt(*NODELAY_OPTION)
        self._on_loop(self._watch, sock)

    def _watch(self, opened: Any) -> None:
        sock = self.client.socket()
        if self.closed or sock is None or sock is not opened:
            return
        fd: int = sock.fileno()
        if fd < 0:
            return
        self._reader_fd = fd
        self.loop.add_reader(fd, self._on_readable)
        self._keepalive = self.loop.call_later(_KEEPALIVE_TICK, self._misc)

    def _on_socket_close(self, client: Any, userdata: Any, sock: Any) -> None:
        self._on_loop(self._unwatch)

    def _unwatch(self) -> None:
        if self._reader_fd is not None:
            self.loop.remove_reader(self._reader_fd)
            self._reader_fd = None
        if self._writer_fd is not None:
            self.loop.remove_writer(self._writer_fd)
            self._writer_fd = None
        if self._keepalive is not None:
            self._keepalive.cancel()
            self._keepalive = None

    def _misc(self) -> None:
        self._keepalive = None
        if self.closed:
            return
        try:
            self.client.loop_misc()
        except Exception as exc:
            self._failed("keepalive", exc)
            return
        if not self.closed:  # (also while reading is paused)
            self._keepalive = self.loop.call_later(_KEEPALIVE_TICK, self._misc)

    def down(self) -> None:
        """The link is gone: fail what waits on it, end the message iterator (loop thread)."""
        if self.closed:
            return
        self.closed = True
        self._unwatch()
        if not self.connected.done():
            self.connected.set_exception(
                TransportConnectError(
                    "broker closed the connection before CONNACK", closed_before_connack=True
                )
            )
            self.connected.exception()  # retrieved: nobody may be waiting any more
        futures: list[asyncio.Future[Any]] = [*self.acks.values(), *self.subacks.values()]
        for future in futures:
            if not future.done():
                future.set_exception(TransportDisconnectedError("link lost before acknowledgement"))
        self.acks.clear()
        self.subacks.clear()
        waiters, self.drain_waiters = self.drain_waiters, []
        for waiter in waiters:
            if not waiter.done():
                waiter.set_exception(TransportDisconnectedError("link lost while sending"))
        self.unacked.clear()
        self.unacked_by_id.clear()
        self._wake_reader()
        self.on_down()

    def _failed(self, what: str, exc: Exception) -> None:
        _LOG.warning("MQTT %s failed: %s", what, exc)
        self.close_socket()
        self.down()

    def close_socket(self) -> None:
        """Shut the socket down and let paho notice (it closes it and reports the loss)."""
        sock = self.client.socket()
        shutdown = getattr(sock, "shutdown", None)
        if shutdown is not None:
            with contextlib.suppress(OSError):
                shutdown(socket.SHUT_RDWR)
        if sock is not None:
            with contextlib.suppress(Exception):
                self.client.loop_read()
        if self.client.socket() is not None:
            with contextlib.suppress(Exception):
                self.client.disconnect()
                self.client.loop_write()

    # -- writing ------------------------------------------------------------------------------
    def _on_register_write(self, client: Any, userdata: Any, sock: Any) -> None:
        # paho queued a packet into an empty queue: write at the start of the next loop turn,
        # with whatever else this turn queues.
        self._on_loop(self._schedule_flush)

    def _schedule_flush(self) -> None:
        if not self._flush_scheduled and self._writer_fd is None:
            self._flush_scheduled = True
            self.loop.call_soon(self._flush)

    def _on_unregister_write(self, client: Any, userdata: Any, sock: Any) -> None:
        self._on_loop(self._remove_writer)

    def _remove_writer(self) -> None:
        if self._writer_fd is not None:
            self.loop.remove_writer(self._writer_fd)
            self._writer_fd = None

    def _flush(self) -> None:
        self._flush_scheduled = False
        if self._writer_fd is None:
            self._write()
        client = self.client
        if client.want_write() and self._writer_fd is None and not self.closed:
            sock = client.socket()
            fd = sock.fileno() if sock is not None else -1
            if fd >= 0:
                self._writer_fd = fd
                self.loop.add_writer(fd, self._write)

    def _write(self) -> None:
        client = self.client
        if client.socket() is None:
            return
        quiet = not self.acks
        if quiet:
            client.on_publish = None
        try:
            rc = client.loop_write()
        except Exception as exc:  # paho raises from callbacks; the link is unusable then
            self._failed("write", exc)
            return
        finally:
            if quiet:
                client.on_publish = self._on_publish
        if rc != _SUCCESS:
            self.down()
            return
        if not client.want_write():
            self.unwritten = 0
        if self.drain_waiters and self.unwritten <= LOW_WATER:
            waiters, self.drain_waiters = self.drain_waiters, []
            for waiter in waiters:
                if not waiter.done():
                    waiter.set_result(None)

    def send(
        self, topic: str, payload: bytes, qos: int, retain: bool, props: Properties | None
    ) -> int:
        if self.closed:
            raise TransportDisconnectedError("not connected")
        client = self.client
        if qos and client.on_publish is None:
            client.on_publish = self._on_publish
        info = client.publish(topic, payload, qos, retain, props)
        if info.rc != _SUCCESS:
            raise TransportDisconnectedError(f"publish failed: {paho_mqtt.error_string(info.rc)}")
        self.unwritten += 1
        return info.mid

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
        self._progress += 1
        future = self.acks.pop(mid, None)
        if future is not None and not future.done():
            future.set_result(_code(rc))

    def _on_subscribe(self, client: Any, userdata: Any, mid: int, codes: Any, props: Any) -> None:
        self._progress += 1
        future = self.subacks.pop(mid, None)
        if future is not None and not future.done():
            future.set_result([_code(rc) for rc in codes])

    def _on_unsubscribe(self, client: Any, userdata: Any, mid: int, codes: Any, props: Any) -> None:
        self._progress += 1
        future = self.subacks.pop(mid, None)
        if future is not None and not future.done():
            future.set_result([_code(rc) for rc in codes or ()])

    # -- reading ------------------------------------------------------------------------------
    def _on_readable(self) -> None:
        client = self.client
        incoming = self.incoming
        try:
            for _ in range(_READ_BUDGET):
                if len(incoming) >= _READ_BUDGET and self.consuming:
                    # The consumer is a batch behind: it resumes reading once it took them.
                    self._paused = True
                    self._remove_reader()
                    return
                before = self._progress
                rc = client.loop_read()
                if rc != _SUCCESS or self.closed:
                    if rc != _SUCCESS:
                        self.down()
                    return
                if self._progress == before:
                    break  # nothing complete was read: wait for the socket again
        except Exception as exc:
            self._failed("read", exc)
            return
        sock = client.socket()
        pending = getattr(sock, "pending", None)  # TLS: decrypted bytes epoll cannot see
        if pending is not None and pending() > 0:
            self.loop.call_soon(self._on_readable)

    def _remove_reader(self) -> None:
        if self._reader_fd is not None:
            self.loop.remove_reader(self._reader_fd)
            self._reader_fd = None

    def resume(self) -> None:
        """The consumer took what was read: watch the socket again if reading had paused."""
        if self._paused and not self.closed:
            self._paused = False
            sock = self.client.socket()
            fd = sock.fileno() if sock is not None else -1
            if fd >= 0:
                self._reader_fd = fd
                self.loop.add_reader(fd, self._on_readable)
                self.loop.call_soon(self._on_readable)

    def _on_message(self, client: Any, userdata: Any, message: Any) -> None:
        self._progress += 1
        try:
            topic = message.topic
        except UnicodeDecodeError:
            _NON_UTF8_LOG.warning("non-utf8 topic", "dropped a message whose topic is not UTF-8")
            self._ack_now(message)
            return
        payload = message.payload
        if not isinstance(payload, bytes):
            payload = bytes(payload)
        ack_id = None
        qos = message.qos
        if self.manual_ack and qos:
            ack_id = next(self._ack_ids)
            entry: list[int | bool] = [ack_id, message.mid, qos, False]
            self.unacked.append(entry)
            self.unacked_by_id[ack_id] = entry
        if self.v5:
            props = message.properties
            ids = getattr(props, "SubscriptionIdentifier", None) or ()
            self.incoming.append(
                IncomingMessage(
                    topic,
                    payload,
                    qos,
                    message.retain,
                    _incoming_properties(props),
                    tuple(int(i) for i in ids),
                    ack_id,
                )
            )
        else:
            self.incoming.append(
                IncomingMessage(topic, payload, qos, message.retain, None, (), ack_id)
            )
        if self._reader_wakeup is not None:
            self._wake_reader()

    def _ack_now(self, message: Any) -> None:
        if self.manual_ack and message.qos:
            entry: list[int | bool] = [next(self._ack_ids), message.mid, message.qos, True]
            self.unacked.append(entry)
            self._send_acks()

    def ack(self, ack_id: int) -> None:
        """Mark a message handled; send the acknowledgements that are now due, in order."""
        entry = self.unacked_by_id.pop(ack_id, None)
        if entry is None:
            return  # already acknowledged, or received on an earlier link (redelivered)
        entry[3] = True
        self._send_acks()

    def _send_acks(self) -> None:
        unacked = self.unacked
        client = self.client
        while unacked and unacked[0][3]:
            _, mid, qos, _ = unacked.popleft()
            if self.closed:
                continue
            client.ack(int(mid), int(qos))

    def _wake_reader(self) -> None:
        wakeup, self._reader_wakeup = self._reader_wakeup, None
        if wakeup is not None and not wakeup.done():
            wakeup.set_result(None)

    async def wait_incoming(self) -> None:
        wakeup: asyncio.Future[None] = self.loop.create_future()
        self._reader_wakeup = wakeup
        try:
            await wakeup
        finally:
            if self._reader_wakeup is wakeup:
                self._reader_wakeup = None


class PahoTransport:
    """One paho client per connection, driven by the running event loop."""

    def __init__(self) -> None:
        self._link: _Link | None = None
        self._lost = True
        self._tls: tuple[TLSOptions, ssl.SSLContext] | None = None
        self._v5 = False

    @property
    def native(self) -> object | None:
        """The ``paho.mqtt.client.Client`` of the current link, else ``None``."""
        link = self._link
        return link.client if link is not None and not self._lost else None

    async def connect(self, options: ConnectOptions) -> None:
        if self._link is not None:
            await self.disconnect(options.timeout)
        v5 = options.protocol == "5"
        tls_context = await self._tls_context(options.tls) if options.tls else None
        loop = asyncio.get_running_loop()
        try:
            link = _Link(loop, options, v5)
            if tls_context is not None:
                link.client.tls_set_context(tls_context)
        except (ValueError, TypeError, UnicodeError) as exc:
            raise TransportConnectError(f"{type(exc).__name__}: {exc}", fatal=True) from None
        properties = None
        if v5 and not options.clean_session:
            properties = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
            properties.SessionExpiryInterval = options.session_expiry
        client = link.client
        try:
            async with asyncio.timeout(options.timeout):
                try:
                    await asyncio.to_thread(
                        client.connect,
                        options.host,
                        options.port,
                        options.keepalive,
                        clean_start=(
                            options.clean_session if v5 else paho_mqtt.MQTT_CLEAN_START_FIRST_ONLY
                        ),
                        properties=properties,
                    )
                except ssl.SSLError as exc:
                    raise TransportConnectError(f"TLS: {exc}", fatal=True) from None
                except OSError as exc:
                    raise TransportConnectError(f"{type(exc).__name__}: {exc}") from None
                except (ValueError, UnicodeError) as exc:
                    raise TransportConnectError(
                        f"{type(exc).__name__}: {exc}", fatal=True
                    ) from None
                code, reason = await link.connected
        except TimeoutError:
            _discard(link)
            raise TransportConnectError(f"no CONNACK within {options.timeout:g}s") from None
        except TransportConnectError:
            _discard(link)
            raise
        if code != 0:
            _discard(link)
            raise TransportConnectError(
                f"connection refused: {reason} ({code:#04x})",
                fatal=code in _FATAL_CONNACK,
                code=code,
                authentication=code in _AUTH_CONNACK,
            )
        if link.closed:
            _discard(link)
            raise TransportConnectError("link closed right after CONNACK")
        link.on_down = lambda: self._link_down(link)
        self._link = link
        self._lost = False
        self._v5 = v5

    async def _tls_context(self, options: TLSOptions) -> ssl.SSLContext:
        if self._tls is None or self._tls[0] != options:
            try:
                # Loading certificates reads files: keep it off the event loop.
                context = await asyncio.to_thread(_tls_context, options)
            except (OSError, ValueError, ssl.SSLError) as exc:
                raise TransportConnectError(f"TLS setup: {exc}", fatal=True) from None
            self._tls = (options, context)
        return self._tls[1]

    def _link_down(self, link: _Link) -> None:
        if self._link is link:
            self._lost = True

    def _live(self) -> _Link:
        link = self._link
        if link is None or self._lost or link.closed:
            raise TransportDisconnectedError("not connected")
        return link

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
        link = self._live()
        props = _paho_properties(properties) if properties and self._v5 else None
        mid = link.send(topic, payload, qos, retain, props)
        if qos == 0:
            if link.unwritten >= HIGH_WATER and link.client.want_write():
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
            if link.closed:
                raise TransportDisconnectedError("link lost before acknowledgement") from None
            raise TransportTimeoutError(f"no acknowledgement within {ack_timeout:g}s") from None
        finally:
            if link.acks.get(mid) is future:
                del link.acks[mid]
        if code >= 0x80:
            raise TransportRefusedError(code, reason_name(code))

    async def _acked(
        self, link: _Link, result: tuple[MQTTErrorCode, int | None], ack_timeout: float
    ) -> list[int]:
        rc, mid = result
        if rc != _SUCCESS or mid is None:
            raise TransportDisconnectedError(f"request failed: {paho_mqtt.error_string(rc)}")
        future: asyncio.Future[list[int]] = link.loop.create_future()
        link.subacks[mid] = future
        try:
            async with asyncio.timeout(ack_timeout):
                return await future
        except TimeoutError:
            if link.closed:
                raise TransportDisconnectedError("link lost before acknowledgement") from None
            raise TransportTimeoutError(f"no acknowledgement within {ack_timeout:g}s") from None
        finally:
            if link.subacks.get(mid) is future:
                del link.subacks[mid]

    async def subscribe(
        self,
        filters: Sequence[tuple[str, int]],
        ack_timeout: float,
        *,
        subscription_id: int | None = None,
    ) -> list[int]:
        link = self._live()
        props = None
        if self._v5 and subscription_id is not None:
            props = Properties(PacketTypes.SUBSCRIBE)  # type: ignore[no-untyped-call]
            props.SubscriptionIdentifier = subscription_id
        if self._v5:
            items: list[Any] = [(f, SubscribeOptions(qos=q)) for f, q in filters]
        else:
            items = list(filters)
        result = link.client.subscribe(items, properties=props)
        return await self._acked(link, result, ack_timeout)

    async def unsubscribe(self, filters: Sequence[str], ack_timeout: float) -> None:
        link = self._live()
        await self._acked(link, link.client.unsubscribe(list(filters)), ack_timeout)

    def ack(self, message: IncomingMessage) -> None:
        """The message was handled: send its PUBACK/PUBCOMP once every earlier one is due.

        Only messages received with :attr:`ConnectOptions.manual_ack` carry an ``ack_id``; an
        ack for a link that is gone is dropped (the broker redelivers on a persistent session).
        """
        link = self._link
        if message.ack_id is not None and link is not None:
            link.ack(message.ack_id)

    async def messages(self) -> AsyncIterator[IncomingMessage]:
        """Every message of this link in arrival order; ends when the link goes down, after
        yielding what arrived before."""
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
                    taken = 0
                    await asyncio.sleep(0)
            link.resume()
            if link.closed:
                if self._link is link:
                    self._lost = True
                return
            await link.wait_incoming()

    def abort(self) -> None:
        """Drop the link without a DISCONNECT, as a crash would (for tests): the broker then
        publishes the will. The client sees a lost link and reconnects."""
        link = self._link
        sock = link.client.socket() if link is not None else None
        shutdown = getattr(sock, "shutdown", None)
        if shutdown is not None:
            with contextlib.suppress(OSError):
                shutdown(socket.SHUT_RDWR)

    async def disconnect(self, ack_timeout: float) -> None:
        link, self._link = self._link, None
        self._lost = True
        if link is None:
            return
        client = link.client
        if not link.closed and client.socket() is not None:
            gone: asyncio.Future[None] = link.loop.create_future()
            previous = link.on_down

            def _gone() -> None:
                previous()
                if not gone.done():
                    gone.set_result(None)

            link.on_down = _gone
            try:
                client.disconnect()
                async with asyncio.timeout(ack_timeout):
                    await gone
            except (TimeoutError, ValueError, OSError) as exc:
                _LOG.debug("disconnect did not complete cleanly: %s", exc)
        _discard(link)


def _discard(link: _Link) -> None:
    """Close what is left of a link (a failed connect, a disconnect that did not finish)."""
    if link.client.socket() is not None:
        link.close_socket()
    link.down()
