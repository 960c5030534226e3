"""Reconnect delays: exponential with jitter, reset once a connection has held."""

from __future__ import annotations

import random

__all__ = ["Backoff"]


class Backoff:
    """Delays ``0, min, 2*min, 4*min, ... max``, each scaled by a random factor in [0.5, 1].

    The first retry after a connection that held is immediate: a broker restart is then noticed
    at once. ``reset`` is called by the owner when a connection held long enough.
    """

    __slots__ = ("_attempt", "_random", "max_delay", "min_delay")

    def __init__(
        self, min_delay: float, max_delay: float, *, rng: random.Random | None = None
    ) -> None:
        if not 0 < min_delay <= max_delay:
            raise ValueError(f"need 0 < min_delay <= max_delay, got {min_delay}, {max_delay}")
        self.min_delay = min_delay
        self.max_delay = max_delay
        self._attempt = 0
        self._random = rng or random.Random()

    @property
    def attempt(self) -> int:
        return self._attempt

    def reset(self) -> None:
        self._attempt = 0

    def next_delay(self) -> float:
        attempt = self._attempt
        self._attempt += 1
        if attempt == 0:
            return 0.0
        base: float = min(self.max_delay, self.min_delay * 2.0 ** min(attempt - 1, 32))
        jitter: float = self._random.uniform(0.5, 1.0)
        return max(self.min_delay * 0.5, base * jitter)
