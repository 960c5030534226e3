"""Typed receive: a paho process floods, the generated client validates and calls a typed handler.

QoS 0 on `stt/partial` (PartialTranscript), QoS 1 on `stt/final` (FinalTranscript), as declared
in the contract; the flood uses the same envelope bytes as the raw subscriber case.
"""

from __future__ import annotations

import asyncio
from typing import Any

from cases.receive_util import Arrivals, flood, transcript_payload
from cases.typed_util import tars_client
from mqttwire import MessageMeta
from mqttwire.client import MQTTClient
from tars_mqtt.channels import TOPIC_STT_FINAL, TOPIC_STT_PARTIAL
from tars_mqtt.models import FinalTranscript, PartialTranscript

__all__ = ["receive_qos0", "receive_qos1"]


async def _receive(params: dict[str, Any], qos: int) -> dict[str, float]:
    n = int(params["n"])
    arrivals = Arrivals(n)

    async def handler(message: PartialTranscript | FinalTranscript, meta: MessageMeta) -> None:
        arrivals.hit()

    async with tars_client(params["url"], role="bench-sub") as tars:
        if qos == 0:
            topic = TOPIC_STT_PARTIAL
            await tars.subscribe_stt_partial(handler)
        else:
            topic = TOPIC_STT_FINAL
            await tars.subscribe_stt_final(handler)
        flood_rate = await flood(params["url"], topic, n, qos, transcript_payload(qos))
        await arrivals.settle()
        result = arrivals.result()
        result["flood_msg_per_s"] = flood_rate
        result["invalid"] = float(tars.stats.invalid_total)
        client = tars.client
        assert isinstance(client, MQTTClient)
        result["queue_overflow"] = float(client.metrics.queue_overflow)
    return result


def receive_qos0(params: dict[str, Any]) -> dict[str, float]:
    return asyncio.run(_receive(params, 0))


def receive_qos1(params: dict[str, Any]) -> dict[str, float]:
    return asyncio.run(_receive(params, 1))
