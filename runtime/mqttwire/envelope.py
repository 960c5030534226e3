"""The TARS envelope: exactly ``{id, type, ts, source, data}`` on the wire."""

from __future__ import annotations

import time
import uuid
from collections.abc import Mapping
from typing import Any

import orjson
from pydantic import BaseModel, ConfigDict, Field, ValidationError

__all__ = ["Envelope", "decode_envelope", "encode_envelope", "new_message_id", "to_data"]


def new_message_id() -> str:
    """A fresh id in the deployed shape: 32 lowercase hex characters of a UUID4."""
    return uuid.uuid4().hex


class Envelope(BaseModel):
    """Wrapper around event payloads, wire-compatible with ``schemas/Envelope.json``.

    Extra keys are rejected. ``id`` doubles as the correlation id: replies reuse the
    request's ``id``. Validation is pydantic's lax mode, like the deployed model
    (``"ts": "1.5"`` is accepted).
    """

    model_config = ConfigDict(extra="forbid")

    id: str = Field(default_factory=new_message_id)
    type: str
    ts: float = Field(default_factory=time.time)
    source: str = "router"
    data: dict[str, Any]

    @classmethod
    def new(
        cls,
        event_type: str,
        data: Mapping[str, Any] | BaseModel,
        *,
        source: str = "router",
        correlation_id: str | None = None,
    ) -> Envelope:
        """Build an envelope the way the shared client does (``id`` = correlation id if given)."""
        return cls(
            id=correlation_id or new_message_id(),
            type=event_type,
            source=source,
            data=to_data(data),
        )

    def to_bytes(self) -> bytes:
        """Compact JSON with the keys in wire order."""
        return orjson.dumps(
            {
                "id": self.id,
                "type": self.type,
                "ts": self.ts,
                "source": self.source,
                "data": self.data,
            }
        )


def to_data(data: Mapping[str, Any] | BaseModel) -> dict[str, Any]:
    """``model_dump(mode="json")`` for models (every field, defaults and None included)."""
    if isinstance(data, BaseModel):
        return data.model_dump(mode="json")
    if isinstance(data, dict):
        return data
    return dict(data)


def encode_envelope(
    event_type: str,
    data: Mapping[str, Any] | BaseModel,
    *,
    source: str,
    correlation_id: str | None = None,
    ts: float | None = None,
) -> tuple[str, bytes]:
    """Serialize an envelope straight to bytes (no model instance): returns ``(id, payload)``.

    Raises ``TypeError`` (orjson) when ``data`` holds values JSON cannot represent.
    """
    message_id = correlation_id or uuid.uuid4().hex
    payload = orjson.dumps(
        {
            "id": message_id,
            "type": event_type,
            "ts": time.time() if ts is None else ts,
            "source": source,
            "data": to_data(data),
        }
    )
    return message_id, payload


def decode_envelope(payload: bytes | bytearray | memoryview | str) -> Envelope | None:
    """The envelope in ``payload``, or ``None`` when it is not valid JSON or not an envelope."""
    try:
        obj = orjson.loads(payload)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(obj, dict) or "type" not in obj or "data" not in obj:
        return None
    try:
        return Envelope.model_validate(obj)
    except ValidationError:
        return None
