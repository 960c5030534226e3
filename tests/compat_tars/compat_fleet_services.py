"""The demo's router, llm and tts written as py-tars services, on the drop-in module.

``python compat_fleet_services.py {router,llm,tts}``: configuration from ``MQTT_*`` (read by the
seed's ``MQTTClientConfig.from_env()``), the seed's reconnect loop around
``wait_for_disconnect()``, hand-parsed envelopes and ``publish_event`` with spelled-out topics,
event types and QoS. They talk to the generated-client services of ``tars_demo.services`` with
the same topics and correlation: the llm/response envelope id is the llm/request envelope id.
Each prints ``<name>: ready`` once subscribed (the mixed-fleet test waits for that line).
"""

from __future__ import annotations

import asyncio
import logging
import sys
from collections.abc import Awaitable, Callable

from pydantic import ValidationError

from mqttwire.compat.tars import Envelope, MQTTClient, MQTTClientConfig
from tars_mqtt.models import FinalTranscript, LLMRequest, LLMResponse, TtsSay, TtsStatus

logger = logging.getLogger("compat-fleet")

REPLY_TIMEOUT = 10.0


def say(name: str, message: str) -> None:
    print(f"{name}: {message}", flush=True)


def answer_for(text: str) -> str:
    return f"You said: {text}"


class Router:
    """stt/final -> llm/request; waits for llm/response with the request's envelope id."""

    name = "router"

    def __init__(self, client: MQTTClient) -> None:
        self.client = client
        self.pending: dict[str, asyncio.Future[LLMResponse]] = {}
        self.tasks: set[asyncio.Task[None]] = set()

    async def subscribe(self) -> None:
        await self.client.subscribe("llm/response", self.on_response, qos=1)
        await self.client.subscribe("stt/final", self.on_final, qos=1)

    async def on_final(self, payload: bytes) -> None:
        try:
            envelope = Envelope.model_validate_json(payload)
            final = FinalTranscript.model_validate(envelope.data)
        except ValidationError as exc:
            logger.warning("invalid stt/final: %s", exc)
            return
        # Handlers of the seed run inline: ask in a task so llm/response can be dispatched.
        task = asyncio.create_task(self.ask(final))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def ask(self, final: FinalTranscript) -> None:
        request = LLMRequest(id=final.utt_id or final.message_id, text=final.text, stream=False)
        future: asyncio.Future[LLMResponse] = asyncio.get_running_loop().create_future()
        envelope_id = final.message_id  # as the deployed router: the transcript's message id
        self.pending[envelope_id] = future
        try:
            await self.client.publish_event(
                "llm/request", "llm.request", request, correlation_id=envelope_id, qos=1
            )
            reply = await asyncio.wait_for(future, REPLY_TIMEOUT)
        except TimeoutError:
            say(self.name, f"{request.id}: no reply from llm")
            return
        finally:
            self.pending.pop(envelope_id, None)
        say(self.name, f"{request.id}: llm replied {reply.reply!r}")

    async def on_response(self, payload: bytes) -> None:
        try:
            envelope = Envelope.model_validate_json(payload)
            response = LLMResponse.model_validate(envelope.data)
        except ValidationError as exc:
            logger.warning("invalid llm/response: %s", exc)
            return
        future = self.pending.get(envelope.id)
        if future is not None and not future.done():
            future.set_result(response)


class Llm:
    """llm/request -> tts/say and llm/response (envelope id = the request's)."""

    name = "llm"

    def __init__(self, client: MQTTClient) -> None:
        self.client = client

    async def subscribe(self) -> None:
        await self.client.subscribe("llm/request", self.on_request, qos=1)

    async def on_request(self, payload: bytes) -> None:
        try:
            envelope = Envelope.model_validate_json(payload)
            request = LLMRequest.model_validate(envelope.data)
        except ValidationError as exc:
            logger.warning("invalid llm/request: %s", exc)
            return
        text = answer_for(request.text)
        await self.client.publish_event(
            "tts/say", "tts.say", TtsSay(text=text, utt_id=request.id), qos=1
        )
        response = LLMResponse(id=request.id, reply=text, provider="compat", model="echo")
        await self.client.publish_event(
            "llm/response", "llm.response", response, correlation_id=envelope.id, qos=1
        )
        say(self.name, f"{request.id}: answering {text!r}")


class Tts:
    """tts/say -> tts/status speaking_start, speaking_end."""

    name = "tts"

    def __init__(self, client: MQTTClient) -> None:
        self.client = client

    async def subscribe(self) -> None:
        await self.client.subscribe("tts/say", self.on_say, qos=1)

    async def on_say(self, payload: bytes) -> None:
        try:
            envelope = Envelope.model_validate_json(payload)
            tts_say = TtsSay.model_validate(envelope.data)
        except ValidationError as exc:
            logger.warning("invalid tts/say: %s", exc)
            return
        for event in ("speaking_start", "speaking_end"):
            status = TtsStatus(event=event, text=tts_say.text, utt_id=tts_say.utt_id)
            await self.client.publish_event(
                "tts/status", "tts.status", status, correlation_id=envelope.id, qos=1
            )
        say(self.name, f"{tts_say.utt_id}: spoke {tts_say.text!r}")


SERVICES: dict[str, Callable[[MQTTClient], Router | Llm | Tts]] = {
    "router": Router,
    "llm": Llm,
    "tts": Tts,
}


async def run(name: str) -> None:
    config = MQTTClientConfig.from_env()
    client = MQTTClient(
        config.mqtt_url,
        config.client_id,
        config.source_name,
        enable_health=config.enable_health,
        enable_heartbeat=config.enable_heartbeat,
        heartbeat_interval=config.heartbeat_interval,
    )
    service = SERVICES[name](client)
    subscribe: Callable[[], Awaitable[None]] = service.subscribe
    backoff = 1.0
    while True:
        try:
            await client.connect()
            await subscribe()
            say(name, f"ready (client id {config.client_id})")
            backoff = 1.0
            await client.wait_for_disconnect()
        except Exception as exc:
            logger.warning("MQTT connection lost (%s); retrying in %.0fs", exc, backoff)
        finally:
            await client.shutdown()
        await asyncio.sleep(backoff)
        backoff = min(backoff * 2, 8.0)


if __name__ == "__main__":
    logging.basicConfig(level=logging.WARNING, format="%(name)s: %(levelname)s %(message)s")
    asyncio.run(run(sys.argv[1]))
