"""Metadata handed to handlers next to the payload."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

_EMPTY: Mapping[str, str] = MappingProxyType({})


@dataclass(frozen=True, slots=True)
class MessageMeta:
    """What is known about a received message besides its payload.

    The raw layer fills ``topic``, ``qos``, ``retain`` and, on MQTT 5 links, the message's
    properties (``user_properties``, ``response_topic``, ``correlation_data``, ``content_type``,
    ``message_expiry_interval``); the typed layer adds the topic parameters and the envelope
    fields (``None`` for bare-JSON topics).
    """

    topic: str
    qos: int = 0
    retain: bool = False
    params: Mapping[str, str] = field(default_factory=lambda: _EMPTY)
    envelope_id: str | None = None
    event_type: str | None = None
    source: str | None = None
    ts: float | None = None
    correlation_id: str | None = None
    user_properties: Mapping[str, str] = field(default_factory=lambda: _EMPTY)
    response_topic: str | None = None
    correlation_data: bytes | None = None
    content_type: str | None = None
    message_expiry_interval: int | None = None
