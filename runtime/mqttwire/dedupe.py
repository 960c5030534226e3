"""Envelope deduplication with a TTL and a hard bound on entries."""

from __future__ import annotations

import hashlib
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from typing import Any

import orjson

from mqttwire.envelope import Envelope

__all__ = ["MessageDeduplicator", "dedupe_key"]


def dedupe_key(envelope: Envelope | Mapping[str, Any]) -> str:
    """The key the deployed services use: ``type|id|seq=<data.seq>`` or ``type|id|hash=<...>``.

    ``seq`` keeps stream chunks that share one envelope id apart; without an integer ``seq`` the
    data is hashed (sorted-key JSON).
    """
    event_type: object
    message_id: object
    if isinstance(envelope, Envelope):
        event_type, message_id, data = envelope.type, envelope.id, envelope.data
    else:
        event_type, message_id = envelope.get("type"), envelope.get("id")
        data = envelope.get("data") or {}
    seq = data.get("seq")
    if isinstance(seq, int):
        return f"{event_type}|{message_id}|seq={seq}"
    digest = hashlib.blake2b(orjson.dumps(data, option=orjson.OPT_SORT_KEYS), digest_size=16)
    return f"{event_type}|{message_id}|hash={digest.hexdigest()}"


class MessageDeduplicator:
    """Remembers keys for ``ttl`` seconds, at most ``max_entries`` of them (oldest evicted first).

    Every operation is O(1) amortized: keys are kept in insertion order, and since the TTL is the
    same for all, that is also expiry order, so expired keys are trimmed from the front.
    With ``sliding=True`` a repeat restarts the key's TTL and makes it the newest entry (the
    deployed py-tars deduplicator does this; order still equals expiry order).
    """

    __slots__ = ("_clock", "_seen", "max_entries", "sliding", "ttl")

    def __init__(
        self,
        ttl: float,
        max_entries: int,
        *,
        clock: Callable[[], float] = time.monotonic,
        sliding: bool = False,
    ) -> None:
        if ttl <= 0:
            raise ValueError(f"ttl must be > 0, got {ttl!r}")
        if max_entries < 1:
            raise ValueError(f"max_entries must be >= 1, got {max_entries!r}")
        self.ttl = ttl
        self.max_entries = max_entries
        self.sliding = sliding
        self._clock = clock
        self._seen: OrderedDict[str, float] = OrderedDict()

    def __len__(self) -> int:
        return len(self._seen)

    def clear(self) -> None:
        self._seen.clear()

    def seen(self, key: str) -> bool:
        """True when ``key`` was recorded within the TTL; otherwise records it and returns False."""
        now = self._clock()
        seen = self._seen
        while seen:
            oldest, expires = next(iter(seen.items()))
            if expires > now:
                break
            del seen[oldest]
        if key in seen:
            if self.sliding:
                seen.move_to_end(key)
                seen[key] = now + self.ttl
            return True
        if len(seen) >= self.max_entries:
            seen.popitem(last=False)
        seen[key] = now + self.ttl
        return False

    def is_duplicate(self, envelope: Envelope | Mapping[str, Any]) -> bool:
        """Check-and-record an envelope by :func:`dedupe_key`."""
        return self.seen(dedupe_key(envelope))

    def is_duplicate_payload(self, payload: bytes, *, scope: str = "") -> bool:
        """Like :meth:`is_duplicate` for raw bytes; non-envelope payloads are never duplicates.

        An envelope without an ``id`` gets a fresh one when parsed, so it is never a duplicate.
        ``scope`` keeps keys apart that must not dedupe each other (the copies an MQTT 5 broker
        sends for different subscriptions).
        """
        if not payload or payload[:1] != b"{":
            return False
        try:
            obj = orjson.loads(payload)
        except orjson.JSONDecodeError:
            return False
        if not isinstance(obj, dict) or not isinstance(obj.get("id"), str):
            return False
        if not isinstance(obj.get("type"), str) or not isinstance(obj.get("data"), dict):
            return False
        if not obj.keys() <= _ENVELOPE_KEYS:
            return False
        try:
            key = dedupe_key(obj)
        except TypeError:  # data nested deeper than orjson writes (254): key the exact bytes
            digest = hashlib.blake2b(payload, digest_size=16).hexdigest()
            key = f"{obj['type']}|{obj['id']}|raw={digest}"
        return self.seen(f"{scope}#{key}" if scope else key)


_ENVELOPE_KEYS = frozenset({"id", "type", "ts", "source", "data"})
