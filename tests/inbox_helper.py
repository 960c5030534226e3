"""A collecting handler that tests can wait on."""

from __future__ import annotations

import asyncio

from mqttwire import MessageMeta


class Inbox:
    """Collects (payload, meta) pairs and lets a test wait for a count."""

    def __init__(self) -> None:
        self.items: list[tuple[bytes, MessageMeta]] = []
        self._changed = asyncio.Event()

    async def handler(self, payload: bytes, meta: MessageMeta) -> None:
        self.items.append((payload, meta))
        self._changed.set()

    @property
    def payloads(self) -> list[bytes]:
        return [p for p, _ in self.items]

    async def wait_for(self, count: int, within: float = 10.0) -> list[bytes]:
        async def _wait() -> None:
            while len(self.items) < count:
                self._changed.clear()
                await self._changed.wait()

        await asyncio.wait_for(_wait(), within)
        return self.payloads
