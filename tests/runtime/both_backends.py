"""One test suite, two brokers: the in-memory broker and a real Mosquitto (paho transport).

``Backend`` hides which one a test runs on: it makes clients, restarts the broker, crashes a
client's link (so the broker sends its will) and denies topics (Mosquitto: the dynamic security
plugin via :mod:`support.acl`; the memory broker: :meth:`MemoryBroker.deny`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from support.acl import deny_topics_config

from mqttwire import MQTTClient, MQTTClientConfig
from mqttwire.paho_transport import PahoTransport
from mqttwire.state import ClientState
from mqttwire.testing.broker import MosquittoBroker
from mqttwire.testing.memory import MEMORY_URL, MemoryBroker, MemoryTransport

Kind = Literal["memory", "mosquitto"]


@dataclass
class Backend:
    kind: Kind
    protocol: Literal["3.1.1", "5"]
    memory: MemoryBroker | None = None
    mosquitto: MosquittoBroker | None = None
    clients: list[MQTTClient] = field(default_factory=list)
    transports: dict[str, PahoTransport | MemoryTransport] = field(default_factory=dict)

    @classmethod
    def start(
        cls, kind: Kind, protocol: Literal["3.1.1", "5"], workdir: Path, denied: Sequence[str]
    ) -> Backend:
        if kind == "memory":
            memory = MemoryBroker()
            for topic in denied:
                memory.deny(topic)
            return cls(kind, protocol, memory=memory)
        extra = deny_topics_config(workdir, denied) if denied else []
        broker = MosquittoBroker(extra_config=extra)
        broker.start()
        return cls(kind, protocol, mosquitto=broker)

    def __repr__(self) -> str:
        return f"Backend({self.kind}, MQTT {self.protocol})"

    def client(self, client_id: str, **settings: Any) -> MQTTClient:
        """A client (not connected yet) with fast reconnects; shut down by :meth:`close`."""
        settings.setdefault("reconnect_min_delay", 0.1)
        settings.setdefault("reconnect_max_delay", 0.5)
        settings.setdefault("shutdown_timeout", 2.0)
        settings.setdefault("protocol", self.protocol)
        transport: PahoTransport | MemoryTransport
        if self.memory is not None:
            url, transport = MEMORY_URL, self.memory.transport()
        else:
            assert self.mosquitto is not None
            url, transport = self.mosquitto.url, PahoTransport()
        client = MQTTClient(
            MQTTClientConfig(url=url, client_id=client_id, **settings), transport=transport
        )
        self.clients.append(client)
        self.transports[client_id] = transport
        return client

    def crash(self, client_id: str) -> None:
        """Cut the client's link without a DISCONNECT: the broker publishes its will."""
        self.transports[client_id].abort()

    async def restart(self) -> None:
        """Restart the broker (sessions and retained messages are gone) and wait until every
        connected client is connected again."""
        back = [wait_for_state(c, ClientState.CONNECTED, after_leaving=True) for c in self.clients]
        waiting = [asyncio.ensure_future(b) for b in back]
        await asyncio.sleep(0)
        if self.memory is not None:
            self.memory.restart()
        else:
            assert self.mosquitto is not None
            await asyncio.to_thread(self.mosquitto.restart)
        await asyncio.wait_for(asyncio.gather(*waiting), 20)

    async def close(self) -> None:
        for client in self.clients:
            await client.shutdown()
        if self.mosquitto is not None:
            self.mosquitto.close()


async def wait_for_state(
    client: MQTTClient, state: ClientState, *, after_leaving: bool = False
) -> None:
    """Wait until ``client`` is in ``state`` (with ``after_leaving``: enters it anew)."""
    if client.state is ClientState.CREATED or client.state is ClientState.DISCONNECTED:
        return
    left = asyncio.Event()
    reached = asyncio.Event()

    def listener(new: ClientState) -> None:
        if new is not state:
            left.set()
        elif left.is_set() or not after_leaving:
            reached.set()

    if client.state is state and not after_leaving:
        return
    client.add_state_listener(listener)
    try:
        await reached.wait()
    finally:
        client.remove_state_listener(listener)


class Collector:
    """Collects ``(payload, meta)`` of a raw handler; waits for counts or a predicate."""

    def __init__(self) -> None:
        self.items: list[tuple[bytes, Any]] = []
        self._changed = asyncio.Event()

    async def __call__(self, payload: bytes, meta: Any) -> None:
        self.items.append((payload, meta))
        self._changed.set()

    @property
    def payloads(self) -> list[bytes]:
        return [p for p, _ in self.items]

    async def wait_until(self, done: Callable[[], bool], within: float = 10.0) -> None:
        async def run() -> None:
            while not done():
                self._changed.clear()
                await self._changed.wait()

        await asyncio.wait_for(run(), within)

    async def wait_for(self, count: int, within: float = 10.0) -> list[bytes]:
        await self.wait_until(lambda: len(self.items) >= count, within)
        return self.payloads

    async def wait_for_payload(self, payload: bytes, within: float = 10.0) -> None:
        await self.wait_until(lambda: payload in self.payloads, within)
