"""The final reply of a streamed request never overtakes its deltas.

Deltas (``llm/stream``) and the final reply (``llm/response``) go through different subscription
queues. Here the stream queue is made slow on purpose, so without the ordering barrier in
``mqttwire.requests`` the final reply would win the race (the control case shows it does).
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from mqttwire import MessageMeta
from mqttwire.requests import ReplyRouter
from mqttwire.specs import ChannelSpec
from mqttwire.testing import for_testing
from tars_mqtt import TarsClient
from tars_mqtt.models import LLMRequest, LLMResponse, LLMStreamDelta


async def stream_with_slow_deltas(tars: TarsClient, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    async def fake_llm(request: LLMRequest, meta: MessageMeta) -> LLMResponse:
        for seq in range(5):
            delta = LLMStreamDelta(id=request.id, seq=seq, delta=str(seq))
            await tars.publish_llm_stream(delta, correlation_id=meta.envelope_id)
        return LLMResponse(id=request.id, reply="final")

    await tars.serve_llm_request(fake_llm)
    router: ReplyRouter = tars._replies
    route = router._route

    async def slow_stream(channel: ChannelSpec, payload: bytes, meta: MessageMeta) -> Any:
        if channel.name == "llm_stream":
            await asyncio.sleep(0.02)
        return await route(channel, payload, meta)

    monkeypatch.setattr(router, "_route", slow_stream)
    request = LLMRequest(id="slow", text="go")
    return [
        item.delta if isinstance(item, LLMStreamDelta) else "final"
        async for item in tars.stream_llm_request(request, timeout=5)
        if isinstance(item, LLMStreamDelta | LLMResponse)
    ]


async def test_final_reply_waits_for_the_deltas_routed_before_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async with for_testing(TarsClient) as tars:
        items = await stream_with_slow_deltas(tars, monkeypatch)
    assert items == ["0", "1", "2", "3", "4", "final"]


async def test_control_without_the_barrier_the_final_reply_overtakes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async def no_barrier(self: ReplyRouter, stream: ChannelSpec, final_channel: str) -> None:
        return None

    monkeypatch.setattr(ReplyRouter, "_stream_caught_up", no_barrier)
    async with for_testing(TarsClient) as tars:
        items = await stream_with_slow_deltas(tars, monkeypatch)
    assert items[-1] == "final" and len(items) < 6  # the stream ended before all deltas
