"""Round-trip bookkeeping shared by the echo and request/reply cases."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable

from harness.stats import percentile

__all__ = ["WARMUP", "round_trips"]


WARMUP = 20


async def round_trips(one: Callable[[], Awaitable[object]], count: int) -> dict[str, float]:
    """Run `one()` `count` times in sequence after a few unmeasured ones; p50/p99/mean in ms."""
    for _ in range(WARMUP):
        await one()
    samples: list[float] = []
    for _ in range(count):
        start = time.perf_counter()
        await one()
        samples.append((time.perf_counter() - start) * 1000)
    samples.sort()
    return {
        "p50_ms": percentile(samples, 0.50),
        "p99_ms": percentile(samples, 0.99),
        "mean_ms": sum(samples) / len(samples),
    }
