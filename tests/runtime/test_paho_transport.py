"""What the paho transport promises a publisher, on a real broker and through its public API:
QoS 0 bursts keep their order, a QoS 0 publish waits only while the outgoing buffer is full
(bounded, then a typed timeout), and QoS 1 waits for the broker's PUBACK with many in flight."""

from __future__ import annotations

import asyncio

import pytest

from mqttwire.paho_transport import HIGH_WATER, PahoTransport
from mqttwire.testing.broker import MosquittoBroker
from mqttwire.transport import ConnectOptions, IncomingMessage, TransportTimeoutError

pytestmark = pytest.mark.integration


def _options(broker: MosquittoBroker, client_id: str) -> ConnectOptions:
    return ConnectOptions(host=broker.host, port=broker.port, client_id=client_id)


async def _take(transport: PahoTransport, count: int) -> list[IncomingMessage]:
    got: list[IncomingMessage] = []

    async def read() -> None:
        async for message in transport.messages():
            got.append(message)
            if len(got) == count:
                return

    await asyncio.wait_for(read(), 60)  # only to catch a hang
    return got


async def test_qos0_burst_arrives_in_order(mqtt_broker: MosquittoBroker) -> None:
    subscriber, publisher = PahoTransport(), PahoTransport()
    await subscriber.connect(_options(mqtt_broker, "burst-sub"))
    await publisher.connect(_options(mqtt_broker, "burst-pub"))
    try:
        assert await subscriber.subscribe([("burst/t", 0)], 10) == [0]
        count = HIGH_WATER * 3
        reading = asyncio.create_task(_take(subscriber, count))
        for i in range(count):
            await publisher.publish("burst/t", str(i).encode(), 0, False, 10)
        got = await reading
        assert [int(m.payload) for m in got] == list(range(count))
    finally:
        await publisher.disconnect(5)
        await subscriber.disconnect(5)


async def test_qos0_publish_waits_only_while_the_buffer_is_full(
    mqtt_broker: MosquittoBroker,
) -> None:
    """With the broker frozen the socket stops taking data: publishes go on until the buffer
    holds HIGH_WATER packets, then one waits and fails after its timeout instead of growing
    memory without a bound."""
    publisher = PahoTransport()
    await publisher.connect(_options(mqtt_broker, "bp-pub"))
    mqtt_broker.pause()
    try:
        payload = b"x" * 65536
        sent = 0
        with pytest.raises(TransportTimeoutError):
            for _ in range(HIGH_WATER * 100):
                await publisher.publish("bp/t", payload, 0, False, 0.5)
                sent += 1
        assert sent >= HIGH_WATER - 1  # it did not wait before the buffer was full
    finally:
        mqtt_broker.resume()
        publisher.abort()
        await publisher.disconnect(5)


async def test_qos1_waits_for_puback_and_many_fly_at_once(mqtt_broker: MosquittoBroker) -> None:
    publisher = PahoTransport()
    await publisher.connect(_options(mqtt_broker, "q1-pub"))
    try:
        await asyncio.gather(*(publisher.publish("q1/t", b"x", 1, False, 10) for _ in range(300)))
        mqtt_broker.pause()  # no PUBACK can come back: the publish must not return
        with pytest.raises(TransportTimeoutError):
            await publisher.publish("q1/t", b"late", 1, False, 0.5)
    finally:
        mqtt_broker.resume()
        publisher.abort()
        await publisher.disconnect(5)
