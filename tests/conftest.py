"""Shared fixtures: a real Mosquitto per test on a free loopback port."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from mqttwire.testing.broker import MosquittoBroker, find_mosquitto


@pytest.fixture
def mqtt_broker() -> Iterator[MosquittoBroker]:
    """A fresh mosquitto (stop/kill/pause/restart-able) for one test."""
    if find_mosquitto() is None:
        pytest.fail("mosquitto is required for integration tests; `nox -s tests` installs it")
    broker = MosquittoBroker()
    broker.start()
    try:
        yield broker
    finally:
        broker.close()
