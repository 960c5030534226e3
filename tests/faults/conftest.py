"""Fixtures of the fault-injection suite: brokers, a client factory, a fault proxy."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from fault_support import RecordingTransport
from proxy import FaultProxy

from mqttwire import MQTTClient, MQTTClientConfig
from mqttwire.testing.broker import MosquittoBroker, find_mosquitto

pytestmark = [pytest.mark.faults, pytest.mark.integration]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/faults/" in str(item.path).replace("\\", "/"):
            item.add_marker(pytest.mark.faults)


def _broker(**kwargs: Any) -> MosquittoBroker:
    if find_mosquitto() is None:
        pytest.fail("mosquitto is required for the fault suite; `nox -s tests` installs it")
    broker = MosquittoBroker(**kwargs)
    broker.start()
    return broker


@pytest.fixture
def broker() -> Iterator[MosquittoBroker]:
    """A fresh broker that publishes $SYS every second."""
    b = _broker(extra_config=["sys_interval 1"])
    try:
        yield b
    finally:
        b.close()


@pytest.fixture
def persistent_broker() -> Iterator[MosquittoBroker]:
    """A broker with persistence (saved on SIGTERM and every second)."""
    b = _broker(persistence=True)
    try:
        yield b
    finally:
        b.close()


class ClientFactory:
    """Makes MQTTClients on the production transport (recording); shuts them all down."""

    def __init__(self) -> None:
        self.clients: list[MQTTClient] = []

    def __call__(self, client_id: str, url: str, **settings: Any) -> MQTTClient:
        settings.setdefault("reconnect_min_delay", 0.1)
        settings.setdefault("reconnect_max_delay", 0.5)
        settings.setdefault("shutdown_timeout", 2.0)
        settings.setdefault("connect_timeout", 3.0)
        settings.setdefault("publish_timeout", 10.0)
        config = MQTTClientConfig(url=url, client_id=client_id, **settings)
        client = MQTTClient(config, transport=RecordingTransport())
        self.clients.append(client)
        return client

    async def close(self) -> None:
        for client in self.clients:
            await client.shutdown()
        self.clients.clear()


@pytest.fixture
async def make_client() -> AsyncIterator[ClientFactory]:
    factory = ClientFactory()
    try:
        yield factory
    finally:
        await factory.close()


@pytest.fixture
async def proxy(broker: MosquittoBroker) -> AsyncIterator[FaultProxy]:
    async with FaultProxy(broker.host, broker.port) as p:
        yield p


@pytest.fixture(autouse=True)
def _quiet_logs(caplog: pytest.LogCaptureFixture) -> None:
    # Reconnect storms are the point here; keep the captured log useful, not huge.
    caplog.set_level(logging.INFO, logger="mqttwire")
