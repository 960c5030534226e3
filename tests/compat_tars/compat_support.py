"""Helpers of the py-tars drop-in suite: seed-style collectors and runtime observers."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import orjson

from mqttwire import ClientState, MessageMeta
from mqttwire import MQTTClient as RuntimeClient
from mqttwire.compat.tars import MQTTClient

WAIT = 15.0
"""Seconds before a wait counts as a hang (never a timing assertion)."""

MakeCompat = Callable[..., MQTTClient]
MakeObserver = Callable[..., Any]


class Collector:
    """What a seed-style handler received (raw bytes), waitable by count."""

    def __init__(self) -> None:
        self.payloads: list[bytes] = []
        self._changed = asyncio.Event()

    async def handler(self, payload: bytes) -> None:
        self.payloads.append(payload)
        self._changed.set()

    @property
    def data(self) -> list[Any]:
        return [orjson.loads(p)["data"] for p in self.payloads]

    async def wait_for(self, count: int, within: float = WAIT) -> list[bytes]:
        async def wait() -> None:
            while len(self.payloads) < count:
                self._changed.clear()
                await self._changed.wait()

        await asyncio.wait_for(wait(), within)
        return self.payloads


class Observed:
    """What an observer (runtime client, with meta) received."""

    def __init__(self, client: RuntimeClient) -> None:
        self.client = client
        self.items: list[tuple[bytes, MessageMeta]] = []
        self._changed = asyncio.Event()

    async def wait_connected(self, within: float = WAIT) -> None:
        """Until the observer's link is up (and its filter subscribed) again."""
        up = asyncio.Event()

        def on_state(state: ClientState) -> None:
            if state is ClientState.CONNECTED:
                up.set()

        self.client.add_state_listener(on_state)
        try:
            if not self.client.connected:
                await asyncio.wait_for(up.wait(), within)
        finally:
            self.client.remove_state_listener(on_state)

    async def handler(self, payload: bytes, meta: MessageMeta) -> None:
        self.items.append((payload, meta))
        self._changed.set()

    def json(self) -> list[Any]:
        return [orjson.loads(p) for p, _ in self.items]

    async def wait_until(
        self, predicate: Callable[[list[Any]], bool], within: float = WAIT
    ) -> None:
        async def wait() -> None:
            while not predicate(self.json()):
                self._changed.clear()
                await self._changed.wait()

        await asyncio.wait_for(wait(), within)

    async def wait_for(self, count: int, within: float = WAIT) -> list[tuple[bytes, MessageMeta]]:
        await self.wait_until(lambda items: len(items) >= count, within)
        return self.items
