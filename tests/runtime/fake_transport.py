"""A scriptable Transport for client unit tests (no broker, no MQTT protocol)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence

from mqttwire.topic_filter import TopicFilter
from mqttwire.transport import (
    ConnectOptions,
    IncomingMessage,
    TransportConnectError,
    TransportDisconnectedError,
    TransportTimeoutError,
)


class FakeTransport:
    def __init__(self) -> None:
        self.up = False
        self.connects: list[ConnectOptions] = []
        self.refuse: TransportConnectError | None = None
        self.published: list[tuple[str, bytes, int, bool]] = []
        self.subscribe_calls: list[list[tuple[str, int]]] = []
        self.filters: dict[str, int] = {}
        self.echo = True
        self.hold_acks = False
        self.clean_disconnects = 0
        self._inbox: asyncio.Queue[IncomingMessage | None] = asyncio.Queue()
        self._lost = asyncio.Event()

    @property
    def native(self) -> object | None:
        return self if self.up else None

    async def connect(self, options: ConnectOptions) -> None:
        self.connects.append(options)
        if self.refuse is not None:
            raise self.refuse
        self.up = True
        self.filters = {}
        self._inbox = asyncio.Queue()
        self._lost = asyncio.Event()

    def drop(self) -> None:
        """The link dies (as if the broker vanished)."""
        if self.up:
            self.up = False
            self._lost.set()
            self._inbox.put_nowait(None)

    def inject(self, topic: str, payload: bytes, qos: int = 0, retain: bool = False) -> None:
        self._inbox.put_nowait(IncomingMessage(topic, payload, qos, retain))

    async def publish(
        self,
        topic: str,
        payload: bytes,
        qos: int,
        retain: bool,
        ack_timeout: float,
        *,
        properties: object = None,
    ) -> None:
        if not self.up:
            raise TransportDisconnectedError("down")
        if self.hold_acks and qos > 0:
            self.published.append((topic, payload, qos, retain))
            lost = self._lost
            try:
                await asyncio.wait_for(lost.wait(), ack_timeout)
            except TimeoutError:
                raise TransportTimeoutError("no ack") from None
            raise TransportDisconnectedError("lost before ack")
        self.published.append((topic, payload, qos, retain))
        if self.echo and any(TopicFilter(f).matches(topic) for f in self.filters):
            self.inject(topic, payload, qos, retain)

    async def subscribe(
        self,
        filters: Sequence[tuple[str, int]],
        ack_timeout: float,
        *,
        subscription_id: int | None = None,
    ) -> list[int]:
        if not self.up:
            raise TransportDisconnectedError("down")
        self.subscribe_calls.append(list(filters))
        self.filters.update(dict(filters))
        return [qos for _, qos in filters]

    async def unsubscribe(self, filters: Sequence[str], ack_timeout: float) -> None:
        for topic_filter in filters:
            self.filters.pop(topic_filter, None)

    async def messages(self) -> AsyncIterator[IncomingMessage]:
        inbox = self._inbox
        while True:
            message = await inbox.get()
            if message is None:
                return
            yield message

    async def disconnect(self, ack_timeout: float) -> None:
        if self.up:
            self.clean_disconnects += 1
        self.drop()
