"""The driver app of docs/guides/your-own-contract.md: reads the free spaces, asks the gate to
open for two cars. Run: python app.py MQTT_URL [3.1.1|5]."""

from __future__ import annotations

import asyncio
import sys

from parking_client import ParkingClient
from parking_client.models import GateOpen, Spaces

from mqttwire import MessageMeta, MQTTClientConfig


async def main(url: str, protocol: str) -> None:
    config = MQTTClientConfig(url=url, client_id="driver-app", protocol=protocol)
    async with ParkingClient(config) as parking:
        counts: asyncio.Queue[int] = asyncio.Queue()

        async def on_spaces(spaces: Spaces, meta: MessageMeta) -> None:
            await counts.put(spaces.free)

        await parking.watch_spaces(on_spaces, lot="north")
        print(f"free spaces: {await asyncio.wait_for(counts.get(), 10)}")  # the retained value
        for request_id, plate in (("r-1", "AB-123"), ("r-2", "XX-666")):
            result = await parking.request_gate_open(
                GateOpen(request_id=request_id, plate=plate), lot="north", timeout=10
            )
            print(f"{plate}: {'opened' if result.opened else 'refused'} ({result.request_id})")
        print(f"free spaces: {await asyncio.wait_for(counts.get(), 10)}")


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2] if len(sys.argv) > 2 else "3.1.1"))
