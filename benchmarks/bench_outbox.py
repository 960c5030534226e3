"""What the durable outbox (``MQTT_OFFLINE_QUEUE_PATH``) costs per publish, against memory.

Two measurements, each repeated ``--repeats`` times with the variants interleaved (memory,
sqlite, memory, sqlite, ...) so a slow phase of the machine hits all of them; medians and the
ratios between variants come from this one run:

* ``client_offline_enqueue``: ``MQTTClient.publish_event(..., qos=1)`` while the broker is down
  (an in-memory broker that refuses connections), i.e. the whole offline path a service pays:
  envelope, checks, and the store's ``put``. ``memory`` vs ``sqlite`` (WAL, synchronous=NORMAL).
* ``store``: the store alone, with the same envelopes (~160 bytes): ``put`` (offline enqueue) and
  ``track`` + ``done`` (what a live QoS >= 1 publish adds: written before it is sent, deleted on
  its ack), for ``memory``, ``sqlite_normal`` (what the client uses) and ``sqlite_full``
  (``synchronous=FULL``: an fsync per commit, the price of surviving power loss).

The SQLite files go to ``--dir`` (default: a temporary folder under the current directory, so
on the same disk as the checkout; a tmpfs would make fsync free).

    python benchmarks/bench_outbox.py [--messages 20000] [--repeats 5] [--out results/outbox.json]

prints one JSON object (and writes it to ``--out`` when given).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

from mqttwire import MQTTClient, MQTTClientConfig
from mqttwire.envelope import encode_envelope
from mqttwire.offline_queue import OfflineQueue, OutgoingMessage
from mqttwire.sqlite_outbox import SqliteOutbox
from mqttwire.testing import MemoryBroker

TOPIC = "bench/outbox"
TEXT = "the quick brown fox jumps over a"  # 32 characters, like the typed benchmarks


async def client_offline_enqueue(messages: int, path: Path | None) -> float:
    """Seconds per ``publish_event`` QoS 1 while the broker is down."""
    broker = MemoryBroker()
    broker.stop()
    config = MQTTClientConfig(
        url=broker.url,
        client_id="bench-outbox",
        connect_retry=True,
        reconnect_min_delay=5.0,
        reconnect_max_delay=5.0,
        offline_queue_size=messages,
        offline_queue_bytes=1 << 30,
        offline_queue_path=str(path) if path is not None else None,
        shutdown_timeout=0,
    )
    client = MQTTClient(config, transport=broker.transport())
    connecting = asyncio.create_task(client.connect())
    await asyncio.sleep(0)
    start = time.perf_counter()
    for seq in range(messages):
        await client.publish_event(TOPIC, "bench.seq", {"seq": seq, "text": TEXT}, qos=1)
    elapsed = time.perf_counter() - start
    assert client.offline_queue_length == messages
    await client.shutdown()
    await asyncio.gather(connecting, return_exceptions=True)
    return elapsed / messages


def _payloads(messages: int) -> list[OutgoingMessage]:
    return [
        OutgoingMessage(
            TOPIC, encode_envelope("bench.seq", {"seq": i, "text": TEXT}, source="b")[1], 1, False
        )
        for i in range(messages)
    ]


Store = OfflineQueue | SqliteOutbox


def _store(kind: str, path: Path, messages: int) -> Store:
    if kind == "memory":
        return OfflineQueue(messages, 1 << 30)
    sync: Literal["NORMAL", "FULL"] = "FULL" if kind == "sqlite_full" else "NORMAL"
    return SqliteOutbox(path, messages, 1 << 30, synchronous=sync)


def store_put(kind: str, path: Path, batch: list[OutgoingMessage]) -> float:
    store = _store(kind, path, len(batch))
    start = time.perf_counter()
    for message in batch:
        store.put(message)
    elapsed = time.perf_counter() - start
    store.close()
    return elapsed / len(batch)


def store_track_done(kind: str, path: Path, batch: list[OutgoingMessage]) -> float:
    store = _store(kind, path, len(batch))
    start = time.perf_counter()
    for message in batch:
        store.done([store.track(message)])
    elapsed = time.perf_counter() - start
    store.close()
    return elapsed / len(batch)


def _fresh(folder: Path, name: str) -> Path:
    path = folder / f"{name}.db"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    return path


def _summary(samples: dict[str, list[float]]) -> dict[str, Any]:
    return {
        name: {
            "median_us": round(statistics.median(values) * 1e6, 2),
            "min_us": round(min(values) * 1e6, 2),
            "max_us": round(max(values) * 1e6, 2),
            "per_s": round(1 / statistics.median(values)),
        }
        for name, values in samples.items()
    }


def _ratio(summary: dict[str, Any], a: str, b: str) -> float:
    return round(summary[a]["median_us"] / summary[b]["median_us"], 2)


def measure(messages: int, repeats: int, folder: Path) -> dict[str, Any]:
    client: dict[str, list[float]] = {"memory": [], "sqlite": []}
    put: dict[str, list[float]] = {"memory": [], "sqlite_normal": [], "sqlite_full": []}
    live: dict[str, list[float]] = {"memory": [], "sqlite_normal": [], "sqlite_full": []}
    batch = _payloads(messages)
    # fsync per commit is slow on real disks: measure FULL on fewer messages.
    full_batch = batch[: max(200, messages // 20)]
    runs: list[tuple[dict[str, list[float]], str, Callable[[], float]]] = []
    for kind in client:
        use = None if kind == "memory" else folder
        runs.append(
            (
                client,
                kind,
                lambda use=use, kind=kind: asyncio.run(
                    client_offline_enqueue(
                        messages, _fresh(use, f"client-{kind}") if use is not None else None
                    )
                ),
            )
        )
    for kind in put:
        use_batch = full_batch if kind == "sqlite_full" else batch
        runs.append(
            (
                put,
                kind,
                lambda kind=kind, b=use_batch: store_put(kind, _fresh(folder, f"put-{kind}"), b),
            )
        )
        runs.append(
            (
                live,
                kind,
                lambda kind=kind, b=use_batch: store_track_done(
                    kind, _fresh(folder, f"live-{kind}"), b
                ),
            )
        )
    for _target, _kind, run in runs:  # warm-up, discarded
        run()
    for _ in range(repeats):
        for target, kind, run in runs:
            target[kind].append(run())
    client_summary = _summary(client)
    put_summary = _summary(put)
    live_summary = _summary(live)
    return {
        "benchmark": "bench_outbox",
        "messages": messages,
        "messages_sqlite_full": len(full_batch),
        "repeats": repeats,
        "payload_bytes": len(batch[0].payload),
        "folder_filesystem_note": "SQLite files on the disk of --dir",
        "machine": {
            "python": platform.python_version(),
            "platform": platform.platform(),
            "cpus": os.cpu_count(),
            "load_average_at_start": os.getloadavg(),
        },
        "client_offline_enqueue": client_summary,
        "store_put": put_summary,
        "store_track_done": live_summary,
        "ratios": {
            "client_offline_enqueue_sqlite_vs_memory": _ratio(client_summary, "sqlite", "memory"),
            "store_put_sqlite_normal_vs_memory": _ratio(put_summary, "sqlite_normal", "memory"),
            "store_put_sqlite_full_vs_normal": _ratio(put_summary, "sqlite_full", "sqlite_normal"),
            "store_track_done_sqlite_full_vs_normal": _ratio(
                live_summary, "sqlite_full", "sqlite_normal"
            ),
        },
    }


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=20_000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--dir", type=Path, default=None, help="folder for the SQLite files")
    parser.add_argument("--out", type=Path, default=None, help="also write the JSON here")
    args = parser.parse_args(argv)
    logging.getLogger("mqttwire").setLevel(logging.ERROR)  # "shutdown: ... not sent" is expected
    folder = args.dir or Path(tempfile.mkdtemp(prefix="bench-outbox-", dir=Path.cwd()))
    folder.mkdir(parents=True, exist_ok=True)
    started = time.time()
    try:
        result = measure(args.messages, args.repeats, folder)
    finally:
        if args.dir is None:
            shutil.rmtree(folder, ignore_errors=True)
    result["seconds"] = round(time.time() - started, 1)
    text = json.dumps(result, indent=2)
    print(text)
    if args.out is not None:
        args.out.write_text(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
