"""Shared pieces of the interop tests: broker expectations, targets, the matrix recorder, an inbox."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest
from inbox_helper import Inbox

from mqttwire import MQTTClientConfig

__all__ = ["EXPECT", "BrokerTarget", "Expect", "Inbox", "Matrix", "MatrixNote"]


@dataclass(frozen=True)
class Expect:
    """What the broker is documented to do; the tests assert exactly this."""

    label: str
    protocol: str  # the MQTT version the client speaks in this column
    max_qos: int
    mqtt5: bool
    retained_to_wildcards: bool
    shared_subscriptions: bool
    queues_for_offline_sessions: bool  # QoS 1 messages kept for a clean_session=False client


EXPECT: dict[str, Expect] = {
    "mosquitto-3.1.1": Expect("Mosquitto (MQTT 3.1.1)", "3.1.1", 2, True, True, True, True),
    "mosquitto-5": Expect("Mosquitto (MQTT 5)", "5", 2, True, True, True, True),
    "nats": Expect("NATS (MQTT gateway)", "3.1.1", 1, False, True, False, True),
    "rabbitmq": Expect("RabbitMQ (rabbitmq_mqtt)", "3.1.1", 1, False, False, False, True),
    "amqtt": Expect("amqtt (pure Python)", "3.1.1", 2, False, True, False, False),
}


@dataclass
class BrokerTarget:
    """One column of the matrix: a running broker and how the client talks to it."""

    key: str
    broker: Any  # MosquittoBroker | NatsMqttBroker | RabbitMqttBroker | AmqttBroker
    expect: Expect
    version: str

    @property
    def url(self) -> str:
        return str(self.broker.url)

    @property
    def host(self) -> str:
        return str(self.broker.host)

    @property
    def port(self) -> int:
        return int(self.broker.port)

    def ensure_running(self) -> None:
        if not self.broker.running:
            self.broker.start()

    def config(self, client_id: str, **settings: Any) -> MQTTClientConfig:
        settings.setdefault("protocol", self.expect.protocol)
        settings.setdefault("reconnect_min_delay", 0.1)
        settings.setdefault("reconnect_max_delay", 0.5)
        settings.setdefault("shutdown_timeout", 2.0)
        settings.setdefault("connect_timeout", 5.0)
        return MQTTClientConfig(url=settings.pop("url", self.url), client_id=client_id, **settings)


@dataclass
class MatrixNote:
    status: str = "yes"
    notes: list[str] = field(default_factory=list)


class Matrix:
    """What a test tells the matrix beyond pass/fail."""

    def __init__(self, node: pytest.Item) -> None:
        self._node = node

    def _set(self, status: str | None, note: str) -> None:
        props = dict(self._node.user_properties)
        record: MatrixNote = props.get("matrix_note") or MatrixNote()
        if "matrix_note" not in props:
            self._node.user_properties.append(("matrix_note", record))
        if status is not None:
            record.status = status
        if note:
            record.notes.append(note)

    def limited(self, note: str) -> None:
        """The broker lacks the feature; the test asserted the documented behaviour."""
        self._set("no", note)

    def partial(self, note: str) -> None:
        self._set("partial", note)

    def note(self, note: str) -> None:
        self._set(None, note)
