"""Raw paho-mqtt in its fastest mode: no network thread, the caller drives the loop.

`publish()` of a client without `loop_start()` (and without socket callbacks) writes the
packet to the socket inside the call (a non-blocking `send` per message); the caller runs
`loop()` itself only to read what comes back. QoS 0: publish N without waiting, then a QoS 1
flush message whose PUBACK stops the clock (the broker has taken every message before it).
QoS 1: at most `window` unacknowledged; when the window is full, `loop()` reads PUBACKs.
"""

from __future__ import annotations

import socket
import time
from typing import Any
from urllib.parse import urlsplit

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from cases.common import FLUSH_SUFFIX, NODELAY, Clock, payload, unique_topic

__all__ = ["publish_qos0", "publish_qos1"]


class _DirectPublisher:
    def __init__(self, url: str, window: int) -> None:
        parts = urlsplit(url)
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv311)
        self.client.max_inflight_messages_set(window)
        self.client.max_queued_messages_set(0)
        self.acked = 0
        self.connected = False
        self.client.on_connect = self._on_connect
        self.client.connect(parts.hostname or "127.0.0.1", parts.port or 1883, keepalive=60)
        sock = self.client.socket()
        if isinstance(sock, socket.socket):
            sock.setsockopt(*NODELAY)
        self._loop_until(lambda: self.connected, 10.0)

    def _on_connect(self, *_: Any) -> None:
        self.connected = True

    def _on_publish(self, *_: Any) -> None:
        self.acked += 1

    def _loop_until(self, done: Any, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while not done():
            if time.monotonic() > deadline:
                raise TimeoutError("paho did not get its acknowledgements in time")
            self.client.loop(timeout=0.1)

    def publish_many(self, topic: str, data: bytes, count: int, qos: int, window: int) -> None:
        client, publish = self.client, self.client.publish
        if qos == 0:
            for _ in range(count):
                publish(topic, data, 0)
            self.acked = 0
            client.on_publish = self._on_publish  # only the flush message's PUBACK counts
            publish(topic + FLUSH_SUFFIX, b"", 1)
            self._loop_until(lambda: self.acked >= 1, 120.0)
            return
        self.acked = 0
        client.on_publish = self._on_publish
        for sent in range(count):
            if sent - self.acked >= window:
                self._loop_until(lambda sent=sent: sent - self.acked < window, 60.0)
            publish(topic, data, qos)
        self._loop_until(lambda: self.acked >= count, 120.0)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop(timeout=0.1)


def _publish(params: dict[str, Any], qos: int) -> dict[str, float]:
    window = int(params.get("window", 100))
    publisher = _DirectPublisher(params["url"], window)
    try:
        topic, data, n = unique_topic("paho-direct"), payload(), int(params["n"])
        clock = Clock.start()
        publisher.publish_many(topic, data, n, qos, window)
        return clock.throughput(n)
    finally:
        publisher.close()


def publish_qos0(params: dict[str, Any]) -> dict[str, float]:
    return _publish(params, 0)


def publish_qos1(params: dict[str, Any]) -> dict[str, float]:
    return _publish(params, 1)
