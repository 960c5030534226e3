"""Failover on a 3-node NATS cluster: time to fail over, and messages lost, over several rounds.

Each round SIGKILLs the node that a publisher and a persistent-session subscriber (dedupe on) are
connected to while 300 QoS 1 messages/s flow, waits until every message reached the handler (or
a generous bound), then restarts the node. Output: JSON on stdout (and ``--out FILE``).

    python benchmarks/bench_failover.py                 # 5 rounds
    python benchmarks/bench_failover.py --rounds 9 --out benchmarks/results/failover.json

"failover" is SIGKILL -> the subscriber CONNECTED (resubscribed) on another node; "lost" counts
messages that never reached the handler; "handler_duplicates" counts messages it saw twice.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "interop"))
sys.path.insert(0, str(ROOT / "tests"))  # support.brokers: the test suite's broker wrappers

from failover_scenario import run_failover_round  # noqa: E402
from support.brokers import NatsCluster  # noqa: E402


def _percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[index]


async def _run(
    rounds: int, messages: int, rate: float, settle: float, connect_timeout: float
) -> dict[str, Any]:
    cluster = NatsCluster(3)
    started = time.monotonic()
    await asyncio.to_thread(cluster.start)
    cluster_start = time.monotonic() - started
    results: list[dict[str, Any]] = []
    try:
        version = cluster.nodes[0].version()
        for number in range(rounds):
            victim = number % len(cluster.nodes)
            result = await run_failover_round(
                cluster,
                victim_index=victim,
                messages=messages,
                rate=rate,
                settle_timeout=settle,
                connect_timeout=connect_timeout,
            )
            entry = result.as_dict()
            entry.pop("subscriber_metrics", None)
            entry.pop("publisher_metrics", None)
            entry["round"] = number + 1
            results.append(entry)
            print(
                f"round {number + 1}/{rounds}: failover {result.subscriber_failover_s}s "
                f"lost {result.lost} dup {result.handler_duplicates} victim led {result.victim_roles}",
                file=sys.stderr,
            )
            await asyncio.to_thread(cluster.nodes[victim].start)
    finally:
        cluster.close()
    failovers = [r["subscriber_failover_s"] for r in results if r["subscriber_failover_s"]]
    return {
        "benchmark": "failover",
        "broker": f"nats-server {version}: 3 nodes on loopback, JetStream, MQTT streams R3",
        "client": {
            "MQTT_URL": "all three nodes, the victim first",
            "clean_session": False,
            "MQTT_DEDUPE_TTL": 600,
            "MQTT_RECONNECT_MIN_DELAY": 0.1,
            "MQTT_RECONNECT_MAX_DELAY": 0.5,
            "MQTT_CONNECT_TIMEOUT": connect_timeout,
        },
        "load": {"messages_per_round": messages, "rate_per_s": rate, "qos": 1},
        "cluster_start_s": round(cluster_start, 2),
        "rounds": results,
        "failover_s": {
            "p50": _percentile(failovers, 0.5),
            "p90": _percentile(failovers, 0.9),
            "min": min(failovers) if failovers else None,
            "max": max(failovers) if failovers else None,
            "mean": statistics.fmean(failovers) if failovers else None,
        },
        "messages_total": sum(r["messages"] for r in results),
        "lost_total": sum(r["lost"] for r in results),
        "handler_duplicates_total": sum(r["handler_duplicates"] for r in results),
        "dedupe_dropped_total": sum(r["dedupe_dropped"] for r in results),
        "publish_retries_total": sum(r["publish_retries"] for r in results),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--messages", type=int, default=1500)
    parser.add_argument("--rate", type=float, default=300.0, help="QoS 1 messages per second")
    parser.add_argument("--settle", type=float, default=90.0, help="max wait for stragglers (s)")
    parser.add_argument("--connect-timeout", type=float, default=3.0, help="MQTT_CONNECT_TIMEOUT")
    parser.add_argument("--out", type=Path, help="also write the JSON here")
    args = parser.parse_args(argv)
    report = asyncio.run(
        _run(args.rounds, args.messages, args.rate, args.settle, args.connect_timeout)
    )
    text = json.dumps(report, indent=2)
    print(text)
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text + "\n")
    return 0 if report["lost_total"] == 0 and report["handler_duplicates_total"] == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
