"""Cases 8 and 9: misbehaving handlers and a burst into a slow consumer."""

from __future__ import annotations

import asyncio
import gc
import tracemalloc

import orjson
import pytest
from fault_support import ClientFactory, wait_until

from mqttwire import MessageMeta
from mqttwire.testing.broker import MosquittoBroker

pytestmark = [pytest.mark.faults, pytest.mark.integration]


async def test_raising_and_blocking_handlers_do_not_stop_heartbeat_handlers_or_publishing(
    make_client: ClientFactory, broker: MosquittoBroker
) -> None:
    client = make_client("isolated", broker.url, enable_heartbeat=True, heartbeat_interval=1.0)
    fast: list[int] = []
    calls = {"raise": 0, "block": 0}
    blocked, unblocked = asyncio.Event(), asyncio.Event()

    async def raising(payload: bytes) -> None:
        calls["raise"] += 1
        raise RuntimeError("handler bug")

    async def blocking(payload: bytes, meta: MessageMeta) -> None:
        calls["block"] += 1
        if calls["block"] == 1:
            blocked.set()
            await asyncio.sleep(10.0)  # stuck for 10 s on its first message
            unblocked.set()

    async def quick(payload: bytes) -> None:
        fast.append(int(payload))

    await client.subscribe("#", blocking, qos=1)  # sees heartbeats too
    await client.subscribe("iso/#", raising, qos=1)
    await client.subscribe("iso/data", quick, qos=1)
    await client.connect()
    await wait_until(blocked.is_set, 10, "the blocking handler to start")

    loop = asyncio.get_running_loop()
    beats_before = client.metrics.heartbeats_sent
    slowest = 0.0
    for i in range(18):  # ~9 s of publishing while the handler is stuck
        started = loop.time()
        await client.publish("iso/data", str(i).encode(), qos=1)
        slowest = max(slowest, loop.time() - started)
        await asyncio.sleep(0.5)
    await wait_until(lambda: len(fast) == 18, 10, "the quick handler")
    assert not unblocked.is_set(), "the machine is too slow for this test's 10 s window"

    assert fast == list(range(18))
    assert calls["raise"] == 18 and client.metrics.handler_errors == 18
    assert calls["block"] == 1  # still inside its first message
    assert client.metrics.heartbeats_sent - beats_before >= 7  # ~1 per second
    assert client.metrics.watchdog_reconnects == 0 and client.metrics.reconnects == 0
    assert slowest < 2.0, f"a publish took {slowest:.2f}s while a handler was stuck"

    await wait_until(unblocked.is_set, 15, "the blocking handler to return")
    # ...and then it catches up with everything queued for it meanwhile (heartbeats + data).
    await wait_until(lambda: calls["block"] >= 1 + 18, 10, "the blocked handler's backlog")


async def test_burst_into_slow_consumer_stays_bounded_and_counts_every_drop(
    make_client: ClientFactory, broker: MosquittoBroker
) -> None:
    total, queue_size, size = 10_000, 100, 1024
    consumer = make_client("slow-consumer", broker.url, handler_queue_size=queue_size)
    release = asyncio.Event()
    delivered: list[int] = []

    async def slow(payload: bytes) -> None:
        await release.wait()
        delivered.append(orjson.loads(payload)["seq"])

    sub = await consumer.subscribe("burst/data", slow, qos=1)
    await consumer.connect()
    producer = make_client("burst-producer", broker.url)
    await producer.connect()
    pad = "x" * size
    payloads = [orjson.dumps({"seq": i, "pad": pad}) for i in range(total)]
    most_pending = 0

    gc.collect()
    tracemalloc.start()
    try:
        baseline = tracemalloc.get_traced_memory()[0]
        for start in range(0, total, 200):
            window = payloads[start : start + 200]
            await asyncio.gather(*(producer.publish("burst/data", p, qos=1) for p in window))
            most_pending = max(most_pending, sub.pending)
        await wait_until(lambda: consumer.metrics.messages_received == total, 60, "the whole burst")
        most_pending = max(most_pending, sub.pending)
        peak = tracemalloc.get_traced_memory()[1] - baseline
    finally:
        tracemalloc.stop()
    release.set()
    await wait_until(lambda: sub.pending == 0, 30, "the consumer to drain")

    dropped = consumer.metrics.queue_overflow
    assert len(delivered) + dropped == total
    assert consumer.metrics.messages_delivered == len(delivered)
    assert most_pending <= queue_size + 1  # the queue plus the message being handled
    assert dropped >= total - 10 * queue_size  # it really overflowed
    assert delivered[-1] == total - 1  # drop-oldest: the newest message is always kept
    assert delivered == sorted(delivered)
    # 10,000 x 1 KiB went through; with an unbounded queue anywhere on the path ~10 MB piled up.
    assert peak < 5 * 1024 * 1024, f"peak traced memory grew by {peak / 1e6:.1f} MB"
