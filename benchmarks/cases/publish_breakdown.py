"""Where the microseconds of one typed QoS 0 publish go, layer by layer (wall µs per message).

model: `PartialTranscript(text=...)`; encode: model + dump + envelope + orjson (no I/O);
runtime: `MQTTClient.publish(topic, ready_bytes)`; typed: `tars.publish_stt_partial(model)`;
aiomqtt: `await aiomqtt.Client.publish(ready bytes)` on its own connection.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

from cases.common import payload
from cases.raw_aiomqtt import client_for
from cases.typed_publish import TEXT
from cases.typed_util import flush, tars_client
from mqttwire.envelope import encode_envelope
from tars_mqtt.models import PartialTranscript

__all__ = ["breakdown"]


def _per_call_us(call: Callable[[], object], n: int) -> float:
    start = time.perf_counter()
    for _ in range(n):
        call()
    return (time.perf_counter() - start) / n * 1e6


async def _per_await_us(call: Callable[[], Awaitable[object]], n: int) -> float:
    start = time.perf_counter()
    for _ in range(n):
        await call()
    return (time.perf_counter() - start) / n * 1e6


def _encode() -> object:
    model = PartialTranscript(text=TEXT)
    return encode_envelope("stt.partial", model.model_dump(mode="json"), source="bench")


async def _breakdown(params: dict[str, Any]) -> dict[str, float]:
    n, data = int(params["n"]), payload()
    result = {
        "model_us": _per_call_us(lambda: PartialTranscript(text=TEXT), n),
        "encode_us": _per_call_us(_encode, n),
    }
    async with tars_client(params["url"]) as tars:
        raw = tars.client
        result["runtime_publish_us"] = await _per_await_us(
            lambda: raw.publish("bench/breakdown", data), n
        )
        result["typed_publish_us"] = await _per_await_us(
            lambda: tars.publish_stt_partial(PartialTranscript(text=TEXT)), n
        )
        await flush(tars)
    async with client_for(params["url"]) as client:
        result["aiomqtt_publish_us"] = await _per_await_us(
            lambda: client.publish("bench/breakdown", data), n
        )
    return result


def breakdown(params: dict[str, Any]) -> dict[str, float]:
    return asyncio.run(_breakdown(params))
