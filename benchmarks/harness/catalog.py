"""Every benchmark case of issue 8 and the chart panels that compare them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from harness.model import BrokerMode, Case, Kind

__all__ = ["CASES", "PANELS", "Panel"]

TYPED = ("tars_mqtt", "mqttwire.client")
FASTSTREAM = ("faststream.mqtt",)
PUBLISH_N, PUBLISH_QUICK = 20_000, 3_000
RECEIVE_N, RECEIVE_QUICK = 20_000, 3_000
BACKLOG_N, BACKLOG_QUICK = 30_000, 5_000
ROUND_TRIPS, ROUND_TRIPS_QUICK = 1_000, 200


def _throughput(
    name: str,
    group: str,
    kind: Kind,
    label: str,
    target: str,
    *,
    n: int = PUBLISH_N,
    quick_n: int = PUBLISH_QUICK,
    requires: tuple[str, ...] = (),
    params: dict[str, Any] | None = None,
    broker: BrokerMode = "shared",
    note: str = "",
) -> Case:
    return Case(
        name=name,
        group=group,
        kind=kind,
        label=label,
        target=target,
        metric="msg_per_s",
        unit="msg/s",
        n=n,
        quick_n=quick_n,
        requires=requires,
        params=params or {},
        broker=broker,
        note=note,
    )


CASES: tuple[Case, ...] = (
    # --- QoS 0 publish of 100-byte payloads -------------------------------------------------
    _throughput(
        "publish_qos0.typed",
        "publish_qos0",
        "typed",
        "typed publish_stt_partial",
        "cases.typed_publish:publish_qos0",
        requires=TYPED,
    ),
    _throughput(
        "publish_qos0.raw_paho_direct",
        "publish_qos0",
        "raw",
        "raw paho, no network thread (fastest)",
        "cases.raw_paho_direct:publish_qos0",
    ),
    _throughput(
        "publish_qos0.raw_paho",
        "publish_qos0",
        "raw",
        "raw paho, loop_start thread (no wait)",
        "cases.raw_paho:publish_qos0",
    ),
    _throughput(
        "publish_qos0.raw_aiomqtt",
        "publish_qos0",
        "raw",
        "raw aiomqtt (awaited)",
        "cases.raw_aiomqtt:publish_qos0",
    ),
    _throughput(
        "publish_qos0.faststream",
        "publish_qos0",
        "peer",
        "FastStream (awaited)",
        "cases.faststream_peer:publish_qos0",
        requires=FASTSTREAM,
    ),
    Case(
        name="publish_qos0.typed_breakdown",
        group="publish_breakdown",
        kind="typed",
        label="typed QoS 0 publish, per layer",
        target="cases.publish_breakdown:breakdown",
        metric="typed_publish_us",
        unit="µs/msg",
        higher_is_better=False,
        n=PUBLISH_N,
        quick_n=PUBLISH_QUICK,
        requires=TYPED,
        note="model_us, encode_us, runtime_publish_us, aiomqtt_publish_us in the JSON",
    ),
    # --- QoS 1 publish ----------------------------------------------------------------------
    _throughput(
        "publish_qos1.typed_window100",
        "publish_qos1",
        "typed",
        "typed publish_tts_say, 100 in flight",
        "cases.typed_publish:publish_qos1_window",
        requires=TYPED,
        params={"window": 100},
    ),
    _throughput(
        "publish_qos1.raw_paho_direct_window100",
        "publish_qos1",
        "raw",
        "raw paho, no network thread, 100 in flight",
        "cases.raw_paho_direct:publish_qos1",
        params={"window": 100},
    ),
    _throughput(
        "publish_qos1.raw_paho_window100",
        "publish_qos1",
        "raw",
        "raw paho, 100 in flight",
        "cases.raw_paho:publish_qos1",
        params={"window": 100},
    ),
    _throughput(
        "publish_qos1.raw_aiomqtt_window100",
        "publish_qos1",
        "raw",
        "raw aiomqtt, 100 in flight",
        "cases.raw_aiomqtt:publish_qos1_window",
        params={"window": 100},
    ),
    _throughput(
        "publish_qos1.raw_aiomqtt",
        "publish_qos1",
        "raw",
        "raw aiomqtt (awaited)",
        "cases.raw_aiomqtt:publish_qos1",
        n=5_000,
        quick_n=1_000,
    ),
    _throughput(
        "publish_qos1.faststream",
        "publish_qos1",
        "peer",
        "FastStream (awaited)",
        "cases.faststream_peer:publish_qos1",
        requires=FASTSTREAM,
        n=5_000,
        quick_n=1_000,
    ),
    # --- receive: a paho process floods, the subscriber counts ------------------------------
    _throughput(
        "receive_qos0.typed",
        "receive_qos0",
        "typed",
        "typed handler (validated)",
        "cases.typed_receive:receive_qos0",
        requires=TYPED,
        n=RECEIVE_N,
        quick_n=RECEIVE_QUICK,
    ),
    _throughput(
        "receive_qos0.raw_aiomqtt",
        "receive_qos0",
        "raw",
        "raw aiomqtt subscriber",
        "cases.raw_receive:receive_qos0",
        n=RECEIVE_N,
        quick_n=RECEIVE_QUICK,
    ),
    _throughput(
        "receive_qos1.typed",
        "receive_qos1",
        "typed",
        "typed handler (validated)",
        "cases.typed_receive:receive_qos1",
        requires=TYPED,
        n=RECEIVE_N,
        quick_n=RECEIVE_QUICK,
    ),
    _throughput(
        "receive_qos1.raw_aiomqtt",
        "receive_qos1",
        "raw",
        "raw aiomqtt subscriber",
        "cases.raw_receive:receive_qos1",
        n=RECEIVE_N,
        quick_n=RECEIVE_QUICK,
    ),
    # --- receive: the broker holds a backlog, the subscriber drains it (subscriber-bound) ----
    _throughput(
        "receive_backlog_qos0.typed",
        "receive_backlog_qos0",
        "typed",
        "typed handler, backlog drain",
        "cases.backlog:typed_qos0",
        requires=TYPED,
        n=BACKLOG_N,
        quick_n=BACKLOG_QUICK,
        broker="own",
    ),
    _throughput(
        "receive_backlog_qos0.raw_aiomqtt",
        "receive_backlog_qos0",
        "raw",
        "raw aiomqtt, backlog drain",
        "cases.backlog:raw_aiomqtt_qos0",
        n=BACKLOG_N,
        quick_n=BACKLOG_QUICK,
        broker="own",
    ),
    _throughput(
        "receive_backlog_qos1.typed",
        "receive_backlog_qos1",
        "typed",
        "typed handler, backlog drain",
        "cases.backlog:typed_qos1",
        requires=TYPED,
        n=BACKLOG_N,
        quick_n=BACKLOG_QUICK,
        broker="own",
    ),
    _throughput(
        "receive_backlog_qos1.raw_aiomqtt",
        "receive_backlog_qos1",
        "raw",
        "raw aiomqtt, backlog drain",
        "cases.backlog:raw_aiomqtt_qos1",
        n=BACKLOG_N,
        quick_n=BACKLOG_QUICK,
        broker="own",
    ),
    # --- round trips ------------------------------------------------------------------------
    Case(
        name="round_trip.typed_request",
        group="round_trip",
        kind="typed",
        label="typed request/reply",
        target="cases.typed_request:request_reply",
        metric="p50_ms",
        unit="ms",
        higher_is_better=False,
        n=ROUND_TRIPS,
        quick_n=ROUND_TRIPS_QUICK,
        requires=TYPED,
    ),
    Case(
        name="round_trip.raw_echo",
        group="round_trip",
        kind="raw",
        label="raw aiomqtt echo",
        target="cases.raw_echo:echo_qos1",
        metric="p50_ms",
        unit="ms",
        higher_is_better=False,
        n=ROUND_TRIPS,
        quick_n=ROUND_TRIPS_QUICK,
    ),
    Case(
        name="reconnect.typed",
        group="reconnect",
        kind="typed",
        label="typed client, minimum backoff",
        target="cases.typed_reconnect:reconnect",
        metric="p50_ms",
        unit="ms",
        higher_is_better=False,
        n=15,
        quick_n=5,
        requires=TYPED,
        broker="own",
    ),
    # --- memory -----------------------------------------------------------------------------
    Case(
        name="rss_idle.typed",
        group="rss_idle",
        kind="typed",
        label="tars_mqtt service, connected",
        target="cases.typed_rss:typed_idle",
        metric="rss_mib",
        unit="MiB",
        higher_is_better=False,
        requires=TYPED,
    ),
    Case(
        name="rss_idle.bare",
        group="rss_idle",
        kind="raw",
        label="bare: paho-mqtt+pydantic+orjson",
        target="cases.rss:bare_idle",
        metric="rss_mib",
        unit="MiB",
        higher_is_better=False,
        broker="none",
    ),
    Case(
        name="soak_qos0.typed",
        group="soak_qos0",
        kind="typed",
        label="typed QoS 0 soak",
        target="cases.typed_soak:soak_qos0",
        metric="rss_growth_mib",
        unit="MiB",
        higher_is_better=False,
        n=1_000_000,
        quick_n=50_000,
        requires=TYPED,
        repetitions=1,
        warmup=False,
        timeout_s=1800.0,
        note="one long run; RSS sampled after a 20,000-message warm-up and at the end",
    ),
    # --- generator (benchmarks/bench_codegen.py repeats internally) ----------------------
    Case(
        name="codegen.generate",
        group="codegen",
        kind="typed",
        label="generator: TARS contract",
        target="cases.codegen:generate",
        metric="tars_s",
        unit="s",
        higher_is_better=False,
        requires=("mqttwire_codegen.api", "yaml"),
        broker="none",
        repetitions=1,
        warmup=False,
        timeout_s=1500.0,
        note="medians of bench_codegen.py's own repeats (5; 1 with --quick)",
    ),
)


@dataclass(frozen=True)
class Panel:
    """One chart panel: the cases of `group`, compared on `metric`."""

    group: str
    metric: str
    title: str
    unit: str
    higher_is_better: bool = True


PANELS: tuple[Panel, ...] = (
    Panel("publish_qos0", "msg_per_s", "Publish QoS 0", "msg/s"),
    Panel("publish_qos0", "cpu_us_per_msg", "Publish QoS 0: CPU", "µs/msg", False),
    Panel("publish_qos1", "msg_per_s", "Publish QoS 1", "msg/s"),
    Panel("receive_qos0", "msg_per_s", "Receive QoS 0, live flood", "msg/s"),
    Panel("receive_qos1", "msg_per_s", "Receive QoS 1, live flood", "msg/s"),
    Panel("receive_backlog_qos0", "msg_per_s", "Receive QoS 0, backlog drain", "msg/s"),
    Panel("receive_backlog_qos1", "msg_per_s", "Receive QoS 1, backlog drain", "msg/s"),
    Panel("round_trip", "p50_ms", "Round trip QoS 1, p50", "ms", False),
    Panel("reconnect", "p50_ms", "Reconnect after broker is back, p50", "ms", False),
    Panel("rss_idle", "rss_mib", "Idle RSS", "MiB", False),
)
