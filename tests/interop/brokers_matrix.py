"""Render docs/brokers.md from the interop test results (and the failover benchmark, if run).

    pytest tests/interop                                   # -> .cache/interop-results.json
    python benchmarks/bench_failover.py --out benchmarks/results/failover.json   # optional
    python tests/interop/brokers_matrix.py                 # -> docs/brokers.md
    python tests/interop/brokers_matrix.py --check         # exit 1 if docs/brokers.md is stale

Standard library only (no mqttwire import): the inputs are plain JSON files.
"""

from __future__ import annotations

import argparse
import difflib
import json
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
RESULTS = ROOT / ".cache" / "interop-results.json"
FAILOVER = ROOT / "benchmarks" / "results" / "failover.json"
OUTPUT = ROOT / "docs" / "brokers.md"

COLUMNS = ["mosquitto-3.1.1", "mosquitto-5", "nats", "rabbitmq", "amqtt"]
ROW_ORDER = [
    "connect",
    "mqtt5",
    "pubsub",
    "qos2",
    "wildcards",
    "overlap",
    "retained",
    "will",
    "restart",
    "session",
    "health",
    "typed",
    "failover",
    "cluster",
    "shared",
    "shared-typed",
]
SYMBOL = {"yes": "✅ yes", "partial": "⚠️ partial", "no": "❌ no", "skipped": "⏭ skipped"}

GUARANTEES = {
    "mosquitto": """\
**Mosquitto** (MQTT 3.1.1 and 5) is the reference: everything the contract can ask for works.
QoS 0/1/2, retained messages to exact and wildcard subscribers, last will, persistent sessions
(MQTT 5 with a session expiry), shared subscriptions (`$share/<group>/<filter>`, also served to
3.1.1 clients). One Mosquitto is not a cluster: for failover list several independent brokers in
`MQTT_URL` (retained state and sessions are per broker then, see below).""",
    "nats": """\
**NATS** (MQTT gateway of `nats-server`, JetStream required) speaks MQTT 3.1.1 only and QoS 0/1.
An MQTT 5 CONNECT is refused (CONNACK 0x84): `connect()` raises `ProtocolNotSupportedError` at
once, even with `MQTT_CONNECT_RETRY`. A QoS 2 SUBSCRIBE is granted QoS 1 and a QoS 2 PUBLISH makes
the server close the connection: the client raises `QoSNotGrantedError` / `QoSNotSupportedError`
(the latter learned from one probe SUBSCRIBE per link) and never sends QoS 2 there. Sessions,
retained messages and QoS 1 deliveries live in JetStream, so a cluster with replicated streams
keeps them when a node dies (see the failover section). Overlapping subscriptions of one client
get one copy per matching subscription: keep `MQTT_DEDUPE_TTL > 0` so each handler sees a
message once. No shared subscriptions over MQTT (core NATS queue groups are the equivalent, not
reachable from an MQTT client).""",
    "rabbitmq": """\
**RabbitMQ 3.10** (`rabbitmq_mqtt` plugin) speaks MQTT 3.1.1 only and QoS 0/1. It answers an
MQTT 5 CONNECT by closing the socket without a CONNACK; the client turns that into
`ProtocolNotSupportedError` at once instead of waiting for the connect timeout. QoS 2 is
downgraded to 1 (SUBACK grants 1, and QoS 2 publishes would be silently treated as QoS 1): the
client raises `QoSNotGrantedError` / `QoSNotSupportedError` instead. Retained messages are
delivered to exact-topic subscriptions only, never to wildcard ones - subscribe to the exact
health/state topics you need at startup. Persistent sessions keep QoS 1 messages. No shared
subscriptions over MQTT in 3.10 (the AMQP equivalent is competing consumers on one queue).""",
    "amqtt": """\
**amqtt 0.12** (pure Python, handy for demos and tests without a broker binary) speaks MQTT 3.1.1
only (MQTT 5 refused with CONNACK 0x84 -> `ProtocolNotSupportedError`), with QoS 0/1/2. Known
gaps, asserted by the tests: a retained message may reach a new subscriber more than once (dedupe
hides the copies from handlers), overlapping subscriptions get one copy each, and QoS 1 messages
published while a `clean_session=False` client is away are not delivered when it returns. No
shared subscriptions. Do not use it where sessions matter.""",
}


def _load(path: Path) -> dict[str, Any] | None:
    if not path.is_file():
        return None
    data: dict[str, Any] = json.loads(path.read_text())
    return data


def _cell(result: dict[str, Any] | None, notes: list[str]) -> str:
    if result is None:
        return "—"
    status = result["status"]
    text = SYMBOL.get(status, "💥 **FAIL**" if status == "fail" else status)
    result_notes = [n for n in result.get("notes", []) if n]
    marks = []
    for note in result_notes:
        if note not in notes:
            notes.append(note)
        marks.append(str(notes.index(note) + 1))
    return text + (f" [{', '.join(marks)}]" if marks else "")


def _matrix(data: dict[str, Any]) -> list[str]:
    brokers = data.get("brokers", {})
    features = sorted(
        data.get("features", {}).items(),
        key=lambda kv: (
            ROW_ORDER.index(kv[0]) if kv[0] in ROW_ORDER else len(ROW_ORDER),
            kv[1].get("order", 0),
        ),
    )
    columns = [c for c in COLUMNS if c in brokers]
    header = ["Behaviour"] + [
        f"{brokers[c]['label']}<br>{brokers[c].get('version', '?')}" for c in columns
    ]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    notes: list[str] = []
    for feature, meta in features:
        row = [meta["title"]]
        results = data.get("results", {}).get(feature, {})
        row += [_cell(results.get(c), notes) for c in columns]
        lines.append("| " + " | ".join(row) + " |")
    lines.append("")
    for number, note in enumerate(notes, 1):
        lines.append(f"{number}. {note}")
    return lines


def _failover(bench: dict[str, Any] | None) -> list[str]:
    if bench is None:
        return [
            "_No benchmark result yet: run `python benchmarks/bench_failover.py --out "
            "benchmarks/results/failover.json`._"
        ]
    fo = bench["failover_s"]
    lines = [
        f"`benchmarks/bench_failover.py`: {bench['broker']}; {len(bench['rounds'])} rounds, "
        f"{bench['load']['messages_per_round']} QoS 1 messages per round at "
        f"{bench['load']['rate_per_s']:g}/s, a different node killed (SIGKILL) each round.",
        "",
        "| | value |",
        "|---|---|",
        f"| failover time p50 (SIGKILL -> subscriber CONNECTED on another node) | "
        f"{fo['p50']:.3f} s |",
        f"| failover time p90 / max | {fo['p90']:.3f} s / {fo['max']:.3f} s |",
        f"| failover time min | {fo['min']:.3f} s |",
        f"| messages lost | {bench['lost_total']} of {bench['messages_total']} |",
        f"| messages seen twice by the handler | {bench['handler_duplicates_total']} |",
        f"| redeliveries dropped by dedupe | {bench['dedupe_dropped_total']} |",
        f"| publishes resent by the publisher (offline queue) | {bench['publish_retries_total']} |",
        "",
        "| round | victim led (JetStream) | failover (s) | lost | handler duplicates |",
        "|---|---|---|---|---|",
    ]
    for r in bench["rounds"]:
        roles = ", ".join(r.get("victim_roles", [])) or "nothing"
        failover = r["subscriber_failover_s"]
        shown = f"{failover:.3f}" if failover is not None else "—"
        lines.append(
            f"| {r['round']} | {roles} | {shown} | {r['lost']} | {r['handler_duplicates']} |"
        )
    return lines


def render(data: dict[str, Any], bench: dict[str, Any] | None) -> str:
    brokers = data.get("brokers", {})
    machine = data.get("machine", {})
    starts = ", ".join(
        f"{brokers[c]['label']} {brokers[c]['start_seconds']:g} s"
        for c in COLUMNS
        if c in brokers and "start_seconds" in brokers[c]
    )
    out = [
        "# Brokers: what works where",
        "",
        "<!-- Generated by tests/interop/brokers_matrix.py from .cache/interop-results.json",
        "     (pytest tests/interop) and benchmarks/results/failover.json. Do not edit. -->",
        "",
        "The client runs unchanged on any MQTT 3.1.1/5 broker; what differs is what the broker",
        "offers. `tests/interop` runs the part of the integration suite that applies on every",
        "broker it can start on this machine (own instances on free loopback ports) and this page",
        "is generated from those results. Where a broker lacks something the contract asks for,",
        "the client fails fast with a typed error (`BrokerLimitError` and its subclasses",
        "`ProtocolNotSupportedError`, `QoSNotGrantedError`, `QoSNotSupportedError`) - it never",
        "silently delivers less. ✅ works as on Mosquitto; ⚠️ works with the limit in the note;",
        "❌ not available, the documented behaviour is asserted (typed error or absence);",
        "— not run on that broker.",
        "",
        f"Last run: {data.get('updated', '?')} on {machine.get('platform', '?')}, "
        f"{machine.get('cpus', '?')} CPUs, Python {machine.get('python', '?')}. "
        f"Broker start times: {starts or '?'}.",
        "",
        "## Matrix",
        "",
        *_matrix(data),
        "",
        "## Guarantees per broker",
        "",
    ]
    for key in ("mosquitto", "nats", "rabbitmq", "amqtt"):
        out += [GUARANTEES[key], ""]
    out += [
        "## Failover across brokers (`MQTT_URL` with several URLs)",
        "",
        "`MQTT_URL=mqtt://a:1883,mqtt://b:1884,mqtt://c:1885` lists the brokers of a cluster (or",
        "independent brokers). `MQTTClientConfig.connections` holds them in order and",
        "`config.connection` is the first. The client connects to the first; when the link is",
        "lost it goes on with the *next* one (round robin), at once, then with the usual backoff",
        "after each full round of failed attempts (`MQTT_RECONNECT_MIN_DELAY` /",
        "`_MAX_DELAY`). The first `connect()` tries every broker once before it raises (the first",
        "fatal error, else the first error), also with `MQTT_CONNECT_RETRY`. On every new link",
        "it resubscribes every filter, publishes health `reconnected` (retained) and registers",
        "its will with that broker, and flushes the offline queue there (same bytes, so the",
        "same envelope ids). `client.broker` is the broker in use, `metrics.failovers` counts",
        "links on a different broker than the previous one.",
        "",
        "With independent brokers (no cluster), state does not follow: the old broker keeps",
        "the last retained health it had, a persistent session's queue stays on the old broker,",
        "and a message can be delivered by both. Exactly-once at the handler needs",
        "`MQTT_DEDUPE_TTL > 0`, and a cluster that replicates sessions (NATS with JetStream R3,",
        "EMQX, HiveMQ, VerneMQ) for nothing to be lost.",
        "",
        "### Three NATS nodes, node killed under QoS 1 load",
        "",
        "`tests/interop/test_failover.py` and `benchmarks/bench_failover.py` start three",
        "`nats-server` nodes clustered on loopback with JetStream and MQTT (`stream_replicas` and",
        "`consumer_replicas` 3: sessions, retained messages and QoS 1 deliveries replicated on",
        "every node). A publisher and a persistent-session subscriber (dedupe on) both list all",
        "nodes with the victim first; the victim is SIGKILLed while 300 messages/s flow. The",
        "test asserts zero loss and exactly once at the handler.",
        "",
        *_failover(bench),
        "",
        "Failover time is bimodal, and the table shows why. When the killed node did not lead",
        "the `$MQTT_sess` stream (the sessions) the client is connected elsewhere within",
        "milliseconds, whatever else it led. When it did, NATS answers a CONNECT only once a new",
        "leader is elected: its internal JetStream request times out after 4 s and the client",
        "tries the next node, so 4-8 s (`MQTT_CONNECT_TIMEOUT` 10 s instead of 3 s does not",
        "change it: the wait is in the server). No",
        "message is lost either way: the publisher's unacknowledged messages wait in its",
        "offline queue and are resent (dedupe drops the copies), the subscriber's session",
        "redelivers what it had not acknowledged.",
        "",
        "## Scale-out workers (shared subscriptions)",
        "",
        '`subscribe(..., share_group="workers")` (or `x-share-group` in the contract) subscribes',
        "`$share/workers/<filter>`: N instances of a worker split the stream. On Mosquitto",
        "(`tests/interop/test_scale_out.py`, 3 workers, 3,000 QoS 1 messages):",
        "",
        "* each message goes to one worker; the load spreads (each worker gets a share, none more",
        "  than 80 %); no duplicates;",
        "* a worker killed with SIGKILL (clean session) leaves the group as soon as Mosquitto",
        "  sees its socket close; every later message goes to the others, exactly once. The",
        "  QoS 1 messages that were in flight to the killed worker are **not** handed to the",
        "  others: they are lost (the client acknowledges QoS 1 on receipt, before its handler",
        "  runs, so also those received but not yet handled) - at most once for that window",
        "  (0-1 message in the test), exactly once for all the rest;",
        "* with persistent sessions (`clean_session=False`) a dead worker stays in the group:",
        "  Mosquitto keeps giving it its share, queued in its session, until it comes back with",
        "  the same client id (then it handles them: nothing lost) or the session expires - the",
        "  others do **not** take over. Use clean sessions for shared-subscription workers, or",
        "  restart a dead worker with its client id.",
        "",
        "NATS, RabbitMQ 3.10 and amqtt have no shared subscriptions over MQTT 3.1.1: a",
        "`$share/<group>/<filter>` subscription is granted as a literal topic and receives",
        "nothing (asserted). A 3.1.1 client cannot tell; on MQTT 5 a broker without shared",
        "subscriptions refuses them (SUBACK 0x9E -> `SubscribeError`). Do not declare",
        "`x-share-group` for a deployment on those brokers; run one consumer per stream or",
        "partition the topics per worker.",
        "",
        "## Running it",
        "",
        "```",
        "pytest tests/interop                      # ~1-2 min; RabbitMQ starts once (~10 s)",
        "python benchmarks/bench_failover.py --rounds 9 --out benchmarks/results/failover.json",
        "python tests/interop/brokers_matrix.py    # regenerate this page",
        "```",
        "",
        "Each broker runs on free loopback ports with its own data folder (RabbitMQ: own node",
        "name, cookie and epmd port), never touching brokers already running on the machine. A",
        "broker that cannot start makes its tests skip with the reason (shown in the matrix).",
        "",
    ]
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--results", type=Path, default=RESULTS)
    parser.add_argument("--failover", type=Path, default=FAILOVER)
    parser.add_argument("--output", type=Path, default=OUTPUT)
    parser.add_argument("--check", action="store_true", help="compare instead of writing")
    args = parser.parse_args(argv)
    data = _load(args.results)
    if data is None:
        print(f"no results at {args.results}: run `pytest tests/interop` first", file=sys.stderr)
        return 2
    text = render(data, _load(args.failover))
    if args.check:
        current = args.output.read_text() if args.output.is_file() else ""
        if current == text:
            return 0
        sys.stdout.writelines(
            difflib.unified_diff(
                current.splitlines(keepends=True),
                text.splitlines(keepends=True),
                str(args.output),
                "generated",
            )
        )
        return 1
    args.output.write_text(text)
    print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
