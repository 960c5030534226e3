"""One live connection to one broker: subscribe on connect, read, heartbeat, send.

The supervisor makes a :class:`Link` after each successful transport connect and drops it when
the connection ends; what must outlive a connection (subscription identifiers) is passed in.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial

from mqttwire.config import MQTTClientConfig
from mqttwire.dedupe import MessageDeduplicator
from mqttwire.dispatch import Dispatcher
from mqttwire.errors import MQTTWireError, QoSNotGrantedError, QoSNotSupportedError
from mqttwire.health import encode_health, encode_heartbeat
from mqttwire.metrics import ClientMetrics
from mqttwire.observability.logs import log_fields
from mqttwire.safe_log import RateLimitedLog
from mqttwire.transport import IncomingMessage, MessageProperties, Transport, TransportError
from mqttwire.url import ConnectionParams

__all__ = ["WATCHDOG_INTERVALS", "Link", "LinkContext", "SubscriptionIds"]

_LOG = logging.getLogger("mqttwire.client")
_STALL_LOG = RateLimitedLog(_LOG)

# The watchdog reconnects after this many heartbeat intervals without our own heartbeat coming
# back; checked four times per interval, so a dead link is found within 2.75 intervals.
WATCHDOG_INTERVALS = 2.5


@dataclass
class SubscriptionIds:
    """MQTT 5 subscription identifiers, kept for the client's life (a session outlives links)."""

    by_filter: dict[str, int] = field(default_factory=dict)
    by_id: dict[int, str] = field(default_factory=dict)

    def id_for(self, topic_filter: str) -> int:
        if topic_filter not in self.by_filter:
            self.by_filter[topic_filter] = len(self.by_filter) + 1
            self.by_id[self.by_filter[topic_filter]] = topic_filter
        return self.by_filter[topic_filter]


@dataclass(frozen=True)
class LinkContext:
    """What every link of a client shares."""

    config: MQTTClientConfig
    transport: Transport
    dispatcher: Dispatcher
    metrics: ClientMetrics
    dedupe: MessageDeduplicator | None
    subscription_ids: SubscriptionIds
    source: str
    health_topic: str
    keepalive_topic: str
    report: Callable[[MQTTWireError], None]


class Link:
    """The connection to ``params`` while it lasts.

    ``up`` turns true once subscriptions are in place and health is announced: from then on
    publishes go straight to the connection instead of the offline queue.
    """

    def __init__(self, context: LinkContext, params: ConnectionParams) -> None:
        self._ctx = context
        self._transport = context.transport
        self.params = params
        self.up = False
        # Loop time of open() (None: the link never got that far), kept after it goes down.
        self.opened_at: float | None = None
        # Highest QoS the broker grants (learned from SUBACKs), or None.
        self.max_qos: int | None = None
        self._last_heartbeat_seen = 0.0

    @property
    def broker(self) -> str:
        return str(self.params)

    # ------------------------------------------------------------------ setup

    async def subscribe_on_connect(self, *, strict: bool) -> dict[str, int]:
        """Subscribe every registered filter (and our heartbeat echo); returns what was asked.

        ``strict``: a QoS downgrade raises :class:`QoSNotGrantedError` (the first connect
        fails) instead of being logged.
        """
        filters = self._ctx.dispatcher.filters()
        if self._ctx.config.enable_heartbeat:
            filters.setdefault(self._ctx.keepalive_topic, 0)
        await self._subscribe_all(filters, strict=strict)
        return filters

    async def announce(self, *, reconnect: bool) -> None:
        """Publish the retained health ``ready``/``reconnected`` (when health is enabled)."""
        config = self._ctx.config
        if config.enable_health:
            await self._transport.publish(
                self._ctx.health_topic,
                encode_health(
                    True, source=self._ctx.source, event="reconnected" if reconnect else "ready"
                ),
                1,
                True,
                config.publish_timeout,
            )

    def open(self) -> None:
        """Mark the link up: publishes go to it from now on."""
        self.up = True
        self.opened_at = self._last_heartbeat_seen = asyncio.get_running_loop().time()

    async def catch_up(self, subscribed: dict[str, int]) -> None:
        """``subscribe()`` calls made while we were setting up saw the link down: catch them up."""
        missing = {
            topic_filter: qos
            for topic_filter, qos in self._ctx.dispatcher.filters().items()
            if subscribed.get(topic_filter, -1) < qos
        }
        await self._subscribe_all(missing, strict=False)

    async def _subscribe_all(self, filters: dict[str, int], *, strict: bool) -> None:
        if not filters:
            return
        metrics = self._ctx.metrics
        items = list(filters.items())
        granted = await self.broker_subscribe(items)
        for (topic_filter, qos), code in zip(items, granted, strict=False):
            if code >= 0x80:
                metrics.subscribe_failures += 1
                _LOG.error(
                    "broker refused subscription %r (code %#x)",
                    topic_filter,
                    code,
                    extra=log_fields(subscription=topic_filter),
                )
            elif code < qos:
                # Never a silent downgrade: the first connect fails, later links log it.
                self.learn_max_qos(code)
                metrics.subscribe_failures += 1
                error = QoSNotGrantedError(
                    topic_filter, requested_qos=qos, granted_qos=code, broker=self.broker
                )
                self._ctx.report(error)
                if strict:
                    raise error
                _LOG.error("%s", error)
            elif qos == 2:
                self.learn_max_qos(2)

    # ------------------------------------------------------------------ broker QoS

    def learn_max_qos(self, granted: int) -> None:
        if self.max_qos is None or granted < self.max_qos:
            self.max_qos = granted

    async def probe_max_qos(self) -> int | None:
        """Ask the broker for QoS 2 on a private filter; its SUBACK tells its maximum QoS.

        MQTT 3.1.1 has no other way to learn it (NATS closes the link on a QoS 2 PUBLISH,
        RabbitMQ silently downgrades it). ``None`` when the link is down; a refused probe
        (ACL) counts as "QoS 2 available" since nothing better is known.
        """
        probe = f"mqttwire/qos-probe/{self._ctx.config.client_id}"
        timeout = self._ctx.config.publish_timeout
        try:
            granted = await self._transport.subscribe([(probe, 2)], timeout)
        except TransportError:
            return None
        code = granted[0] if granted else 0x80
        if code >= 0x80:
            _LOG.debug("QoS probe refused by %s (code %#x)", self.params, code)
            code = 2
        self.learn_max_qos(code)
        with contextlib.suppress(TransportError):
            await self._transport.unsubscribe([probe], timeout)
        return self.max_qos

    async def check_qos(self, topic: str, qos: int) -> None:
        """Raise :class:`QoSNotSupportedError` when the broker of this link lacks ``qos``."""
        limit = self.max_qos
        if limit is None:
            limit = await self.probe_max_qos()
        if limit is not None and limit < qos:
            raise QoSNotSupportedError(topic, qos=qos, max_qos=limit, broker=self.broker)

    # ------------------------------------------------------------------ traffic

    async def broker_subscribe(self, items: list[tuple[str, int]]) -> list[int]:
        """SUBSCRIBE and return the granted QoS (or failure code) per filter.

        On MQTT 5 each filter gets its own packet and subscription identifier: a v5 broker sends
        one copy of a message per matching subscription, and the identifier says which handlers
        a copy is for (see :meth:`read`). On 3.1.1 one packet and one copy per message.
        """
        timeout = self._ctx.config.publish_timeout
        if self._ctx.config.protocol != "5":
            return await self._transport.subscribe(items, timeout)
        ids = self._ctx.subscription_ids
        for topic_filter, _qos in items:
            ids.id_for(topic_filter)
        results = await asyncio.gather(
            *(
                self._transport.subscribe([item], timeout, subscription_id=ids.by_filter[item[0]])
                for item in items
            )
        )
        return [granted[0] if granted else 0x80 for granted in results]

    async def unsubscribe(self, topic_filter: str) -> None:
        with contextlib.suppress(TransportError):
            await self._transport.unsubscribe([topic_filter], self._ctx.config.publish_timeout)

    async def send(
        self,
        topic: str,
        payload: bytes,
        qos: int,
        retain: bool,
        properties: MessageProperties | None,
        ack_timeout: float,
    ) -> None:
        if properties:
            await self._transport.publish(
                topic, payload, qos, retain, ack_timeout, properties=properties
            )
        else:
            await self._transport.publish(topic, payload, qos, retain, ack_timeout)

    async def read(self) -> None:
        """Hand every incoming message to the dispatcher; returns when the connection ends."""
        ctx = self._ctx
        metrics = ctx.metrics
        dispatch = ctx.dispatcher.dispatch
        dedupe = ctx.dedupe
        keepalive = ctx.keepalive_topic
        message: IncomingMessage
        by_id = ctx.subscription_ids.by_id
        async for message in self._transport.messages():
            metrics.messages_received += 1
            topic = message.topic
            if topic == keepalive:
                self._last_heartbeat_seen = asyncio.get_running_loop().time()
            ids = message.subscription_ids
            # ack_after_handler: QoS >= 1 messages are acknowledged once handled.
            ack = None if message.ack_id is None else partial(self._transport.ack, message)
            if dedupe is not None and dedupe.is_duplicate_payload(
                message.payload, scope=",".join(map(str, ids))
            ):
                metrics.duplicates += 1
                if ack is not None:
                    ack()
                continue
            # MQTT 5: this copy was sent for the subscriptions in ``ids`` only.
            only = {by_id[i] for i in ids if i in by_id} if ids else None
            dispatch(
                topic,
                message.payload,
                message.qos,
                message.retain,
                message.properties,
                only or None,
                ack,
            )

    async def heartbeat(self) -> None:
        """Publish heartbeats; return when our own heartbeats stop coming back.

        A check that runs much later than scheduled means the event loop itself was blocked
        (e.g. a handler calling ``time.sleep``): echoes may be waiting unread in the socket, so
        the watchdog logs a stall and re-arms instead of declaring a healthy link dead.
        """
        metrics = self._ctx.metrics
        interval = self._ctx.config.heartbeat_interval
        limit = WATCHDOG_INTERVALS * interval
        tick = interval / 4
        loop = asyncio.get_running_loop()
        next_beat = loop.time()
        last_check = loop.time()
        while True:
            now = loop.time()
            late = now - last_check - tick
            last_check = now
            if late > interval / 2:
                metrics.loop_stalls += 1
                _STALL_LOG.warning(
                    "stall",
                    "event loop stalled for %.1fs (a handler blocking it?); MQTT watchdog "
                    "re-armed instead of judging the link",
                    late,
                )
                self._last_heartbeat_seen = now
            elif now - self._last_heartbeat_seen > limit:
                metrics.watchdog_reconnects += 1
                _LOG.warning(
                    "MQTT watchdog: no heartbeat echo for %.1fs from %s; forcing reconnect",
                    now - self._last_heartbeat_seen,
                    self.params,
                )
                return
            if now >= next_beat:
                next_beat = now + interval
                try:
                    await self._transport.publish(
                        self._ctx.keepalive_topic, encode_heartbeat(), 0, False, interval
                    )
                    metrics.heartbeats_sent += 1
                except TransportError:
                    pass
            await asyncio.sleep(tick)
