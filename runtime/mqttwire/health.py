"""Health and heartbeat payloads in the wire format of the deployed services."""

from __future__ import annotations

import time

import orjson
from pydantic import BaseModel, ConfigDict, Field

from mqttwire.envelope import encode_envelope, new_message_id

__all__ = [
    "HEALTH_EVENT_TYPE",
    "WILL_ERROR",
    "WILL_EVENT",
    "HealthStatus",
    "HeartbeatPayload",
    "encode_health",
    "encode_heartbeat",
    "health_topic",
    "keepalive_topic",
]

HEALTH_EVENT_TYPE = "health.status"
# The last will's health data, ``{ok: false, event: WILL_EVENT, err: WILL_ERROR}``; the contract's
# ``lastWill`` binding states the same text.
WILL_EVENT = "offline"
WILL_ERROR = "unexpected disconnect"


def health_topic(client_id: str) -> str:
    """Retained health topic of a client: ``system/health/{client_id}``."""
    return f"system/health/{client_id}"


def keepalive_topic(client_id: str) -> str:
    """Heartbeat topic of a client: ``system/keepalive/{client_id}``."""
    return f"system/keepalive/{client_id}"


class HealthStatus(BaseModel):
    """``HealthPing`` of the TARS contracts: the ``data`` of a ``health.status`` envelope."""

    model_config = ConfigDict(extra="forbid")

    message_id: str = Field(default_factory=new_message_id)
    ok: bool
    event: str | None = None
    err: str | None = None
    timestamp: float = Field(default_factory=time.time)


class HeartbeatPayload(BaseModel):
    """Bare (not enveloped) heartbeat on ``system/keepalive/{client_id}``."""

    model_config = ConfigDict(extra="ignore")

    ok: bool = True
    event: str = "heartbeat"
    timestamp: float  # required, as in the deployed model


def encode_health(
    ok: bool, *, source: str, event: str | None = None, error: str | None = None
) -> bytes:
    """A ``health.status`` envelope whose data omits null fields, as deployed."""
    status = HealthStatus(ok=ok, event=event, err=error)
    _, payload = encode_envelope(
        HEALTH_EVENT_TYPE, status.model_dump(exclude_none=True), source=source
    )
    return payload


def encode_heartbeat(timestamp: float | None = None) -> bytes:
    """``{"ok":true,"event":"heartbeat","timestamp":...}``."""
    return orjson.dumps(
        {
            "ok": True,
            "event": "heartbeat",
            "timestamp": time.time() if timestamp is None else timestamp,
        }
    )
