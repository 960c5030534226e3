"""Issue 15, defect 4: an event-loop stall longer than the watchdog's limit (a handler calling
``time.sleep``) is logged as a stall; the healthy link stays up and no QoS 1 message is lost."""

from __future__ import annotations

import time

import pytest
from fault_support import ClientFactory, wait_until

from mqttwire.testing.broker import MosquittoBroker

pytestmark = [pytest.mark.faults, pytest.mark.integration]


async def test_qos1_messages_survive_an_event_loop_stall_with_heartbeat(
    make_client: ClientFactory, broker: MosquittoBroker
) -> None:
    received: list[int] = []

    async def handler(payload: bytes) -> None:
        if payload == b"stall":
            time.sleep(3.5)  # noqa: ASYNC251 - the fault under test: the event loop blocked
            return
        received.append(int(payload))

    subscriber = make_client("stalled", broker.url, enable_heartbeat=True, heartbeat_interval=1.0)
    await subscriber.subscribe("stall/t", handler, qos=1)
    await subscriber.connect()
    publisher = make_client("stall-pub", broker.url)
    await publisher.connect()
    await publisher.publish("stall/t", b"stall", qos=1)
    for i in range(100):
        await publisher.publish("stall/t", str(i).encode(), qos=1)

    await wait_until(lambda: len(received) >= 100, 30, "100 messages after the stall")
    assert received == list(range(100))
    assert subscriber.metrics.watchdog_reconnects == 0
    assert subscriber.metrics.loop_stalls >= 1
