"""In CI a required broker that cannot start fails its tests instead of skipping them."""

from __future__ import annotations

import pytest
from broker_pool import BrokerPool, required_brokers


def test_required_brokers_follow_ci_and_the_variable() -> None:
    assert required_brokers({}) == frozenset()
    assert required_brokers({"CI": "true"}) == {"mosquitto"}
    assert required_brokers({"MQTTWIRE_REQUIRED_BROKERS": "nats, amqtt"}) == {"nats", "amqtt"}
    assert "rabbitmq" in required_brokers({"MQTTWIRE_REQUIRED_BROKERS": "all"})


def test_a_required_broker_that_cannot_start_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    pool = BrokerPool()
    pool.unavailable["nats"] = "nats is not available here: no nats-server"
    monkeypatch.setenv("MQTTWIRE_REQUIRED_BROKERS", "nats")
    with pytest.raises(pytest.fail.Exception, match="required broker"):
        pool.get("nats")
    monkeypatch.delenv("MQTTWIRE_REQUIRED_BROKERS")
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception):
        pool.get("nats")
