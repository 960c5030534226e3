"""paho-mqtt publishing from the caller's thread, its network loop in paho's own thread.

Completion is counted by `on_publish`: for QoS 0 paho calls it once the packet is written
to the socket, for QoS 1 when the PUBACK arrived. A final QoS 1 flush message makes sure
the broker has taken every QoS 0 message before the clock stops.
"""

from __future__ import annotations

import socket
import threading
from typing import Any
from urllib.parse import urlsplit

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from cases.common import FLUSH_SUFFIX, NODELAY

__all__ = ["PahoPublisher"]


class PahoPublisher:
    """A connected paho client with a bounded in-flight window."""

    def __init__(self, url: str, *, window: int = 100) -> None:
        parts = urlsplit(url)
        self._client = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv311)
        self._client.max_inflight_messages_set(window)
        self._client.max_queued_messages_set(0)
        self._window = window
        self._changed = threading.Condition()
        self._completed = 0
        self._connected = threading.Event()
        self._client.on_publish = self._on_publish
        self._client.on_connect = self._on_connect
        self._client.connect(parts.hostname or "127.0.0.1", parts.port or 1883, keepalive=60)
        sock = self._client.socket()
        if isinstance(sock, socket.socket):
            sock.setsockopt(*NODELAY)
        self._client.loop_start()
        if not self._connected.wait(10):
            raise TimeoutError("paho did not connect within 10 s")

    def _on_connect(self, *_: Any) -> None:
        self._connected.set()

    def _on_publish(self, *_: Any) -> None:
        with self._changed:
            self._completed += 1
            self._changed.notify()

    def _wait_completed(self, at_least: int, timeout: float) -> None:
        with self._changed:
            if not self._changed.wait_for(lambda: self._completed >= at_least, timeout):
                raise TimeoutError(f"paho confirmed only {self._completed} of {at_least}")

    def publish_many(self, topic: str, data: bytes, count: int, *, qos: int) -> None:
        """Publish `count` messages, then a QoS 1 flush; return once all are confirmed.

        QoS 0 publishes never wait; QoS 1 publishes keep at most `window` unconfirmed.
        """
        with self._changed:
            self._completed = 0
        publish = self._client.publish
        window = self._window
        for sent in range(count):
            if qos and sent - self._completed >= window:
                self._wait_completed(sent - window + 1, 60)
            publish(topic, data, qos)
        publish(topic + FLUSH_SUFFIX, b"", 1)
        self._wait_completed(count + 1, 120)

    def close(self) -> None:
        self._client.disconnect()
        self._client.loop_stop()
