"""pytest fixtures for services built on mqttwire (registered as the ``mqttwire`` pytest11 plugin).

* ``mqtt_broker``: a real Mosquitto on a free loopback port for one test
  (:class:`~mqttwire.testing.broker.MosquittoBroker`; ``url``, ``restart()``, ``kill()``...).
  Fails the test with an explanation when mosquitto is not installed.
* ``mqtt_memory_broker``: a fresh :class:`~mqttwire.testing.memory.MemoryBroker`.
* ``mqtt_memory_client``: a connected :class:`~mqttwire.MQTTClient` on ``mqtt_memory_broker``
  (needs pytest-asyncio), shut down after the test.

For a generated client use :func:`mqttwire.testing.for_testing`, e.g.
``async with for_testing(TarsClient, broker=mqtt_memory_broker) as tars: ...``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest

from mqttwire.client import MQTTClient
from mqttwire.config import MQTTClientConfig
from mqttwire.testing.broker import MosquittoBroker, find_mosquitto
from mqttwire.testing.memory import MEMORY_URL, MemoryBroker

__all__ = ["mqtt_broker", "mqtt_memory_broker", "mqtt_memory_client"]


@pytest.fixture
def mqtt_broker() -> Iterator[MosquittoBroker]:
    """A fresh Mosquitto (stop/kill/pause/restart-able) on a free port, for one test."""
    if find_mosquitto() is None:
        pytest.fail(
            "the mqtt_broker fixture needs mosquitto "
            "(apt-get install mosquitto / brew install mosquitto)"
        )
    broker = MosquittoBroker()
    broker.start()
    try:
        yield broker
    finally:
        broker.close()


@pytest.fixture
def mqtt_memory_broker() -> MemoryBroker:
    """An in-memory broker with MQTT routing semantics (see :mod:`mqttwire.testing.memory`)."""
    return MemoryBroker()


async def _memory_client(broker: MemoryBroker) -> AsyncIterator[MQTTClient]:
    config = MQTTClientConfig(url=MEMORY_URL, client_id="test-client", shutdown_timeout=1.0)
    client = MQTTClient(config, transport=broker.transport())
    await client.connect()
    try:
        yield client
    finally:
        await client.shutdown()


try:
    import pytest_asyncio
except ImportError:  # pragma: no cover - depends on the environment
    _HAVE_PYTEST_ASYNCIO = False
else:
    _HAVE_PYTEST_ASYNCIO = True

if _HAVE_PYTEST_ASYNCIO:

    @pytest_asyncio.fixture
    async def mqtt_memory_client(mqtt_memory_broker: MemoryBroker) -> AsyncIterator[MQTTClient]:
        """A connected ``MQTTClient`` (client id ``test-client``) on ``mqtt_memory_broker``."""
        async for client in _memory_client(mqtt_memory_broker):
            yield client

else:  # pragma: no cover - depends on the environment

    @pytest.fixture(name="mqtt_memory_client")
    def _mqtt_memory_client_needs_pytest_asyncio() -> None:
        pytest.fail("the mqtt_memory_client fixture needs pytest-asyncio")
