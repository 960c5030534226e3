"""A mixed fleet: the demo's services split between the drop-in and the generated TarsClient.

Each layout runs router, llm and tts as separate processes, some on ``mqttwire.compat.tars``
(``compat_fleet_services.py``, written as py-tars services) and the others on the generated
client (``python -m tars_demo.services``), all on one real Mosquitto. A transcript injected on
``stt/final`` must go all the way round (router -> llm request/reply -> tts -> tts/status and the
router's reply line). Then one drop-in and one generated service are killed with SIGKILL (their
last wills mark them unhealthy), restarted, and the conversation resumes.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import orjson
import pytest
from compat_support import MakeObserver, Observed

from mqttwire import MQTTClient as RuntimeClient
from mqttwire import MQTTClientConfig as RuntimeConfig
from mqttwire.testing.broker import MosquittoBroker
from tars_mqtt.models import FinalTranscript

pytestmark = pytest.mark.integration

COMPAT_SERVICES = Path(__file__).with_name("compat_fleet_services.py")
START_TIMEOUT = 60.0
"""Seconds for a service process to start and subscribe (Python start-up on a busy machine)."""
STEP_TIMEOUT = 30.0

# layout id -> (which client each service runs on, the services killed and restarted)
LAYOUTS = {
    "compat-router-and-tts": (
        {"router": "compat", "llm": "typed", "tts": "compat"},
        ("tts", "llm"),
    ),
    "compat-llm": ({"router": "typed", "llm": "compat", "tts": "typed"}, ("llm", "router")),
}


@dataclass
class Service:
    name: str
    kind: str
    process: asyncio.subprocess.Process
    lines: list[str] = field(default_factory=list)
    changed: asyncio.Event = field(default_factory=asyncio.Event)
    reader: asyncio.Task[None] | None = None

    async def read(self) -> None:
        stream = self.process.stdout
        assert stream is not None
        while line := await stream.readline():
            self.lines.append(line.decode(errors="replace").rstrip())
            self.changed.set()
        await self.process.wait()
        self.changed.set()

    async def wait_line(self, text: str, within: float) -> None:
        async def wait() -> None:
            while not any(text in line for line in self.lines):
                if self.process.returncode is not None:
                    raise AssertionError(f"{self.name} ({self.kind}) exited: {self.lines[-20:]}")
                self.changed.clear()
                await self.changed.wait()

        try:
            await asyncio.wait_for(wait(), within)
        except TimeoutError:
            raise AssertionError(
                f"{self.name} ({self.kind}) never printed {text!r}: {self.lines[-20:]}"
            ) from None


class Fleet:
    def __init__(self, url: str, kinds: dict[str, str]) -> None:
        self.url = url
        self.kinds = kinds
        self.running: dict[str, Service] = {}

    @staticmethod
    def client_id(name: str) -> str:
        return f"fleet-{name}"

    async def start(self, name: str) -> Service:
        kind = self.kinds[name]
        env = {k: v for k, v in os.environ.items() if not k.startswith("MQTT_")}
        env.update(
            MQTT_URL=self.url,
            MQTT_CLIENT_ID=self.client_id(name),
            MQTT_ENABLE_HEALTH="true",
            MQTT_SHUTDOWN_TIMEOUT="2",
            PYTHONUNBUFFERED="1",
        )
        if kind == "typed":
            argv = [sys.executable, "-m", "tars_demo.services", name]
        else:
            argv = [sys.executable, str(COMPAT_SERVICES), name]
        process = await asyncio.create_subprocess_exec(
            *argv,
            stdin=asyncio.subprocess.PIPE,  # the demo services stop when it closes
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            env=env,
        )
        service = Service(name, kind, process)
        service.reader = asyncio.create_task(service.read())
        self.running[name] = service
        await service.wait_line(f"{name}: ready", START_TIMEOUT)
        return service

    async def kill(self, name: str) -> None:
        service = self.running.pop(name)
        service.process.send_signal(signal.SIGKILL)
        await service.process.wait()
        if service.reader is not None:
            await service.reader

    async def close(self) -> None:
        for service in self.running.values():
            with contextlib.suppress(ProcessLookupError):
                service.process.send_signal(signal.SIGTERM)
        for service in self.running.values():
            try:
                await asyncio.wait_for(service.process.wait(), 10)
            except TimeoutError:
                service.process.kill()
                await service.process.wait()
            if service.reader is not None:
                await service.reader
        self.running.clear()


@pytest.fixture
async def injector(mqtt_broker: MosquittoBroker) -> AsyncIterator[RuntimeClient]:
    client = RuntimeClient(
        RuntimeConfig(url=mqtt_broker.url, client_id="fleet-stt", shutdown_timeout=1.0)
    )
    await client.connect()
    yield client
    await client.shutdown()


async def _utterance(
    fleet: Fleet, injector: RuntimeClient, status: Observed, utt_id: str, text: str
) -> None:
    """Inject a transcript; wait for tts to finish speaking and the router to get its reply."""
    await injector.publish_event(
        "stt/final", "stt.final", FinalTranscript(text=text, utt_id=utt_id), qos=1
    )
    await status.wait_until(
        lambda items: any(
            item["data"]["utt_id"] == utt_id and item["data"]["event"] == "speaking_end"
            for item in items
        ),
        within=STEP_TIMEOUT,
    )
    await fleet.running["router"].wait_line(f"{utt_id}: llm replied", STEP_TIMEOUT)


@pytest.mark.parametrize("layout", list(LAYOUTS))
async def test_mixed_fleet_survives_sigkill_of_each_kind(
    layout: str, mqtt_broker: MosquittoBroker, observe: MakeObserver, injector: RuntimeClient
) -> None:
    kinds, victims = LAYOUTS[layout]
    assert {kinds[v] for v in victims} == {"compat", "typed"}
    status = await observe("tts/status", qos=1)
    health = await observe("system/health/+", qos=1)
    fleet = Fleet(mqtt_broker.url, kinds)
    try:
        for name in ("tts", "llm", "router"):
            await fleet.start(name)
        await _utterance(fleet, injector, status, "before-kill", "hello tars")
        first = next(
            item
            for item in status.json()
            if item["data"]["utt_id"] == "before-kill" and item["data"]["event"] == "speaking_end"
        )
        assert set(first) == {"id", "type", "ts", "source", "data"}
        assert first["type"] == "tts.status"

        for name in victims:
            await fleet.kill(name)
        wills = {fleet.client_id(name) for name in victims}

        def wills_seen(items: list[dict[str, object]]) -> bool:
            dead = {
                meta.topic.rsplit("/", 1)[1]
                for (payload, meta) in health.items
                if orjson.loads(payload)["data"].get("event") == "offline"
            }
            return wills <= dead

        await health.wait_until(wills_seen, within=STEP_TIMEOUT)

        for name in victims:
            await fleet.start(name)
        await _utterance(fleet, injector, status, "after-restart", "are you back")
    finally:
        for svc in fleet.running.values():
            print(svc.name, svc.kind, svc.lines)
        print([(m.topic, orjson.loads(p)["data"].get("event")) for p, m in health.items])
        await fleet.close()
