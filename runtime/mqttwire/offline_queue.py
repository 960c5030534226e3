"""Bounded, ordered buffer of publishes made while the link is down."""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from typing import NamedTuple

from mqttwire.errors import OfflineQueueFullError
from mqttwire.transport import MessageProperties

__all__ = ["OfflineQueue", "OutgoingMessage"]


class OutgoingMessage(NamedTuple):
    topic: str
    payload: bytes
    qos: int
    retain: bool
    properties: MessageProperties | None = None  # MQTT 5 only
    queued_at: float = 0.0  # loop time, for the MQTT 5 message expiry interval


class OfflineQueue:
    """FIFO with a capacity; ``put`` raises :class:`OfflineQueueFullError` when full.

    ``put_front`` returns messages whose delivery was interrupted to the head, in order, even
    beyond the capacity: they were accepted already and must not be lost.
    """

    __slots__ = ("_items", "capacity")

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self._items: deque[OutgoingMessage] = deque()

    def __len__(self) -> int:
        return len(self._items)

    def __bool__(self) -> bool:
        return bool(self._items)

    def put(self, message: OutgoingMessage) -> None:
        if len(self._items) >= self.capacity:
            raise OfflineQueueFullError(message.topic, self.capacity, qos=message.qos)
        self._items.append(message)

    def put_front(self, messages: Iterable[OutgoingMessage]) -> None:
        self._items.extendleft(reversed(list(messages)))

    def take(self, limit: int) -> list[OutgoingMessage]:
        """Remove and return up to ``limit`` messages from the head."""
        items = self._items
        return [items.popleft() for _ in range(min(limit, len(items)))]

    def clear(self) -> list[OutgoingMessage]:
        items = list(self._items)
        self._items.clear()
        return items
