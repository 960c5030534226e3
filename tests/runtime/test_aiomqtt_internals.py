"""The aiomqtt and paho-mqtt internals that ``mqttwire._aiomqtt_transport`` relies on.

The transport's fast paths (QoS 0 without per-message confirmation, coalesced writes, buffered
reads, paho's ``on_message`` straight into the dispatcher) hook into private parts of aiomqtt's
``Client`` and of its paho client. aiomqtt is pinned ``>=2.5,<3`` (paho ``>=2.1,<3``), so a patch
release may still rename or rework them: these tests name every attribute, signature and piece
of behaviour used, and fail loudly -- here, not on the robot -- when one changes.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import inspect
import socket
import struct
import threading
import time
from collections.abc import Iterator
from importlib.metadata import version
from typing import Any

import aiomqtt
import paho.mqtt.client as paho_mqtt
import pytest

from mqttwire._aiomqtt_transport import HIGH_WATER, AiomqttTransport, _Link
from mqttwire.testing.broker import MosquittoBroker
from mqttwire.transport import ConnectOptions, IncomingMessage, TransportConnectError


def _release(name: str) -> tuple[int, ...]:
    return tuple(int(part) for part in version(name).split(".")[:2] if part.isdigit())


def _source(function: Any) -> str:
    return inspect.getsource(function)


# -- versions ---------------------------------------------------------------------------------


def test_installed_versions_are_within_the_pins() -> None:
    assert (2, 5) <= _release("aiomqtt") < (3, 0)
    assert (2, 1) <= _release("paho-mqtt") < (3, 0)


# -- aiomqtt.Client ---------------------------------------------------------------------------


async def test_aiomqtt_client_private_state() -> None:
    client = aiomqtt.Client("127.0.0.1", 1)
    paho = client._client
    assert isinstance(paho, paho_mqtt.Client)
    assert isinstance(client._connected, asyncio.Future)
    assert isinstance(client._disconnected, asyncio.Future)
    assert client._pending_publishes == {}
    assert isinstance(client.pending_calls_threshold, int)
    # The callbacks the transport reads from paho, wraps and forwards to.
    assert paho.on_publish == client._on_publish
    assert paho.on_disconnect == client._on_disconnect
    assert paho.on_socket_open == client._on_socket_open
    assert paho.on_message == client._on_message
    assert paho.on_socket_register_write == client._on_socket_register_write
    assert paho.on_socket_unregister_write == client._on_socket_unregister_write
    for name in ("_on_publish", "_on_disconnect"):
        params = list(inspect.signature(getattr(client, name)).parameters)
        assert params[:4] == ["client", "userdata", params[2], params[3]], (name, params)
    assert list(inspect.signature(client._on_socket_open).parameters) == [
        "client",
        "userdata",
        "sock",
    ]


def test_aiomqtt_connect_waits_on_connected_and_publish_on_pending_publishes() -> None:
    enter = _source(aiomqtt.Client.__aenter__)
    assert "self._connected" in enter  # our on_disconnect fails this future before CONNACK
    assert "run_in_executor" in enter  # paho's connect runs in a thread: callbacks hop to the loop
    publish = _source(aiomqtt.Client.publish)
    assert "self._pending_publishes" in publish
    assert "is_published()" in publish
    on_disconnect = _source(aiomqtt.Client._on_disconnect)
    assert "self._connected.done()" in on_disconnect  # why we fail connect ourselves
    assert "self._disconnected.set_exception" in on_disconnect
    exit_ = _source(aiomqtt.Client.__aexit__)
    assert "self._disconnected.done()" in exit_ and "self._client.disconnect()" in exit_


# -- paho Client ------------------------------------------------------------------------------


def test_paho_attributes_and_signatures() -> None:
    paho = paho_mqtt.Client(paho_mqtt.CallbackAPIVersion.VERSION2)
    assert isinstance(paho._out_packet, collections.deque)
    assert paho._sock is None
    assert paho._registered_write is False
    assert paho._on_publish is None
    assert isinstance(paho._last_msg_out, float)
    assert hasattr(paho._msgtime_mutex, "__enter__")
    assert list(inspect.signature(paho._sock_recv).parameters) == ["bufsize"]
    assert list(inspect.signature(paho._sock_send).parameters) == ["buf"]
    assert list(inspect.signature(paho._packet_write).parameters) == []
    assert callable(paho._sock_close)
    assert callable(paho_mqtt.time_func)
    assert int(paho_mqtt.PUBLISH) == 0x30
    assert int(paho_mqtt.DISCONNECT) == 0xE0
    info = paho_mqtt.MQTTMessageInfo(1)
    info._set_as_published()
    assert info.is_published()
    message = paho_mqtt.MQTTMessage(1, b"a/b")
    assert message._topic == b"a/b" and message.topic == "a/b"
    # The on_publish property is a plain view of ``_on_publish`` (we swap the attribute).
    assert "return self._on_publish" in _source(paho_mqtt.Client.on_publish.fget)


def test_paho_reads_and_writes_through_the_methods_we_replace() -> None:
    # Buffered reads: every socket read of a packet goes through ``self._sock_recv``.
    packet_read = _source(paho_mqtt.Client._packet_read)
    assert "self._sock_recv(" in packet_read
    assert ".recv(" not in packet_read.replace("self._sock_recv(", "")
    # One packet per ``loop_read`` call while nothing is in flight; EAGAIN ends it quietly.
    loop_read = _source(paho_mqtt.Client.loop_read)
    assert "self._packet_read()" in loop_read
    assert "MQTT_ERR_AGAIN" in loop_read
    # Coalesced writes: ``loop_write`` writes through ``self._packet_write`` and then asks
    # for (or drops) the writer with the register/unregister callbacks.
    loop_write = _source(paho_mqtt.Client.loop_write)
    assert "self._packet_write()" in loop_write
    assert "self._call_socket_register_write()" in loop_write
    assert "self._call_socket_unregister_write()" in loop_write
    # Our ``_packet_write`` mirrors paho's: what it does with a written packet.
    packet_write = _source(paho_mqtt.Client._packet_write)
    for needle in (
        "self._out_packet.popleft()",
        "self._sock_send(",
        "packet['pos']",
        "packet['to_process']",
        "packet['info']._set_as_published()",
        "on_publish = self.on_publish",
        "DISCONNECT",
        "self._last_msg_out = time_func()",
    ):
        assert needle in packet_write, needle
    # The register callback fires once per empty->non-empty queue (``_registered_write``).
    register = _source(paho_mqtt.Client._call_socket_register_write)
    assert "self._registered_write" in register
    queue = _source(paho_mqtt.Client._packet_queue)
    assert "self._out_packet.append(" in queue and "self._call_socket_register_write()" in queue
    for key in ("command", "mid", "qos", "pos", "to_process", "packet", "info"):
        assert f'"{key}"' in queue, key
    # Acknowledgements come through ``self.on_publish`` (the attribute we leave in place).
    assert "on_publish = self.on_publish" in _source(paho_mqtt.Client._do_on_publish)
    # An incoming PUBLISH reaches ``on_message`` with an MQTTMessage.
    assert "self._handle_on_message(message)" in _source(paho_mqtt.Client._handle_publish)
    assert "on_message(self, self._userdata, message)" in _source(
        paho_mqtt.Client._handle_on_message
    )
    # The socket is closed with ``_sock_close`` (unregister writer, then on_socket_close).
    sock_close = _source(paho_mqtt.Client._sock_close)
    assert "self._call_socket_unregister_write(sock)" in sock_close
    assert "self._call_socket_close(sock)" in sock_close


# -- behaviour against a real broker ----------------------------------------------------------


@pytest.fixture
def broker(mqtt_broker: MosquittoBroker) -> MosquittoBroker:
    return mqtt_broker


def _options(broker: MosquittoBroker, client_id: str, **extra: Any) -> ConnectOptions:
    return ConnectOptions(host=broker.host, port=broker.port, client_id=client_id, **extra)


@contextlib.asynccontextmanager
async def _connected(broker: MosquittoBroker, client_id: str) -> Any:
    transport = AiomqttTransport()
    await transport.connect(_options(broker, client_id))
    try:
        yield transport
    finally:
        await transport.disconnect(2.0)


async def _collect(transport: AiomqttTransport, n: int, within: float) -> list[IncomingMessage]:
    got: list[IncomingMessage] = []

    async def read() -> None:
        async for message in transport.messages():
            got.append(message)
            if len(got) >= n:
                return

    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(read(), within)
    return got


async def test_hooks_are_installed_on_the_paho_client(broker: MosquittoBroker) -> None:
    async with _connected(broker, "internals-hooks") as transport:
        link = transport._link
        assert isinstance(link, _Link)
        paho = link.paho
        assert paho._sock_recv == link._recv
        assert paho._packet_write == link._packet_write
        assert paho.on_publish == link._on_publish
        assert paho.on_message == link._on_message
        assert paho.on_socket_register_write == link._on_register_write
        # Our reader replaced aiomqtt's on the socket.
        sock = paho.socket()
        assert sock is not None
        key = asyncio.get_running_loop()._selector.get_key(sock.fileno())  # type: ignore[attr-defined]
        reader = key.data[0]
        assert reader is not None and reader._callback == link._on_readable


async def test_qos0_burst_is_coalesced_and_arrives_in_order(broker: MosquittoBroker) -> None:
    async with (
        _connected(broker, "internals-sub") as sub,
        _connected(broker, "internals-pub") as pub,
    ):
        await sub.subscribe([("internals/burst", 0)], 5.0)
        link = pub._link
        assert link is not None
        sends = 0
        real_send = link.paho._sock_send

        def counting_send(buf: bytes | bytearray) -> int:
            nonlocal sends
            sends += 1
            return real_send(buf)

        link.paho._sock_send = counting_send  # type: ignore[method-assign]
        n = 200  # below the yield interval: one loop turn
        for i in range(n):
            await pub.publish("internals/burst", str(i).encode(), 0, False, 5.0)
        assert link.backlog() == n  # queued in paho, written at the next loop turn
        got = await _collect(sub, n, 5.0)
        assert [m.payload for m in got] == [str(i).encode() for i in range(n)]
        assert 1 <= sends <= 5, sends


async def test_qos0_backpressure_waits_below_high_water(broker: MosquittoBroker) -> None:
    async with _connected(broker, "internals-bp") as pub:
        link = pub._link
        assert link is not None
        for _ in range(HIGH_WATER * 3):
            await pub.publish("internals/bp", b"x" * 100, 0, False, 5.0)
            assert link.backlog() <= HIGH_WATER


async def test_qos1_waits_for_puback_and_many_fly_at_once(broker: MosquittoBroker) -> None:
    async with _connected(broker, "internals-q1") as pub:
        link = pub._link
        assert link is not None
        await asyncio.gather(
            *(pub.publish("internals/q1", b"x", 1, False, 5.0) for _ in range(300))
        )
        assert link.acks == {}


async def test_receive_reads_many_packets_per_recv(broker: MosquittoBroker) -> None:
    async with (
        _connected(broker, "internals-rsub") as sub,
        _connected(broker, "internals-rpub") as pub,
    ):
        await sub.subscribe([("internals/recv", 1)], 5.0)
        link = sub._link
        assert link is not None
        recvs = 0
        real_recv = link._paho_recv

        def counting_recv(bufsize: int) -> bytes:
            nonlocal recvs
            recvs += 1
            return real_recv(bufsize)

        link._paho_recv = counting_recv
        n = 1000
        await asyncio.gather(
            *(pub.publish("internals/recv", str(i).encode(), 1, False, 5.0) for i in range(n))
        )
        got = await _collect(sub, n, 10.0)
        assert [m.payload for m in got] == [str(i).encode() for i in range(n)]
        assert all(m.qos == 1 and m.topic == "internals/recv" for m in got)
        assert recvs < n, recvs  # paho alone: 3+ recv calls per packet


async def test_aiomqtt_publish_still_works_on_the_escape_hatch(broker: MosquittoBroker) -> None:
    async with _connected(broker, "internals-hatch") as transport:
        client = transport.native
        assert isinstance(client, aiomqtt.Client)
        await asyncio.wait_for(client.publish("internals/hatch", b"0", qos=0), 5)
        await asyncio.wait_for(client.publish("internals/hatch", b"1", qos=1), 5)
        await transport.publish("internals/hatch", b"2", 1, False, 5.0)


@contextlib.contextmanager
def _resetting_server() -> Iterator[int]:
    """A TCP server that reads the CONNECT and resets the connection (no CONNACK)."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)

    def serve() -> None:
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            with contextlib.suppress(OSError):
                conn.recv(256)
                conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            conn.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield int(listener.getsockname()[1])
    finally:
        listener.close()


async def test_connect_fails_at_once_when_the_link_resets_before_connack() -> None:
    with _resetting_server() as port:
        for i in range(20):
            transport = AiomqttTransport()
            started = time.perf_counter()
            with pytest.raises(TransportConnectError):
                await transport.connect(
                    ConnectOptions(host="127.0.0.1", port=port, client_id=f"reset-{i}", timeout=5)
                )
            assert time.perf_counter() - started < 1.0
