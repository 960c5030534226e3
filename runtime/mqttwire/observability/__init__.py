"""Observability: OpenTelemetry traces and metrics (optional), structured logs.

Nothing here imports ``opentelemetry`` until telemetry is switched on, by ``MQTT_OTEL=true``
(the global tracer and meter providers) or by passing ``telemetry=Telemetry(...)`` to
``MQTTClient`` or a generated client. Install the API with ``pip install 'mqttwire[otel]'``.
See docs/guides/observability.md.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from mqttwire.errors import ConfigError
from mqttwire.observability.settings import Telemetry

if TYPE_CHECKING:
    from mqttwire.config import MQTTClientConfig
    from mqttwire.observability.tracing import Instrumentation

__all__ = ["Telemetry", "instrumentation_for"]


def instrumentation_for(
    config: MQTTClientConfig, telemetry: Telemetry | None
) -> Instrumentation | None:
    """The hooks of one client, or ``None`` (telemetry off: the hot paths skip every hook)."""
    if telemetry is None:
        if not config.otel:
            return None
        telemetry = Telemetry()
    try:
        from mqttwire.observability.tracing import Instrumentation
    except ImportError:
        raise ConfigError(
            "MQTT_OTEL",
            "needs the OpenTelemetry API: pip install 'mqttwire[otel]'",
            True,
        ) from None
    return Instrumentation(telemetry, config.client_id, config.protocol)
