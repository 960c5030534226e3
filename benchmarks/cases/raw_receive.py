"""Raw aiomqtt subscriber: a paho process floods, `async for message in client.messages` counts."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from cases.common import unique_topic
from cases.raw_aiomqtt import client_for
from cases.receive_util import Arrivals, flood, transcript_payload

__all__ = ["receive_qos0", "receive_qos1"]


async def _receive(params: dict[str, Any], qos: int) -> dict[str, float]:
    topic, n = unique_topic("raw-recv"), int(params["n"])
    arrivals = Arrivals(n)
    async with client_for(params["url"]) as client:
        await client.subscribe(topic, qos=qos)

        async def consume() -> None:
            async for _message in client.messages:
                arrivals.hit()

        consumer = asyncio.create_task(consume())
        flood_rate = await flood(params["url"], topic, n, qos, transcript_payload(qos))
        await arrivals.settle()
        consumer.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await consumer
    result = arrivals.result()
    result["flood_msg_per_s"] = flood_rate
    return result


def receive_qos0(params: dict[str, Any]) -> dict[str, float]:
    return asyncio.run(_receive(params, 0))


def receive_qos1(params: dict[str, Any]) -> dict[str, float]:
    return asyncio.run(_receive(params, 1))
