"""The TARS envelope: exactly ``{id, type, ts, source, data}`` on the wire."""

from __future__ import annotations

import os
import time
from collections.abc import Mapping
from typing import Any, NamedTuple

import orjson
from pydantic import BaseModel, ConfigDict, Field, ValidationError

__all__ = [
    "Envelope",
    "EnvelopeFields",
    "decode_envelope",
    "decode_envelope_fields",
    "encode_envelope",
    "new_message_id",
    "to_data",
]


def new_message_id() -> str:
    """A fresh id in the deployed shape: 32 lowercase hex characters of a UUID4.

    A valid random UUID4 (version and variant bits set) made straight from ``os.urandom``:
    0.5 µs instead of the 1.6 µs of ``uuid.uuid4().hex``, which builds a ``UUID`` object first.
    """
    raw = bytearray(os.urandom(16))
    raw[6] = (raw[6] & 0x0F) | 0x40  # version 4
    raw[8] = (raw[8] & 0x3F) | 0x80  # variant RFC 4122
    return raw.hex()


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
    message_id = correlation_id or new_message_id()
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


def _envelope_object(payload: bytes | bytearray | memoryview | str) -> dict[str, Any] | None:
    """The JSON object in ``payload`` when it could be an envelope (has ``type`` and ``data``)."""
    try:
        obj = orjson.loads(payload)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(obj, dict) or "type" not in obj or "data" not in obj:
        return None
    return obj


def decode_envelope(payload: bytes | bytearray | memoryview | str) -> Envelope | None:
    """The envelope in ``payload``, or ``None`` when it is not valid JSON or not an envelope."""
    obj = _envelope_object(payload)
    if obj is None:
        return None
    try:
        return Envelope.model_validate(obj)
    except ValidationError:
        return None


class EnvelopeFields(NamedTuple):
    """The fields of a decoded envelope, without a model instance (the receive hot path)."""

    id: str
    type: str
    ts: float
    source: str
    data: dict[str, Any]


_ENVELOPE_KEYS = frozenset(Envelope.model_fields)
_MAX_EXACT_INT = 1 << 53


def decode_envelope_fields(payload: bytes | bytearray | memoryview | str) -> EnvelopeFields | None:
    """What :func:`decode_envelope` decodes, as a tuple (``None`` likewise).

    An envelope of exactly the wire types (what the TARS services send) is taken as it is,
    ~1 µs cheaper than validating it with the model; anything else (missing fields filled by
    their defaults aside) goes through :class:`Envelope` validation, so both accept and
    coerce exactly the same payloads.
    """
    obj = _envelope_object(payload)
    if obj is None:
        return None
    if type(obj) is dict and obj.keys() <= _ENVELOPE_KEYS:
        message_id = obj.get("id")
        event_type = obj["type"]
        ts = obj.get("ts")
        source = obj.get("source", "router")
        data = obj["data"]
        if (
            ((message_id is None and "id" not in obj) or type(message_id) is str)
            and type(event_type) is str
            and type(source) is str
            and type(data) is dict
            and (
                (ts is None and "ts" not in obj)
                or type(ts) is float
                or (type(ts) is int and -_MAX_EXACT_INT < ts < _MAX_EXACT_INT)
            )
        ):
            return EnvelopeFields(
                new_message_id() if message_id is None else message_id,
                event_type,
                time.time() if ts is None else float(ts),
                source,
                data,
            )
    try:
        envelope = Envelope.model_validate(obj)
    except ValidationError:
        return None
    return EnvelopeFields(envelope.id, envelope.type, envelope.ts, envelope.source, envelope.data)
