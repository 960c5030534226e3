"""The demo's broker: ``auto`` is what :func:`mqttwire.testing.embedded.start_default_broker`
chooses (``MQTT_URL``, else mosquitto from PATH, else in-process amqtt); the other kinds force
one choice and fail with a clear message when it is not available."""

from __future__ import annotations

import os
from typing import Literal, get_args

from mqttwire.testing import embedded
from mqttwire.testing.broker import (
    BrokerNotAvailableError,
    MosquittoBroker,
    find_mosquitto,
    free_port,
)
from mqttwire.testing.embedded import DefaultBroker, start_default_broker

__all__ = ["BROKER_ENV", "BrokerChoice", "DefaultBroker", "start_broker"]

BrokerChoice = Literal["auto", "external", "mosquitto", "amqtt"]
BROKER_CHOICES: tuple[str, ...] = get_args(BrokerChoice)
BROKER_ENV = "TARS_DEMO_BROKER"
"""Environment variable with the default of ``--broker`` (one of :data:`BROKER_CHOICES`)."""


def start_broker(choice: str = "auto") -> DefaultBroker:
    """Start (or point at) the broker of ``choice``; raise BrokerNotAvailableError with a fix."""
    if choice == "auto":
        return start_default_broker()
    if choice == "external":
        url = os.environ.get("MQTT_URL")
        if not url:
            raise BrokerNotAvailableError("--broker external needs MQTT_URL=mqtt://host:port")
        return start_default_broker({"MQTT_URL": url})
    if choice == "mosquitto":
        if find_mosquitto() is None:
            raise BrokerNotAvailableError(
                "--broker mosquitto: mosquitto is not installed "
                "(apt-get install mosquitto / brew install mosquitto), or use --broker amqtt"
            )
        mosquitto = MosquittoBroker()
        mosquitto.start()
        return DefaultBroker(
            "mosquitto",
            mosquitto.url,
            f"mosquitto ({mosquitto.binary}) on 127.0.0.1:{mosquitto.port}",
            _mosquitto=mosquitto,
        )
    if choice == "amqtt":
        if not embedded._amqtt_available():
            raise BrokerNotAvailableError(
                "--broker amqtt: amqtt is not installed (pip install 'mqttwire[demo]')"
            )
        # start_default_broker() has no way to force amqtt while mosquitto is installed, so this
        # uses the same in-process broker thread it would use.
        server = embedded._AmqttThread(free_port())
        server.start()
        return DefaultBroker(
            "amqtt",
            f"mqtt://127.0.0.1:{server.port}",
            f"the embedded pure-Python amqtt broker on 127.0.0.1:{server.port}",
            _amqtt=server,
        )
    raise ValueError(f"unknown broker choice {choice!r}; expected one of {BROKER_CHOICES}")
