"""An in-memory MQTT broker and :class:`~mqttwire.transport.Transport`: no sockets, MQTT rules.

``MemoryBroker`` routes like a real broker: topic filters with ``+``/``#`` (and the ``$`` rule),
retained messages (sent on subscribe, cleared by an empty retained payload), delivery QoS =
min(publish QoS, subscription QoS); where a client's filters overlap, one copy on 3.1.1 (at the
highest QoS) and one copy per matching subscription, tagged with its subscription identifier,
on MQTT 5 (as Mosquitto does); persistent sessions
(``clean_session=False``) that keep subscriptions and queue QoS>=1 messages while offline, the
last will on an abnormal disconnect (never on a clean one), session takeover by client id,
``$share/<group>/<filter>`` subscriptions served round-robin, MQTT 5 properties (dropped for
3.1.1 clients) with message expiry, and refusals with reason codes for denied topics
(:meth:`MemoryBroker.deny`). Acknowledgements are immediate.

``MemoryTransport(broker)`` plugs a client into it::

    broker = MemoryBroker()
    client = MQTTClient(config, transport=broker.transport())
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace

from mqttwire.errors import InvalidTopicError
from mqttwire.reason_codes import NOT_AUTHORIZED, UNSPECIFIED_ERROR, reason_name
from mqttwire.topic_filter import TopicFilter, validate_topic_filter, validate_topic_name
from mqttwire.transport import (
    ConnectOptions,
    IncomingMessage,
    MessageProperties,
    TransportConnectError,
    TransportDisconnectedError,
    TransportRefusedError,
)

__all__ = ["BrokerMessage", "MemoryBroker", "MemoryTransport"]

MEMORY_URL = "mqtt://in-memory:1883"
"""A URL for configs of clients on a :class:`MemoryBroker` (host and port are not used)."""


@dataclass(frozen=True, slots=True)
class BrokerMessage:
    """A PUBLISH the broker accepted (``sender`` is the client id, or ``None`` for
    :meth:`MemoryBroker.publish`)."""

    topic: str
    payload: bytes
    qos: int
    retain: bool
    sender: str | None
    properties: MessageProperties | None = None
    received_at: float = 0.0


@dataclass(slots=True)
class _Subscription:
    matcher: TopicFilter
    qos: int
    identifier: int | None = None


@dataclass(slots=True)
class _Session:
    client_id: str
    persistent: bool
    expiry: float | None  # seconds an offline session is kept (None: forever)
    v5: bool = False
    subscriptions: dict[str, _Subscription] = field(default_factory=dict)
    # QoS>=1 messages for an offline persistent session, with their subscription ids
    pending: deque[tuple[BrokerMessage, tuple[int, ...]]] = field(default_factory=deque)
    offline_since: float | None = None


class BrokerLink:
    """The broker's side of one network connection of a client (its inbox ends when the link
    closes). Made by :meth:`MemoryBroker.attach` for a :class:`MemoryTransport`."""

    def __init__(self, options: ConnectOptions) -> None:
        self.options = options
        self.client_id = options.client_id
        self.v5 = options.protocol == "5"
        self.open = True
        self.inbox: deque[IncomingMessage] = deque()
        self.wakeup = asyncio.Event()

    def put(self, message: IncomingMessage) -> None:
        self.inbox.append(message)
        self.wakeup.set()

    def close(self) -> None:
        self.open = False
        self.wakeup.set()


class MemoryBroker:
    """An in-process MQTT broker for tests; see the module docstring for what it models.

    ``log`` records every accepted PUBLISH in order. ``stop``/``start``/``restart`` mirror
    :class:`~mqttwire.testing.broker.MosquittoBroker`: a stopped broker refuses connections,
    and without ``persistence`` a restart forgets sessions and retained messages.
    """

    url = MEMORY_URL

    def __init__(
        self, *, persistence: bool = False, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.persistence = persistence
        self._clock = clock
        self._running = True
        self._links: dict[str, BrokerLink] = {}
        self._sessions: dict[str, _Session] = {}
        self._retained: dict[str, BrokerMessage] = {}
        self._turns: dict[str, int] = {}
        self._denied: list[tuple[TopicFilter, bool, bool]] = []
        self.log: list[BrokerMessage] = []

    def __repr__(self) -> str:
        return f"MemoryBroker(clients={sorted(self._links)}, retained={len(self._retained)})"

    # ------------------------------------------------------------------ test controls

    def transport(self) -> MemoryTransport:
        """A new transport on this broker (one per client)."""
        return MemoryTransport(self)

    @property
    def running(self) -> bool:
        return self._running

    def stop(self) -> None:
        """Go down: every link drops (no wills: the broker itself is gone)."""
        self._running = False
        for link in list(self._links.values()):
            self._drop(link, will=False)
        if not self.persistence:
            self._sessions.clear()
            self._retained.clear()
            self._turns.clear()

    def start(self) -> None:
        self._running = True

    def restart(self) -> None:
        self.stop()
        self.start()

    def deny(self, topic_filter: str, *, publish: bool = True, subscribe: bool = True) -> None:
        """Refuse PUBLISH to topics matching ``topic_filter`` and SUBSCRIBE to filters it covers.

        Like Mosquitto with an ACL: a refused QoS>=1 publish gets reason code 0x87 on MQTT 5 (a
        :class:`TransportRefusedError`) and is dropped silently on 3.1.1; a refused subscription
        gets 0x87 on MQTT 5 and 0x80 on 3.1.1 in its SUBACK.
        """
        self._denied.append((TopicFilter(topic_filter), publish, subscribe))

    def disconnect_client(self, client_id: str) -> None:
        """Cut the link of ``client_id`` as if the network failed: the broker sends its will."""
        link = self._links.get(client_id)
        if link is not None:
            self._drop(link, will=True)

    def publish(
        self,
        topic: str,
        payload: bytes,
        *,
        qos: int = 0,
        retain: bool = False,
        properties: MessageProperties | None = None,
    ) -> None:
        """Inject a message as if a client without an id had published it."""
        validate_topic_name(topic)
        self._route(BrokerMessage(topic, payload, qos, retain, None, properties, self._clock()))

    def connected(self, client_id: str) -> bool:
        return client_id in self._links

    @property
    def clients(self) -> tuple[str, ...]:
        """Ids of the connected clients."""
        return tuple(self._links)

    def subscriptions(self, client_id: str) -> dict[str, int]:
        """The filters (and granted QoS) of the session of ``client_id``."""
        session = self._sessions.get(client_id)
        return {} if session is None else {f: s.qos for f, s in session.subscriptions.items()}

    @property
    def retained(self) -> dict[str, BrokerMessage]:
        """Retained messages by topic (expired ones removed)."""
        now = self._clock()
        for topic in [t for t, m in self._retained.items() if _expired(m, now)]:
            del self._retained[topic]
        return dict(self._retained)

    @property
    def in_flight(self) -> int:
        """Messages delivered to links but not yet read by their clients."""
        return sum(len(link.inbox) for link in self._links.values())

    # ------------------------------------------------------------------ transport side
    # What a MemoryTransport calls, one BrokerLink per network connection; tests use the test
    # controls above instead.

    def now(self) -> float:
        """The broker's clock (message expiry, session expiry)."""
        return self._clock()

    def attach(self, options: ConnectOptions) -> BrokerLink:
        """CONNECT: a new link for ``options.client_id`` (a takeover cuts the old link)."""
        if not self._running:
            raise TransportConnectError("connection refused: the in-memory broker is stopped")
        client_id = options.client_id
        old = self._links.get(client_id)
        if old is not None:  # session takeover: the old link is cut and its will is sent
            self._drop(old, will=True)
        now = self._clock()
        session = self._sessions.get(client_id)
        if session is not None and (
            options.clean_session
            or (
                session.expiry is not None
                and session.offline_since is not None
                and now - session.offline_since > session.expiry
            )
        ):
            session = None
        v5 = options.protocol == "5"
        persistent = not options.clean_session and (not v5 or options.session_expiry > 0)
        expiry = (
            float(options.session_expiry) if v5 and options.session_expiry < 0xFFFFFFFF else None
        )
        if session is None:
            session = _Session(client_id, persistent, expiry)
            self._sessions[client_id] = session
        else:
            session.persistent, session.expiry = persistent, expiry
        session.v5 = v5
        session.offline_since = None
        link = BrokerLink(options)
        self._links[client_id] = link
        pending, session.pending = session.pending, deque()
        for message, ids in pending:
            if not _expired(message, now):
                link.put(_incoming(message, message.qos, False, v5, now, ids))
        return link

    def detach(self, link: BrokerLink, *, will: bool) -> None:
        """The link ends: cleanly (``will=False``, a DISCONNECT) or as a network failure."""
        if self._links.get(link.client_id) is link:
            self._drop(link, will=will)
        else:
            link.close()

    def _drop(self, link: BrokerLink, *, will: bool) -> None:
        link.close()
        if self._links.get(link.client_id) is link:
            del self._links[link.client_id]
        session = self._sessions.get(link.client_id)
        if session is not None:
            if session.persistent:
                session.offline_since = self._clock()
            else:
                del self._sessions[link.client_id]
        message = link.options.will
        if will and message is not None and self._running:
            self._route(
                BrokerMessage(
                    message.topic,
                    message.payload,
                    message.qos,
                    message.retain,
                    link.client_id,
                    None,
                    self._clock(),
                )
            )

    def _refused(self, topic_or_filter: str, *, publish: bool) -> bool:
        for matcher, on_publish, on_subscribe in self._denied:
            if (on_publish if publish else on_subscribe) and matcher.matches(topic_or_filter):
                return True
        return False

    def receive_publish(self, link: BrokerLink, message: BrokerMessage) -> None:
        """A PUBLISH from ``link``'s client (raises :class:`TransportRefusedError` when denied)."""
        if self._refused(message.topic, publish=True):
            if link.v5 and message.qos > 0:
                raise TransportRefusedError(NOT_AUTHORIZED, reason_name(NOT_AUTHORIZED))
            return
        self._route(message)

    def receive_subscribe(
        self, link: BrokerLink, filters: Sequence[tuple[str, int]], identifier: int | None
    ) -> list[int]:
        """A SUBSCRIBE from ``link``'s client; returns the SUBACK's granted QoS / reason codes."""
        session = self._sessions[link.client_id]
        identifier = identifier if link.v5 else None
        ids = (identifier,) if identifier is not None else ()
        granted: list[int] = []
        now = self._clock()
        for topic_filter, qos in filters:
            matcher = TopicFilter(topic_filter)
            if self._refused(matcher.match_filter, publish=False):
                granted.append(NOT_AUTHORIZED if link.v5 else UNSPECIFIED_ERROR)
                continue
            session.subscriptions[topic_filter] = _Subscription(matcher, qos, identifier)
            granted.append(qos)
            if matcher.share_group is not None:
                continue  # shared subscriptions get no retained messages
            for retained in list(self._retained.values()):
                if _expired(retained, now):
                    self._retained.pop(retained.topic, None)
                elif matcher.matches(retained.topic):
                    link.put(_incoming(retained, min(retained.qos, qos), True, link.v5, now, ids))
        return granted

    def receive_unsubscribe(self, link: BrokerLink, filters: Sequence[str]) -> None:
        """An UNSUBSCRIBE from ``link``'s client."""
        session = self._sessions[link.client_id]
        for topic_filter in filters:
            session.subscriptions.pop(topic_filter, None)

    # ------------------------------------------------------------------ routing

    def _route(self, message: BrokerMessage) -> None:
        self.log.append(message)
        if message.retain:
            if message.payload:
                self._retained[message.topic] = message
            else:
                self._retained.pop(message.topic, None)
        shared: dict[str, list[tuple[_Session, _Subscription]]] = {}
        for session in list(self._sessions.values()):
            plain: list[_Subscription] = []
            for topic_filter, sub in session.subscriptions.items():
                if not sub.matcher.matches(message.topic):
                    continue
                if sub.matcher.share_group is None:
                    plain.append(sub)
                else:
                    shared.setdefault(topic_filter, []).append((session, sub))
            if not plain:
                continue
            if session.v5:  # one copy per subscription
                for sub in plain:
                    ids = (sub.identifier,) if sub.identifier is not None else ()
                    self._deliver(session, min(message.qos, sub.qos), ids, message)
            else:  # one copy at the highest QoS granted
                self._deliver(session, min(message.qos, max(s.qos for s in plain)), (), message)
        for topic_filter, members in sorted(shared.items()):
            online = [m for m in members if m[0].client_id in self._links] or members
            turn = self._turns.get(topic_filter, 0)
            self._turns[topic_filter] = turn + 1
            session, sub = online[turn % len(online)]
            ids = (sub.identifier,) if sub.identifier is not None else ()
            self._deliver(session, min(message.qos, sub.qos), ids, message)

    def _deliver(
        self, session: _Session, qos: int, ids: tuple[int, ...], message: BrokerMessage
    ) -> None:
        link = self._links.get(session.client_id)
        if link is not None:
            link.put(_incoming(message, qos, False, link.v5, self._clock(), ids))
        elif session.persistent and qos > 0:
            session.pending.append((replace(message, qos=qos), ids))


def _expired(message: BrokerMessage, now: float) -> bool:
    props = message.properties
    if props is None or props.message_expiry_interval is None:
        return False
    return now - message.received_at >= props.message_expiry_interval


def _incoming(
    message: BrokerMessage,
    qos: int,
    retain: bool,
    v5: bool,
    now: float,
    ids: tuple[int, ...] = (),
) -> IncomingMessage:
    if not v5:
        return IncomingMessage(message.topic, message.payload, qos, retain)
    props = message.properties
    if props is not None and props.message_expiry_interval is not None:
        waited = int(now - message.received_at)
        props = replace(
            props, message_expiry_interval=max(props.message_expiry_interval - waited, 1)
        )
    return IncomingMessage(message.topic, message.payload, qos, retain, props or None, ids)


class MemoryTransport:
    """A :class:`~mqttwire.transport.Transport` on a :class:`MemoryBroker`."""

    def __init__(self, broker: MemoryBroker) -> None:
        self.broker = broker
        self._link: BrokerLink | None = None

    def __repr__(self) -> str:
        state = "connected" if self._link is not None and self._link.open else "down"
        return f"MemoryTransport({state})"

    @property
    def native(self) -> object | None:
        return self if self._link is not None and self._link.open else None

    def _require(self) -> BrokerLink:
        link = self._link
        if link is None or not link.open:
            raise TransportDisconnectedError("not connected")
        return link

    async def connect(self, options: ConnectOptions) -> None:
        await asyncio.sleep(0)
        if self._link is not None:
            self.broker.detach(self._link, will=False)
        self._link = self.broker.attach(options)

    async def publish(
        self,
        topic: str,
        payload: bytes,
        qos: int,
        retain: bool,
        ack_timeout: float,
        *,
        properties: MessageProperties | None = None,
    ) -> None:
        await asyncio.sleep(0)
        link = self._require()
        try:
            validate_topic_name(topic)
        except InvalidTopicError:
            self.broker.detach(link, will=True)  # a broker closes the link on bad topics
            raise TransportDisconnectedError(
                f"broker closed the link: bad topic {topic!r}"
            ) from None
        message = BrokerMessage(
            topic,
            bytes(payload),
            qos,
            retain,
            link.client_id,
            properties if link.v5 and properties else None,
            self.broker.now(),
        )
        self.broker.receive_publish(link, message)

    async def subscribe(
        self,
        filters: Sequence[tuple[str, int]],
        ack_timeout: float,
        *,
        subscription_id: int | None = None,
    ) -> list[int]:
        await asyncio.sleep(0)
        link = self._require()
        for topic_filter, _qos in filters:
            validate_topic_filter(topic_filter)
        return self.broker.receive_subscribe(link, filters, subscription_id)

    async def unsubscribe(self, filters: Sequence[str], ack_timeout: float) -> None:
        await asyncio.sleep(0)
        self.broker.receive_unsubscribe(self._require(), filters)

    def ack(self, message: IncomingMessage) -> None:
        """The in-memory broker delivers on receipt: nothing to acknowledge."""

    async def messages(self) -> AsyncIterator[IncomingMessage]:
        link = self._link
        if link is None:
            return
        for message in _drain(link):
            yield message
        while link.open:
            link.wakeup.clear()
            await link.wakeup.wait()
            for message in _drain(link):
                yield message

    def abort(self) -> None:
        """Drop the link without a DISCONNECT, as a crash would: the broker sends the will."""
        if self._link is not None:
            self.broker.detach(self._link, will=True)

    async def disconnect(self, ack_timeout: float) -> None:
        link, self._link = self._link, None
        if link is not None:
            self.broker.detach(link, will=False)


def _drain(link: BrokerLink) -> Iterator[IncomingMessage]:
    inbox = link.inbox
    while inbox and link.open:
        yield inbox.popleft()
