"""Cases 3 and 6: network faults between client and broker, injected by a TCP proxy."""

from __future__ import annotations

import asyncio
import gc
import random
from collections import Counter

import orjson
import pytest
from fault_support import (
    ClientFactory,
    EnvelopeInbox,
    PacedPublisher,
    count_fds,
    wait_state,
    wait_until,
)
from proxy import PROXY_TASK_PREFIX, FaultProxy

from mqttwire import ClientState, MessageMeta
from mqttwire.testing.broker import MosquittoBroker

pytestmark = [pytest.mark.faults, pytest.mark.integration]


async def test_blackhole_watchdog_reconnects_within_three_intervals_and_will_fires(
    make_client: ClientFactory, broker: MosquittoBroker, proxy: FaultProxy
) -> None:
    interval = 1.0
    keepalive = 3  # the broker gives up on the silent link after 1.5 x 3 s and sends the will
    health: list[tuple[dict[str, object], bool]] = []

    async def on_health(payload: bytes, meta: MessageMeta) -> None:
        health.append((orjson.loads(payload)["data"], meta.retain))

    observer = make_client("bh-observer", broker.url)
    await observer.subscribe("system/health/bh-service", on_health, qos=1)
    await observer.connect()
    service = make_client(
        "bh-service",
        proxy.url,
        enable_health=True,
        enable_heartbeat=True,
        heartbeat_interval=interval,
        keepalive=keepalive,
        connect_timeout=1.0,
    )
    states: list[tuple[float, ClientState]] = []
    loop = asyncio.get_running_loop()
    service.add_state_listener(lambda s: states.append((loop.time(), s)))
    await service.connect()
    await wait_until(lambda: any(h.get("event") == "ready" for h, _ in health), 10, "ready")
    await wait_until(lambda: service.metrics.heartbeats_sent >= 2, 10, "heartbeats flowing")

    proxy.set_mode("blackhole")
    blackholed_at = loop.time()
    await wait_until(lambda: service.state is not ClientState.CONNECTED, 10, "watchdog")
    detected = states[-1][0] - blackholed_at
    assert service.metrics.watchdog_reconnects == 1
    assert detected <= 3 * interval, f"watchdog took {detected:.2f}s"

    # The broker still holds the old (silent) link; after 1.5 x keepalive it fires the will.
    await wait_until(lambda: any(h["ok"] is False for h, _ in health), 15, "the will")
    will = next(h for h, _ in health if h["ok"] is False)
    assert will["event"] == "offline" and will["err"] == "unexpected disconnect"
    assert service.state is not ClientState.CONNECTED  # still cut off: nothing else could say so

    proxy.set_mode("pass")
    await wait_state(service, ClientState.CONNECTED, 15)
    await wait_until(lambda: health[-1][0].get("event") == "reconnected", 10, "reconnected")
    assert health[-1][0]["ok"] is True
    assert [h.get("event") for h, _ in health] == ["ready", "offline", "reconnected"]
    assert service.metrics.watchdog_reconnects == 1
    assert proxy.dropped_bytes > 0


async def _settled(proxy: FaultProxy, *clients: object, links: int) -> None:
    from mqttwire import MQTTClient

    typed = [c for c in clients if isinstance(c, MQTTClient)]
    await wait_until(
        lambda: (
            all(c.state is ClientState.CONNECTED for c in typed)
            and proxy.connections == links
            and all(c.offline_queue_length == 0 for c in typed)
        ),
        30,
        "clients connected and idle",
    )


def _client_tasks() -> list[asyncio.Task[object]]:
    current = asyncio.current_task()
    return [
        t
        for t in asyncio.all_tasks()
        if t is not current and not t.get_name().startswith(PROXY_TASK_PREFIX)
    ]


async def _stable_counts() -> tuple[int, int]:
    """Task and fd counts once closing sockets and finishing tasks have settled."""
    last: tuple[int, int] | None = None
    for _ in range(50):
        gc.collect()
        await asyncio.sleep(0.1)
        now = (len(_client_tasks()), count_fds())
        if now == last:
            return now
        last = now
    assert last is not None
    return last


async def test_flapping_link_leaks_nothing_duplicates_nothing_loses_nothing(
    make_client: ClientFactory, broker: MosquittoBroker, proxy: FaultProxy
) -> None:
    tasks_at_start, fds_at_start = await _stable_counts()
    dedupe = {"dedupe_ttl": 120.0, "dedupe_max_entries": 100_000}
    sub = make_client("flap-sub", proxy.url, clean_session=False, keepalive=5, **dedupe)
    wide, narrow = EnvelopeInbox(), EnvelopeInbox()
    await sub.subscribe("flap/#", wide.handler, qos=1)
    await sub.subscribe("flap/+", narrow.handler, qos=1)
    await sub.connect()
    pub = make_client("flap-pub", proxy.url, offline_queue_size=10_000, keepalive=5)
    await pub.connect()
    await _settled(proxy, sub, pub, links=2)
    tasks_before, fds_before = await _stable_counts()

    publisher = PacedPublisher(pub, "flap/seq", rate=50)
    run = asyncio.create_task(publisher.run())
    resets = await proxy.flap(20.0, min_gap=0.2, max_gap=0.8, rng=random.Random(5))
    publisher.stop()
    await asyncio.wait_for(run, 30)

    await _settled(proxy, sub, pub, links=2)
    ids = set(publisher.ids)
    await wait_until(lambda: set(wide.calls) >= ids and set(narrow.calls) >= ids, 30, "all")
    await asyncio.sleep(0.5)  # a late duplicate would show up now
    tasks_after, fds_after = await _stable_counts()

    assert resets >= 20 and pub.metrics.reconnects >= 10 and sub.metrics.reconnects >= 10
    assert len(sub.subscriptions) == 2
    for inbox in (wide, narrow):
        assert set(inbox.calls) == ids
        assert inbox.twice() == [], "a message reached a handler twice"
        assert inbox.total == len(ids)
    # One message, one delivery per handler: the broker never held a second subscription.
    assert Counter(wide.seqs) == Counter(narrow.seqs) == Counter(range(len(ids)))
    assert tasks_after == tasks_before, "tasks leaked across reconnects"
    assert fds_after == fds_before, "sockets leaked across reconnects"

    await make_client.close()
    await proxy.stop()
    tasks_end, fds_end = await _stable_counts()
    assert tasks_end == tasks_at_start
    assert fds_end <= fds_at_start
