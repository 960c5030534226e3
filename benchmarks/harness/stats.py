"""Summaries over repetitions."""

from __future__ import annotations

import statistics

from harness.model import MetricSummary

__all__ = ["percentile", "summarize"]


def summarize(runs: list[dict[str, float]]) -> dict[str, MetricSummary]:
    """Median, min and max of every metric that all repetitions reported."""
    keys = set(runs[0]).intersection(*runs[1:]) if runs else set()
    return {
        key: MetricSummary(
            median=statistics.median(run[key] for run in runs),
            min=min(run[key] for run in runs),
            max=max(run[key] for run in runs),
            values=[run[key] for run in runs],
        )
        for key in sorted(keys)
    }


def percentile(sorted_values: list[float], fraction: float) -> float:
    """Nearest-rank percentile of already sorted values (fraction in 0..1)."""
    if not sorted_values:
        return float("nan")
    index = min(len(sorted_values) - 1, max(0, round(fraction * len(sorted_values)) - 1))
    return sorted_values[index]
