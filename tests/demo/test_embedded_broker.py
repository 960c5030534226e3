"""The demo's broker choice: MQTT_URL, else mosquitto, else in-process amqtt."""

from __future__ import annotations

import threading

import paho.mqtt.client as paho
import pytest

from mqttwire.testing.broker import BrokerNotAvailableError
from tars_demo import embedded


def _roundtrip(url: str) -> bytes:
    host, port = url.removeprefix("mqtt://").rsplit(":", 1)
    received: list[bytes] = []
    subscribed, got = threading.Event(), threading.Event()
    client = paho.Client(paho.CallbackAPIVersion.VERSION2)
    client.on_subscribe = lambda *_: subscribed.set()

    def on_message(_c: object, _u: object, message: paho.MQTTMessage) -> None:
        received.append(message.payload)
        got.set()

    client.on_message = on_message
    client.connect(host, int(port))
    client.loop_start()
    try:
        client.subscribe("demo/check", qos=1)
        assert subscribed.wait(10), "no SUBACK"
        client.publish("demo/check", b"ping", qos=1).wait_for_publish(10)
        assert got.wait(10), "message not delivered"
    finally:
        client.loop_stop()
        client.disconnect()
    return received[0]


def test_mqtt_url_wins_and_starts_nothing() -> None:
    chosen = embedded.start_default_broker({"MQTT_URL": "mqtt://user:secret@10.0.0.5:1883"})
    assert chosen.kind == "external"
    assert chosen.url == "mqtt://user:secret@10.0.0.5:1883"
    assert "secret" not in chosen.description
    chosen.close()


def test_mosquitto_from_path_is_preferred() -> None:
    chosen = embedded.start_default_broker({})
    try:
        assert chosen.kind == "mosquitto"
        assert _roundtrip(chosen.url) == b"ping"
    finally:
        chosen.close()


def test_amqtt_in_process_when_no_mosquitto(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(embedded, "find_mosquitto", lambda: None)
    chosen = embedded.start_default_broker({})
    try:
        assert chosen.kind == "amqtt"
        assert "amqtt" in chosen.description
        assert _roundtrip(chosen.url) == b"ping"
    finally:
        chosen.close()


def test_no_broker_at_all_says_what_to_do(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(embedded, "find_mosquitto", lambda: None)
    monkeypatch.setattr(embedded, "_amqtt_available", lambda: False)
    with pytest.raises(BrokerNotAvailableError, match="MQTT_URL"):
        embedded.start_default_broker({})
