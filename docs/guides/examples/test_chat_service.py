"""Unit tests of chat_service.py with no broker: ``for_testing(TarsClient)``.

Run:  pytest test_chat_service.py   (needs pytest and pytest-asyncio)
"""

from __future__ import annotations

import pytest
from chat_service import ChatService

from mqttwire import MessageMeta, PayloadValidationError
from mqttwire.testing import MemoryBroker, for_testing, kit_of
from tars_mqtt import TarsClient
from tars_mqtt.models import FinalTranscript, LLMRequest, LLMResponse, TtsSay

pytestmark = pytest.mark.asyncio


async def fake_llm(request: LLMRequest, meta: MessageMeta) -> LLMResponse:
    """Plays the LLM worker: the test client serves llm/request itself."""
    if request.text == "crash":
        return LLMResponse(id=request.id, error="out of memory")
    return LLMResponse(id=request.id, reply=f"You said {request.text!r}.")


async def test_says_what_the_llm_answers() -> None:
    async with for_testing(TarsClient) as tars:
        await tars.serve_llm_request(fake_llm)
        await ChatService(tars).start()

        await kit_of(tars).deliver("stt_final", FinalTranscript(text="hello", utt_id="u1"))

        [said] = kit_of(tars).published("tts_say", TtsSay)
        assert said.model.text == "You said 'hello'."
        assert said.model.utt_id == "u1"
        assert said.meta.topic == "tts/say" and said.meta.qos == 1
        [asked] = kit_of(tars).published("llm_request", LLMRequest)
        assert asked.model.text == "hello" and asked.model.stream is False


async def test_ignores_silence() -> None:
    async with for_testing(TarsClient) as tars:
        await ChatService(tars).start()
        await kit_of(tars).deliver("stt_final", FinalTranscript(text="   "))
        assert kit_of(tars).published() == []


async def test_apologises_when_the_llm_does_not_answer() -> None:
    async with for_testing(TarsClient) as tars:  # nobody serves llm/request
        await ChatService(tars, llm_timeout=0.05).start()
        await kit_of(tars).deliver("stt_final", FinalTranscript(text="anyone?"))
        [said] = kit_of(tars).published("tts_say", TtsSay)
        assert "slow" in said.model.text


async def test_handler_errors_fail_the_test() -> None:
    async with for_testing(TarsClient) as tars:
        await tars.serve_llm_request(fake_llm)
        await ChatService(tars).start()
        with pytest.raises(RuntimeError, match="out of memory"):
            await kit_of(tars).deliver("stt_final", FinalTranscript(text="crash"))


async def test_invalid_payloads_are_test_errors() -> None:
    async with for_testing(TarsClient) as tars:
        await ChatService(tars).start()
        with pytest.raises(PayloadValidationError) as info:
            await kit_of(tars).deliver_raw("stt/final", b'{"confidence": 7}')
        assert info.value.model == "FinalTranscript"


async def test_with_the_plugins_memory_broker(mqtt_memory_broker: MemoryBroker) -> None:
    """Two clients on one in-memory broker: the service and a separate fake LLM worker."""
    llm = for_testing(TarsClient, broker=mqtt_memory_broker, client_id="llm-worker")
    service = for_testing(TarsClient, broker=mqtt_memory_broker, client_id="chat")
    async with llm, service:
        await llm.serve_llm_request(fake_llm)
        await ChatService(service).start()
        await kit_of(service).deliver("stt_final", FinalTranscript(text="two clients"))
        [said] = kit_of(service).published("tts_say", TtsSay)
        assert said.model.text == "You said 'two clients'."
        assert [r.model.reply for r in kit_of(llm).published("llm_response", LLMResponse)] == [
            "You said 'two clients'."
        ]
