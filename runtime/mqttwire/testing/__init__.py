"""Helpers for testing services built on mqttwire (no codegen dependencies)."""

from mqttwire.testing.broker import (
    BrokerNotAvailableError,
    MosquittoBroker,
    find_mosquitto,
    free_port,
)

__all__ = ["BrokerNotAvailableError", "MosquittoBroker", "find_mosquitto", "free_port"]
