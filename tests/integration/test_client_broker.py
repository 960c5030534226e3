"""MQTTClient against a real mosquitto: envelopes, health, will, isolation, reconnect, queueing."""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path

import jsonschema
import orjson
import pytest
from inbox_helper import Inbox
from shared_data import TARS_INTERFACE

from mqttwire import (
    AuthenticationError,
    ClientState,
    ConnectError,
    MessageMeta,
    MQTTClient,
    MQTTClientConfig,
)
from mqttwire.testing.broker import MosquittoBroker, free_port

pytestmark = pytest.mark.integration

SCHEMAS = TARS_INTERFACE / "schemas"
MakeClient = Callable[..., MQTTClient]


def _schema(name: str) -> dict[str, object]:
    return orjson.loads((SCHEMAS / f"{name}.json").read_bytes())  # type: ignore[no-any-return]


async def test_publish_event_reaches_other_client_byte_for_byte(make_client: MakeClient) -> None:
    inbox = Inbox()
    receiver = make_client("receiver")
    await receiver.subscribe("tts/say", inbox.handler, qos=1)
    await receiver.connect()
    sender = make_client("sender", source_name="router")
    await sender.connect()

    message_id = await sender.publish_event("tts/say", "tts.say", {"text": "hello"}, qos=1)
    reply_id = await sender.publish_event(
        "tts/say", "tts.say", {"text": "again"}, correlation_id="corr-7", qos=1
    )

    payloads = await inbox.wait_for(2)
    first, second = (orjson.loads(p) for p in payloads)
    assert list(first) == ["id", "type", "ts", "source", "data"]
    assert first["id"] == message_id and len(message_id) == 32 and int(message_id, 16) >= 0
    assert first["type"] == "tts.say" and first["source"] == "router"
    assert first["data"] == {"text": "hello"}
    assert second["id"] == reply_id == "corr-7"
    for envelope in (first, second):
        jsonschema.validate(envelope, _schema("Envelope"))
    meta = inbox.items[0][1]
    assert meta.topic == "tts/say" and meta.qos == 1 and meta.retain is False


async def test_health_ready_is_retained_for_a_late_subscriber(make_client: MakeClient) -> None:
    service = make_client("tars-stt", enable_health=True)
    await service.connect()
    await service.publish_event("stt/final", "stt.final", {"text": "x"}, qos=1)  # link is busy

    late = make_client("late-monitor")
    inbox = Inbox()
    await late.subscribe("system/health/#", inbox.handler, qos=1)
    await late.connect()
    (payload,) = await inbox.wait_for(1)
    envelope = orjson.loads(payload)
    jsonschema.validate(envelope, _schema("Envelope"))
    jsonschema.validate(envelope["data"], _schema("HealthPing"))
    assert envelope["type"] == "health.status" and envelope["source"] == "tars-stt"
    assert envelope["data"]["ok"] is True and envelope["data"]["event"] == "ready"
    assert set(envelope["data"]) == {"message_id", "ok", "event", "timestamp"}
    assert inbox.items[0][1].retain is True and inbox.items[0][1].topic == "system/health/tars-stt"

    await service.shutdown()
    late2 = make_client("late-monitor-2")
    inbox2 = Inbox()
    await late2.subscribe("system/health/tars-stt", inbox2.handler, qos=1)
    await late2.connect()
    (payload,) = await inbox2.wait_for(1)
    data = orjson.loads(payload)["data"]
    assert data["ok"] is False and data["event"] == "shutdown"


SERVICE_SCRIPT = textwrap.dedent(
    """
    import asyncio, sys
    from mqttwire import MQTTClient, MQTTClientConfig

    async def main() -> None:
        client = MQTTClient(MQTTClientConfig(url=sys.argv[1], client_id="doomed", enable_health=True, keepalive=60))
        await client.connect()
        print("ready", flush=True)
        await asyncio.Event().wait()

    asyncio.run(main())
    """
)


async def test_last_will_marks_a_killed_process_unhealthy(
    make_client: MakeClient, mqtt_broker: MosquittoBroker
) -> None:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        SERVICE_SCRIPT,
        mqtt_broker.url,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        assert process.stdout is not None
        line = await asyncio.wait_for(process.stdout.readline(), 20)
        if line.strip() != b"ready":
            stderr = await process.stderr.read() if process.stderr else b""
            pytest.fail(f"service did not start: {stderr.decode(errors='replace')}")
        monitor = make_client("will-monitor")
        inbox = Inbox()
        await monitor.subscribe("system/health/doomed", inbox.handler, qos=1)
        await monitor.connect()
        (ready,) = await inbox.wait_for(1)
        assert orjson.loads(ready)["data"]["event"] == "ready"

        os.kill(process.pid, signal.SIGKILL)
        await asyncio.wait_for(process.wait(), 10)
        payloads = await inbox.wait_for(2, within=15)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    will = orjson.loads(payloads[1])
    assert inbox.items[1][1].topic == "system/health/doomed"
    jsonschema.validate(will, _schema("Envelope"))
    jsonschema.validate(will["data"], _schema("HealthPing"))
    assert will["type"] == "health.status" and will["data"]["ok"] is False
    assert will["data"]["err"] == "unexpected disconnect"

    # ...and it stays retained for anyone who looks later.
    later = make_client("will-monitor-later")
    inbox2 = Inbox()
    await later.subscribe("system/health/doomed", inbox2.handler)
    await later.connect()
    (retained,) = await inbox2.wait_for(1)
    assert orjson.loads(retained)["data"]["ok"] is False
    assert inbox2.items[0][1].retain is True


async def test_raising_and_sleeping_handlers_do_not_block_a_third(make_client: MakeClient) -> None:
    client = make_client("isolation")
    release = asyncio.Event()
    fast = Inbox()
    calls = {"raise": 0, "slow": 0}

    async def raising(payload: bytes) -> None:
        calls["raise"] += 1
        raise RuntimeError("handler bug")

    async def sleeping(payload: bytes, meta: MessageMeta) -> None:
        calls["slow"] += 1
        await release.wait()

    await client.subscribe("robot/#", raising)
    await client.subscribe("robot/+/event", sleeping)
    await client.subscribe("robot/arm/event", fast.handler, qos=1)
    await client.connect()

    for i in range(20):
        await client.publish("robot/arm/event", str(i).encode(), qos=1)
    payloads = await fast.wait_for(20)
    assert payloads == [str(i).encode() for i in range(20)]
    assert calls["slow"] == 1  # still stuck in the first message
    assert calls["raise"] == 20
    assert client.metrics.handler_errors == 20
    release.set()


async def test_reconnect_resubscribes_after_broker_restart(
    make_client: MakeClient, mqtt_broker: MosquittoBroker
) -> None:
    states: list[ClientState] = []
    client = make_client("restart-sub", enable_health=True)
    client.add_state_listener(states.append)
    inbox = Inbox()
    await client.subscribe("sensors/+/temp", inbox.handler, qos=1)
    await client.connect()
    publisher = make_client("restart-pub")
    await publisher.connect()
    await publisher.publish("sensors/a/temp", b"1", qos=1)
    await inbox.wait_for(1)

    reconnected = asyncio.Event()
    client.add_state_listener(lambda s: reconnected.set() if s is ClientState.CONNECTED else None)
    publisher_back = asyncio.Event()
    publisher.add_state_listener(
        lambda s: publisher_back.set() if s is ClientState.CONNECTED else None
    )
    await asyncio.to_thread(mqtt_broker.restart)
    await asyncio.wait_for(reconnected.wait(), 15)
    await asyncio.wait_for(publisher_back.wait(), 15)

    await publisher.publish("sensors/b/temp", b"2", qos=1)
    assert (await inbox.wait_for(2))[1] == b"2"
    assert ClientState.RECONNECTING in states
    assert states[-1] is ClientState.CONNECTED
    assert client.metrics.reconnects >= 1

    health = Inbox()
    monitor = make_client("restart-monitor")
    await monitor.subscribe("system/health/restart-sub", health.handler)
    await monitor.connect()
    (payload,) = await health.wait_for(1)
    assert orjson.loads(payload)["data"]["event"] == "reconnected"


async def test_offline_queue_is_flushed_in_order_after_reconnect(
    make_client: MakeClient, persistent_broker: MosquittoBroker
) -> None:
    # Persistence keeps the receiver's session across the restart, whoever reconnects first.
    mqtt_broker = persistent_broker
    receiver = make_client("offline-rx", broker=mqtt_broker, clean_session=False)
    inbox = Inbox()
    await receiver.subscribe("queue/test", inbox.handler, qos=1)
    await receiver.connect()
    sender = make_client("offline-tx", broker=mqtt_broker)
    await sender.connect()

    down = asyncio.Event()
    sender.add_state_listener(lambda s: down.set() if s is ClientState.RECONNECTING else None)
    await asyncio.to_thread(mqtt_broker.stop)
    await asyncio.wait_for(down.wait(), 10)

    for i in range(50):
        await sender.publish("queue/test", f"m{i}".encode(), qos=1)
    await sender.publish("queue/test", b"dropped", qos=0)
    assert sender.offline_queue_length == 50
    assert sender.metrics.dropped_qos0_offline == 1

    await asyncio.to_thread(mqtt_broker.start)
    payloads = await inbox.wait_for(50, within=20)
    assert payloads == [f"m{i}".encode() for i in range(50)]
    assert sender.metrics.offline_flushed == 50
    assert sender.offline_queue_length == 0


async def test_full_offline_queue_raises(
    make_client: MakeClient, mqtt_broker: MosquittoBroker
) -> None:
    from mqttwire import OfflineQueueFullError

    sender = make_client("full-queue", offline_queue_size=3)
    await sender.connect()
    down = asyncio.Event()
    sender.add_state_listener(lambda s: down.set() if s is ClientState.RECONNECTING else None)
    await asyncio.to_thread(mqtt_broker.stop)
    await asyncio.wait_for(down.wait(), 10)
    for i in range(3):
        await sender.publish("q", bytes([i]), qos=1)
    with pytest.raises(OfflineQueueFullError) as info:
        await sender.publish("q", b"x", qos=1)
    assert info.value.capacity == 3 and info.value.topic == "q"


async def test_first_connect_failure_names_host_and_port_not_password() -> None:
    port = free_port()
    config = MQTTClientConfig(
        url=f"mqtt://alice:s3cr%40t@127.0.0.1:{port}", client_id="nobody", connect_timeout=3
    )
    client = MQTTClient(config)
    with pytest.raises(ConnectError) as info:
        await client.connect()
    text = str(info.value) + repr(info.value)
    assert info.value.host == "127.0.0.1" and info.value.port == port
    assert f"127.0.0.1:{port}" in text
    assert "s3cr" not in text and "s3cr" not in repr(client) and "s3cr" not in repr(config)
    assert client.state is ClientState.DISCONNECTED


async def test_connect_retry_waits_for_a_late_broker(tmp_path: Path) -> None:
    broker = MosquittoBroker()
    client = MQTTClient(
        MQTTClientConfig(
            url=broker.url,
            client_id="patient",
            connect_retry=True,
            reconnect_min_delay=0.1,
            reconnect_max_delay=0.5,
        )
    )
    try:
        connecting = asyncio.create_task(client.connect())
        await asyncio.sleep(0.5)
        assert not connecting.done() and client.state is ClientState.CONNECTING
        await asyncio.to_thread(broker.start)
        await asyncio.wait_for(connecting, 10)
        assert client.connected
        assert client.metrics.connect_failures >= 1
    finally:
        await client.shutdown()
        broker.close()


@pytest.fixture
def password_file(tmp_path: Path) -> Path:
    """A mosquitto password file with user ``svc`` / password ``right``."""
    tool = shutil.which("mosquitto_passwd") or shutil.which("mosquitto_passwd", path="/usr/bin")
    if tool is None:
        pytest.fail("mosquitto_passwd (package mosquitto) is required")
    path = tmp_path / "passwd"
    path.write_text("")
    subprocess.run([tool, "-b", str(path), "svc", "right"], check=True)
    return path


async def test_bad_credentials_raise_authentication_error_once(
    password_file: Path, caplog: pytest.LogCaptureFixture
) -> None:
    broker = MosquittoBroker(password_file=password_file)
    broker.start()
    caplog.set_level(logging.DEBUG)
    try:
        bad = MQTTClient(
            MQTTClientConfig(
                url=f"mqtt://svc:wrong@{broker.host}:{broker.port}",
                client_id="bad-creds",
                connect_retry=True,
            )
        )
        with pytest.raises(AuthenticationError) as info:
            await asyncio.wait_for(bad.connect(), 10)
        assert info.value.fatal and "wrong" not in str(info.value)
        assert bad.metrics.connect_failures == 1  # no retry storm
        assert caplog.records and "wrong" not in caplog.text  # not even at DEBUG
        good = MQTTClient(
            MQTTClientConfig(url=f"mqtt://svc:right@{broker.host}:{broker.port}", client_id="ok")
        )
        await good.connect()
        assert good.connected
        await good.shutdown()
    finally:
        broker.close()


def _has(binary: str) -> bool:
    import shutil

    return (
        shutil.which(binary) is not None
        or shutil.which(binary, path="/usr/bin:/usr/sbin") is not None
    )


async def test_tcp_nodelay_is_set_on_the_broker_socket(make_client: MakeClient) -> None:
    client = make_client("nodelay")
    await client.connect()
    paho = client.client  # the paho client of the link (public ``socket()``)
    assert paho is not None
    sock = paho.socket()
    assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) != 0


async def test_shutdown_is_idempotent_and_stops_publishing(make_client: MakeClient) -> None:
    from mqttwire import NotConnectedError

    client = make_client("idempotent", enable_health=True)
    async with client:
        assert client.connected
    await client.shutdown()
    assert client.state is ClientState.DISCONNECTED
    with pytest.raises(NotConnectedError):
        await client.publish("x", b"1", qos=1)


async def test_unsubscribe_stops_delivery(make_client: MakeClient) -> None:
    client = make_client("unsub")
    kept, dropped = Inbox(), Inbox()
    sub = await client.subscribe("u/#", dropped.handler, qos=1)
    await client.subscribe("u/x", kept.handler, qos=1)
    await client.connect()
    await client.publish("u/x", b"1", qos=1)
    await kept.wait_for(1)
    await dropped.wait_for(1)
    await client.unsubscribe(sub)
    await client.publish("u/x", b"2", qos=1)
    await kept.wait_for(2)
    assert dropped.payloads == [b"1"]
    assert not sub.active


async def test_dedupe_drops_repeated_envelopes(make_client: MakeClient) -> None:
    receiver = make_client("dedupe-rx", dedupe_ttl=30, dedupe_max_entries=100)
    inbox = Inbox()
    await receiver.subscribe("llm/stream", inbox.handler, qos=1)
    await receiver.connect()
    sender = make_client("dedupe-tx")
    await sender.connect()
    for seq in (0, 1, 1, 2, 0):
        await sender.publish_event(
            "llm/stream", "llm.stream", {"seq": seq}, correlation_id="req-1", qos=1
        )
    await sender.publish("llm/stream", b"not json", qos=1)
    await sender.publish("llm/stream", b"not json", qos=1)
    payloads = await inbox.wait_for(5)
    assert [orjson.loads(p)["data"]["seq"] for p in payloads[:3]] == [0, 1, 2]
    assert payloads[3:] == [b"not json", b"not json"]
    assert receiver.metrics.duplicates == 2


async def test_watchdog_forces_reconnect_when_broker_freezes(
    make_client: MakeClient, mqtt_broker: MosquittoBroker
) -> None:
    client = make_client(
        "watchdog", enable_heartbeat=True, heartbeat_interval=1.0, connect_timeout=1.0
    )
    await client.connect()
    reconnecting = asyncio.Event()
    client.add_state_listener(
        lambda s: reconnecting.set() if s is ClientState.RECONNECTING else None
    )
    loop = asyncio.get_running_loop()
    await asyncio.sleep(1.5)  # heartbeats are flowing
    assert client.metrics.heartbeats_sent >= 1
    mqtt_broker.pause()
    frozen_at = loop.time()
    try:
        await asyncio.wait_for(reconnecting.wait(), 10)
        detected = loop.time() - frozen_at
    finally:
        mqtt_broker.resume()
    assert detected <= 3.0 + 0.5
    assert client.metrics.watchdog_reconnects == 1
    back = asyncio.Event()
    client.add_state_listener(lambda s: back.set() if s is ClientState.CONNECTED else None)
    await asyncio.wait_for(back.wait(), 20)


async def test_disconnect_then_connect_again_resubscribes(make_client: MakeClient) -> None:
    client = make_client("again")
    inbox = Inbox()
    await client.subscribe("again/t", inbox.handler, qos=1)
    await client.connect()
    await client.disconnect()
    assert client.state is ClientState.DISCONNECTED and client.client is None
    await client.connect()
    await client.publish("again/t", b"1", qos=1)
    assert await inbox.wait_for(1) == [b"1"]


async def test_persistent_session_receives_what_arrived_while_away(make_client: MakeClient) -> None:
    away = make_client("persistent", clean_session=False)
    inbox = Inbox()
    await away.subscribe("mail/+", inbox.handler, qos=1)
    await away.connect()
    await away.disconnect()

    sender = make_client("postman")
    await sender.connect()
    for i in range(5):
        await sender.publish(f"mail/{i}", str(i).encode(), qos=1)

    await away.connect()
    assert await inbox.wait_for(5) == [str(i).encode() for i in range(5)]


async def test_mqtt5_with_credentials_and_persistent_session(password_file: Path) -> None:
    broker = MosquittoBroker(password_file=password_file)
    broker.start()
    url = f"mqtt://svc:right@{broker.host}:{broker.port}"
    client = MQTTClient(
        MQTTClientConfig(url=url, client_id="v5", protocol="5", clean_session=False)
    )
    sender = MQTTClient(MQTTClientConfig(url=url, client_id="v5-sender", protocol="5"))
    try:
        inbox = Inbox()
        await client.subscribe("v5/+", inbox.handler, qos=1)
        await client.connect()
        await client.disconnect()
        await sender.connect()
        await sender.publish("v5/a", b"while away", qos=1)
        await client.connect()
        assert await inbox.wait_for(1) == [b"while away"]
        await sender.publish_event("v5/b", "v5.event", {"n": 1}, qos=1)
        second = (await inbox.wait_for(2))[1]
        assert orjson.loads(second)["data"] == {"n": 1}
    finally:
        await client.shutdown()
        await sender.shutdown()
        broker.close()


@pytest.fixture
def tls_files(tmp_path: Path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 (certificate, key)."""
    tool = shutil.which("openssl")
    if tool is None:
        pytest.fail("openssl is required to create the test certificate")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        [
            *(tool, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1"),
            *("-keyout", str(key), "-out", str(cert), "-subj", "/CN=127.0.0.1"),
            *("-addext", "subjectAltName=IP:127.0.0.1"),
        ],
        check=True,
        capture_output=True,
    )
    return cert, key


async def test_mqtts_with_ca_file(tls_files: tuple[Path, Path]) -> None:
    cert, key = tls_files
    tls_port = free_port()
    broker = MosquittoBroker(
        extra_config=[f"listener {tls_port} 127.0.0.1", f"certfile {cert}", f"keyfile {key}"]
    )
    broker.start()
    client = MQTTClient(
        MQTTClientConfig(
            url=f"mqtts://127.0.0.1:{tls_port}", client_id="tls", tls_ca_file=str(cert)
        )
    )
    untrusted = MQTTClient(MQTTClientConfig(url=f"mqtts://127.0.0.1:{tls_port}", client_id="x"))
    try:
        inbox = Inbox()
        await client.subscribe("secure/t", inbox.handler, qos=1)
        await client.connect()
        await client.publish("secure/t", b"sealed", qos=1)
        assert await inbox.wait_for(1) == [b"sealed"]
        with pytest.raises(ConnectError):
            await untrusted.connect()  # not signed by a CA we trust
    finally:
        await client.shutdown()
        await untrusted.shutdown()
        broker.close()


async def test_shutdown_sends_queued_messages_when_the_link_returns_in_time(
    make_client: MakeClient, persistent_broker: MosquittoBroker
) -> None:
    mqtt_broker = persistent_broker
    receiver = make_client("drain-rx", broker=mqtt_broker, clean_session=False)
    inbox = Inbox()
    await receiver.subscribe("drain/t", inbox.handler, qos=1)
    await receiver.connect()
    sender = make_client("drain-tx", broker=mqtt_broker, shutdown_timeout=8.0)
    await sender.connect()
    down = asyncio.Event()
    sender.add_state_listener(lambda s: down.set() if s is ClientState.RECONNECTING else None)
    await asyncio.to_thread(mqtt_broker.stop)
    await asyncio.wait_for(down.wait(), 10)
    for i in range(5):
        await sender.publish("drain/t", str(i).encode(), qos=1)

    restart = asyncio.create_task(asyncio.to_thread(mqtt_broker.start))
    await sender.shutdown()
    await restart
    assert sender.offline_queue_length == 0
    assert await inbox.wait_for(5, within=20) == [str(i).encode() for i in range(5)]
