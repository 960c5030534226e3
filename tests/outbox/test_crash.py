"""Nothing accepted is lost across a SIGKILL: the durable outbox on a real Mosquitto.

A child process (``outbox_service.py``) publishes QoS 1 envelopes ``{"seq": i}`` with
``MQTT_OFFLINE_QUEUE_PATH`` set and is killed with SIGKILL; started again with the same file
and client id, it delivers every message, in order, and a subscriber with dedupe sees each once.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import orjson
import pytest

from mqttwire import MessageMeta, MQTTClient, MQTTClientConfig
from mqttwire.sqlite_outbox import SqliteOutbox
from mqttwire.testing.broker import MosquittoBroker

pytestmark = [pytest.mark.integration]

SERVICE = Path(__file__).with_name("outbox_service.py")
TOPIC = "outbox/crash"
CLIENT_ID = "outbox-crash"


async def wait_until(predicate: Callable[[], bool], within: float, what: str) -> None:
    """Poll ``predicate``; ``within`` only catches hangs."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while not predicate():
        if loop.time() >= deadline:
            raise AssertionError(f"timed out after {within:g}s waiting for {what}")
        await asyncio.sleep(0.02)


class Inbox:
    def __init__(self) -> None:
        self.seqs: list[int] = []
        self.ids: list[str] = []

    async def handler(self, payload: bytes, meta: MessageMeta) -> None:
        envelope = orjson.loads(payload)
        self.seqs.append(envelope["data"]["seq"])
        self.ids.append(envelope["id"])


class Service:
    """One run of ``outbox_service.py``."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process

    @classmethod
    async def start(cls, url: str, path: Path, mode: str, count: int) -> Service:
        env = dict(
            os.environ,
            MQTT_URL=url,
            MQTT_CLIENT_ID=CLIENT_ID,
            MQTT_OFFLINE_QUEUE_PATH=str(path),
            MQTT_RECONNECT_MIN_DELAY="0.1",
            MQTT_RECONNECT_MAX_DELAY="0.5",
            MQTT_SHUTDOWN_TIMEOUT="30",
            MQTT_OFFLINE_QUEUE_SIZE="100000",
        )
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            str(SERVICE),
            mode,
            str(count),
            env=env,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        return cls(process)

    async def line(self) -> str:
        assert self.process.stdout is not None
        raw = await asyncio.wait_for(self.process.stdout.readline(), 60)
        if not raw:
            err = await self.process.stderr.read() if self.process.stderr else b""
            pytest.fail(f"service ended: {err.decode(errors='replace')}")
        return raw.decode().strip()

    async def expect(self, text: str) -> None:
        got = await self.line()
        assert got == text, got

    def tell(self, text: str) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(text.encode() + b"\n")

    async def sigkill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        assert await asyncio.wait_for(self.process.wait(), 30) == -signal.SIGKILL

    async def stop(self) -> None:
        """SIGTERM: the service shuts down gracefully."""
        self.process.send_signal(signal.SIGTERM)
        await self.expect("done")
        assert await asyncio.wait_for(self.process.wait(), 30) == 0

    def reap(self) -> None:
        if self.process.returncode is None:
            self.process.kill()


@pytest.fixture
async def services() -> AsyncIterator[list[Service]]:
    started: list[Service] = []
    try:
        yield started
    finally:
        for service in started:
            service.reap()
            await service.process.wait()


async def subscriber(url: str, inbox: Inbox) -> MQTTClient:
    config = MQTTClientConfig(
        url=url,
        client_id="outbox-receiver",
        dedupe_ttl=600,
        dedupe_max_entries=100_000,
        reconnect_min_delay=0.1,
        reconnect_max_delay=0.5,
    )
    client = MQTTClient(config)
    await client.subscribe(TOPIC, inbox.handler, qos=1)
    await client.connect()
    return client


async def deliver_and_check(
    url: str, path: Path, count: int, inbox: Inbox, services: list[Service]
) -> None:
    """Start the service again on ``path``: all ``count`` arrive in order, once; file emptied."""
    service = await Service.start(url, path, "deliver", 0)
    services.append(service)
    await service.expect(f"holding {count}")
    await wait_until(lambda: len(inbox.seqs) >= count, 60, f"{count} messages")
    await service.stop()
    assert inbox.seqs == list(range(count))  # all, in order, none twice
    assert len(set(inbox.ids)) == count
    store = SqliteOutbox(path, count)  # the graceful stop forgot what was acknowledged
    assert len(store) == 0 and store.in_flight == 0
    store.close()


async def test_sigkilled_while_offline_delivers_everything_after_restart(
    mqtt_broker: MosquittoBroker, tmp_path: Path, services: list[Service]
) -> None:
    count = 300
    path = tmp_path / "outbox.db"
    mqtt_broker.stop()
    service = await Service.start(mqtt_broker.url, path, "offline", count)
    services.append(service)
    await service.expect("holding 0")
    await service.expect(f"accepted {count}")  # every publish() returned
    await service.sigkill()

    mqtt_broker.start()
    inbox = Inbox()
    receiver = await subscriber(mqtt_broker.url, inbox)
    try:
        await deliver_and_check(mqtt_broker.url, path, count, inbox, services)
        assert receiver.metrics.duplicates == 0
    finally:
        await receiver.shutdown()


async def test_sigkilled_with_unacknowledged_publishes_delivers_them_after_restart(
    mqtt_broker: MosquittoBroker, tmp_path: Path, services: list[Service]
) -> None:
    count = 100
    path = tmp_path / "outbox.db"
    inbox = Inbox()
    receiver = await subscriber(mqtt_broker.url, inbox)
    try:
        service = await Service.start(mqtt_broker.url, path, "inflight", count)
        services.append(service)
        await service.expect("holding 0")
        await service.expect("connected")
        mqtt_broker.pause()  # the link stays up, nothing is acknowledged
        service.tell("go")
        await service.expect(f"sending {count}")
        await service.sigkill()
        # The broker dies too, before it read a byte of them: only the outbox has them now.
        mqtt_broker.kill()
        mqtt_broker.start()
        await wait_until(lambda: receiver.metrics.connects >= 2, 60, "the receiver back")
        assert inbox.seqs == []
        await deliver_and_check(mqtt_broker.url, path, count, inbox, services)
    finally:
        await receiver.shutdown()


async def test_sigkilled_mid_flush_resends_the_rest_and_dedupe_sees_each_once(
    mqtt_broker: MosquittoBroker, tmp_path: Path, services: list[Service]
) -> None:
    count = 5000
    path = tmp_path / "outbox.db"
    mqtt_broker.stop()
    writer = await Service.start(mqtt_broker.url, path, "offline", count)
    services.append(writer)
    await writer.expect("holding 0")
    await writer.expect(f"accepted {count}")
    await writer.sigkill()

    mqtt_broker.start()
    inbox = Inbox()
    frozen = asyncio.Event()

    async def freeze_on_first(payload: bytes, meta: MessageMeta) -> None:
        if not frozen.is_set():
            mqtt_broker.pause()  # the flush is under way: stop it where it is
            frozen.set()
        await inbox.handler(payload, meta)

    config = MQTTClientConfig(
        url=mqtt_broker.url,
        client_id="outbox-receiver",
        dedupe_ttl=600,
        dedupe_max_entries=100_000,
        reconnect_min_delay=0.1,
        reconnect_max_delay=0.5,
        keepalive=600,
    )
    receiver = MQTTClient(config)
    await receiver.subscribe(TOPIC, freeze_on_first, qos=1)
    await receiver.connect()
    try:
        first = await Service.start(mqtt_broker.url, path, "deliver", 0)
        services.append(first)
        await first.expect(f"holding {count}")
        await asyncio.wait_for(frozen.wait(), 60)
        await first.sigkill()  # mid-flush: some sent and acknowledged, some not
        mqtt_broker.resume()

        second = await Service.start(mqtt_broker.url, path, "deliver", 0)
        services.append(second)
        held = int((await second.line()).removeprefix("holding "))
        assert 0 < held <= count  # what was not acknowledged (and maybe some that were)
        await wait_until(lambda: len(inbox.seqs) >= count, 120, f"{count} messages")
        await second.stop()
        assert inbox.seqs == list(range(count))  # every message once, in order
        assert len(set(inbox.ids)) == count
    finally:
        await receiver.shutdown()
