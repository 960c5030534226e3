"""The seed's wire models and deduplicator, as thin layers over mqttwire's own."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, TypeAlias

from pydantic import BaseModel

from mqttwire.dedupe import MessageDeduplicator as _RuntimeDeduplicator
from mqttwire.envelope import Envelope as _RuntimeEnvelope
from mqttwire.envelope import new_message_id, to_data
from mqttwire.health import HealthStatus, HeartbeatPayload

__all__ = [
    "Envelope",
    "HealthPing",
    "HeartbeatPayload",
    "MessageDeduplicator",
    "SubscriptionHandler",
]

SubscriptionHandler: TypeAlias = Callable[[bytes], Awaitable[None]]
"""``async def handler(payload: bytes) -> None``: the raw message bytes, as in the seed."""

HealthPing = HealthStatus
"""The ``data`` of a ``health.status`` envelope: ``message_id``, ``ok``, ``event``, ``err``,
``timestamp`` (extra keys forbidden)."""


class Envelope(_RuntimeEnvelope):
    """The TARS envelope ``{id, type, ts, source, data}`` (extra keys forbidden).

    :meth:`new` also takes the seed's spelling ``correlate=`` for the correlation id.
    """

    @classmethod
    def new(
        cls,
        event_type: str,
        data: Mapping[str, Any] | BaseModel,
        correlate: str | None = None,
        source: str = "router",
        *,
        correlation_id: str | None = None,
    ) -> Envelope:
        """An envelope whose ``id`` is the correlation id when given, else a fresh uuid4 hex."""
        return cls(
            id=correlate or correlation_id or new_message_id(),
            type=event_type,
            source=source,
            data=to_data(data) if isinstance(data, BaseModel | Mapping) else data,
        )


class MessageDeduplicator:
    """``is_duplicate(payload)`` with the seed's rules.

    The key is ``type|id|seq=<data.seq>`` when ``data.seq`` is an int, else
    ``type|id|hash=<digest of the sorted data>``; payloads that are not envelopes are never
    duplicates. Entries live ``ttl`` seconds; a repeat restarts its TTL (sliding) and at most
    ``max_entries`` are kept (oldest evicted first). Unlike the seed's ``hash()``, the digest is
    stable across processes.
    """

    __slots__ = ("_cache",)

    def __init__(
        self, ttl: float, max_entries: int, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._cache = _RuntimeDeduplicator(ttl, max_entries, clock=clock, sliding=True)

    @property
    def ttl(self) -> float:
        return self._cache.ttl

    @property
    def max_entries(self) -> int:
        return self._cache.max_entries

    def __len__(self) -> int:
        return len(self._cache)

    def is_duplicate(self, payload: bytes | str) -> bool:
        """Check and record ``payload``; True when the same key was seen within the TTL."""
        raw = payload.encode() if isinstance(payload, str) else payload
        return self._cache.is_duplicate_payload(raw)
