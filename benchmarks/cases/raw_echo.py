"""Raw aiomqtt echo round trip at QoS 1: request topic -> echo responder -> reply topic.

Requester and responder are two aiomqtt clients (TCP_NODELAY) in one event loop.
"""

from __future__ import annotations

import asyncio
from typing import Any

import aiomqtt

from cases.common import payload, unique_topic
from cases.latency import WARMUP, round_trips
from cases.raw_aiomqtt import client_for

__all__ = ["echo_qos1"]


async def _responder(client: aiomqtt.Client, reply_topic: str, count: int) -> None:
    """Echo exactly `count` requests, then return (cancelling it mid-publish can hang aiomqtt)."""
    answered = 0
    async for message in client.messages:
        await client.publish(reply_topic, message.payload, qos=1)
        answered += 1
        if answered == count:
            return


async def _echo(params: dict[str, Any]) -> dict[str, float]:
    base, n, data = unique_topic("echo"), int(params["n"]), payload()
    request_topic, reply_topic = f"{base}/request", f"{base}/reply"
    async with client_for(params["url"]) as responder, client_for(params["url"]) as requester:
        await responder.subscribe(request_topic, qos=1)
        await requester.subscribe(reply_topic, qos=1)
        echo = asyncio.create_task(_responder(responder, reply_topic, n + WARMUP))
        replies = aiter(requester.messages)

        async def one() -> None:
            await requester.publish(request_topic, data, qos=1)
            await anext(replies)

        result = await round_trips(one, n)
        await asyncio.wait_for(echo, 10)
        return result


def echo_qos1(params: dict[str, Any]) -> dict[str, float]:
    return asyncio.run(_echo(params))
