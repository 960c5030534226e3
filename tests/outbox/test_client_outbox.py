"""MQTTClient with ``offline_queue_path`` on the in-memory broker (fast, no processes)."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any

import pytest

from mqttwire import (
    ConfigError,
    MQTTClient,
    MQTTClientConfig,
    OfflineQueueFullError,
    OutboxCorruptError,
    OutboxError,
)
from mqttwire.envelope import encode_envelope
from mqttwire.sqlite_outbox import SqliteOutbox
from mqttwire.testing import MemoryBroker

TOPIC = "outbox/unit"


def make(broker: MemoryBroker, **settings: Any) -> MQTTClient:
    settings.setdefault("client_id", "outbox-unit")
    settings.setdefault("reconnect_min_delay", 0.01)
    settings.setdefault("reconnect_max_delay", 0.5)
    settings.setdefault("shutdown_timeout", 1.0)
    config = MQTTClientConfig(url=broker.url, connect_retry=True, **settings)
    return MQTTClient(config, transport=broker.transport())


def envelopes(n: int) -> list[bytes]:
    return [encode_envelope("outbox.seq", {"seq": i}, source="unit")[1] for i in range(n)]


async def publish_while_broker_down(client: MQTTClient, payloads: list[bytes]) -> None:
    connecting = asyncio.create_task(client.connect())
    await asyncio.sleep(0)  # connect() has started: publishes are accepted offline
    for payload in payloads:
        await client.publish(TOPIC, payload, qos=1)
    assert client.offline_queue_length == len(payloads)
    await client.shutdown()  # the broker never came back
    await asyncio.gather(connecting, return_exceptions=True)


async def test_queued_publishes_are_sent_by_the_next_start_with_the_same_file(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "outbox.db"
    broker = MemoryBroker()
    broker.stop()
    payloads = envelopes(20)
    await publish_while_broker_down(make(broker, offline_queue_path=str(path)), payloads)
    assert any("kept in" in r.getMessage() and str(path) in r.getMessage() for r in caplog.records)

    broker.start()
    again = make(broker, offline_queue_path=str(path))
    assert again.offline_queue_length == 20
    await again.connect()
    await again.shutdown()  # waits for the flush to be acknowledged
    sent = [m.payload for m in broker.log if m.topic == TOPIC]
    assert sent == payloads  # in order, the same bytes (so the same envelope ids)
    assert len(SqliteOutbox(path, 100)) == 0  # nothing left to send a second time


async def test_acknowledged_live_publishes_leave_nothing_in_the_file(tmp_path: Path) -> None:
    path = tmp_path / "outbox.db"
    broker = MemoryBroker()
    client = make(broker, offline_queue_path=str(path))
    await client.connect()
    for payload in envelopes(5):
        await client.publish(TOPIC, payload, qos=1)
    await client.shutdown()
    assert len([m for m in broker.log if m.topic == TOPIC]) == 5
    assert len(SqliteOutbox(path, 100)) == 0


async def test_without_a_path_the_queue_dies_with_the_client(
    caplog: pytest.LogCaptureFixture,
) -> None:
    broker = MemoryBroker()
    broker.stop()
    await publish_while_broker_down(make(broker), envelopes(3))
    assert any("3 queued message(s) not sent" in r.getMessage() for r in caplog.records)
    broker.start()
    again = make(broker)
    assert again.offline_queue_length == 0
    await again.connect()
    await again.shutdown()
    assert not [m for m in broker.log if m.topic == TOPIC]


@pytest.mark.parametrize("durable", [False, True], ids=["memory", "sqlite"])
async def test_the_queue_is_bounded_by_payload_bytes(tmp_path: Path, durable: bool) -> None:
    broker = MemoryBroker()
    broker.stop()
    path = str(tmp_path / "outbox.db") if durable else None
    client = make(broker, offline_queue_bytes=100, offline_queue_path=path)
    connecting = asyncio.create_task(client.connect())
    await asyncio.sleep(0)
    await client.publish(TOPIC, b"x" * 60, qos=1)
    with pytest.raises(OfflineQueueFullError) as info:
        await client.publish(TOPIC, b"y" * 60, qos=1)
    assert info.value.max_bytes == 100 and info.value.topic == TOPIC
    await client.publish(TOPIC, b"z" * 40, qos=1)
    assert client.offline_queue_length == 2
    await client.shutdown()
    await asyncio.gather(connecting, return_exceptions=True)


def test_a_corrupt_file_is_moved_aside_and_reported(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "outbox.db"
    path.write_bytes(b"\x00garbage" * 100)
    client = make(MemoryBroker(), offline_queue_path=str(path))
    error = client.last_error
    assert isinstance(error, OutboxCorruptError) and error.path == str(path)
    assert Path(error.moved_to).read_bytes() == b"\x00garbage" * 100
    records = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert any(str(path) in r.getMessage() and error.moved_to in r.getMessage() for r in records)


def test_an_unusable_path_fails_when_the_client_is_built(tmp_path: Path) -> None:
    with pytest.raises(OutboxError) as info:
        make(MemoryBroker(), offline_queue_path=str(tmp_path))  # a folder
    assert info.value.path == str(tmp_path)


def test_a_second_client_on_the_same_file_is_refused(tmp_path: Path) -> None:
    path = str(tmp_path / "outbox.db")
    make(MemoryBroker(), offline_queue_path=path)
    with pytest.raises(OutboxError, match="in use by another process"):
        make(MemoryBroker(), offline_queue_path=path)


def test_the_setting_is_read_from_the_environment(tmp_path: Path) -> None:
    path = str(tmp_path / "q.db")
    config = MQTTClientConfig.from_env(
        {"MQTT_CLIENT_ID": "x", "MQTT_OFFLINE_QUEUE_PATH": path, "MQTT_OFFLINE_QUEUE_BYTES": "9"}
    )
    assert config.offline_queue_path == path and config.offline_queue_bytes == 9
    with pytest.raises(ConfigError) as info:
        MQTTClientConfig(client_id="x", offline_queue_path=str(tmp_path) + "/")
    assert info.value.variable == "MQTT_OFFLINE_QUEUE_PATH"
    with pytest.raises(ConfigError) as bytes_info:
        MQTTClientConfig(client_id="x", offline_queue_bytes=0)
    assert bytes_info.value.variable == "MQTT_OFFLINE_QUEUE_BYTES"
