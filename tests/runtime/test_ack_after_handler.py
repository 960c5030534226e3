"""Acknowledge after handling: when the dispatcher calls ``ack``, retry policies and dead
letters, the paho transport's in-order acknowledgements on a real broker, and the paho
transport's own edge cases (TCP_NODELAY, a reset before CONNACK)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest

from mqttwire import ClientMetrics, MessageMeta
from mqttwire.dispatch import Dispatcher, RetryPolicy
from mqttwire.paho_transport import PahoTransport
from mqttwire.testing.broker import MosquittoBroker
from mqttwire.transport import ConnectOptions, IncomingMessage


async def _until(predicate: Callable[[], bool], within: float = 10.0) -> None:
    """Yield until ``predicate`` holds (fails after ``within`` seconds, only to catch hangs)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while not predicate():
        if loop.time() >= deadline:
            raise AssertionError("condition not reached")
        await asyncio.sleep(0.001)


async def test_ack_waits_for_every_matching_handler() -> None:
    dispatcher = Dispatcher(ClientMetrics(), 10)
    release = asyncio.Event()
    acked: list[str] = []

    async def quick(payload: bytes) -> None:
        pass

    async def slow(payload: bytes) -> None:
        await release.wait()

    dispatcher.add("a/#", quick, 1)
    dispatcher.add("a/+", slow, 1)
    assert dispatcher.dispatch("a/b", b"x", 1, False, ack=lambda: acked.append("a/b")) == 2
    await _until(lambda: dispatcher.pending == 1)
    assert acked == []  # one handler is still running
    release.set()
    await _until(lambda: acked == ["a/b"])
    await dispatcher.close()


async def test_unmatched_and_overflowed_messages_are_acknowledged() -> None:
    metrics = ClientMetrics()
    dispatcher = Dispatcher(metrics, 1)
    block = asyncio.Event()
    acked: list[int] = []

    started = asyncio.Event()

    async def handler(payload: bytes) -> None:
        started.set()
        await block.wait()

    dispatcher.dispatch("nobody/here", b"", 1, False, ack=lambda: acked.append(0))
    assert acked == [0]
    dispatcher.add("q", handler, 1)
    dispatcher.dispatch("q", b"1", 1, False, ack=lambda: acked.append(1))
    await asyncio.wait_for(started.wait(), 10)
    dispatcher.dispatch("q", b"2", 1, False, ack=lambda: acked.append(2))
    dispatcher.dispatch("q", b"3", 1, False, ack=lambda: acked.append(3))  # drops 2
    assert acked == [0, 2] and metrics.queue_overflow == 1
    block.set()
    await _until(lambda: acked == [0, 2, 1, 3])
    await dispatcher.close()


async def test_unsubscribe_releases_queued_messages_but_close_does_not() -> None:
    dispatcher = Dispatcher(ClientMetrics(), 10)
    block = asyncio.Event()
    acked: list[str] = []
    running = 0

    async def handler(payload: bytes) -> None:
        nonlocal running
        running += 1
        await block.wait()

    first = dispatcher.add("one", handler, 1)
    dispatcher.add("two", handler, 1)
    for topic in ("one", "one", "two", "two"):
        dispatcher.dispatch(topic, b"", 1, False, ack=lambda t=topic: acked.append(t))
    await _until(lambda: running == 2)
    # Unsubscribing: the running and the queued message are done with (an unacknowledged one
    # would hold back every later acknowledgement of the link).
    await dispatcher.remove(first)
    assert acked == ["one", "one"]
    await dispatcher.close()  # shutting down: left unacknowledged for the broker to resend
    assert acked == ["one", "one"]


async def test_retry_policy_retries_then_succeeds() -> None:
    metrics = ClientMetrics()
    dispatcher = Dispatcher(metrics, 10)
    calls: list[bytes] = []
    acked: list[bool] = []

    async def flaky(payload: bytes) -> None:
        calls.append(payload)
        if len(calls) < 3:
            raise RuntimeError("not yet")

    dispatcher.add("t", flaky, 1, retry=RetryPolicy(retries=2))
    dispatcher.dispatch("t", b"m", 1, False, ack=lambda: acked.append(True))
    await _until(lambda: acked == [True])
    assert calls == [b"m"] * 3
    assert metrics.handler_errors == 2 and metrics.messages_delivered == 1
    assert metrics.dead_lettered == 0
    await dispatcher.close()


async def test_retry_policy_gives_up_to_the_dead_letter_handler() -> None:
    metrics = ClientMetrics()
    dispatcher = Dispatcher(metrics, 10)
    calls = 0
    dead: list[tuple[bytes, str, str]] = []
    acked: list[bool] = []

    async def broken(payload: bytes) -> None:
        nonlocal calls
        calls += 1
        raise ValueError(f"bad {calls}")

    async def dead_letter(payload: bytes, meta: MessageMeta, error: Exception) -> None:
        dead.append((payload, meta.topic, str(error)))

    dispatcher.add("t", broken, 1, retry=RetryPolicy(retries=3, dead_letter=dead_letter))
    dispatcher.dispatch("t", b"poison", 1, False, ack=lambda: acked.append(True))
    dispatcher.dispatch("t", b"poison", 1, False, ack=lambda: acked.append(True))
    await _until(lambda: acked == [True, True])
    assert calls == 8  # 4 attempts each, never more
    assert dead == [(b"poison", "t", "bad 4"), (b"poison", "t", "bad 8")]
    assert metrics.handler_errors == 8 and metrics.dead_lettered == 2
    await dispatcher.close()


def test_retry_policy_rejects_negative_retries() -> None:
    with pytest.raises(ValueError, match="retries"):
        RetryPolicy(retries=-1)


# -- the paho transport on a real broker -------------------------------------------------------


def _options(broker: MosquittoBroker, client_id: str, **kw: object) -> ConnectOptions:
    return ConnectOptions(host=broker.host, port=broker.port, client_id=client_id, **kw)  # type: ignore[arg-type]


async def _take(transport: PahoTransport, count: int) -> list[IncomingMessage]:
    got: list[IncomingMessage] = []

    async def read() -> None:
        async for message in transport.messages():
            got.append(message)
            if len(got) == count:
                return

    await asyncio.wait_for(read(), 20)
    return got


@pytest.mark.integration
@pytest.mark.parametrize("protocol", ["3.1.1", "5"])
async def test_acknowledgements_go_out_in_arrival_order(
    mqtt_broker: MosquittoBroker, protocol: str
) -> None:
    """Messages 1 and 2 handled, 0 not: no PUBACK may go out, so after the link drops the
    persistent session sends all three again; acknowledged in order, none comes back."""
    publisher = PahoTransport()
    await publisher.connect(_options(mqtt_broker, "order-pub", protocol=protocol))
    worker = PahoTransport()
    session = _options(
        mqtt_broker,
        "order-worker",
        clean_session=False,
        session_expiry=300,
        manual_ack=True,
        protocol=protocol,
    )
    await worker.connect(session)
    assert await worker.subscribe([("order/t", 1)], 10) == [1]
    for i in range(3):
        await publisher.publish("order/t", str(i).encode(), 1, False, 10)
    first = await _take(worker, 3)
    assert [m.payload for m in first] == [b"0", b"1", b"2"]
    assert all(m.ack_id is not None for m in first)
    worker.ack(first[2])
    worker.ack(first[1])
    await publisher.publish("order/t", b"sync", 1, False, 10)  # a round trip on both links
    await _take(worker, 1)
    worker.abort()  # no PUBACK went out: message 0 holds 1 and 2 back
    await worker.disconnect(5)

    await worker.connect(session)
    again = await _take(worker, 4)
    assert [m.payload for m in again] == [b"0", b"1", b"2", b"sync"]
    for message in again:
        worker.ack(message)
    await publisher.publish("order/t", b"after", 1, False, 10)
    worker.ack((await _take(worker, 1))[0])
    # The broker reads a connection's packets in order: once this SUBACK is back it has the
    # PUBACKs (a disconnect alone could race the next connect, which drops unread packets).
    await worker.subscribe([("order/barrier", 0)], 10)
    await worker.disconnect(5)

    await worker.connect(session)  # everything was acknowledged: only new messages come
    await publisher.publish("order/t", b"fresh", 1, False, 10)
    assert [m.payload for m in await _take(worker, 1)] == [b"fresh"]
    await worker.disconnect(5)
    await publisher.disconnect(5)


# -- configuration and the client on the paho transport ----------------------------------------


@pytest.mark.integration
async def test_client_acknowledges_after_the_handler_on_tcp_nodelay_link(
    mqtt_broker: MosquittoBroker,
) -> None:
    import socket

    import paho.mqtt.client as paho_mqtt

    from mqttwire import MQTTClient, MQTTClientConfig

    config = MQTTClientConfig(
        url=mqtt_broker.url,
        client_id="paho-client",
        ack_after_handler=True,
        shutdown_timeout=2.0,
    )
    client = MQTTClient(config)
    got: list[bytes] = []
    handled = asyncio.Event()

    async def handler(payload: bytes) -> None:
        got.append(payload)
        handled.set()

    await client.subscribe("paho/t", handler, qos=1)
    async with client:
        native = client.client
        assert isinstance(native, paho_mqtt.Client)
        sock = native.socket()
        assert sock is not None
        assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) != 0
        await client.publish("paho/t", b"hello", qos=1)
        await asyncio.wait_for(handled.wait(), 10)
    assert got == [b"hello"]
    assert client.metrics.messages_delivered == 1


async def test_dead_letter_topic_republishes_the_failed_message() -> None:
    from mqttwire import MQTTClient, MQTTClientConfig
    from mqttwire.testing.memory import MEMORY_URL, MemoryBroker

    broker = MemoryBroker()
    client = MQTTClient(
        MQTTClientConfig(url=MEMORY_URL, client_id="dlq", shutdown_timeout=1.0),
        transport=broker.transport(),
    )
    dead: list[bytes] = []
    arrived = asyncio.Event()

    async def broken(payload: bytes) -> None:
        raise RuntimeError("cannot handle")

    async def dead_letters(payload: bytes) -> None:
        dead.append(payload)
        arrived.set()

    policy = RetryPolicy(retries=1, dead_letter=client.dead_letter_topic("jobs/dead"))
    await client.subscribe("jobs/in", broken, qos=1, retry=policy)
    await client.subscribe("jobs/dead", dead_letters, qos=1)
    async with client:
        await client.publish("jobs/in", b"poison", qos=1)
        await asyncio.wait_for(arrived.wait(), 10)
    assert dead == [b"poison"]
    assert client.metrics.handler_errors == 2 and client.metrics.dead_lettered == 1


async def test_connect_fails_at_once_when_the_link_resets_before_connack() -> None:
    """A server that reads CONNECT and resets the connection: ``connect`` fails from paho's
    ``on_disconnect`` (``closed_before_connack``), not after its 30 s timeout."""
    import socket

    from mqttwire.transport import TransportConnectError

    async def reset(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read(1)  # the CONNECT arrived
        sock = writer.get_extra_info("socket")
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
        writer.transport.abort()

    server = await asyncio.start_server(reset, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        for _ in range(5):
            transport = PahoTransport()
            options = ConnectOptions(host="127.0.0.1", port=port, client_id="reset", timeout=30)
            with pytest.raises(TransportConnectError) as info:
                await asyncio.wait_for(transport.connect(options), 10)  # 10: only to catch hangs
            assert info.value.closed_before_connack
            assert not info.value.fatal
    finally:
        server.close()
        await server.wait_closed()
