"""Data shapes shared by the runner, the goals, the report and the chart."""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass, field
from typing import Any, Literal

Kind = Literal["typed", "raw", "peer"]
BrokerMode = Literal["shared", "own", "none"]

__all__ = ["BrokerMode", "Case", "CaseResult", "Kind", "MetricSummary"]


@dataclass(frozen=True)
class Case:
    """One measurement: a function `module:function(params) -> {metric: value}`."""

    name: str
    group: str
    kind: Kind
    label: str
    target: str
    metric: str
    unit: str
    higher_is_better: bool = True
    n: int = 0
    quick_n: int = 0
    params: dict[str, Any] = field(default_factory=dict)
    requires: tuple[str, ...] = ()
    broker: BrokerMode = "shared"
    repetitions: int = 5
    warmup: bool = True
    timeout_s: float = 300.0
    note: str = ""

    def missing(self) -> list[str]:
        """Modules this case needs that cannot be imported here."""
        missing: list[str] = []
        for module in self.requires:
            try:
                found = importlib.util.find_spec(module) is not None
            except ModuleNotFoundError:
                found = False
            if not found:
                missing.append(module)
        return missing


@dataclass
class MetricSummary:
    median: float
    min: float
    max: float
    values: list[float]


@dataclass
class CaseResult:
    """What one case produced in this run (summaries per metric, or why it has none)."""

    case: Case
    status: Literal["ok", "skipped", "failed"]
    metrics: dict[str, MetricSummary] = field(default_factory=dict)
    note: str = ""
    n: int = 0

    def median(self, metric: str | None = None) -> float | None:
        summary = self.metrics.get(metric or self.case.metric)
        return summary.median if summary else None
