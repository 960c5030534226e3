"""The generator timings of `benchmarks/bench_codegen.py` (its own repeats), flattened to metrics."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

__all__ = ["generate"]

SCRIPT = Path(__file__).resolve().parent.parent / "bench_codegen.py"


def generate(params: dict[str, Any]) -> dict[str, float]:
    sizes = "50,500" if params.get("quick") else "50,500,2000"
    repeat = "1" if params.get("quick") else "5"
    proc = subprocess.run(
        [sys.executable, str(SCRIPT), "--repeat", repeat, "--sizes", sizes],
        capture_output=True,
        text=True,
        check=True,
        timeout=1200,
    )
    report = json.loads(proc.stdout)
    metrics: dict[str, float] = {}
    for row in report["results"]:
        key = "tars" if row["contract"].endswith(".yaml") else row["contract"].replace("-", "_")
        metrics[f"{key}_s"] = row["wall_s"]["median"]
        metrics[f"{key}_ms_per_channel"] = 1000 * row["wall_s"]["median"] / row["channels"]
    if report.get("tars_cold_cli_wall_s") is not None:
        metrics["tars_cold_cli_s"] = report["tars_cold_cli_wall_s"]
    return metrics
