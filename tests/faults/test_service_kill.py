"""Case 10: a service process killed with SIGKILL is marked unhealthy by its will (retained)."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import textwrap

import orjson
import pytest
from fault_support import ClientFactory, wait_until

from mqttwire import MessageMeta
from mqttwire.testing.broker import MosquittoBroker

pytestmark = [pytest.mark.faults, pytest.mark.integration]

# A typed service as deployed: TarsClient from the environment, health and heartbeat on.
SERVICE = textwrap.dedent(
    """
    import asyncio
    from tars_mqtt import TarsClient

    async def main() -> None:
        async with TarsClient.from_env() as tars:
            async def heard(msg, meta):
                pass
            await tars.subscribe_stt_final(heard)
            print("ready", flush=True)
            await asyncio.Event().wait()

    asyncio.run(main())
    """
)


async def test_sigkilled_service_turns_retained_health_false(
    make_client: ClientFactory, broker: MosquittoBroker
) -> None:
    health: list[tuple[dict[str, object], bool]] = []

    async def on_health(payload: bytes, meta: MessageMeta) -> None:
        health.append((orjson.loads(payload)["data"], meta.retain))

    observer = make_client("kill-observer", broker.url)
    await observer.subscribe("system/health/victim", on_health, qos=1)
    await observer.connect()

    env = dict(
        os.environ,
        MQTT_URL=broker.url,
        MQTT_CLIENT_ID="victim",
        MQTT_ENABLE_HEALTH="true",
        MQTT_ENABLE_HEARTBEAT="true",
        MQTT_HEARTBEAT_INTERVAL="1",
        MQTT_KEEPALIVE="60",  # the will must come from the dropped TCP link, not a timeout
    )
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
        if line.strip() != b"ready":
            err = await process.stderr.read() if process.stderr else b""
            pytest.fail(f"service did not start: {err.decode(errors='replace')}")
        await wait_until(lambda: len(health) == 1, 10, "health ready")
        assert health[0][0]["ok"] is True and health[0][0]["event"] == "ready"

        loop = asyncio.get_running_loop()
        os.kill(process.pid, signal.SIGKILL)
        killed_at = loop.time()
        assert await asyncio.wait_for(process.wait(), 10) == -signal.SIGKILL
        await wait_until(lambda: len(health) == 2, 10, "the will")
        assert loop.time() - killed_at < 5.0  # from the closed socket, not keepalive (90 s)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()

    will, retained = health[1]
    assert will["ok"] is False and will["event"] == "offline"
    assert will["err"] == "unexpected disconnect"
    assert retained is False  # live delivery to an existing subscriber

    # Anyone who looks later sees the retained will.
    late: list[tuple[dict[str, object], bool]] = []

    async def on_late(payload: bytes, meta: MessageMeta) -> None:
        late.append((orjson.loads(payload)["data"], meta.retain))

    later = make_client("kill-late-observer", broker.url)
    await later.subscribe("system/health/victim", on_late, qos=1)
    await later.connect()
    await wait_until(lambda: len(late) == 1, 10, "the retained health")
    data, retained = late[0]
    assert retained is True and data["ok"] is False and data["event"] == "offline"
