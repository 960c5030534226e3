"""Logging what came from the network without letting it forge, flood or bloat the log.

``shown(value)`` is a bounded, escaped (repr-style) rendering: a topic or JSON key with a newline
cannot start a fake log line and a 1 MB key does not make a 1 MB record. :class:`RateLimitedLog`
lets the first few warnings of a kind through and then summarises the rest with counts.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping

__all__ = ["DEFAULT_LIMIT", "RateLimitedLog", "shown"]

DEFAULT_LIMIT = 200


def shown(value: object, limit: int = DEFAULT_LIMIT) -> str:
    """``repr``-style text of ``value`` (escaped), at most about ``limit`` characters."""
    if isinstance(value, (bytes, bytearray, memoryview)):
        return _bounded(repr(bytes(value[: limit + 1])), len(value), limit)
    if isinstance(value, str):
        return _bounded(repr(value[: limit + 1]), len(value), limit)
    text = str(value)
    return _bounded(repr(text[: limit + 1])[1:-1], len(text), limit)


def _bounded(text: str, total: int, limit: int) -> str:
    if total <= limit and len(text) <= limit + 2:
        return text
    return f"{text[:limit]}... ({total} in all)"


class RateLimitedLog:
    """Per-key rate limit for repeated log lines.

    The first ``burst`` calls for a key are logged; later ones are counted, and the next call
    after ``period`` seconds logs one summary (``N similar messages suppressed``) and re-opens
    the burst. Keys are bounded (``max_keys``; the table starts over when full).
    """

    def __init__(
        self,
        logger: logging.Logger,
        *,
        burst: int = 10,
        period: float = 60.0,
        max_keys: int = 1024,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._logger = logger
        self.burst = burst
        self.period = period
        self._max_keys = max_keys
        self._clock = clock
        # key -> [logged in this window, suppressed in this window, window start]
        self._keys: dict[str, list[float]] = {}

    def log(
        self,
        level: int,
        key: str,
        message: str,
        *args: object,
        extra: Mapping[str, object] | None = None,
    ) -> bool:
        """Log ``message % args`` unless rate-limited; True when it was logged."""
        now = self._clock()
        entry = self._keys.get(key)
        if entry is None:
            if len(self._keys) >= self._max_keys:
                self._keys.clear()
            entry = self._keys[key] = [0, 0, now]
        if now - entry[2] >= self.period:
            if entry[1]:
                self._logger.log(
                    level,
                    "%d similar message(s) suppressed in the last %.0fs (%s)",
                    int(entry[1]),
                    now - entry[2],
                    key,
                )
            entry[0], entry[1], entry[2] = 0, 0, now
        if entry[0] < self.burst:
            entry[0] += 1
            self._logger.log(level, message, *args, extra=extra)
            if entry[0] == self.burst:
                self._logger.log(
                    level,
                    "further messages like this are summarised every %.0fs (%s)",
                    self.period,
                    key,
                )
            return True
        entry[1] += 1
        return False

    def warning(
        self, key: str, message: str, *args: object, extra: Mapping[str, object] | None = None
    ) -> bool:
        return self.log(logging.WARNING, key, message, *args, extra=extra)

    def suppressed(self, key: str) -> int:
        """Messages of ``key`` suppressed in the current window."""
        entry = self._keys.get(key)
        return int(entry[1]) if entry else 0
