"""Resident memory of an idle service: imports tars_mqtt, connected, one typed subscription."""

from __future__ import annotations

import asyncio
from typing import Any

from cases.common import rss_mib

__all__ = ["typed_idle"]


async def _idle(params: dict[str, Any]) -> dict[str, float]:
    from cases.typed_util import tars_client

    async def heard(*_: object) -> None:
        return None

    async with tars_client(params["url"], role="bench-idle") as tars:
        await tars.subscribe_stt_final(heard)
        await asyncio.sleep(float(params.get("idle_s", 0.5)))
        return {"rss_mib": rss_mib()}


def typed_idle(params: dict[str, Any]) -> dict[str, float]:
    return asyncio.run(_idle(params))
