"""Ratios within a group, the console summary and latest.json."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import asdict
from pathlib import Path
from typing import Any

from harness.goals import Goal, GoalOutcome
from harness.model import CaseResult

__all__ = ["console_summary", "ratios", "write_json"]


def _reference(group: list[CaseResult]) -> CaseResult | None:
    """The group's first measured raw case: every other case is compared with it."""
    return next((r for r in group if r.status == "ok" and r.case.kind == "raw"), None)


def ratios(results: Iterable[CaseResult]) -> list[dict[str, Any]]:
    """Each measured case's median relative to its group's reference (same run, same metric)."""
    groups: dict[str, list[CaseResult]] = {}
    for result in results:
        groups.setdefault(result.case.group, []).append(result)
    rows: list[dict[str, Any]] = []
    for group, members in groups.items():
        reference = _reference(members)
        if reference is None:
            continue
        base = reference.median()
        for result in members:
            value = result.median()
            if result is reference or value is None or not base:
                continue
            rows.append(
                {
                    "group": group,
                    "case": result.case.name,
                    "reference": reference.case.name,
                    "metric": result.case.metric,
                    "ratio": value / base,
                    "higher_is_better": result.case.higher_is_better,
                }
            )
    return rows


def _case_json(result: CaseResult) -> dict[str, Any]:
    case = result.case
    return {
        "group": case.group,
        "kind": case.kind,
        "label": case.label,
        "metric": case.metric,
        "unit": case.unit,
        "higher_is_better": case.higher_is_better,
        "status": result.status,
        "note": result.note,
        "messages": result.n,
        "metrics": {key: asdict(summary) for key, summary in result.metrics.items()},
    }


def write_json(
    path: Path,
    *,
    meta: dict[str, Any],
    results: list[CaseResult],
    goals: list[tuple[Goal, GoalOutcome]],
) -> None:
    document = {
        **meta,
        "cases": {result.case.name: _case_json(result) for result in results},
        "ratios": ratios(results),
        "goals": [
            {"key": goal.key, "goal": goal.text, **asdict(outcome)} for goal, outcome in goals
        ],
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document, indent=2, ensure_ascii=False) + "\n")


def _fmt(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:,.0f}" if abs(value) >= 100 else f"{value:.3g}"


def console_summary(results: list[CaseResult], goals: list[tuple[Goal, GoalOutcome]]) -> str:
    lines = ["", f"{'case':38} {'metric':15} {'median':>10} {'min':>10} {'max':>10}  note"]
    for result in results:
        summary = result.metrics.get(result.case.metric)
        if summary is None:
            lines.append(f"{result.case.name:38} {result.status:15} {'':>32}  {result.note}")
            continue
        metric = f"{result.case.metric} ({result.case.unit})"
        lines.append(
            f"{result.case.name:38} {metric:15} {_fmt(summary.median):>10} "
            f"{_fmt(summary.min):>10} {_fmt(summary.max):>10}  {result.note}"
        )
    lines += ["", "Ratios (median / group reference, same run):"]
    for row in ratios(results):
        better = "higher is better" if row["higher_is_better"] else "lower is better"
        lines.append(f"  {row['case']:38} {row['ratio']:6.2f}x {row['reference']}  ({better})")
    lines += ["", "Goals of issue 8:"]
    for goal, outcome in goals:
        lines.append(f"  [{outcome.status:^12}] {goal.text}: {outcome.detail}")
    return "\n".join(lines)
