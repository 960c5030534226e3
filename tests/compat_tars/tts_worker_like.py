"""A tts worker written the way the py-tars services are, on the seed's client API only.

Relative to a service on ``tars.adapters.mqtt_client`` only the import line differs. Like the
deployed services it owns its reconnect loop (connect -> subscribe -> ``wait_for_disconnect()``
-> ``shutdown()`` -> sleep -> retry, backoff 1 s doubling to 30 s), parses the envelope by hand
and answers with ``publish_event`` using the request's envelope id as correlation id.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from mqttwire.compat.tars import (
    Envelope,
    MQTTClient,
    MQTTClientConfig,
)  # was tars.adapters.mqtt_client

logger = logging.getLogger("tts-worker")

TOPIC_TTS_SAY = "tts/say"
TOPIC_TTS_STATUS = "tts/status"
EVENT_TYPE_TTS_STATUS = "tts.status"
RECONNECT_MIN = 1.0
RECONNECT_MAX = 30.0


class TtsSay(BaseModel):
    model_config = ConfigDict(extra="forbid")

    message_id: str = Field(default_factory=lambda: uuid.uuid4().hex)
    text: str
    voice: str | None = None
    utt_id: str | None = None


class TtsStatus(BaseModel):
    model_config = ConfigDict(extra="forbid")

    message_id: str = Field(default_factory=lambda: uuid.uuid4().hex)
    event: str
    text: str = ""
    timestamp: float = Field(default_factory=time.time)
    utt_id: str | None = None


class TTSService:
    def __init__(self, config: MQTTClientConfig) -> None:
        self.config = config
        self.client = MQTTClient(
            config.mqtt_url,
            config.client_id,
            config.source_name,
            keepalive=config.keepalive,
            enable_health=config.enable_health,
            enable_heartbeat=config.enable_heartbeat,
            heartbeat_interval=config.heartbeat_interval,
            dedupe_ttl=config.dedupe_ttl,
            dedupe_max_entries=config.dedupe_max_entries,
        )

    async def _publish_status(self, event: str, say: TtsSay, correlation_id: str) -> None:
        status = TtsStatus(event=event, text=say.text, utt_id=say.utt_id)
        await self.client.publish_event(
            TOPIC_TTS_STATUS, EVENT_TYPE_TTS_STATUS, status, correlation_id=correlation_id, qos=1
        )

    async def _handle_say(self, payload: bytes) -> None:
        try:
            envelope = Envelope.model_validate_json(payload)
            say = TtsSay.model_validate(envelope.data)
        except ValidationError as exc:
            logger.warning("invalid tts/say payload: %s", exc)
            return
        await self._publish_status("speaking_start", say, envelope.id)
        await asyncio.sleep(0.01 * len(say.text.split()))  # "speaking"
        await self._publish_status("speaking_end", say, envelope.id)

    async def run(self) -> None:
        backoff = RECONNECT_MIN
        while True:
            try:
                await self.client.connect()
                await self.client.subscribe(TOPIC_TTS_SAY, self._handle_say)
                logger.info("tts worker listening on %s", TOPIC_TTS_SAY)
                backoff = RECONNECT_MIN
                await self.client.wait_for_disconnect()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                logger.warning("MQTT connection lost (%s); reconnecting in %.0fs", exc, backoff)
            finally:
                await self.client.shutdown()
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, RECONNECT_MAX)


async def main() -> None:
    logging.basicConfig(level=logging.INFO)
    await TTSService(MQTTClientConfig.from_env()).run()


if __name__ == "__main__":
    asyncio.run(main())
