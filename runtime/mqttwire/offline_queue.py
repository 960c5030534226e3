"""Bounded, ordered buffer of publishes made while the link is down (in memory).

This is the default :class:`~mqttwire.outbox_store.OutboxStore`; what it holds is lost when the
process ends. ``offline_queue_path`` selects the durable one (:mod:`mqttwire.sqlite_outbox`).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from typing import NamedTuple

from mqttwire.errors import OfflineQueueFullError, OutboxCorruptError
from mqttwire.transport import MessageProperties

__all__ = ["OfflineQueue", "OutgoingMessage"]


class OutgoingMessage(NamedTuple):
    topic: str
    payload: bytes
    qos: int
    retain: bool
    properties: MessageProperties | None = None  # MQTT 5 only
    queued_at: float = 0.0  # loop time, for the MQTT 5 message expiry interval
    seq: int = 0  # order of acceptance in a durable store (0: not stored)


class OfflineQueue:
    """FIFO with a capacity in messages and in payload bytes; ``put`` raises
    :class:`OfflineQueueFullError` when either is reached.

    ``put_front`` returns messages whose delivery was interrupted to the head, in order, even
    beyond the bounds: they were accepted already and must not be lost. ``track`` and ``done``
    are no-ops here: nothing outlives the process anyway.
    """

    __slots__ = ("_bytes", "_items", "capacity", "max_bytes")

    moved_aside: OutboxCorruptError | None = None
    location: str | None = None

    def __init__(self, capacity: int, max_bytes: int | None = None) -> None:
        self.capacity = capacity
        self.max_bytes = max_bytes
        self._items: deque[OutgoingMessage] = deque()
        self._bytes = 0

    def __len__(self) -> int:
        return len(self._items)

    def __bool__(self) -> bool:
        return bool(self._items)

    @property
    def payload_bytes(self) -> int:
        """Payload bytes of the queued messages."""
        return self._bytes

    def put(self, message: OutgoingMessage) -> None:
        check_bounds(message, len(self._items), self._bytes, self.capacity, self.max_bytes)
        self._items.append(message)
        self._bytes += len(message.payload)

    def track(self, message: OutgoingMessage) -> OutgoingMessage:
        return message

    def done(self, messages: Iterable[OutgoingMessage]) -> None:
        pass

    def put_front(self, messages: Iterable[OutgoingMessage]) -> None:
        returned = list(messages)
        self._bytes += sum(len(m.payload) for m in returned)
        self._items.extendleft(reversed(returned))

    def take(self, limit: int) -> list[OutgoingMessage]:
        """Remove and return up to ``limit`` messages from the head."""
        items = self._items
        taken = [items.popleft() for _ in range(min(limit, len(items)))]
        self._bytes -= sum(len(m.payload) for m in taken)
        return taken

    def clear(self) -> list[OutgoingMessage]:
        items = list(self._items)
        self._items.clear()
        self._bytes = 0
        return items

    def close(self) -> None:
        pass


def check_bounds(
    message: OutgoingMessage, count: int, size: int, capacity: int, max_bytes: int | None
) -> None:
    """Raise :class:`OfflineQueueFullError` when ``message`` does not fit the bounds."""
    if count >= capacity:
        raise OfflineQueueFullError(message.topic, capacity, qos=message.qos)
    if max_bytes is not None and size + len(message.payload) > max_bytes:
        raise OfflineQueueFullError(message.topic, capacity, qos=message.qos, max_bytes=max_bytes)
