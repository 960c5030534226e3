"""Raw aiomqtt publish of ready bytes: awaited one by one (QoS 0 and 1), and QoS 1 windows."""

from __future__ import annotations

import asyncio
from typing import Any
from urllib.parse import urlsplit

import aiomqtt

from cases.common import FLUSH_SUFFIX, NODELAY, Clock, payload, unique_topic

__all__ = ["client_for", "publish_qos0", "publish_qos1", "publish_qos1_window"]


def client_for(url: str, **kwargs: Any) -> aiomqtt.Client:
    """An aiomqtt client with TCP_NODELAY (as every client in this suite)."""
    parts = urlsplit(url)
    return aiomqtt.Client(
        parts.hostname or "127.0.0.1",
        parts.port or 1883,
        socket_options=[NODELAY],
        **kwargs,
    )


async def _publish(params: dict[str, Any], qos: int, window: int) -> dict[str, float]:
    topic, data, n = unique_topic("aiomqtt"), payload(), int(params["n"])
    async with client_for(params["url"], max_inflight_messages=max(window, 20)) as client:
        # Windows of `window` gathered publishes keep that many pending on purpose.
        client.pending_calls_threshold = max(window, 10)
        clock = Clock.start()
        if window == 1:
            for _ in range(n):
                await client.publish(topic, data, qos=qos)
        else:
            for start in range(0, n, window):
                batch = min(window, n - start)
                await asyncio.gather(*(client.publish(topic, data, qos=qos) for _ in range(batch)))
        await client.publish(topic + FLUSH_SUFFIX, b"", qos=1)
        return clock.throughput(n)


def publish_qos0(params: dict[str, Any]) -> dict[str, float]:
    return asyncio.run(_publish(params, 0, 1))


def publish_qos1(params: dict[str, Any]) -> dict[str, float]:
    return asyncio.run(_publish(params, 1, 1))


def publish_qos1_window(params: dict[str, Any]) -> dict[str, float]:
    return asyncio.run(_publish(params, 1, int(params.get("window", 100))))
