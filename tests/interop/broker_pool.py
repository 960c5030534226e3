"""The interoperability suite's brokers: started on first use, once per session, and which of
them must start (a required broker that cannot start fails its tests instead of skipping them).

(Test modules import from here, not from ``conftest``: a module named ``conftest`` is one of
several when test directories are run together.)"""

from __future__ import annotations

import contextlib
import os
import time
from typing import Any

import pytest
from support.brokers import AmqttBroker, NatsMqttBroker, RabbitMqttBroker

from mqttwire.testing.broker import BrokerNotAvailableError, MosquittoBroker, find_mosquitto

__all__ = ["BROKER_INFO", "BROKER_KINDS", "BrokerPool", "required_brokers"]

# Version and start time of each broker started in this session, for the matrix report.
BROKER_INFO: dict[str, dict[str, Any]] = {}
BROKER_KINDS = ("mosquitto", "nats", "rabbitmq", "amqtt")


def required_brokers(environ: dict[str, str] | None = None) -> frozenset[str]:
    """Broker kinds that must start: a skip would hide that nothing was checked."""
    env = dict(os.environ) if environ is None else environ
    named = {k.strip() for k in env.get("MQTTWIRE_REQUIRED_BROKERS", "").split(",") if k.strip()}
    if "all" in named:
        return frozenset(BROKER_KINDS)
    if env.get("CI"):
        named.add("mosquitto")
    return frozenset(named)


def _unavailable(kind: str, reason: str) -> None:
    if kind in required_brokers():
        pytest.fail(f"required broker {reason} (CI / MQTTWIRE_REQUIRED_BROKERS)", pytrace=False)
    pytest.skip(reason)


# ------------------------------------------------------------------------------ broker pool


class BrokerPool:
    """Brokers started on first use, once per session; failures remembered as skip reasons."""

    def __init__(self) -> None:
        self.brokers: dict[str, Any] = {}
        self.versions: dict[str, str] = {}
        self.unavailable: dict[str, str] = {}
        self.start_seconds: dict[str, float] = {}

    def get(self, kind: str) -> Any:
        if kind in self.unavailable:
            _unavailable(kind, self.unavailable[kind])
        if kind not in self.brokers:
            started = time.monotonic()
            broker: Any = None
            try:
                broker = self._make(kind)
                broker.start()
            except BrokerNotAvailableError as exc:
                self.unavailable[kind] = f"{kind} is not available here: {exc}"
            except (RuntimeError, TimeoutError, OSError) as exc:
                log = ""
                with contextlib.suppress(Exception):
                    log = broker.log()[-1500:] if broker is not None else ""
                    broker.close()
                self.unavailable[kind] = f"{kind} could not start here: {exc} {log}".strip()
            if kind in self.unavailable:
                _unavailable(kind, self.unavailable[kind])
            self.brokers[kind] = broker
            self.start_seconds[kind] = round(time.monotonic() - started, 2)
            self.versions[kind] = self._version(kind, broker)
            BROKER_INFO[kind] = {
                "version": self.versions[kind],
                "start_seconds": self.start_seconds[kind],
            }
        return self.brokers[kind]

    @staticmethod
    def _make(kind: str) -> Any:
        if kind == "mosquitto":
            if find_mosquitto() is None:
                raise BrokerNotAvailableError("mosquitto is not installed")
            return MosquittoBroker()
        if kind == "nats":
            return NatsMqttBroker()
        if kind == "rabbitmq":
            return RabbitMqttBroker()
        if kind == "amqtt":
            return AmqttBroker()
        raise KeyError(kind)

    @staticmethod
    def _version(kind: str, broker: Any) -> str:
        if kind == "mosquitto":
            import subprocess

            out = subprocess.run(
                [broker.binary, "-h"], capture_output=True, text=True, check=False
            ).stdout
            first = out.splitlines()[0] if out else ""
            return first.removeprefix("mosquitto version ").strip() or "unknown"
        return str(broker.version())

    def close(self) -> None:
        for broker in self.brokers.values():
            with contextlib.suppress(Exception):
                broker.close()
