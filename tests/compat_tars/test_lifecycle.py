"""Connection cycles: idempotence, reuse, connection loss and the runtime's reconnect (item 14-22, 45, 51)."""

from __future__ import annotations

import asyncio
import time

import orjson
import pytest
from compat_support import WAIT, Collector, MakeCompat, MakeObserver

from mqttwire import ConnectError
from mqttwire.compat.tars import ConnectionLostError, MQTTClient
from mqttwire.testing.broker import MosquittoBroker

pytestmark = pytest.mark.integration


def _events(observed: list[dict[str, object]]) -> list[object]:
    return [item["data"]["event"] for item in observed]  # type: ignore[index]


async def test_async_with_connects_and_shuts_down(
    mqtt_broker: MosquittoBroker, observe: MakeObserver
) -> None:
    health = await observe("system/health/ctx")
    client = MQTTClient(mqtt_broker.url, "ctx", enable_health=True)
    async with client as entered:
        assert entered is client
        assert client.connected is True
        assert client.client is not None
    assert client.connected is False
    assert client.client is None
    await health.wait_for(2)
    assert _events(health.json()) == ["ready", "shutdown"]


async def test_connect_and_shutdown_are_idempotent(
    compat: MakeCompat, observe: MakeObserver
) -> None:
    health = await observe("system/health/idem")
    client = compat("idem", enable_health=True)
    await client.connect()
    runtime = client.runtime
    await client.connect()
    assert client.runtime is runtime
    await client.shutdown()
    await client.shutdown()
    marker = compat("marker")
    await marker.connect()
    await marker.publish_event("system/health/idem", "marker", {"event": "marker"}, qos=1)
    await health.wait_for(3)
    assert _events(health.json()) == ["ready", "shutdown", "marker"]


async def test_one_object_across_connect_shutdown_cycles(
    compat: MakeCompat, observe: MakeObserver
) -> None:
    """Spec over seed: the seed's permanent shutdown flag made the second shutdown a no-op."""
    health = await observe("system/health/reused")
    beats = await observe("system/keepalive/reused")
    sender = compat("sender")
    await sender.connect()
    client = compat("reused", enable_health=True, enable_heartbeat=True, heartbeat_interval=1.0)
    first = Collector()
    second = Collector()
    for cycle, collector in enumerate((first, second)):
        started = time.time()
        await client.connect()
        await health.wait_until(lambda items, n=cycle: len(items) >= 2 * n + 1)
        # the heartbeat runs again in every cycle: a beat stamped after this connect arrives
        await beats.wait_until(lambda items, t=started: any(b["timestamp"] >= t for b in items))
        await client.subscribe("reuse/t", collector.handler)
        await sender.publish_event("reuse/t", "t", {"cycle": cycle}, qos=1)
        await collector.wait_for(1)
        await client.shutdown()
        await health.wait_until(lambda items, n=cycle: len(items) >= 2 * n + 2)
    assert _events(health.json()) == ["ready", "shutdown", "ready", "shutdown"]
    assert first.data == [{"cycle": 0}]  # handlers belong to their cycle
    assert second.data == [{"cycle": 1}]


async def test_disconnect_closes_without_health_and_allows_connect(
    compat: MakeCompat, observe: MakeObserver
) -> None:
    health = await observe("system/health/disc")
    client = compat("disc", enable_health=True)
    await client.connect()
    await health.wait_for(1)
    await client.disconnect()
    assert client.connected is False
    with pytest.raises(RuntimeError):
        await client.publish_event("x", "t", {})
    await client.connect()
    await health.wait_for(2)
    # disconnect() published nothing; a clean DISCONNECT fires no will either
    assert _events(health.json()) == ["ready", "ready"]


async def test_wait_for_disconnect_returns_after_shutdown(compat: MakeCompat) -> None:
    client = compat("waiter")
    await client.connect()
    waiting = asyncio.create_task(client.wait_for_disconnect())
    await asyncio.sleep(0)
    assert not waiting.done()
    await client.shutdown()
    assert await asyncio.wait_for(waiting, WAIT) is None


async def test_connect_failure_raises_and_a_later_connect_works(
    mqtt_broker: MosquittoBroker,
) -> None:
    client = MQTTClient(mqtt_broker.url, "early")
    mqtt_broker.stop()
    with pytest.raises(ConnectError):
        await client.connect()
    with pytest.raises(RuntimeError):
        await client.wait_for_disconnect()
    mqtt_broker.start()
    await client.connect()
    assert client.connected
    await client.shutdown()


async def test_broker_kill_ends_wait_for_disconnect_and_the_client_reconnects(
    mqtt_broker: MosquittoBroker, compat: MakeCompat, observe: MakeObserver
) -> None:
    health = await observe("system/health/survivor", qos=1)
    client = compat("survivor", enable_health=True, reconnect_max_delay=1.0)
    got = Collector()
    await client.connect()
    await client.subscribe("after/restart", got.handler, qos=1)
    await health.wait_for(1)
    waiting = asyncio.create_task(client.wait_for_disconnect())

    mqtt_broker.kill()
    with pytest.raises(ConnectionLostError) as lost:
        await asyncio.wait_for(waiting, WAIT)
    assert isinstance(lost.value, ConnectionError)
    assert not client.connected

    mqtt_broker.start()
    # Without any help from the service: reconnect, health "reconnected", resubscribe.
    await health.wait_until(lambda items: "reconnected" in _events(items))
    sender = compat("sender")
    await sender.connect()
    await sender.publish_event("after/restart", "t", {"n": 1}, qos=1)
    await got.wait_for(1)
    assert client.connected
    with pytest.raises(ConnectionLostError):  # the cycle's loss stays reported
        await client.wait_for_disconnect()


async def test_watchdog_reports_a_frozen_broker_and_reconnects(
    mqtt_broker: MosquittoBroker, compat: MakeCompat, observe: MakeObserver
) -> None:
    health = await observe("system/health/watched", qos=1)
    client = compat(
        "watched",
        enable_health=True,
        enable_heartbeat=True,
        heartbeat_interval=1.0,
        reconnect_max_delay=1.0,
    )
    await client.connect()
    await health.wait_for(1)
    waiting = asyncio.create_task(client.wait_for_disconnect())
    mqtt_broker.pause()  # the TCP link stays open, nothing answers: only the watchdog notices
    try:
        with pytest.raises(ConnectionLostError):
            await asyncio.wait_for(waiting, WAIT)
    finally:
        mqtt_broker.resume()
    await health.wait_until(lambda items: "reconnected" in _events(items), within=30)
    assert orjson.loads(health.items[-1][0])["data"]["ok"] is True


async def test_a_handler_running_at_shutdown_finishes_and_may_publish(
    compat: MakeCompat, observe: MakeObserver
) -> None:
    done = await observe("shut/done", qos=1)
    sender = compat("sender")
    worker = compat("worker")
    await sender.connect()
    await worker.connect()
    shutting: list[asyncio.Task[None]] = []

    async def handler(payload: bytes) -> None:
        shutting.append(asyncio.create_task(worker.shutdown()))
        await asyncio.sleep(0)  # the shutdown task now runs up to its wait for this handler
        assert not shutting[0].done()
        await worker.publish_event("shut/done", "t", {"reply": True}, qos=1)

    await worker.subscribe("shut/work", handler)
    await sender.publish_event("shut/work", "t", {}, qos=1)
    await done.wait_for(1)
    await asyncio.wait_for(shutting[0], WAIT)
    assert done.json()[0]["data"] == {"reply": True}
    assert worker.runtime is None
