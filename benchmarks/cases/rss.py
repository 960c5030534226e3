"""Resident memory of a bare process importing paho-mqtt + pydantic + orjson, idle."""

from __future__ import annotations

import time
from typing import Any

from cases.common import rss_mib

__all__ = ["bare_idle"]


def bare_idle(params: dict[str, Any]) -> dict[str, float]:
    import orjson  # noqa: F401  (the imports are what is measured)
    import paho.mqtt.client  # noqa: F401
    import pydantic  # noqa: F401

    time.sleep(float(params.get("idle_s", 0.5)))
    return {"rss_mib": rss_mib()}
