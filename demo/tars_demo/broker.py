"""The demo's broker: ``auto`` is what :func:`tars_demo.embedded.start_default_broker`
chooses (``MQTT_URL``, else mosquitto from PATH, else in-process amqtt); the other kinds force
one choice and fail with a clear message when it is not available."""

from __future__ import annotations

import os
from typing import Literal, get_args

from mqttwire.testing.broker import BrokerNotAvailableError
from tars_demo.embedded import (
    DefaultBroker,
    start_amqtt,
    start_default_broker,
    start_external,
    start_mosquitto,
)

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
        return start_external(url)
    starters = {"mosquitto": start_mosquitto, "amqtt": start_amqtt}
    if choice not in starters:
        raise ValueError(f"unknown broker choice {choice!r}; expected one of {BROKER_CHOICES}")
    try:
        return starters[choice]()
    except BrokerNotAvailableError as exc:
        raise BrokerNotAvailableError(f"--broker {choice}: {exc}") from None
