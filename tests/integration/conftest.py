"""Helpers for integration tests against the real broker of the ``mqtt_broker`` fixture."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import pytest

from mqttwire import MQTTClient, MQTTClientConfig
from mqttwire.testing.broker import MosquittoBroker

pytestmark = pytest.mark.integration


@pytest.fixture
def persistent_broker() -> Iterator[MosquittoBroker]:
    """A broker that saves sessions on SIGTERM, so subscriptions survive a restart."""
    broker = MosquittoBroker(persistence=True)
    broker.start()
    try:
        yield broker
    finally:
        broker.close()


@pytest.fixture
async def make_client(mqtt_broker: MosquittoBroker) -> AsyncIterator[Callable[..., MQTTClient]]:
    """Factory of clients on the test broker (or ``broker=``); all are shut down at the end."""
    clients: list[MQTTClient] = []

    def _make(client_id: str, broker: MosquittoBroker | None = None, **settings: Any) -> MQTTClient:
        settings.setdefault("reconnect_min_delay", 0.1)
        settings.setdefault("reconnect_max_delay", 0.5)
        settings.setdefault("shutdown_timeout", 2.0)
        url = (broker or mqtt_broker).url
        config = MQTTClientConfig(url=url, client_id=client_id, **settings)
        client = MQTTClient(config)
        clients.append(client)
        return client

    yield _make
    for client in clients:
        await client.shutdown()
