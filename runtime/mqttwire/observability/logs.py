"""Structured logs: the fields every runtime log record carries, and a JSON formatter.

Runtime log records carry what is known of the message they are about as ``extra`` fields:
``topic``, ``channel``, ``subscription``, ``envelope_id`` and ``correlation_id``
(:func:`log_fields`). :class:`JsonFormatter` writes one JSON object per line with them, and the
current OpenTelemetry ``trace_id``/``span_id`` when a span is active. :func:`configure_logging`
installs it when ``MQTT_LOG_FORMAT=json``.

Values may come from the network: the formatter bounds every string (:data:`MAX_FIELD`) and
orjson escapes control characters, so a hostile topic cannot forge a line or flood the log.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import IO, Any

import orjson

from mqttwire.errors import ConfigError

__all__ = [
    "FIELDS",
    "LOG_VARIABLES",
    "MAX_FIELD",
    "MAX_MESSAGE",
    "JsonFormatter",
    "configure_logging",
    "log_fields",
]

FIELDS = ("topic", "channel", "subscription", "envelope_id", "correlation_id")
LOG_VARIABLES = ("MQTT_LOG_FORMAT", "MQTT_LOG_LEVEL")
"""The process-wide variables read by :func:`configure_logging` (not client settings)."""
MAX_FIELD = 256
MAX_MESSAGE = 4096
_STANDARD = frozenset(logging.makeLogRecord({}).__dict__) | {"message", "asctime"}
_HANDLER_NAME = "mqttwire"


def log_fields(
    *,
    topic: str | None = None,
    channel: str | None = None,
    subscription: str | None = None,
    envelope_id: str | None = None,
    correlation_id: str | None = None,
) -> dict[str, str]:
    """``extra=`` for a log record about a message: the fields that are known."""
    values = {
        "topic": topic,
        "channel": channel,
        "subscription": subscription,
        "envelope_id": envelope_id,
        "correlation_id": correlation_id,
    }
    return {key: value for key, value in values.items() if value is not None}


def _bounded(value: str, limit: int) -> str:
    return value if len(value) <= limit else value[:limit] + f"...[{len(value) - limit} more]"


def _json_value(value: Any) -> Any:
    if value is None or isinstance(value, bool | int | float):
        return value
    return _bounded(value if isinstance(value, str) else repr(value), MAX_FIELD)


def _trace_ids() -> dict[str, str]:
    """The active span's ids, when OpenTelemetry is in use (never imported for this)."""
    if "opentelemetry.trace" not in sys.modules:
        return {}
    from opentelemetry import trace

    context = trace.get_current_span().get_span_context()
    if not context.is_valid:
        return {}
    return {"trace_id": f"{context.trace_id:032x}", "span_id": f"{context.span_id:016x}"}


class JsonFormatter(logging.Formatter):
    """One JSON object per record: ``ts``, ``level``, ``logger``, ``message``, the
    :data:`FIELDS` and any other ``extra`` field, ``trace_id``/``span_id``, ``exc_info``."""

    def format(self, record: logging.LogRecord) -> str:
        data: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": _bounded(record.getMessage(), MAX_MESSAGE),
        }
        for key, value in record.__dict__.items():
            if key not in _STANDARD and not key.startswith("_") and key not in data:
                data[key] = _json_value(value)
        data.update(_trace_ids())
        if record.exc_info:
            data["exc_info"] = _bounded(self.formatException(record.exc_info), 4 * MAX_MESSAGE)
        return orjson.dumps(data).decode()


def configure_logging(
    log_format: str | None = None,
    level: str | int | None = None,
    *,
    stream: IO[str] | None = None,
    environ: Mapping[str, str] | None = None,
) -> logging.Handler:
    """Log to ``stream`` (stderr) through the root logger, as text or JSON lines.

    ``log_format`` defaults to ``MQTT_LOG_FORMAT`` (``text`` or ``json``; unset: ``text``) and
    ``level`` to ``MQTT_LOG_LEVEL`` (unset: ``INFO``). Calling it again replaces the handler it
    installed before. Returns the handler.
    """
    env = os.environ if environ is None else environ
    chosen = (log_format or env.get("MQTT_LOG_FORMAT") or "text").strip().lower()
    if chosen not in ("text", "json"):
        raise ConfigError("MQTT_LOG_FORMAT", "must be 'text' or 'json'", chosen)
    wanted = level if level is not None else (env.get("MQTT_LOG_LEVEL") or "INFO").strip()
    if isinstance(wanted, str):
        if wanted.upper() not in logging.getLevelNamesMapping():
            raise ConfigError("MQTT_LOG_LEVEL", "must be a logging level name", wanted)
        wanted = wanted.upper()
    handler = logging.StreamHandler(stream if stream is not None else sys.stderr)
    handler.set_name(_HANDLER_NAME)
    handler.setFormatter(
        JsonFormatter()
        if chosen == "json"
        else logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    )
    root = logging.getLogger()
    for old in [h for h in root.handlers if h.get_name() == _HANDLER_NAME]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(wanted)
    return handler
