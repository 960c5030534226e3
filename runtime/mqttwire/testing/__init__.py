"""Helpers for testing services built on mqttwire (no codegen dependencies).

* :mod:`mqttwire.testing.memory`: an in-memory broker and transport with MQTT semantics.
* :mod:`mqttwire.testing.kit`: ``Client.for_testing()`` and its ``testing`` accessors.
* :mod:`mqttwire.testing.broker`: a real Mosquitto on a free port (the ``mqtt_broker`` fixture).
* :mod:`mqttwire.testing.pytest_plugin`: the ``mqtt_broker``, ``mqtt_memory_broker`` and
  ``mqtt_memory_client`` fixtures (registered automatically as a pytest plugin).
"""

from mqttwire.testing.broker import (
    BrokerNotAvailableError,
    MosquittoBroker,
    find_mosquitto,
    free_port,
)
from mqttwire.testing.kit import Published, TestKit
from mqttwire.testing.memory import MEMORY_URL, BrokerMessage, MemoryBroker, MemoryTransport

__all__ = [
    "MEMORY_URL",
    "BrokerMessage",
    "BrokerNotAvailableError",
    "MemoryBroker",
    "MemoryTransport",
    "MosquittoBroker",
    "Published",
    "TestKit",
    "find_mosquitto",
    "free_port",
]
