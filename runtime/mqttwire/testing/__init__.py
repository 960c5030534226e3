"""Helpers for testing services built on mqttwire (no codegen dependencies).

* :mod:`mqttwire.testing.memory`: an in-memory broker and transport with MQTT semantics.
* :mod:`mqttwire.testing.kit`: ``for_testing(Client)``, a typed client on the in-memory broker
  with a strict codec, and ``kit_of(client)``, its kit (deliver messages, see what went out).
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
from mqttwire.testing.kit import Published, TestKit, for_testing, kit_of
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
    "for_testing",
    "free_port",
    "kit_of",
]
