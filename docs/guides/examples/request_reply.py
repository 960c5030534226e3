"""Request/reply with the generated TARS client: a responder, a caller, a stream, a timeout.

Run against a broker:  python request_reply.py mqtt://127.0.0.1:1883 [3.1.1|5]
"""

from __future__ import annotations

import asyncio
import sys

from mqttwire import MessageMeta, MQTTClientConfig, RequestTimeoutError
from tars_mqtt import TarsClient
from tars_mqtt.models import (
    LLMRequest,
    LLMResponse,
    LLMStreamDelta,
    MemoryQuery,
    ToolCallRequest,
    ToolCallResult,
)


async def main(url: str, protocol: str = "3.1.1") -> None:
    llm = TarsClient(MQTTClientConfig(url=url, client_id="llm-worker", protocol=protocol))
    router = TarsClient(MQTTClientConfig(url=url, client_id="router", protocol=protocol))
    async with llm, router:
        # The responder: the handler returns the reply model; the runtime publishes it on
        # llm/response with the request's envelope id (or, for MQTT 5 requests, on their
        # response topic). Deltas go out on llm/stream with the same correlation id.
        async def answer(request: LLMRequest, meta: MessageMeta) -> LLMResponse:
            words = request.text.split()
            for seq, word in enumerate(words):
                delta = LLMStreamDelta(
                    id=request.id, seq=seq, delta=word, done=seq == len(words) - 1
                )
                await llm.publish_llm_stream(delta, correlation_id=meta.envelope_id)
            return LLMResponse(id=request.id, reply=request.text.upper())

        await llm.serve_llm_request(answer)  # returns once the broker acknowledged it

        # One request, one typed reply.
        reply = await router.request_llm_request(LLMRequest(id="q1", text="hello robot"), timeout=5)
        print(f"reply: {reply.reply}")

        # Many in flight at once: each resolves to its own caller.
        replies = await asyncio.gather(
            *(router.request_llm_request(LLMRequest(id=f"n{i}", text=f"n{i}")) for i in range(100))
        )
        print(f"concurrent: {sum(r.reply == f'N{i}' for i, r in enumerate(replies))}/100 matched")

        # The partial replies first, the final reply last.
        parts = []
        async for item in router.stream_llm_request(LLMRequest(id="q2", text="one two three")):
            parts.append(item.delta if isinstance(item, LLMStreamDelta) else f"[{item.reply}]")
        print(f"stream: {' '.join(str(p) for p in parts)}")

        # Payload correlation: llm/tool.call.result echoes the request's call_id.
        async def run_tool(call: ToolCallRequest, meta: MessageMeta) -> ToolCallResult:
            return ToolCallResult(call_id=call.call_id, result={"tool": call.name})

        await llm.serve_llm_tool_call_request(run_tool)
        result = await router.request_llm_tool_call_request(
            ToolCallRequest(call_id="c-7", name="clock"), timeout=5
        )
        print(f"tool: {result.call_id} {result.result}")

        # Nobody serves memory/query here: a typed timeout error with the data.
        try:
            await router.request_memory_query(MemoryQuery(text="keys?"), timeout=0.2)
        except RequestTimeoutError as exc:
            print(f"timeout: {exc.topic} after {exc.timeout:g}s")


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], *sys.argv[2:3]))
