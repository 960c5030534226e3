"""Fixtures: generated TARS clients on the real broker of the ``mqtt_broker`` fixture.

Every test that uses ``tars`` runs on MQTT 3.1.1 and on MQTT 5.
"""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator
from typing import Any

import pytest
from generated_support import Factory, MQTTVersion
from wire_contract import CapturingTransport, default_transport, tars_wire

from mqttwire import MQTTClient, MQTTClientConfig
from mqttwire.testing import TestKit
from mqttwire.testing.broker import MosquittoBroker
from tars_mqtt import TarsClient

_ids = itertools.count()


@pytest.fixture(params=["3.1.1", "5"])
def protocol(request: pytest.FixtureRequest) -> MQTTVersion:
    return request.param  # type: ignore[no-any-return]


@pytest.fixture
async def tars(
    mqtt_broker: MosquittoBroker, protocol: MQTTVersion, request: pytest.FixtureRequest
) -> AsyncIterator[Factory]:
    """Factory of TarsClients on the test broker (MQTT version of the ``protocol`` parameter
    unless given); all shut down after the test. Everything they published must validate
    against the contract's JSON Schemas (tests that publish invalid payloads on purpose say so
    with ``@pytest.mark.publishes_invalid``)."""
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
        capture = CapturingTransport(default_transport())
        captures.append(capture)
        client = TarsClient(client=MQTTClient(config, transport=capture))
        made.append(client)
        return client

    default = protocol
    captures: list[CapturingTransport] = []
    yield make
    for client in made:
        await client.shutdown()
    if request.node.get_closest_marker("publishes_invalid") is None:
        wire = tars_wire()
        broken = [
            (topic, payload, errors)
            for capture in captures
            for topic, payload in capture.published
            if (errors := wire.errors(topic, payload))
        ]
        assert not broken, f"published payloads that break the contract: {broken[:3]}"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "publishes_invalid: the test publishes payloads that break the contract on purpose",
    )


@pytest.fixture(autouse=True)
def in_memory_publishes_follow_the_contract(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> Any:
    """What every ``for_testing(TarsClient)`` client published in a test (not what the test
    itself delivered) must validate against the contract's JSON Schemas, as on a real broker."""
    kits: list[TestKit] = []
    original = TestKit.__init__

    def recording(kit: TestKit, client: Any, *args: Any, **kwargs: Any) -> None:
        original(kit, client, *args, **kwargs)
        if isinstance(client, TarsClient):
            kits.append(kit)

    monkeypatch.setattr(TestKit, "__init__", recording)
    yield
    if request.node.get_closest_marker("publishes_invalid") is not None:
        return
    wire = tars_wire()
    broken = [
        (message.topic, message.payload, errors)
        for broker in {id(kit.broker): kit.broker for kit in kits}.values()
        for message in broker.log
        if message.sender is not None and (errors := wire.errors(message.topic, message.payload))
    ]
    assert not broken, f"published payloads that break the contract: {broken[:3]}"
