"""Health under a stable service name (``MQTT_HEALTH_NAME``) on a real broker.

A typed service started the way deployments start it (only ``MQTT_URL`` plus the health
settings in the environment, the client id passed to ``TarsClient.from_env``) announces
``ready``, ``reconnected`` after a broker restart, and its last will after SIGKILL, all on
``system/health/tts`` while its client id is ``tars-tts``; ``shutdown`` goes there as well.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import textwrap
from collections.abc import Callable
from typing import Any

import jsonschema
import orjson
import pytest
from inbox_helper import Inbox
from shared_data import TARS_INTERFACE

from mqttwire import MQTTClient
from mqttwire.testing.broker import MosquittoBroker

pytestmark = pytest.mark.integration

MakeClient = Callable[..., MQTTClient]

SERVICE = textwrap.dedent(
    """
    import asyncio
    from tars_mqtt import TarsClient

    async def main() -> None:
        tars = TarsClient.from_env(client_id="tars-tts", reconnect_min_delay=0.1,
                                   reconnect_max_delay=0.5)
        async with tars:
            print(tars.client.client_id, flush=True)
            await asyncio.Event().wait()

    asyncio.run(main())
    """
)


def _schema(name: str) -> dict[str, Any]:
    return orjson.loads((TARS_INTERFACE / "schemas" / f"{name}.json").read_bytes())  # type: ignore[no-any-return]


async def _wait_event(inbox: Inbox, event: str, within: float = 20.0) -> dict[str, Any]:
    """The first health envelope on ``inbox`` whose data has ``event``."""

    async def _wait() -> dict[str, Any]:
        seen = 0
        while True:
            for payload in inbox.payloads[seen:]:
                envelope = orjson.loads(payload)
                if envelope["data"].get("event") == event:
                    return envelope  # type: ignore[no-any-return]
            seen = len(inbox.payloads)
            await inbox.wait_for(seen + 1, within)

    return await asyncio.wait_for(_wait(), within)


async def test_will_ready_and_reconnected_use_the_health_name(
    make_client: MakeClient, mqtt_broker: MosquittoBroker
) -> None:
    monitor = make_client("health-name-monitor")
    inbox = Inbox()
    await monitor.subscribe("system/health/#", inbox.handler, qos=1)
    await monitor.connect()

    env = {k: v for k, v in os.environ.items() if not k.startswith("MQTT_")}
    env.update(MQTT_URL=mqtt_broker.url, MQTT_HEALTH_NAME="tts", MQTT_ENABLE_HEALTH="true")
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        SERVICE,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        assert process.stdout is not None
        line = await asyncio.wait_for(process.stdout.readline(), 30)
        if line.strip() != b"tars-tts":
            err = await process.stderr.read() if process.stderr else b""
            pytest.fail(f"service did not start: {err.decode(errors='replace')}")
        ready = await _wait_event(inbox, "ready")
        assert ready["source"] == "tars-tts" and ready["data"]["ok"] is True

        await asyncio.to_thread(mqtt_broker.restart)
        reconnected = await _wait_event(inbox, "reconnected")
        assert reconnected["data"]["ok"] is True

        os.kill(process.pid, signal.SIGKILL)
        assert await asyncio.wait_for(process.wait(), 10) == -signal.SIGKILL
        will = await _wait_event(inbox, "offline")
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()

    jsonschema.validate(will, _schema("Envelope"))
    jsonschema.validate(will["data"], _schema("HealthPing"))
    assert will["data"]["ok"] is False and will["data"]["err"] == "unexpected disconnect"
    topics = {meta.topic for _, meta in inbox.items}
    assert topics == {"system/health/tts"}, topics  # nothing under the client id

    # The will stays retained under the service name for anyone who looks later.
    later = make_client("health-name-later")
    late = Inbox()
    await later.subscribe("system/health/tts", late.handler, qos=1)
    await later.connect()
    (retained,) = await late.wait_for(1)
    assert orjson.loads(retained)["data"]["event"] == "offline"
    assert late.items[0][1].retain is True


async def test_shutdown_and_publish_health_use_the_health_name(make_client: MakeClient) -> None:
    monitor = make_client("health-name-monitor-2")
    inbox = Inbox()
    await monitor.subscribe("system/health/#", inbox.handler, qos=1)
    await monitor.connect()

    service = make_client("tars-tts", health_name="tts", enable_health=True)
    assert service.health_topic == "system/health/tts"
    await service.connect()
    await _wait_event(inbox, "ready")
    await service.publish_health(False, event="error", error="speaker unplugged")
    error = await _wait_event(inbox, "error")
    assert error["data"]["err"] == "speaker unplugged"
    await service.shutdown()
    shutdown = await _wait_event(inbox, "shutdown")
    assert shutdown["data"]["ok"] is False
    assert {meta.topic for _, meta in inbox.items} == {"system/health/tts"}
