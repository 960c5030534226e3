"""Fixtures: generated TARS clients on the real broker of the ``mqtt_broker`` fixture."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator, Callable

import pytest

from mqttwire import MQTTClient, MQTTClientConfig
from mqttwire.testing.broker import MosquittoBroker
from tars_mqtt import TarsClient

pytestmark = pytest.mark.integration

_ids = itertools.count()


@pytest.fixture
async def tars(mqtt_broker: MosquittoBroker) -> AsyncIterator[Callable[[str], TarsClient]]:
    """Factory of connected-on-enter TarsClients; all shut down after the test."""
    made: list[TarsClient] = []

    def make(name: str) -> TarsClient:
        config = MQTTClientConfig(
            url=mqtt_broker.url,
            client_id=f"{name}-{next(_ids)}",
            source_name=name,
            reconnect_min_delay=0.1,
            reconnect_max_delay=0.5,
            shutdown_timeout=2.0,
        )
        client = TarsClient(client=MQTTClient(config))
        made.append(client)
        return client

    yield make
    for client in made:
        await client.shutdown()
