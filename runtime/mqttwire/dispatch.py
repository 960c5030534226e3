"""Routing incoming messages to subscriptions, each with its own ordered queue and worker.

Overflow policy: when a subscription's queue is full (``queue_size`` messages, or ``queue_bytes``
payload bytes), the **oldest** queued message is dropped (``metrics.queue_overflow`` and
``metrics.queue_overflow_bytes`` count it, a rate-limited warning logs it). On a robot the newest
state matters most, and a slow handler then catches up with current data instead of working
through a stale backlog. One message larger than ``queue_bytes`` is still queued, alone.

Ordered groups: subscriptions given the same ``order_group`` share one queue and one worker, so
their messages are handled one at a time in arrival order across filters (for logic that spans
topics). Without a group there is no order between subscriptions.

A handler that raises (``CancelledError`` included, e.g. from awaiting a task it cancelled) is
logged and counted, and retried as its subscription's :class:`RetryPolicy` says; only the
cancellation of the worker itself (unsubscribe, shutdown) ends it.

Acknowledge after handling: a message may come with an ``ack`` callback (QoS >= 1 on a link
with ``ack_after_handler``); it is called once every matching subscription is done with the
message (its handler returned or raised after its retries, or the message was dropped from a
full queue), so a process killed mid-handler leaves the message unacknowledged and the broker
sends it again to the persistent session.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections import deque
from collections.abc import Awaitable, Callable, Collection
from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeAlias, cast

from mqttwire.meta import MessageMeta
from mqttwire.metrics import ClientMetrics
from mqttwire.observability.logs import log_fields
from mqttwire.safe_log import RateLimitedLog, shown
from mqttwire.topic_filter import TopicFilter
from mqttwire.transport import MessageProperties

if TYPE_CHECKING:
    from mqttwire.observability.tracing import Instrumentation

__all__ = [
    "DeadLetterHandler",
    "Dispatcher",
    "Handler",
    "MetaHandler",
    "OrderedLane",
    "PayloadHandler",
    "RetryPolicy",
    "Subscription",
    "require_async",
]

_LOG = logging.getLogger("mqttwire.dispatch")
_LIMITED = RateLimitedLog(_LOG)
_NO_BYTE_LIMIT = 1 << 62

MetaHandler: TypeAlias = Callable[[bytes, MessageMeta], Awaitable[None]]
PayloadHandler: TypeAlias = Callable[[bytes], Awaitable[None]]
Handler: TypeAlias = MetaHandler | PayloadHandler
DeadLetterHandler: TypeAlias = Callable[[bytes, MessageMeta, Exception], Awaitable[None]]
Ack: TypeAlias = Callable[[], None]


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """What a subscription does when its handler raises.

    The handler is called again, at once, up to ``retries`` more times; when the last call
    raises too, ``dead_letter`` (if any) receives the message and the last error. Either way
    the message is then done (acknowledged with ``ack_after_handler``): it is never
    redelivered forever. Every failed call counts in ``metrics.handler_errors``, every message
    given up in ``metrics.dead_lettered``.
    """

    retries: int = 0
    dead_letter: DeadLetterHandler | None = None

    def __post_init__(self) -> None:
        if self.retries < 0:
            raise ValueError(f"retries must be >= 0, got {self.retries}")


_NO_RETRY = RetryPolicy()


class _AckAfterAll:
    """Calls ``ack`` once ``count`` subscriptions are done with one message."""

    __slots__ = ("ack", "count")

    def __init__(self, count: int, ack: Ack) -> None:
        self.count = count
        self.ack = ack

    def __call__(self) -> None:
        self.count -= 1
        if self.count == 0:
            self.ack()


def _release(acks: Collection[Ack | None]) -> None:
    for ack in acks:
        if ack is not None:
            ack()


def wants_meta(handler: Callable[..., object]) -> bool:
    """True when ``handler`` accepts ``(payload, meta)``; decided once, at subscribe time."""
    try:
        signature = inspect.signature(handler)
    except (TypeError, ValueError):
        return True
    positional = 0
    for parameter in signature.parameters.values():
        if parameter.kind is inspect.Parameter.VAR_POSITIONAL:
            return True
        if parameter.kind in (
            inspect.Parameter.POSITIONAL_ONLY,
            inspect.Parameter.POSITIONAL_OR_KEYWORD,
        ):
            positional += 1
    return positional >= 2


# MessageMeta is immutable, so messages without properties share one per (topic, qos, retain):
# building one costs ~1.5 µs (14 fields of a frozen dataclass), a dict lookup ~0.1 µs.
_SHARED_META: dict[tuple[str, int, bool], MessageMeta] = {}
_SHARED_META_MAX = 1024


def _meta(topic: str, qos: int, retain: bool, properties: MessageProperties | None) -> MessageMeta:
    if properties is None:
        key = (topic, qos, retain)
        meta = _SHARED_META.get(key)
        if meta is None:
            if len(_SHARED_META) >= _SHARED_META_MAX:
                _SHARED_META.clear()  # many distinct topics: start over (bounded memory)
            meta = _SHARED_META[key] = MessageMeta(topic=topic, qos=qos, retain=retain)
        return meta
    return MessageMeta(
        topic=topic,
        qos=qos,
        retain=retain,
        user_properties=dict(properties.user_properties),
        response_topic=properties.response_topic,
        correlation_data=properties.correlation_data,
        content_type=properties.content_type,
        message_expiry_interval=properties.message_expiry_interval,
    )


class Subscription:
    """One handler on one filter. Returned by ``subscribe``; pass it to ``unsubscribe``."""

    __slots__ = (
        "_call",
        "_current_ack",
        "_metrics",
        "_queue",
        "_queued_bytes",
        "_running",
        "_stopped",
        "_task",
        "_telemetry",
        "_wakeup",
        "dropped",
        "handler",
        "lane",
        "matcher",
        "qos",
        "queue_bytes",
        "queue_size",
        "retry",
    )

    def __init__(
        self,
        topic_filter: str,
        handler: Handler,
        qos: int,
        queue_size: int,
        metrics: ClientMetrics,
        *,
        queue_bytes: int = _NO_BYTE_LIMIT,
        telemetry: Instrumentation | None = None,
        retry: RetryPolicy = _NO_RETRY,
    ) -> None:
        self.matcher = TopicFilter(topic_filter)
        self.handler = handler
        self.qos = qos
        self.queue_size = queue_size
        self.queue_bytes = queue_bytes
        self.retry = retry
        self._queued_bytes = 0
        self.lane: OrderedLane | None = None
        self._metrics = metrics
        self._telemetry = telemetry
        self.dropped = 0  # messages this subscription lost to queue overflow
        self._queue: deque[tuple[bytes, MessageMeta, Ack | None]] = deque()
        self._current_ack: Ack | None = None  # of the message being handled
        self._wakeup = asyncio.Event()
        self._running = False
        self._stopped = False
        self._task: asyncio.Task[None] | None = None
        if wants_meta(handler):
            self._call: Callable[[bytes, MessageMeta], Awaitable[None]] = cast(MetaHandler, handler)
        else:
            single = cast(PayloadHandler, handler)
            self._call = lambda payload, _meta: single(payload)

    def __repr__(self) -> str:
        return f"Subscription({self.topic_filter!r}, qos={self.qos}, active={self.active})"

    @property
    def topic_filter(self) -> str:
        return self.matcher.filter

    @property
    def active(self) -> bool:
        if self.lane is not None:
            return not self._stopped and self.lane.active
        return self._task is not None and not self._task.done() and not self._stopped

    @property
    def queued_bytes(self) -> int:
        """Payload bytes waiting in the queue."""
        return self._queued_bytes

    @property
    def pending(self) -> int:
        """Messages queued or being handled right now."""
        if self.lane is not None:
            return self.lane.pending_for(self)
        return len(self._queue) + (1 if self._running else 0)

    def start(self) -> None:
        if self.lane is not None:
            self.lane.start()
        elif self._task is None:
            name = f"mqttwire-handler[{self.topic_filter}]"
            self._task = asyncio.get_running_loop().create_task(self._work(), name=name)

    async def stop(self, *, release: bool = True) -> None:
        """Stop the worker; queued messages are dropped (and acknowledged when ``release``, so
        they hold no later acknowledgement back). Safe to call from the handler itself."""
        if self.lane is not None:
            self._stopped = True
            await self.lane.leave(self, release=release)
            return
        task, self._task = self._task, None
        dropped = [ack for _payload, _meta, ack in self._queue]
        self._queue.clear()
        self._queued_bytes = 0
        current, self._current_ack = self._current_ack, None
        if release:
            _release((current, *dropped))
        if task is None or task.done():
            return
        if task is asyncio.current_task():
            # Unsubscribing from inside the handler: let it return, then the worker ends.
            self._stopped = True
            return
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)

    def offer(self, payload: bytes, meta: MessageMeta, ack: Ack | None = None) -> None:
        if self.lane is not None:
            self.lane.offer(self, payload, meta, ack)
            return
        queue = self._queue
        size = len(payload)
        if len(queue) >= self.queue_size or self._queued_bytes + size > self.queue_bytes:
            self._make_room(size)
        queue.append((payload, meta, ack))
        self._queued_bytes += size
        self._wakeup.set()

    def _make_room(self, size: int) -> None:
        """Drop the oldest messages until ``size`` more bytes and one more message fit."""
        queue = self._queue
        metrics = self._metrics
        dropped = dropped_bytes = 0
        while queue and (
            len(queue) >= self.queue_size or self._queued_bytes + size > self.queue_bytes
        ):
            old, _meta, ack = queue.popleft()
            if ack is not None:
                ack()
            self._queued_bytes -= len(old)
            dropped += 1
            dropped_bytes += len(old)
        self.dropped += dropped
        metrics.queue_overflow += dropped
        metrics.queue_overflow_bytes += dropped_bytes
        _LIMITED.warning(
            f"overflow {self.topic_filter}",
            "handler queue of subscription %s full (%d messages, %d bytes): dropped the %d oldest "
            "message(s), %d bytes",
            shown(self.topic_filter),
            self.queue_size,
            self.queue_bytes,
            dropped,
            dropped_bytes,
        )

    async def _work(self) -> None:
        queue = self._queue
        while True:
            while queue:
                payload, meta, ack = queue.popleft()
                self._queued_bytes -= len(payload)
                self._running = True
                self._current_ack = ack
                try:
                    await self.handle(payload, meta)
                finally:
                    self._running = False
                current, self._current_ack = self._current_ack, None
                if current is not None:  # (None: ``stop`` released it already)
                    current()
                if self._stopped:
                    return
            self._wakeup.clear()
            await self._wakeup.wait()

    async def handle(self, payload: bytes, meta: MessageMeta) -> None:
        """Call the handler, retrying as ``retry`` says; never raises but the worker's own
        cancellation."""
        metrics = self._metrics
        retry = self.retry
        error: BaseException | None = None
        for attempt in range(retry.retries + 1):
            try:
                await self._deliver(payload, meta)
                metrics.messages_delivered += 1
                return
            except asyncio.CancelledError as exc:
                worker = asyncio.current_task()
                if worker is not None and worker.cancelling():
                    raise  # the worker itself is being cancelled (unsubscribe, shutdown)
                self._failed(meta, attempt, retry.retries)
                error = exc
            except Exception as exc:
                self._failed(meta, attempt, retry.retries)
                error = exc
        if retry.retries or retry.dead_letter is not None:
            metrics.dead_lettered += 1
        if retry.dead_letter is not None:
            failure = error if isinstance(error, Exception) else RuntimeError(repr(error))
            try:
                await retry.dead_letter(payload, meta, failure)
            except asyncio.CancelledError:
                worker = asyncio.current_task()
                if worker is not None and worker.cancelling():
                    raise
                _LOG.exception(
                    "dead-letter handler of subscription %s failed", shown(self.topic_filter)
                )
            except Exception:
                _LOG.exception(
                    "dead-letter handler of subscription %s failed", shown(self.topic_filter)
                )

    async def _deliver(self, payload: bytes, meta: MessageMeta) -> None:
        if self._telemetry is None:
            await self._call(payload, meta)
        else:
            await self._telemetry.process(self._call, payload, meta, self.topic_filter)

    def _failed(self, meta: MessageMeta, attempt: int, retries: int) -> None:
        self._metrics.handler_errors += 1
        _LOG.exception(
            "handler %s failed on topic %s (subscription %s, attempt %d of %d)",
            getattr(self.handler, "__qualname__", self.handler),
            shown(meta.topic),
            shown(self.topic_filter),
            attempt + 1,
            retries + 1,
            extra=log_fields(
                topic=meta.topic,
                subscription=self.topic_filter,
                envelope_id=meta.envelope_id or meta.user_properties.get("id"),
                correlation_id=meta.correlation_id,
            ),
        )


class OrderedLane:
    """The queue and worker shared by the subscriptions of one order group (arrival order).

    Bounded like a subscription's queue (``queue_size`` messages, ``queue_bytes`` bytes,
    drop-oldest); a message matching several members is queued once per member.
    """

    def __init__(
        self, name: str, queue_size: int, queue_bytes: int, metrics: ClientMetrics
    ) -> None:
        self.name = name
        self.queue_size = queue_size
        self.queue_bytes = queue_bytes
        self._metrics = metrics
        self._queue: deque[tuple[Subscription, bytes, MessageMeta, Ack | None]] = deque()
        self._queued_bytes = 0
        self._members: list[Subscription] = []
        self._running: Subscription | None = None
        self._current_ack: Ack | None = None
        self._wakeup = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def __repr__(self) -> str:
        return f"OrderedLane({self.name!r}, members={len(self._members)})"

    @property
    def active(self) -> bool:
        return self._task is not None and not self._task.done()

    @property
    def members(self) -> tuple[Subscription, ...]:
        return tuple(self._members)

    def join(self, sub: Subscription) -> None:
        sub.lane = self
        self._members.append(sub)

    def start(self) -> None:
        if self._task is None:
            name = f"mqttwire-handler[order group {self.name}]"
            self._task = asyncio.get_running_loop().create_task(self._work(), name=name)

    def pending_for(self, sub: Subscription) -> int:
        queued = sum(1 for item in self._queue if item[0] is sub)
        return queued + (1 if self._running is sub else 0)

    async def leave(self, sub: Subscription, *, release: bool = True) -> None:
        """Drop ``sub``'s queued messages; the worker ends with the last member."""
        if sub in self._members:
            self._members.remove(sub)
        kept = [item for item in self._queue if item[0] is not sub]
        dropped = [item[3] for item in self._queue if item[0] is sub]
        self._queue = deque(kept)
        self._queued_bytes = sum(len(item[1]) for item in kept)
        if release:
            _release(dropped)
        if self._members:
            return
        task, self._task = self._task, None
        current, self._current_ack = self._current_ack, None
        if release:
            _release((current, *(item[3] for item in kept)))
        if task is None or task.done() or task is asyncio.current_task():
            return  # from inside a handler: the worker ends after it returns
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)

    def offer(
        self, sub: Subscription, payload: bytes, meta: MessageMeta, ack: Ack | None = None
    ) -> None:
        queue = self._queue
        size = len(payload)
        dropped = dropped_bytes = 0
        while queue and (
            len(queue) >= self.queue_size or self._queued_bytes + size > self.queue_bytes
        ):
            member, old, _meta, old_ack = queue.popleft()
            if old_ack is not None:
                old_ack()
            member.dropped += 1
            self._queued_bytes -= len(old)
            dropped += 1
            dropped_bytes += len(old)
        if dropped:
            self._metrics.queue_overflow += dropped
            self._metrics.queue_overflow_bytes += dropped_bytes
            _LIMITED.warning(
                f"overflow group {self.name}",
                "queue of order group %s full: dropped the %d oldest message(s), %d bytes",
                shown(self.name),
                dropped,
                dropped_bytes,
            )
        queue.append((sub, payload, meta, ack))
        self._queued_bytes += size
        self._wakeup.set()

    async def _work(self) -> None:
        while self._members or self._queue:
            while self._queue:
                sub, payload, meta, ack = self._queue.popleft()
                self._queued_bytes -= len(payload)
                self._running = sub
                self._current_ack = ack
                try:
                    await sub.handle(payload, meta)
                finally:
                    self._running = None
                current, self._current_ack = self._current_ack, None
                if current is not None:
                    current()
                if not self._members:
                    return
            self._wakeup.clear()
            await self._wakeup.wait()


class Dispatcher:
    """All subscriptions of a client; knows which broker filters are needed at which QoS."""

    __slots__ = ("_lanes", "_metrics", "_subscriptions", "_telemetry", "queue_bytes", "queue_size")

    def __init__(
        self,
        metrics: ClientMetrics,
        queue_size: int,
        telemetry: Instrumentation | None = None,
        *,
        queue_bytes: int = _NO_BYTE_LIMIT,
    ) -> None:
        self._metrics = metrics
        self._telemetry = telemetry
        self.queue_size = queue_size
        self.queue_bytes = queue_bytes
        self._subscriptions: list[Subscription] = []
        self._lanes: dict[str, OrderedLane] = {}

    def __len__(self) -> int:
        return len(self._subscriptions)

    @property
    def subscriptions(self) -> tuple[Subscription, ...]:
        return tuple(self._subscriptions)

    def filters(self) -> dict[str, int]:
        """Broker filters and the highest QoS any subscription asked for on each."""
        wanted: dict[str, int] = {}
        for sub in self._subscriptions:
            wanted[sub.topic_filter] = max(sub.qos, wanted.get(sub.topic_filter, 0))
        return wanted

    def add(
        self,
        topic_filter: str,
        handler: Handler,
        qos: int,
        *,
        order_group: str | None = None,
        retry: RetryPolicy = _NO_RETRY,
    ) -> Subscription:
        sub = Subscription(
            topic_filter,
            handler,
            qos,
            self.queue_size,
            self._metrics,
            queue_bytes=self.queue_bytes,
            telemetry=self._telemetry,
            retry=retry,
        )
        if order_group is not None:
            lane = self._lanes.get(order_group)
            if lane is None or not lane.members:
                lane = self._lanes[order_group] = OrderedLane(
                    order_group, self.queue_size, self.queue_bytes, self._metrics
                )
            lane.join(sub)
        sub.start()
        self._subscriptions.append(sub)
        return sub

    async def remove(self, sub: Subscription) -> bool:
        """Stop ``sub``; True when no other subscription still uses its filter."""
        if sub in self._subscriptions:
            self._subscriptions.remove(sub)
        await sub.stop()
        return all(other.topic_filter != sub.topic_filter for other in self._subscriptions)

    def dispatch(
        self,
        topic: str,
        payload: bytes,
        qos: int,
        retain: bool,
        properties: MessageProperties | None = None,
        only: Collection[str] | None = None,
        ack: Ack | None = None,
    ) -> int:
        """Queue the message for every matching subscription; returns how many matched.

        ``only`` restricts delivery to subscriptions on these filters (an MQTT 5 copy sent for
        particular subscription identifiers). ``ack`` is called once every matching
        subscription is done with the message (at once when none matches).
        """
        meta: MessageMeta | None = None
        if ack is not None:
            subs = [
                sub
                for sub in self._subscriptions
                if sub.matcher.matches(topic) and (only is None or sub.topic_filter in only)
            ]
            if not subs:
                ack()
                return 0
            meta = _meta(topic, qos, retain, properties)
            done = ack if len(subs) == 1 else _AckAfterAll(len(subs), ack)
            for sub in subs:
                sub.offer(payload, meta, done)
            return len(subs)
        matched = 0
        for sub in self._subscriptions:
            if sub.matcher.matches(topic) and (only is None or sub.topic_filter in only):
                if meta is None:
                    meta = _meta(topic, qos, retain, properties)
                sub.offer(payload, meta)
                matched += 1
        return matched

    @property
    def pending(self) -> int:
        return sum(sub.pending for sub in self._subscriptions)

    async def drain(self, grace: float) -> bool:
        """Wait up to ``grace`` seconds until every queue is empty and no handler runs."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + grace
        while self.pending:
            if loop.time() >= deadline:
                return False
            await asyncio.sleep(0.01)
        return True

    async def close(self) -> None:
        subs, self._subscriptions = self._subscriptions, []
        # What is still queued stays unacknowledged: a persistent session gets it again.
        await asyncio.gather(*(sub.stop(release=False) for sub in subs))


def require_async(handler: object, channel: str) -> None:
    """A plain ``def`` handler is refused at once (its result could never be awaited)."""
    function = handler if inspect.isfunction(handler) or inspect.ismethod(handler) else None
    if (
        function is not None
        and not inspect.iscoroutinefunction(function)
        and function.__name__ != "<lambda>"  # a lambda may return a coroutine
    ):
        raise TypeError(
            f"handler {function.__qualname__} for channel {channel} must be an async function "
            f"(async def {function.__name__}(payload, meta): ...)"
        )
