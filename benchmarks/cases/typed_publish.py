"""Typed publish through the generated client: build the model, validate, envelope, orjson, send.

QoS 0 uses `publish_stt_partial` (the contract declares `stt/partial` QoS 0, the high-rate
channel); QoS 1 uses `publish_tts_say` (declared QoS 1) with `window` calls in flight.
"""

from __future__ import annotations

import asyncio
from typing import Any

from cases.common import Clock
from cases.typed_util import flush, tars_client
from tars_mqtt.models import PartialTranscript, TtsSay

__all__ = ["TEXT", "publish_qos0", "publish_qos1_window"]

TEXT = "turn on the kitchen light please"


async def _qos0(params: dict[str, Any]) -> dict[str, float]:
    n = int(params["n"])
    async with tars_client(params["url"], transport=params.get("transport")) as tars:
        publish = tars.publish_stt_partial
        clock = Clock.start()
        for _ in range(n):
            await publish(PartialTranscript(text=TEXT))
        await flush(tars)
        return clock.throughput(n)


async def _qos1_window(params: dict[str, Any]) -> dict[str, float]:
    n, window = int(params["n"]), int(params.get("window", 100))
    async with tars_client(params["url"], transport=params.get("transport")) as tars:
        publish = tars.publish_tts_say
        clock = Clock.start()
        for start in range(0, n, window):
            batch = min(window, n - start)
            await asyncio.gather(*(publish(TtsSay(text=TEXT)) for _ in range(batch)))
        return clock.throughput(n)


def publish_qos0(params: dict[str, Any]) -> dict[str, float]:
    return asyncio.run(_qos0(params))


def publish_qos1_window(params: dict[str, Any]) -> dict[str, float]:
    return asyncio.run(_qos1_window(params))
