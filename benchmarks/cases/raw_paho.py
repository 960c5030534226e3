"""Raw paho-mqtt publish of ready bytes: QoS 0 without waiting, QoS 1 with 100 in flight."""

from __future__ import annotations

from typing import Any

from cases.common import Clock, payload, unique_topic
from cases.paho_pub import PahoPublisher

__all__ = ["publish_qos0", "publish_qos1"]


def _publish(params: dict[str, Any], qos: int) -> dict[str, float]:
    publisher = PahoPublisher(params["url"], window=int(params.get("window", 100)))
    try:
        topic, data, n = unique_topic("paho"), payload(), int(params["n"])
        clock = Clock.start()
        publisher.publish_many(topic, data, n, qos=qos)
        return clock.throughput(n)
    finally:
        publisher.close()


def publish_qos0(params: dict[str, Any]) -> dict[str, float]:
    return _publish(params, 0)


def publish_qos1(params: dict[str, Any]) -> dict[str, float]:
    return _publish(params, 1)
