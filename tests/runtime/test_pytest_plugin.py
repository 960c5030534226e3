"""The pytest plugin as a service author gets it: installed with mqttwire, no conftest needed."""

from __future__ import annotations

import importlib.metadata
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

SERVICE_TESTS = textwrap.dedent(
    """
    import asyncio

    import pytest

    from mqttwire import MQTTClient, MQTTClientConfig
    from mqttwire.testing import MemoryBroker, MosquittoBroker


    @pytest.mark.asyncio
    async def test_memory_client(mqtt_memory_client, mqtt_memory_broker):
        assert isinstance(mqtt_memory_broker, MemoryBroker)
        got = asyncio.Queue()

        async def handler(payload, meta):
            await got.put((payload, meta.topic))

        await mqtt_memory_client.subscribe("svc/#", handler, qos=1)
        await mqtt_memory_client.publish("svc/a", b"hello", qos=1)
        assert await asyncio.wait_for(got.get(), 5) == (b"hello", "svc/a")
        assert [m.topic for m in mqtt_memory_broker.log] == ["svc/a"]


    @pytest.mark.asyncio
    async def test_real_broker(mqtt_broker):
        assert isinstance(mqtt_broker, MosquittoBroker) and mqtt_broker.running
        config = MQTTClientConfig(url=mqtt_broker.url, client_id="plugin-test")
        async with MQTTClient(config) as client:
            got = asyncio.Queue()
            await client.subscribe("svc/x", got.put, qos=1)
            await client.publish("svc/x", b"real", qos=1)
            assert await asyncio.wait_for(got.get(), 5) == b"real"
    """
)


def test_the_plugin_is_registered_as_a_pytest11_entry_point() -> None:
    plugins = {ep.name: ep.value for ep in importlib.metadata.entry_points(group="pytest11")}
    assert plugins.get("mqttwire") == "mqttwire.testing.pytest_plugin"


@pytest.mark.integration
def test_fixtures_work_in_a_project_without_conftest(tmp_path: Path) -> None:
    (tmp_path / "test_service.py").write_text(SERVICE_TESTS)
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(tmp_path)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "2 passed" in result.stdout
