"""The gate service of docs/guides/your-own-contract.md: answers gate requests, publishes the
number of free spaces (retained). Run: python gate_service.py MQTT_URL [3.1.1|5]."""

from __future__ import annotations

import asyncio
import contextlib
import sys

from parking_client import ParkingClient
from parking_client.models import GateOpen, GateResult, Spaces

from mqttwire import MessageMeta, MQTTClientConfig

BANNED = {"XX-666"}


async def main(url: str, protocol: str) -> None:
    config = MQTTClientConfig(url=url, client_id="gate-north", protocol=protocol)
    async with ParkingClient(config) as parking:
        free = 12

        async def open_gate(request: GateOpen, meta: MessageMeta) -> GateResult:
            nonlocal free
            if request.plate in BANNED or free == 0:
                return GateResult(request_id=request.request_id, opened=False, reason="refused")
            free -= 1
            await parking.publish_spaces(Spaces(free=free), lot="north")
            return GateResult(request_id=request.request_id, opened=True)

        await parking.serve_gate_open(open_gate, lot="north")
        await parking.publish_spaces(Spaces(free=free), lot="north")
        print("gate ready", flush=True)
        await asyncio.Event().wait()  # serve until stopped (Ctrl-C / SIGTERM)


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(main(sys.argv[1], sys.argv[2] if len(sys.argv) > 2 else "3.1.1"))
