"""The client's outbox: QoS >= 1 publishes until the broker acknowledges them.

It owns the :class:`~mqttwire.outbox_store.OutboxStore` (offline queue, memory or file) and the
live publishes in flight, and sends the queue in order over a link: expiry, broker QoS limits,
poison detection, and in-flight messages requeued in call order when a link drops.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import replace
from typing import Protocol

from mqttwire.config import MQTTClientConfig
from mqttwire.errors import MQTTWireError, OutboxCorruptError, PublishError, QoSNotSupportedError
from mqttwire.metrics import ClientMetrics
from mqttwire.observability.logs import log_fields
from mqttwire.offline_queue import OutgoingMessage
from mqttwire.outbox_store import open_outbox
from mqttwire.safe_log import shown
from mqttwire.transport import (
    MessageProperties,
    TransportDisconnectedError,
    TransportError,
    TransportRefusedError,
)

__all__ = ["POISON_STRIKES", "Outbox", "Sender"]

_LOG = logging.getLogger("mqttwire.client")

FLUSH_WINDOW = 64
# A queued message is dropped as poison when the link died this many times in a row while it was
# the only message in flight (sent alone after a failed window): the broker refuses it by closing
# the connection, and resending it forever would block every message behind it.
POISON_STRIKES = 3


class Sender(Protocol):
    """What the outbox needs of a link to flush over it."""

    @property
    def up(self) -> bool: ...

    @property
    def max_qos(self) -> int | None:
        """The broker's highest QoS, once learned."""

    @property
    def broker(self) -> str: ...

    async def send(
        self,
        topic: str,
        payload: bytes,
        qos: int,
        retain: bool,
        properties: MessageProperties | None,
        ack_timeout: float,
    ) -> None: ...


class Outbox:
    """Offline queue plus in-flight publishes; errors it drops messages for go to ``report``."""

    def __init__(
        self,
        config: MQTTClientConfig,
        metrics: ClientMetrics,
        report: Callable[[MQTTWireError], None],
    ) -> None:
        self._store = open_outbox(config)  # memory, or the file of offline_queue_path
        self._metrics = metrics
        self._report = report
        # Live QoS >= 1 publishes awaiting their ack, in call order: requeued together, in order,
        # when the link drops (each caller learning of it separately would reverse them).
        self._inflight: dict[int, OutgoingMessage] = {}
        self._inflight_seq = 0
        # Poison detection (see POISON_STRIKES): the message at the head of a failed flush.
        self._suspect: OutgoingMessage | None = None
        self._strikes = 0
        self.flushing = False
        # False once shutdown stops taking publishes (it sends what is queued, then closes).
        self.accepting = True

    def __len__(self) -> int:
        return len(self._store)

    def __bool__(self) -> bool:
        return len(self._store) > 0

    @property
    def location(self) -> str | None:
        return self._store.location

    @property
    def moved_aside(self) -> OutboxCorruptError | None:
        return self._store.moved_aside

    @property
    def busy(self) -> bool:
        """Queued messages or a flush running: new QoS >= 1 publishes queue behind them."""
        return self.flushing or len(self._store) > 0

    def put(self, message: OutgoingMessage) -> None:
        """Queue a publish made while the link is down (raises when full)."""
        self._store.put(message)
        self._metrics.offline_queued += 1

    def track(self, message: OutgoingMessage) -> int:
        """Hold a live publish in flight (a durable store writes it down first: a crash before
        the ack resends it); returns the key for :meth:`release`."""
        seq = self._inflight_seq = self._inflight_seq + 1
        self._inflight[seq] = self._store.track(message)
        return seq

    def release(self, seq: int) -> None:
        """Acknowledged, refused or given up: no longer held (a requeued one is back in the
        queue and no longer in flight)."""
        held = self._inflight.pop(seq, None)
        if held is not None:
            self._store.done([held])

    def requeue_inflight(self) -> None:
        """The link dropped under live publishes: every one not acknowledged goes back to the
        head of the offline queue in call order (first caller to notice moves them all)."""
        if not self._inflight:
            return
        messages = list(self._inflight.values())
        self._inflight.clear()
        self._store.put_front(messages)
        self._metrics.publish_retries += len(messages)

    def close(self) -> None:
        self._store.close()

    async def flush(self, link: Sender, ack_timeout: float, on_stalled: Callable[[], None]) -> None:
        """Send the queue in order, a window at a time; requeue on failure.

        A window not acknowledged although the link looked up calls ``on_stalled`` (the link is
        treated as dead) and raises :class:`TransportDisconnectedError`.
        """
        if self.flushing:
            return
        self.flushing = True
        store = self._store
        try:
            while store and link.up:
                window = 1 if self._suspect is not None else FLUSH_WINDOW
                batch = self._within_broker_limits(self.unexpired(store.take(window)), link)
                acked = [False] * len(batch)
                try:
                    results = await asyncio.gather(
                        *(
                            self._send_queued(link, m, ack_timeout, acked, i)
                            for i, m in enumerate(batch)
                        ),
                        return_exceptions=True,
                    )
                except asyncio.CancelledError:
                    # The link went down and its tasks were cancelled mid-window: what was taken
                    # from the queue and not acknowledged goes back, or it would be lost.
                    unacked = [m for i, m in enumerate(batch) if not acked[i]]
                    store.done(m for i, m in enumerate(batch) if acked[i])
                    self._metrics.offline_flushed += len(batch) - len(unacked)
                    unacked = self._after_failed_window(batch, unacked)
                    store.put_front(unacked)
                    self._metrics.publish_retries += len(unacked)
                    raise
                store.done(
                    m
                    for m, r in zip(batch, results, strict=True)
                    if r is None or isinstance(r, TransportRefusedError)
                )
                failed: list[OutgoingMessage] = []
                dropped = 0
                for message, result in zip(batch, results, strict=True):
                    if result is None:
                        continue
                    if isinstance(result, TransportRefusedError):
                        self._metrics.publish_refused += 1
                        _LOG.error(
                            "broker refused queued message on %s: %s",
                            shown(message.topic),
                            result,
                            extra=log_fields(topic=message.topic),
                        )
                    elif isinstance(result, Exception) and not isinstance(result, TransportError):
                        self._drop_unsendable(message, result)
                        dropped += 1
                    else:
                        failed.append(message)
                if not failed and len(batch) == 1:
                    self._suspect, self._strikes = None, 0
                self._metrics.offline_flushed += len(batch) - len(failed) - dropped
                if failed:
                    failed = self._after_failed_window(batch, failed)
                    store.put_front(failed)
                    self._metrics.publish_retries += len(failed)
                    on_stalled()
                    raise TransportDisconnectedError("offline queue flush interrupted")
        finally:
            self.flushing = False

    def unexpired(self, batch: list[OutgoingMessage]) -> list[OutgoingMessage]:
        """Drop queued messages whose MQTT 5 expiry passed; shorten it by the time queued."""
        now = asyncio.get_running_loop().time()
        kept: list[OutgoingMessage] = []
        for message in batch:
            props = message.properties
            expiry = props.message_expiry_interval if props is not None else None
            if props is None or expiry is None or not message.queued_at:
                kept.append(message)
                continue
            left = expiry - int(now - message.queued_at)
            if left <= 0:
                self._metrics.offline_expired += 1
                self._store.done([message])
                continue
            kept.append(
                message._replace(
                    properties=replace(props, message_expiry_interval=left), queued_at=now
                )
            )
        return kept

    def _within_broker_limits(
        self, batch: list[OutgoingMessage], link: Sender
    ) -> list[OutgoingMessage]:
        """Drop queued messages above the broker's QoS (logged, counted, reported)."""
        limit = link.max_qos
        if limit is None or limit >= 2:
            return batch
        kept: list[OutgoingMessage] = []
        for message in batch:
            if message.qos <= limit:
                kept.append(message)
                continue
            self._metrics.qos_unsupported += 1
            self._store.done([message])
            error = QoSNotSupportedError(
                message.topic, qos=message.qos, max_qos=limit, broker=link.broker
            )
            self._report(error)
            _LOG.error("queued message dropped: %s", error, extra=log_fields(topic=message.topic))
        return kept

    def _after_failed_window(
        self, batch: list[OutgoingMessage], unacked: list[OutgoingMessage]
    ) -> list[OutgoingMessage]:
        """Poison detection: what of ``unacked`` goes back to the queue.

        The first unacknowledged message of a window cut by a lost link becomes the suspect and
        is sent alone next time; when the link dies :data:`POISON_STRIKES` times in a row while
        it is alone in flight, it is dropped (logged, counted, reported).
        """
        if not unacked:
            return unacked
        head = unacked[0]
        suspect = self._suspect
        if suspect is not None and len(batch) == 1 and _same_message(head, suspect):
            self._strikes += 1
            if self._strikes >= POISON_STRIKES:
                self._suspect, self._strikes = None, 0
                self._metrics.publish_poisoned += 1
                self._report(
                    PublishError(
                        head.topic,
                        f"the broker closed the connection each of the {POISON_STRIKES} times "
                        "this message was sent alone; dropped so the messages behind it can go",
                        qos=head.qos,
                    )
                )
                _LOG.error(
                    "queued message on %s (%d bytes) dropped as poison: the link died %d times "
                    "in a row while it was the only message in flight",
                    shown(head.topic),
                    len(head.payload),
                    POISON_STRIKES,
                )
                self._store.done([head])
                return unacked[1:]
        elif suspect is None or not _same_message(head, suspect):
            self._suspect, self._strikes = head, 1 if len(batch) == 1 else 0
        return unacked

    def _drop_unsendable(self, message: OutgoingMessage, error: Exception) -> None:
        """A queued message the MQTT library rejects outright: drop it, never the queue."""
        self._metrics.publish_failed += 1
        self._store.done([message])
        self._report(
            PublishError(message.topic, f"cannot be sent: {shown(error)}", qos=message.qos)
        )
        _LOG.error(
            "queued message on %s dropped: the MQTT library rejected it (%s: %s)",
            shown(message.topic),
            type(error).__name__,
            shown(error),
        )

    @staticmethod
    async def _send_queued(
        link: Sender, m: OutgoingMessage, ack_timeout: float, acked: list[bool], index: int
    ) -> None:
        """Send one queued message; ``acked[index]`` tells a cancelled flush what got through."""
        await link.send(m.topic, m.payload, m.qos, m.retain, m.properties, ack_timeout)
        acked[index] = True


def _same_message(a: OutgoingMessage, b: OutgoingMessage) -> bool:
    return a.topic == b.topic and a.payload == b.payload
