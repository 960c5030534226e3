"""What to instrument with; a plain value, importable without OpenTelemetry installed."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = ["Telemetry"]


@dataclass(frozen=True, slots=True)
class Telemetry:
    """OpenTelemetry settings for a client: ``MQTTClient(config, telemetry=Telemetry(...))``.

    ``tracer_provider`` / ``meter_provider`` default to the global ones
    (``opentelemetry.trace.set_tracer_provider``, ``opentelemetry.metrics.set_meter_provider``).
    ``tracing=False`` or ``metrics=False`` switch one half off. One ``Telemetry`` may serve
    several clients.
    """

    tracer_provider: Any = None
    meter_provider: Any = None
    tracing: bool = True
    metrics: bool = True
