"""Markdown tables from a results document (latest.json), for docs/performance.md.

python benchmarks/harness/markdown.py benchmarks/results/latest.json
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

__all__ = ["render"]

EXTRA = (
    "cpu_us_per_msg",
    "p99_ms",
    "lost",
    "flood_msg_per_s",
    "rss_before_mib",
    "rss_after_mib",
)
EXTRA_ALL: tuple[str, ...] = ()


def _fmt(value: float) -> str:
    if abs(value) >= 100:
        return f"{value:,.0f}"
    return f"{value:.3g}"


def _reference(cases: dict[str, Any], ratios: list[dict[str, Any]], name: str) -> str:
    for row in ratios:
        if row["case"] == name:
            return f"{row['ratio']:.2f}x {row['reference'].split('.', 1)[1]}"
    return "reference" if cases[name]["kind"] == "raw" else ""


def render(document: dict[str, Any]) -> str:
    cases: dict[str, Any] = document["cases"]
    lines = [
        "| case | kind | metric | median | min | max | vs reference (same run) | extra |",
        "|---|---|---|---:|---:|---:|---|---|",
    ]
    for name, case in cases.items():
        if case["status"] != "ok":
            lines.append(
                f"| `{name}` | {case['kind']} | {case['status']} | | | | | {case['note']} |"
            )
            continue
        main = case["metrics"][case["metric"]]
        keys = EXTRA_ALL if case["group"] in ("codegen", "publish_breakdown") else EXTRA
        extras = [
            f"{key} {_fmt(summary['median'])}"
            for key, summary in case["metrics"].items()
            if key != case["metric"] and (keys is EXTRA_ALL or key in keys)
        ]
        lines.append(
            f"| `{name}` | {case['kind']} | {case['metric']} ({case['unit']}) | "
            f"{_fmt(main['median'])} | {_fmt(main['min'])} | {_fmt(main['max'])} | "
            f"{_reference(cases, document['ratios'], name)} | {', '.join(extras)} |"
        )
    lines += ["", "| goal | status | measured |", "|---|---|---|"]
    for goal in document["goals"]:
        lines.append(f"| {goal['goal']} | **{goal['status']}** | {goal['detail']} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.stdout.write(render(json.loads(Path(sys.argv[1]).read_text())))
