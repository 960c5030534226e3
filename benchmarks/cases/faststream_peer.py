"""FastStream's MQTT publisher (a peer framework, on zmqtt) publishing ready bytes, awaited."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from faststream.mqtt import MQTTBroker, QoS

from cases.common import FLUSH_SUFFIX, Clock, payload, unique_topic

__all__ = ["publish_qos0", "publish_qos1"]


async def _publish(params: dict[str, Any], qos: QoS) -> dict[str, float]:
    topic, data, n = unique_topic("faststream"), payload(), int(params["n"])
    broker = MQTTBroker(params["url"], version="3.1.1", logger=None, log_level=logging.WARNING)
    await broker.connect()
    try:
        publish = broker.publish
        clock = Clock.start()
        for _ in range(n):
            await publish(data, topic, qos=qos)
        await publish(b"", topic + FLUSH_SUFFIX, qos=QoS.AT_LEAST_ONCE)
        return clock.throughput(n)
    finally:
        await broker.stop()


def publish_qos0(params: dict[str, Any]) -> dict[str, float]:
    return asyncio.run(_publish(params, QoS.AT_MOST_ONCE))


def publish_qos1(params: dict[str, Any]) -> dict[str, float]:
    return asyncio.run(_publish(params, QoS.AT_LEAST_ONCE))
