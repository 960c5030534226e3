"""stt/final -> router -> (request/reply) llm -> router -> tts/say -> tts, in one process,
each service its own TarsClient (own connection) on the test's broker."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, Literal

from mqttwire import MessageMeta, MQTTClientConfig
from mqttwire.observability import Telemetry
from tars_mqtt import TarsClient
from tars_mqtt.models import FinalTranscript, LLMRequest, LLMResponse, TtsSay

_ids = itertools.count()


@dataclass
class Chain:
    stt: TarsClient
    router: TarsClient
    llm: TarsClient
    tts: TarsClient
    spoken: list[tuple[TtsSay, MessageMeta]] = field(default_factory=list)
    spoken_event: asyncio.Event = field(default_factory=asyncio.Event)
    expected: int = 1

    async def say_and_wait(self, *texts: str) -> list[str]:
        """Publish ``texts`` on stt/final; wait until tts spoke each; the envelope ids."""
        self.expected = len(self.spoken) + len(texts)
        self.spoken_event.clear()
        ids = [
            await self.stt.publish_stt_final(FinalTranscript(text=text, utt_id=f"u{i}"))
            for i, text in enumerate(texts)
        ]
        await asyncio.wait_for(self.spoken_event.wait(), 30)
        return [i for i in ids if i is not None]


@asynccontextmanager
async def chain(
    url: str, protocol: Literal["3.1.1", "5"], telemetry: Telemetry, **settings: Any
) -> AsyncIterator[Chain]:
    def client(name: str) -> TarsClient:
        config = MQTTClientConfig(
            url=url,
            client_id=f"{name}-{next(_ids)}",
            source_name=name,
            protocol=protocol,
            shutdown_timeout=5.0,
            **settings,
        )
        return TarsClient(config, telemetry=telemetry)

    stt, router, llm, tts = (client(n) for n in ("stt", "router", "llm", "tts"))
    result = Chain(stt, router, llm, tts)

    @router.on_stt_final
    async def heard(msg: FinalTranscript, meta: MessageMeta) -> None:
        request = LLMRequest(id=msg.utt_id or msg.message_id, text=msg.text)
        reply = await router.request_llm_request(request, timeout=20)
        await router.publish_tts_say(
            TtsSay(text=reply.reply or "", utt_id=msg.utt_id), correlation_id=meta.envelope_id
        )

    async def answer(request: LLMRequest, meta: MessageMeta) -> LLMResponse:
        return LLMResponse(id=request.id, reply=request.text.upper())

    @tts.on_tts_say
    async def speak(say: TtsSay, meta: MessageMeta) -> None:
        result.spoken.append((say, meta))
        if len(result.spoken) >= result.expected:
            result.spoken_event.set()

    clients = (tts, llm, router, stt)
    try:
        await llm.serve_llm_request(answer)
        for each in clients:
            await each.connect()
        yield result
    finally:
        # shutdown() lets running handlers finish, so every span has ended afterwards.
        for each in clients:
            await each.shutdown()
