"""A small TARS service to test: it hears a final transcript, asks the LLM, says the answer.

The service only talks to a ``TarsClient``; in production that client is connected to the
robot's broker (``TarsClient.from_env()``), in its unit tests it is ``for_testing(TarsClient)``
(see test_chat_service.py).
"""

from __future__ import annotations

from mqttwire import MessageMeta, RequestTimeoutError
from tars_mqtt import TarsClient
from tars_mqtt.models import FinalTranscript, LLMRequest, TtsSay


class ChatService:
    def __init__(self, tars: TarsClient, *, llm_timeout: float = 30.0) -> None:
        self.tars = tars
        self.llm_timeout = llm_timeout

    async def start(self) -> None:
        await self.tars.subscribe_stt_final(self.on_final)

    async def on_final(self, heard: FinalTranscript, meta: MessageMeta) -> None:
        if not heard.text.strip():
            return
        request = LLMRequest(id=heard.utt_id or heard.message_id, text=heard.text, stream=False)
        try:
            reply = await self.tars.request_llm_request(request, timeout=self.llm_timeout)
        except RequestTimeoutError:
            await self.tars.publish_tts_say(TtsSay(text="Sorry, my brain is slow today."))
            return
        if reply.error:
            raise RuntimeError(f"LLM failed: {reply.error}")
        await self.tars.publish_tts_say(TtsSay(text=reply.reply or "", utt_id=heard.utt_id))
