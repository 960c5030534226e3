"""The goals of issue 8, evaluated on medians measured side by side in one run."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from harness.model import CaseResult

Results = dict[str, CaseResult]
Status = Literal["met", "not met", "not measured"]

__all__ = ["GOALS", "Goal", "GoalOutcome", "evaluate"]


@dataclass(frozen=True)
class GoalOutcome:
    status: Status
    detail: str
    value: float | None = None


@dataclass(frozen=True)
class Goal:
    key: str
    text: str
    check: Callable[[Results], GoalOutcome]


def _median(results: Results, name: str, metric: str | None = None) -> float | None:
    result = results.get(name)
    return result.median(metric) if result and result.status == "ok" else None


def _missing(*names: str) -> GoalOutcome:
    return GoalOutcome("not measured", f"needs {', '.join(names)}")


def _ratio_at_least(typed: str, base: str, factor: float) -> Callable[[Results], GoalOutcome]:
    def check(results: Results) -> GoalOutcome:
        a, b = _median(results, typed), _median(results, base)
        if a is None or b is None:
            return _missing(typed, base)
        ratio = a / b
        status: Status = "met" if ratio >= factor else "not met"
        return GoalOutcome(
            status, f"{a:,.0f} / {b:,.0f} msg/s = {ratio:.2f}x (goal >= {factor}x)", ratio
        )

    return check


def _receive(qos: int) -> Callable[[Results], GoalOutcome]:
    """Zero loss in the live flood and the backlog drain; the 2x rate on the backlog drain.

    The live flood (`receive_qos*`) is capped by its one paho publisher process: a subscriber
    that keeps up delivers the publisher's rate, however fast it is. The backlog drain
    (`receive_backlog_qos*`) lets the broker push a held backlog as fast as each subscriber
    takes it, so its ratio compares the subscribers. Without the backlog cases the flood ratio
    decides.
    """
    flood_typed, flood_raw = f"receive_qos{qos}.typed", f"receive_qos{qos}.raw_aiomqtt"
    drain_typed, drain_raw = (
        f"receive_backlog_qos{qos}.typed",
        f"receive_backlog_qos{qos}.raw_aiomqtt",
    )

    def worst_lost(results: Results, name: str) -> float | None:
        result = results.get(name)
        if result is None or result.status != "ok" or "lost" not in result.metrics:
            return None
        return result.metrics["lost"].max

    def check(results: Results) -> GoalOutcome:
        flood = _ratio_at_least(flood_typed, flood_raw, 2.0)(results)
        drain = _ratio_at_least(drain_typed, drain_raw, 2.0)(results)
        deciding = drain if drain.value is not None else flood
        if deciding.value is None:
            return deciding
        losses = {
            name: lost
            for name in (flood_typed, drain_typed)
            if (lost := worst_lost(results, name)) is not None
        }
        parts = []
        if drain.value is not None:
            parts.append(f"backlog drain {drain.detail}")
        if flood.value is not None:
            capped = " (capped by the flood publisher)" if drain.value is not None else ""
            parts.append(f"live flood {flood.detail.split(' (goal')[0]}{capped}")
        lost_text = ", ".join(f"{name.split('.')[0]} {lost:.0f}" for name, lost in losses.items())
        parts.append(f"lost {lost_text} (worst repetition, goal 0)")
        ok = deciding.status == "met" and all(lost == 0 for lost in losses.values())
        return GoalOutcome("met" if ok else "not met", "; ".join(parts), deciding.value)

    return check


def _round_trip(results: Results) -> GoalOutcome:
    typed, raw = "round_trip.typed_request", "round_trip.raw_echo"
    a, b = _median(results, typed), _median(results, raw)
    if a is None or b is None:
        return _missing(typed, raw)
    ratio = a / b
    status: Status = "met" if ratio <= 1.2 else "not met"
    return GoalOutcome(status, f"p50 {a:.3f} / {b:.3f} ms = {ratio:.2f}x (goal <= 1.2x)", ratio)


def _reconnect(results: Results) -> GoalOutcome:
    p50 = _median(results, "reconnect.typed")
    if p50 is None:
        return _missing("reconnect.typed")
    p99 = _median(results, "reconnect.typed", "p99_ms")
    status: Status = "met" if p50 < 50 else "not met"
    return GoalOutcome(
        status, f"p50 {p50:.1f} ms, p99 {p99 or float('nan'):.1f} ms (goal p50 < 50 ms)", p50
    )


def _rss(results: Results) -> GoalOutcome:
    typed, bare = _median(results, "rss_idle.typed"), _median(results, "rss_idle.bare")
    if typed is None or bare is None:
        return _missing("rss_idle.typed", "rss_idle.bare")
    extra = typed - bare
    status: Status = "met" if extra <= 15 else "not met"
    return GoalOutcome(
        status, f"{typed:.1f} - {bare:.1f} MiB = +{extra:.1f} MiB (goal <= +15 MiB)", extra
    )


SOAK_TOLERANCE_MIB = 2.0


def _soak(results: Results) -> GoalOutcome:
    growth = _median(results, "soak_qos0.typed")
    if growth is None:
        return _missing("soak_qos0.typed")
    result = results["soak_qos0.typed"]
    before = result.median("rss_before_mib") or float("nan")
    after = result.median("rss_after_mib") or float("nan")
    status: Status = "met" if growth <= SOAK_TOLERANCE_MIB else "not met"
    detail = (
        f"{result.n:,} msgs: RSS {before:.1f} -> {after:.1f} MiB, growth {growth:+.1f} MiB "
        f"(tolerance {SOAK_TOLERANCE_MIB} MiB)"
    )
    return GoalOutcome(status, detail, growth)


def _codegen_time(results: Results) -> GoalOutcome:
    seconds = _median(results, "codegen.generate")
    if seconds is None:
        return _missing("codegen.generate")
    cold = _median(results, "codegen.generate", "tars_cold_cli_s")
    status: Status = "met" if seconds < 2.0 else "not met"
    cli = f", cold CLI incl. imports {cold:.2f} s" if cold is not None else ""
    return GoalOutcome(status, f"{seconds:.2f} s in process{cli} (goal < 2 s)", seconds)


LINEAR_TOLERANCE = 1.5


def _codegen_linear(results: Results) -> GoalOutcome:
    result = results.get("codegen.generate")
    if result is None or result.status != "ok":
        return _missing("codegen.generate")
    per_channel = {
        int(key.split("_")[1]): summary.median
        for key, summary in result.metrics.items()
        if key.startswith("synthetic_") and key.endswith("_ms_per_channel")
    }
    if len(per_channel) < 2:
        return _missing("synthetic sizes")
    sizes = sorted(per_channel)
    ratio = per_channel[sizes[-1]] / per_channel[sizes[0]]
    shown = ", ".join(f"{size}: {per_channel[size]:.2f}" for size in sizes)
    status: Status = "met" if ratio <= LINEAR_TOLERANCE else "not met"
    detail = (
        f"ms per channel {shown}; largest/smallest {ratio:.2f} (linear if <= {LINEAR_TOLERANCE})"
    )
    return GoalOutcome(status, detail, ratio)


GOALS: tuple[Goal, ...] = (
    Goal(
        "publish_qos0_vs_paho",
        "Typed QoS 0 publish >= 0.6x raw paho in its fastest mode (no network thread)",
        _ratio_at_least("publish_qos0.typed", "publish_qos0.raw_paho_direct", 0.6),
    ),
    Goal(
        "publish_qos0_vs_aiomqtt",
        "Typed QoS 0 publish >= 4x awaited aiomqtt publish",
        _ratio_at_least("publish_qos0.typed", "publish_qos0.raw_aiomqtt", 4.0),
    ),
    Goal(
        "publish_qos1_window",
        "Typed QoS 1, 100 in flight >= 0.5x paho QoS 1 window 100, no network thread (fastest)",
        _ratio_at_least(
            "publish_qos1.typed_window100", "publish_qos1.raw_paho_direct_window100", 0.5
        ),
    ),
    Goal(
        "receive_qos0",
        "Typed receive QoS 0: zero loss, >= 2x raw aiomqtt (subscriber-bound)",
        _receive(0),
    ),
    Goal(
        "receive_qos1",
        "Typed receive QoS 1: zero loss, >= 2x raw aiomqtt (subscriber-bound)",
        _receive(1),
    ),
    Goal("request_reply", "Request/reply p50 <= 1.2x raw aiomqtt echo p50", _round_trip),
    Goal("reconnect", "Reconnect p50 < 50 ms at minimum backoff", _reconnect),
    Goal("codegen_tars", "Generator: TARS contract in under 2 s", _codegen_time),
    Goal("codegen_linear", "Generator: linear growth over synthetic contracts", _codegen_linear),
    Goal("rss_idle", "Idle tars_mqtt service <= bare process + 15 MiB", _rss),
    Goal("soak_qos0", "No RSS growth over the QoS 0 soak", _soak),
)


def evaluate(results: Results) -> list[tuple[Goal, GoalOutcome]]:
    return [(goal, goal.check(results)) for goal in GOALS]
