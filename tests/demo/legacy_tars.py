"""Services written the old way, as the deployed py-tars services are: no generated code.

The wire models below restate the deployed pydantic models from their exported JSON Schemas
(``shared/tars-interface/schemas``): same fields, same defaults, ``extra="forbid"``. The
services publish with ``MQTTClient.publish_event(topic, event_type, model)`` and spell every
topic, event type and QoS by hand; they receive raw bytes and parse them the deployed way:
``Envelope.model_validate_json(payload)`` then ``Model.model_validate(envelope.data)``.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from mqttwire import MQTTClient, MQTTClientConfig


def _uuid() -> str:
    return uuid.uuid4().hex


class _Wire(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Envelope(_Wire):
    id: str = Field(default_factory=_uuid)
    type: str
    ts: float = Field(default_factory=time.time)
    source: str = "router"
    data: dict[str, Any]


class FinalTranscript(_Wire):
    message_id: str = Field(default_factory=_uuid)
    text: str
    lang: str = "en"
    confidence: float | None = Field(default=None, ge=0.0, le=1.0)
    utt_id: str | None = None
    ts: float = Field(default_factory=time.time)
    is_final: bool = True


class TtsSay(_Wire):
    message_id: str = Field(default_factory=_uuid)
    text: str
    voice: str | None = None
    lang: str | None = None
    utt_id: str | None = None
    style: str | None = None
    stt_ts: float | None = None
    wake_ack: bool | None = None
    system_announce: bool | None = None


class TtsStatus(_Wire):
    message_id: str = Field(default_factory=_uuid)
    event: Literal["speaking_start", "speaking_end", "paused", "resumed", "stopped"]
    text: str = ""
    timestamp: float = Field(default_factory=time.time)
    utt_id: str | None = None
    reason: str | None = None
    wake_ack: bool | None = None
    system_announce: bool | None = None


class LLMRequest(_Wire):
    message_id: str = Field(default_factory=_uuid)
    id: str
    text: str
    stream: bool = True
    use_rag: bool | None = None
    rag_k: int | None = None
    system: str | None = None
    params: dict[str, Any] | None = None
    conversation_history: list[dict[str, Any]] | None = None


class LLMResponse(_Wire):
    message_id: str = Field(default_factory=_uuid)
    id: str
    reply: str | None = None
    error: str | None = None
    provider: str | None = None
    model: str | None = None
    tokens: dict[str, Any] | None = None


class HealthPing(_Wire):
    message_id: str = Field(default_factory=_uuid)
    ok: bool
    event: str | None = None
    err: str | None = None
    timestamp: float = Field(default_factory=time.time)


def decode(payload: bytes, model: type[BaseModel]) -> tuple[Envelope, Any]:
    """The deployed decoding: envelope first, then the payload model on ``data``."""
    envelope = Envelope.model_validate_json(payload)
    return envelope, model.model_validate(envelope.data)


class Received:
    """What an old-style handler parsed (or failed to parse), with a waitable count."""

    def __init__(self) -> None:
        self.items: list[tuple[Envelope, Any, bytes]] = []
        self.errors: list[ValidationError] = []
        self._changed = asyncio.Event()

    def add(self, envelope: Envelope, model: Any, raw: bytes) -> None:
        self.items.append((envelope, model, raw))
        self._changed.set()

    async def wait_for(self, count: int, within: float = 10.0) -> list[tuple[Envelope, Any, bytes]]:
        async def wait() -> None:
            while len(self.items) < count:
                if self.errors:
                    raise AssertionError(f"old service rejected a message: {self.errors[0]}")
                self._changed.clear()
                await self._changed.wait()

        await asyncio.wait_for(wait(), within)
        return self.items


def old_client(url: str, client_id: str, **settings: Any) -> MQTTClient:
    """``MQTTClient`` the way a deployed service builds it (health on, shared-client defaults)."""
    settings.setdefault("enable_health", True)
    settings.setdefault("shutdown_timeout", 2.0)
    return MQTTClient(MQTTClientConfig(url=url, client_id=client_id, **settings))


class OldTtsWorker:
    """tts-worker before migration: subscribes tts/say, reports tts/status by hand."""

    def __init__(self, url: str) -> None:
        self.client = old_client(url, "tars-tts", source_name="tts")
        self.said = Received()

    async def start(self) -> None:
        await self.client.subscribe("tts/say", self._on_say)  # deployed default: QoS 0
        await self.client.connect()

    async def _on_say(self, payload: bytes) -> None:
        try:
            envelope, say = decode(payload, TtsSay)
        except ValidationError as exc:
            self.said.errors.append(exc)
            self.said._changed.set()
            return
        self.said.add(envelope, say, payload)
        for event in ("speaking_start", "speaking_end"):
            await self.client.publish_event(
                "tts/status",
                "tts.status",
                TtsStatus(event=event, text=say.text, utt_id=say.utt_id),
                correlation_id=envelope.id,
                qos=1,
            )


class OldLlmWorker:
    """llm-worker before migration: answers llm/request on llm/response with the request's
    envelope id as correlation, then asks tts to speak."""

    def __init__(self, url: str) -> None:
        self.client = old_client(url, "tars-llm", source_name="llm")
        self.requests = Received()

    async def start(self) -> None:
        await self.client.subscribe("llm/request", self._on_request)
        await self.client.connect()

    async def _on_request(self, payload: bytes) -> None:
        try:
            envelope, request = decode(payload, LLMRequest)
        except ValidationError as exc:
            self.requests.errors.append(exc)
            self.requests._changed.set()
            return
        self.requests.add(envelope, request, payload)
        answer = f"echo: {request.text}"
        await self.client.publish_event(
            "llm/response",
            "llm.response",
            LLMResponse(id=request.id, reply=answer, provider="legacy"),
            correlation_id=envelope.id,
            qos=1,
        )
        await self.client.publish_event(
            "tts/say", "tts.say", TtsSay(text=answer, utt_id=request.id), correlation_id=envelope.id
        )
