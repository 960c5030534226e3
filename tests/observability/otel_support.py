"""The SDK's in-memory exporters, and reading what the metric reader collected."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from opentelemetry.sdk.metrics.export import (
    HistogramDataPoint,
    InMemoryMetricReader,
    NumberDataPoint,
)
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from mqttwire.observability import Telemetry


@dataclass
class Otel:
    """What the ``otel`` fixture gives a test."""

    spans: InMemorySpanExporter
    metrics: InMemoryMetricReader
    telemetry: Telemetry


class Collected:
    """One collection of every metric: ``total(name, **attributes)`` sums the matching points
    (histograms: their counts)."""

    def __init__(self, reader: InMemoryMetricReader) -> None:
        self.points: dict[str, list[tuple[dict[str, Any], float]]] = {}
        data = reader.get_metrics_data()
        assert data is not None
        for resource in data.resource_metrics:
            for scope in resource.scope_metrics:
                for metric in scope.metrics:
                    for point in metric.data.data_points:
                        if isinstance(point, HistogramDataPoint):
                            value: float = point.count
                        else:
                            assert isinstance(point, NumberDataPoint)
                            value = point.value
                        self.points.setdefault(metric.name, []).append(
                            (dict(point.attributes or {}), value)
                        )

    def total(self, name: str, **attributes: Any) -> float:
        wanted = {key.replace("__", "."): value for key, value in attributes.items()}
        return sum(
            value
            for found, value in self.points.get(name, [])
            if all(found.get(k) == v for k, v in wanted.items())
        )

    def attribute_sets(self, name: str) -> list[dict[str, Any]]:
        return [found for found, _ in self.points.get(name, [])]
