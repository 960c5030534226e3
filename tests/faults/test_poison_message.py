"""Issue 15, defect 1: a message the broker refuses by closing the connection (here: larger
than the broker's ``max_packet_size``) is dropped after POISON_STRIKES lost links with it alone
in flight, and never blocks the messages queued behind it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fault_support import ClientFactory, start_broker, wait_until

from mqttwire.client import POISON_STRIKES
from mqttwire.testing.broker import MosquittoBroker

pytestmark = [pytest.mark.faults, pytest.mark.integration]


@pytest.fixture
def small_packet_broker() -> Iterator[MosquittoBroker]:
    """Mosquitto disconnects a client that sends a packet above 2,000 bytes."""
    b = start_broker(extra_config=["max_packet_size 2000"])
    try:
        yield b
    finally:
        b.close()


async def test_a_packet_the_broker_refuses_is_dropped_and_the_rest_delivered(
    make_client: ClientFactory, small_packet_broker: MosquittoBroker
) -> None:
    url = small_packet_broker.url
    received: list[bytes] = []

    async def collect(payload: bytes) -> None:
        received.append(payload)

    subscriber = make_client("poison-sub", url)
    await subscriber.subscribe("poison/t", collect, qos=1)
    await subscriber.connect()
    publisher = make_client("poison-pub", url)
    await publisher.connect()

    await publisher.publish("poison/t", b"before", qos=1)
    await publisher.publish("poison/t", b"P" * 5000, qos=1)  # the broker drops the link
    for i in range(10):
        await publisher.publish("poison/t", f"after-{i}".encode(), qos=1)

    expected = [b"before"] + [f"after-{i}".encode() for i in range(10)]
    await wait_until(lambda: len(received) >= len(expected), 60, "the messages behind it")
    assert received == expected
    assert publisher.metrics.publish_poisoned == 1
    assert publisher.metrics.reconnects >= POISON_STRIKES
    assert publisher.offline_queue_length == 0
    assert publisher.last_error is not None and "poison/t" in str(publisher.last_error)
