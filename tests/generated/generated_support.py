"""Helpers shared by the generated-client tests."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any, Generic, Literal, Protocol, TypeVar

from mqttwire import ClientState, MessageMeta, MQTTClient
from mqttwire.testing.broker import MosquittoBroker
from tars_mqtt import TarsClient

T = TypeVar("T")
MQTTVersion = Literal["3.1.1", "5"]


class Factory(Protocol):
    def __call__(
        self, name: str, *, protocol: MQTTVersion | None = None, **settings: Any
    ) -> TarsClient: ...


async def wait_until(condition: Callable[[], bool], within: float = 10.0) -> None:
    """Poll ``condition`` (every 5 ms) until it holds; TimeoutError after ``within`` seconds.

    For state that has no event to wait on (counters); not a substitute for waiting on one.
    """

    async def poll() -> None:
        while not condition():  # noqa: ASYNC110 - counters have no event to wait on
            await asyncio.sleep(0.005)

    await asyncio.wait_for(poll(), within)


class Inbox(Generic[T]):
    """Collects (payload, meta) pairs; ``get`` waits for the next one."""

    def __init__(self) -> None:
        self.queue: asyncio.Queue[tuple[T, MessageMeta]] = asyncio.Queue()
        self.items: list[tuple[T, MessageMeta]] = []

    async def __call__(self, payload: T, meta: MessageMeta) -> None:
        self.items.append((payload, meta))
        await self.queue.put((payload, meta))

    async def get(self, wait: float = 5.0) -> tuple[T, MessageMeta]:
        return await asyncio.wait_for(self.queue.get(), wait)


async def restart_and_reconnect(broker: MosquittoBroker, *clients: TarsClient) -> None:
    """Restart ``broker`` (its sessions are lost) and wait until every client went down and is
    CONNECTED again, i.e. has resubscribed."""
    backs: list[asyncio.Event] = []
    listeners: list[tuple[MQTTClient, Callable[[ClientState], None]]] = []
    for client in clients:
        raw = client.client
        assert isinstance(raw, MQTTClient)
        left, back = asyncio.Event(), asyncio.Event()

        def listener(
            state: ClientState, left: asyncio.Event = left, back: asyncio.Event = back
        ) -> None:
            if state is not ClientState.CONNECTED:
                left.set()
            elif left.is_set():
                back.set()

        raw.add_state_listener(listener)
        listeners.append((raw, listener))
        backs.append(back)
    try:
        await asyncio.to_thread(broker.restart)
        await asyncio.wait_for(asyncio.gather(*(b.wait() for b in backs)), 20)
    finally:
        for raw, listener in listeners:
            raw.remove_state_listener(listener)
