"""Typed request/reply: `request_llm_request` against a `serve_llm_request` responder.

Both are generated `TarsClient`s in one event loop, as the two aiomqtt clients of the raw echo.
QoS as the contract declares it (llm/request QoS 1, llm/response QoS 0).
"""

from __future__ import annotations

import asyncio
from typing import Any

from cases.latency import round_trips
from cases.typed_util import tars_client
from mqttwire import MessageMeta
from tars_mqtt.models import LLMRequest, LLMResponse

__all__ = ["request_reply"]


async def _answer(request: LLMRequest, meta: MessageMeta) -> LLMResponse:
    return LLMResponse(id=request.id, reply=request.text)


async def _request_reply(params: dict[str, Any]) -> dict[str, float]:
    n = int(params["n"])
    async with (
        tars_client(params["url"], role="bench-server") as server,
        tars_client(params["url"], role="bench-requester") as requester,
    ):
        await server.serve_llm_request(_answer)

        async def one() -> None:
            await requester.request_llm_request(
                LLMRequest(id="bench", text="hello", stream=False), timeout=10
            )

        return await round_trips(one, n)


def request_reply(params: dict[str, Any]) -> dict[str, float]:
    return asyncio.run(_request_reply(params))
