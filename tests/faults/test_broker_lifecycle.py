"""Cases 4 and 5: a frozen broker (SIGSTOP/SIGCONT) and a broker that is not there yet."""

from __future__ import annotations

import asyncio
import itertools
import re

import orjson
import pytest
from fault_support import ClientFactory, wait_state, wait_until

from mqttwire import ClientState, MessageMeta, MQTTClient
from mqttwire.testing.broker import MosquittoBroker

pytestmark = [pytest.mark.faults, pytest.mark.integration]


async def test_sigstop_then_sigcont_leaves_exactly_one_live_connection(
    make_client: ClientFactory, broker: MosquittoBroker
) -> None:
    sys_connected: list[int] = []
    health: list[dict[str, object]] = []
    received: list[bytes] = []

    async def on_sys(payload: bytes) -> None:
        sys_connected.append(int(payload))

    async def on_health(payload: bytes) -> None:
        health.append(orjson.loads(payload)["data"])

    async def on_command(payload: bytes, meta: MessageMeta) -> None:
        received.append(payload)

    # The observer has no watchdog and a long keepalive: it sits through the freeze.
    observer = make_client("freeze-observer", broker.url, keepalive=60)
    await observer.subscribe("$SYS/broker/clients/connected", on_sys)
    await observer.subscribe("system/health/freeze-svc", on_health, qos=1)
    await observer.connect()
    service = make_client(
        "freeze-svc",
        broker.url,
        enable_health=True,
        enable_heartbeat=True,
        heartbeat_interval=1.0,
        connect_timeout=1.0,
    )
    await service.subscribe("freeze/cmd", on_command, qos=1)
    await service.connect()
    await wait_until(lambda: 2 in sys_connected, 10, "$SYS: 2 clients connected")

    broker.pause()
    try:
        await wait_until(lambda: service.metrics.watchdog_reconnects == 1, 10, "watchdog")
        await asyncio.sleep(10.0 - 3.0)  # the rest of the 10 s freeze: attempts pile up
    finally:
        broker.resume()
    attempts_while_frozen = len(_attempts(make_client, service))
    assert attempts_while_frozen >= 3  # CONNECTs that the frozen broker never answered

    await wait_state(service, ClientState.CONNECTED, 20)
    # Stale CONNECTs from the listen backlog may kick the new link once; wait until it holds.
    await _holds(service, seconds=3.0)
    # $SYS values are published (every second) when they change: the last one is current.
    assert sys_connected[-1] == 2, f"broker counted {sys_connected} connections"
    log = broker.log()
    opened = len(re.findall(r"New client connected from .* as freeze-svc ", log))
    closed = len(re.findall(rf"Client freeze-svc ({'|'.join(_CLOSED)})", log))
    closed += len(re.findall(r"Socket error on client freeze-svc", log))
    assert opened - closed == 1, f"{opened} opened, {closed} closed:\n{_tail(log)}"

    await observer.publish("freeze/cmd", b"after-thaw", qos=1)
    await wait_until(lambda: received == [b"after-thaw"], 10, "command after the thaw")
    await asyncio.sleep(0.3)
    assert received == [b"after-thaw"]  # exactly once: one connection, one subscription
    assert health[-1]["ok"] is True and health[-1]["event"] == "reconnected"


def _attempts(make_client: ClientFactory, client: MQTTClient) -> list[float]:
    return make_client.transport_of(client).connect_attempts


async def _holds(client: MQTTClient, seconds: float) -> None:
    """Wait until ``client`` stays connected (no new connect) for ``seconds``."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 30
    while loop.time() < deadline:
        connects = client.metrics.connects
        await asyncio.sleep(seconds)
        if client.metrics.connects == connects and client.connected:
            return
    raise AssertionError("the connection kept flapping after the thaw")


_CLOSED = (
    "disconnected",
    "closed its connection",
    "already connected",
    "has exceeded timeout",
)


def _tail(log: str) -> str:
    return "\n".join(line for line in log.splitlines() if "freeze-svc" in line)[-4000:]


async def test_broker_absent_at_startup_client_backs_off_then_connects(
    make_client: ClientFactory, broker: MosquittoBroker
) -> None:
    broker.stop()  # same port, nothing listening
    received: list[bytes] = []

    async def on_data(payload: bytes) -> None:
        received.append(payload)

    client = make_client(
        "late-broker",
        broker.url,
        connect_retry=True,
        reconnect_min_delay=0.1,
        reconnect_max_delay=0.5,
    )
    await client.subscribe("late/data", on_data, qos=1)
    connecting = asyncio.create_task(client.connect())
    await asyncio.sleep(2.0)  # the broker is away for 2 s
    assert not connecting.done() and client.state is ClientState.CONNECTING
    attempts = list(_attempts(make_client, client))
    failures_seen = client.metrics.connect_failures  # read with the attempts, before any await
    await asyncio.to_thread(broker.start)
    await asyncio.wait_for(connecting, 10)
    assert client.connected

    gaps = [b - a for a, b in itertools.pairwise(attempts)]
    # Backoff: 0.1 s doubling to 0.5 s, jitter x[0.5, 1]: no tight loop, no long silence.
    assert 4 <= len(attempts) <= 20, f"{len(attempts)} attempts in 2 s"
    assert all(gap >= 0.05 - 0.01 for gap in gaps), gaps
    assert max(gaps) >= 0.25 and max(gaps) <= 0.5 + 0.3, gaps
    assert failures_seen == len(attempts)

    publisher = make_client("late-publisher", broker.url)
    await publisher.connect()
    await publisher.publish("late/data", b"hello", qos=1)
    await wait_until(lambda: received == [b"hello"], 10, "subscription made at connect")
