"""Where the client keeps QoS >= 1 publishes until the broker acknowledges them.

Two implementations of :class:`OutboxStore`: :class:`~mqttwire.offline_queue.OfflineQueue`
(memory, the default) and :class:`~mqttwire.sqlite_outbox.SqliteOutbox` (a file, selected by
``offline_queue_path``). A message's life in a store:

* ``put``: accepted while the link is down; queued at the tail (bounded).
* ``track``: accepted on a live link and about to be sent; held "in flight", not queued.
* ``take``: the flush moves up to ``limit`` queued messages from the head to "in flight".
* ``put_front``: in-flight messages whose send was interrupted go back to the head, in order.
* ``done``: acknowledged (or refused, expired, dropped): forgotten.

A durable store writes ``put`` and ``track`` before they return, forgets on ``done``, and on the
next start queues everything it still holds, queued or in flight, in the order it was accepted.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol

from mqttwire.config import MQTTClientConfig
from mqttwire.errors import OutboxCorruptError
from mqttwire.offline_queue import OfflineQueue, OutgoingMessage

__all__ = ["OutboxStore", "open_outbox"]


class OutboxStore(Protocol):
    capacity: int
    max_bytes: int | None

    @property
    def location(self) -> str | None:
        """The file holding the messages, or ``None`` when they live in memory only."""

    @property
    def moved_aside(self) -> OutboxCorruptError | None:
        """Set when a corrupt file was found at start and renamed; the store began empty."""

    def __len__(self) -> int:
        """Queued messages (not those in flight)."""

    def put(self, message: OutgoingMessage) -> None: ...

    def track(self, message: OutgoingMessage) -> OutgoingMessage: ...

    def take(self, limit: int) -> list[OutgoingMessage]: ...

    def put_front(self, messages: Iterable[OutgoingMessage]) -> None: ...

    def done(self, messages: Iterable[OutgoingMessage]) -> None: ...

    def close(self) -> None: ...


def open_outbox(config: MQTTClientConfig) -> OutboxStore:
    """The store ``config`` asks for: a SQLite file with ``offline_queue_path``, else memory.

    Raises :class:`~mqttwire.errors.OutboxError` when the file cannot be used.
    """
    if config.offline_queue_path is None:
        return OfflineQueue(config.offline_queue_size, config.offline_queue_bytes)
    from mqttwire.sqlite_outbox import SqliteOutbox

    return SqliteOutbox(
        config.offline_queue_path, config.offline_queue_size, config.offline_queue_bytes
    )
