"""Building the generated `TarsClient` for a benchmark (imports tars_mqtt: typed cases only)."""

from __future__ import annotations

import importlib
import os
from typing import Any

from mqttwire.client import MQTTClient
from mqttwire.config import MQTTClientConfig
from tars_mqtt import TarsClient

__all__ = ["FLUSH_TOPIC", "flush", "tars_client"]

FLUSH_TOPIC = "bench/flush"


def tars_client(
    url: str, role: str = "bench", *, transport: str | None = None, **overrides: Any
) -> TarsClient:
    """A `TarsClient` on `url` with a unique client id; `overrides` go to `MQTTClientConfig`.

    `transport` ("module:Class") compares transport candidates; default: the runtime's own.
    """
    config = MQTTClientConfig(
        url=url, client_id=f"{role}-{os.getpid()}-{os.urandom(3).hex()}", **overrides
    )
    if transport is None:
        return TarsClient(config)
    module, _, name = transport.partition(":")
    return TarsClient(
        client=MQTTClient(config, transport=getattr(importlib.import_module(module), name)())
    )


async def flush(tars: TarsClient) -> None:
    """A QoS 1 publish after the measured ones: its PUBACK means the broker took them all."""
    await tars.client.publish(FLUSH_TOPIC, b"", qos=1)
