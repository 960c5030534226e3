"""Fixtures: generated TARS clients on the real broker of the ``mqtt_broker`` fixture.

Every test that uses ``tars`` runs on MQTT 3.1.1 and on MQTT 5.
"""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator
from typing import Any

import pytest
from generated_support import Factory, MQTTVersion

from mqttwire import MQTTClient, MQTTClientConfig
from mqttwire.testing.broker import MosquittoBroker
from tars_mqtt import TarsClient

_ids = itertools.count()


@pytest.fixture(params=["3.1.1", "5"])
def protocol(request: pytest.FixtureRequest) -> MQTTVersion:
    return request.param  # type: ignore[no-any-return]


@pytest.fixture
async def tars(mqtt_broker: MosquittoBroker, protocol: MQTTVersion) -> AsyncIterator[Factory]:
    """Factory of TarsClients on the test broker (MQTT version of the ``protocol`` parameter
    unless given); all shut down after the test."""
    made: list[TarsClient] = []

    def make(name: str, *, protocol: MQTTVersion | None = None, **settings: Any) -> TarsClient:
        settings.setdefault("reconnect_min_delay", 0.1)
        settings.setdefault("reconnect_max_delay", 0.5)
        settings.setdefault("shutdown_timeout", 2.0)
        config = MQTTClientConfig(
            url=mqtt_broker.url,
            client_id=f"{name}-{next(_ids)}",
            source_name=name,
            protocol=protocol or default,
            **settings,
        )
        client = TarsClient(client=MQTTClient(config))
        made.append(client)
        return client

    default = protocol
    yield make
    for client in made:
        await client.shutdown()
