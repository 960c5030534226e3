"""QoS 0 soak: typed publishes; RSS after a warm-up, sampled along the way and at the end."""

from __future__ import annotations

import asyncio
import gc
from typing import Any

from cases.common import Clock, rss_mib
from cases.typed_publish import TEXT
from cases.typed_util import flush, tars_client
from tars_mqtt.models import PartialTranscript

__all__ = ["soak_qos0"]

WARMUP = 20_000
SAMPLES = 10


async def _soak(params: dict[str, Any]) -> dict[str, float]:
    n = int(params["n"])
    async with tars_client(params["url"], role="bench-soak") as tars:
        publish = tars.publish_stt_partial
        for _ in range(WARMUP):
            await publish(PartialTranscript(text=TEXT))
        await flush(tars)
        gc.collect()
        before = rss_mib()
        peak = before
        step = max(1, n // SAMPLES)
        clock = Clock.start()
        for index in range(n):
            await publish(PartialTranscript(text=TEXT))
            if index % step == step - 1:
                peak = max(peak, rss_mib())
        await flush(tars)
        result = clock.throughput(n)
        gc.collect()
        after = rss_mib()
    return {
        **result,
        "rss_before_mib": before,
        "rss_after_mib": after,
        "rss_peak_mib": max(peak, after),
        "rss_growth_mib": after - before,
    }


def soak_qos0(params: dict[str, Any]) -> dict[str, float]:
    return asyncio.run(_soak(params))
