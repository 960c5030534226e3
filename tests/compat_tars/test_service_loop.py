"""An unchanged seed-style service (``tts_worker_like``) on the drop-in, through a broker restart."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterator

import orjson
import pytest
from compat_support import MakeCompat, MakeObserver
from tts_worker_like import TTSService

from mqttwire.compat.tars import MQTTClientConfig
from mqttwire.testing.broker import MosquittoBroker

pytestmark = pytest.mark.integration


class Listening(logging.Handler):
    """Counts the service's "listening" log line (it logs it right after subscribing)."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.count = 0
        self.changed = asyncio.Event()

    def emit(self, record: logging.LogRecord) -> None:
        if record.getMessage().startswith("tts worker listening"):
            self.count += 1
            self.changed.set()

    async def wait_for(self, count: int) -> None:
        async def wait() -> None:
            while self.count < count:
                self.changed.clear()
                await self.changed.wait()

        await asyncio.wait_for(wait(), 30)


@pytest.fixture
def listening() -> Iterator[Listening]:
    handler = Listening()
    logger = logging.getLogger("tts-worker")
    logger.addHandler(handler)
    level = logger.level
    logger.setLevel(logging.INFO)
    try:
        yield handler
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)


def _statuses(items: list[dict[str, object]], utt_id: str) -> list[object]:
    return [
        item["data"]["event"]  # type: ignore[index]
        for item in items
        if item["data"]["utt_id"] == utt_id  # type: ignore[index]
    ]


async def test_seed_style_service_survives_a_broker_restart(
    mqtt_broker: MosquittoBroker,
    monkeypatch: pytest.MonkeyPatch,
    compat: MakeCompat,
    observe: MakeObserver,
    listening: Listening,
) -> None:
    for name, value in {
        "MQTT_URL": mqtt_broker.url,
        "MQTT_CLIENT_ID": "tars-tts",
        "MQTT_SOURCE_NAME": "tts",
        "MQTT_ENABLE_HEALTH": "true",
        "MQTT_ENABLE_HEARTBEAT": "true",
        "MQTT_HEARTBEAT_INTERVAL": "1",
    }.items():
        monkeypatch.setenv(name, value)
    health = await observe("system/health/tars-tts", qos=1)
    status = await observe("tts/status", qos=1)
    service = TTSService(MQTTClientConfig.from_env())
    running = asyncio.create_task(service.run())
    try:
        await listening.wait_for(1)
        # The router side: a seed-API client without a loop of its own.
        router = compat("tars-router", source_name="router")
        await router.connect()
        say_id = await router.publish_event(
            "tts/say", "tts.say", {"text": "hello there", "utt_id": "u1"}, qos=1
        )
        await status.wait_until(
            lambda items: _statuses(items, "u1") == ["speaking_start", "speaking_end"]
        )
        first = status.json()[0]
        assert (first["id"], first["type"], first["source"]) == (say_id, "tts.status", "tts")

        mqtt_broker.kill()
        mqtt_broker.start()
        await listening.wait_for(2)  # the service's own loop connected and subscribed again
        await status.wait_connected()  # the observer too, or it would miss the replies
        await router.publish_event(  # the router reconnected by itself (or queued this)
            "tts/say", "tts.say", {"text": "back again", "utt_id": "u2"}, qos=1
        )
        await status.wait_until(
            lambda items: _statuses(items, "u2") == ["speaking_start", "speaking_end"]
        )
    finally:
        running.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await running
    await health.wait_until(lambda items: items[-1]["data"]["event"] == "shutdown")
    events = [item["data"]["event"] for item in health.json()]
    assert events.count("ready") >= 2  # one per cycle of the service's loop
    assert not service.client.connected
    assert orjson.loads(health.items[-1][0])["data"]["ok"] is False
