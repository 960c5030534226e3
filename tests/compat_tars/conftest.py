"""Fixtures of the py-tars drop-in suite (``mqttwire.compat.tars``) on a real Mosquitto.

The suite restates CLIENT-REQUIREMENTS.md sections 3-4 (the seed's external behaviour) as tests
that use only the seed's public API; observers that need the QoS/retain flag of what arrived are
plain :class:`mqttwire.MQTTClient` instances.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from compat_support import MakeCompat, MakeObserver, Observed

from mqttwire import MQTTClient as RuntimeClient
from mqttwire import MQTTClientConfig as RuntimeConfig
from mqttwire.compat.tars import MQTTClient
from mqttwire.testing.broker import MosquittoBroker


@pytest.fixture(autouse=True)
def _no_mqtt_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Like the seed's conftest: no ``MQTT_*`` variable leaks into a test."""
    for name in list(os.environ):
        if name.startswith("MQTT_"):
            monkeypatch.delenv(name)
    yield


@pytest.fixture
async def compat(mqtt_broker: MosquittoBroker) -> AsyncIterator[MakeCompat]:
    """Factory of drop-in clients on the test broker; every one is shut down at the end."""
    made: list[MQTTClient] = []

    def make(client_id: str, **settings: Any) -> MQTTClient:
        client = MQTTClient(mqtt_broker.url, client_id, **settings)
        made.append(client)
        return client

    yield make
    for client in made:
        await client.shutdown()


@pytest.fixture
async def observe(mqtt_broker: MosquittoBroker) -> AsyncIterator[MakeObserver]:
    """``await observe(filter, qos=2)``: a connected runtime client recording ``filter``.

    QoS 2 subscriptions show the QoS a message was published with (delivery is the minimum).
    """
    made: list[RuntimeClient] = []

    async def make(topic_filter: str, *, qos: int = 2, client_id: str = "") -> Observed:
        name = client_id or f"observer-{len(made)}"
        config = RuntimeConfig(
            url=mqtt_broker.url,
            client_id=name,
            reconnect_min_delay=0.1,
            reconnect_max_delay=0.5,
            shutdown_timeout=1.0,
        )
        client = RuntimeClient(config)
        made.append(client)
        observed = Observed(client)
        await client.subscribe(topic_filter, observed.handler, qos=qos)
        await client.connect()
        return observed

    yield make
    for client in made:
        await client.shutdown()
