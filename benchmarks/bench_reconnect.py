"""Reconnect time once the broker is reachable again, and messages lost, at minimum backoff.

Two cases, each over ``--trials`` outages (>= 20):

* ``proxy_reset``: the broker stays up; a TCP proxy (``tests/faults/proxy.py``, on its own
  thread and event loop) closes every connection. Time from the reset to the client being
  CONNECTED again (resubscribed).
* ``broker_restart``: mosquitto (persistence on) is stopped with SIGTERM and started again.
  Time from the broker's first accepted TCP connection to the client being CONNECTED.

``backoff_wait_*`` is the part spent asleep in backoff (the client cannot know the broker is
back before it tries), ``attempt_to_connected_*`` the runtime's own part (TCP, CONNECT/CONNACK,
resubscribe) of the attempt that succeeded.

Meanwhile a publisher sends QoS 1 envelopes at ~100 msg/s to a subscriber with a persistent
session and dedupe, both through the fault; ``lost`` counts envelope ids never delivered and
``duplicates`` those delivered twice to the handler (both target 0).

    python benchmarks/bench_reconnect.py [--trials 20] [--cases proxy_reset,broker_restart]

prints one JSON object. ``benchmarks/cases/reconnect.py`` exposes the same measurements to the
benchmark harness (``benchmarks/run.py``).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import socket
import statistics
import sys
import threading
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Coroutine
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "faults"))

from proxy import FaultProxy  # noqa: E402

from mqttwire import ClientState, MQTTClient, MQTTClientConfig  # noqa: E402
from mqttwire.envelope import encode_envelope  # noqa: E402
from mqttwire.paho_transport import PahoTransport  # noqa: E402
from mqttwire.testing.broker import MosquittoBroker  # noqa: E402

__all__ = ["CASES", "measure", "run_case"]

MIN_DELAY, MAX_DELAY = 0.01, 0.5  # the smallest backoff the config allows
# The backoff restarts at its first (immediate) step once a link held max(MAX_DELAY, 1 s).
HOLD_S = 1.1
RATE = 100.0
TOPIC = "bench/reconnect"


class _QuietBroker(MosquittoBroker):
    """Warnings and errors only: per-packet logging costs the broker CPU."""

    def _write_config(self) -> Path:
        path = super()._write_config()
        lines = [
            line
            for line in path.read_text().splitlines()
            if not line.startswith(("log_type", "connection_messages"))
        ]
        path.write_text("\n".join([*lines, "log_type error", "log_type warning"]) + "\n")
        return path


class _ThreadedProxy:
    """A FaultProxy on its own event loop thread, so it never competes with the client's loop."""

    def __init__(self, host: str, port: int) -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._thread.start()
        self.proxy = FaultProxy(host, port)
        self._call(self.proxy.start())

    def _call(self, coro: Awaitable[Any]) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(10)  # type: ignore[arg-type]

    @property
    def url(self) -> str:
        return self.proxy.url

    def reset(self) -> float:
        """Close every link; returns the perf_counter time it happened."""

        async def _reset() -> float:
            self.proxy.reset()
            return time.perf_counter()

        stamp: float = self._call(_reset())
        return stamp

    def close(self) -> None:
        self._call(self.proxy.stop())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)
        self._loop.close()


class _StampedTransport(PahoTransport):
    """The production transport, stamping the start of every connect attempt."""

    def __init__(self) -> None:
        super().__init__()
        self.attempts: list[float] = []

    async def connect(self, options: Any) -> None:
        self.attempts.append(time.perf_counter())
        await super().connect(options)


def _first_accept(host: str, port: int, timeout: float = 15.0) -> float:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((host, port), 0.05):
                return time.perf_counter()
        except OSError:
            time.sleep(0.0005)
    raise TimeoutError(f"broker did not accept on {host}:{port} within {timeout} s")


def _restart(broker: MosquittoBroker) -> float:
    """SIGTERM, start again; the moment the broker first accepted a TCP connection."""
    broker.stop()
    with ThreadPoolExecutor(1) as pool:
        accepted = pool.submit(_first_accept, broker.host, broker.port)
        broker.start()
        return accepted.result()


def _config(url: str, client_id: str, **extra: Any) -> MQTTClientConfig:
    return MQTTClientConfig(
        url=url,
        client_id=client_id,
        reconnect_min_delay=MIN_DELAY,
        reconnect_max_delay=MAX_DELAY,
        connect_timeout=2.0,
        shutdown_timeout=5.0,
        offline_queue_size=100_000,
        **extra,
    )


def _percentile(sorted_values: list[float], q: float) -> float:
    if not sorted_values:
        return float("nan")
    index = min(len(sorted_values) - 1, max(0, round(q * (len(sorted_values) - 1))))
    return sorted_values[index]


async def _settle(done: Callable[[], bool], within: float) -> None:
    """Poll until ``done()`` (every message arrived) or ``within`` seconds passed."""
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(within):
            while not done():  # noqa: ASYNC110 - polls counters, there is no event to wait on
                await asyncio.sleep(0.05)


async def _publish_loop(client: MQTTClient, ids: list[str], stop: asyncio.Event) -> None:
    loop = asyncio.get_running_loop()
    start = loop.time()
    seq = 0
    while not stop.is_set():
        message_id, payload = encode_envelope("bench.seq", {"seq": seq}, source="bench")
        await client.publish(TOPIC, payload, qos=1)
        ids.append(message_id)
        seq += 1
        delay = start + seq / RATE - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)


async def _measure(case: str, trials: int) -> dict[str, float]:
    broker = _QuietBroker(persistence=(case == "broker_restart"))
    broker.start()
    proxy = _ThreadedProxy(broker.host, broker.port) if case == "proxy_reset" else None
    url = proxy.url if proxy is not None else broker.url
    tag = f"{case}-{time.monotonic_ns() % 100000}"
    transport = _StampedTransport()
    subscriber = MQTTClient(
        _config(url, f"sub-{tag}", clean_session=False, dedupe_ttl=300, dedupe_max_entries=100_000),
        transport=transport,
    )
    publisher = MQTTClient(_config(url, f"pub-{tag}"))
    calls: Counter[str] = Counter()

    async def on_message(payload: bytes) -> None:
        calls[json.loads(payload)["id"]] += 1

    connected_at: list[float] = []
    back = asyncio.Event()

    def on_state(state: ClientState) -> None:
        if state is ClientState.CONNECTED:
            connected_at.append(time.perf_counter())
            back.set()

    samples: list[float] = []
    waits: list[float] = []  # reachable -> start of the attempt that succeeded (backoff sleep)
    setups: list[float] = []  # that attempt -> CONNECTED (TCP, CONNECT/CONNACK, resubscribe)
    ids: list[str] = []
    stop = asyncio.Event()
    try:
        await subscriber.subscribe(TOPIC, on_message, qos=1)
        await subscriber.connect()
        await publisher.connect()
        subscriber.add_state_listener(on_state)
        publishing = asyncio.create_task(_publish_loop(publisher, ids, stop))
        for _ in range(trials):
            await asyncio.sleep(HOLD_S)
            back.clear()
            seen = len(connected_at)
            if proxy is not None:
                reachable = proxy.reset()  # the broker never went away
            else:
                reachable = await asyncio.to_thread(_restart, broker)
            await asyncio.wait_for(back.wait(), 15)
            samples.append((connected_at[seen] - reachable) * 1000)
            attempt = transport.attempts[-1]
            waits.append(max(0.0, attempt - reachable) * 1000)
            setups.append((connected_at[seen] - attempt) * 1000)
        await asyncio.sleep(HOLD_S)
        stop.set()
        await asyncio.wait_for(publishing, 30)
        await _settle(lambda: set(calls) >= set(ids), 30)
        await asyncio.sleep(0.5)  # late duplicates would be counted now
    finally:
        stop.set()
        await publisher.shutdown()
        await subscriber.shutdown()
        if proxy is not None:
            proxy.close()
        broker.close()
    samples.sort()
    lost = len(set(ids) - set(calls))
    return {
        "trials": float(len(samples)),
        "p50_ms": statistics.median(samples),
        "p99_ms": _percentile(samples, 0.99),
        "max_ms": samples[-1],
        "min_ms": samples[0],
        "backoff_wait_p50_ms": statistics.median(waits),
        "attempt_to_connected_p50_ms": statistics.median(setups),
        "attempt_to_connected_p99_ms": _percentile(sorted(setups), 0.99),
        "published": float(len(ids)),
        "lost": float(lost),
        "duplicates": float(sum(n - 1 for n in calls.values() if n > 1)),
        "publisher_reconnects": float(publisher.metrics.reconnects),
        "subscriber_reconnects": float(subscriber.metrics.reconnects),
    }


CASES: dict[str, Callable[[int], Coroutine[Any, Any, dict[str, float]]]] = {
    "proxy_reset": lambda n: _measure("proxy_reset", n),
    "broker_restart": lambda n: _measure("broker_restart", n),
}


def run_case(case: str, trials: int) -> dict[str, float]:
    """One case in a fresh event loop (used by ``benchmarks/cases/reconnect.py``)."""
    return asyncio.run(CASES[case](trials))


def measure(trials: int = 20, cases: list[str] | None = None) -> dict[str, dict[str, float]]:
    return {case: run_case(case, trials) for case in (cases or list(CASES))}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--trials", type=int, default=20)
    parser.add_argument("--cases", default=",".join(CASES))
    args = parser.parse_args(argv)
    cases = [c.strip() for c in args.cases.split(",") if c.strip()]
    unknown = [c for c in cases if c not in CASES]
    if unknown:
        parser.error(f"unknown case(s) {unknown}; known: {sorted(CASES)}")
    result = {
        "benchmark": "reconnect",
        "reconnect_min_delay": MIN_DELAY,
        "target_p50_ms": 50.0,
        "cases": measure(args.trials, cases),
    }
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
