"""Reconnect time: SIGKILL the broker, start it again at once, time from "broker accepts TCP"
to "client CONNECTED" (resubscribed), with the smallest backoff the config allows.

The broker restarts off the event loop (the client keeps retrying meanwhile); a prober thread
tries a TCP connect every millisecond and stamps the first one that succeeds, and the client's
state listener stamps CONNECTED.
"""

from __future__ import annotations

import asyncio
import socket
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from harness.broker import BenchBroker
from harness.stats import percentile

from cases.typed_util import tars_client
from mqttwire.client import MQTTClient
from mqttwire.state import ClientState

__all__ = ["reconnect"]

MIN_DELAY, MAX_DELAY = 0.01, 0.5  # MQTT_RECONNECT_MIN_DELAY / _MAX_DELAY lower bounds
# The runtime resets its backoff once a link held for max(MAX_DELAY, 1 s): hold each new link
# that long so every outage starts at the minimum backoff.
HOLD_S = 1.1
RECONNECT_LIMIT_S = 30.0


def _first_accept(host: str, port: int, timeout: float = 10.0) -> float:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((host, port), 0.05):
                return time.perf_counter()
        except OSError:
            time.sleep(0.001)
    raise TimeoutError(f"broker did not accept on {host}:{port} within {timeout} s")


def _restart(broker: BenchBroker) -> float:
    """Start the broker; the moment it first accepted a TCP connection."""
    with ThreadPoolExecutor(1) as pool:
        accepted = pool.submit(_first_accept, broker.host, broker.port)
        broker.start()
        return accepted.result()


async def _reconnect(params: dict[str, Any]) -> dict[str, float]:
    broker = BenchBroker()
    broker.start()
    samples: list[float] = []
    connected_at: list[float] = []
    reconnecting, connected = asyncio.Event(), asyncio.Event()
    try:
        tars = tars_client(broker.url, reconnect_min_delay=MIN_DELAY, reconnect_max_delay=MAX_DELAY)

        def on_state(state: ClientState) -> None:
            if state is ClientState.CONNECTED:
                connected_at.append(time.perf_counter())
                connected.set()
            elif state is ClientState.RECONNECTING:
                reconnecting.set()

        client = tars.client
        assert isinstance(client, MQTTClient)
        client.add_state_listener(on_state)
        async with tars:
            await tars.subscribe_stt_final(_ignore)
            for _ in range(int(params["n"])):
                await asyncio.sleep(HOLD_S)
                reconnecting.clear()
                connected.clear()
                seen = len(connected_at)
                await asyncio.to_thread(broker.kill)
                await asyncio.wait_for(reconnecting.wait(), 10)
                back = await asyncio.to_thread(_restart, broker)
                try:
                    await asyncio.wait_for(connected.wait(), RECONNECT_LIMIT_S)
                except TimeoutError:
                    raise RuntimeError(
                        f"no reconnect {RECONNECT_LIMIT_S} s after the broker was back: "
                        f"state={client.state}, last_error={client.last_error!r}"
                    ) from None
                samples.append((connected_at[seen] - back) * 1000)
    finally:
        broker.close()
    samples.sort()
    return {
        "p50_ms": percentile(samples, 0.5),
        "p99_ms": percentile(samples, 0.99),
        "max_ms": samples[-1],
    }


async def _ignore(*_: object) -> None:
    return None


def reconnect(params: dict[str, Any]) -> dict[str, float]:
    return asyncio.run(_reconnect(params))
