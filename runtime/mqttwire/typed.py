"""The typed layer that generated clients call. Behaviour lives here; generated code is data.

A generated package describes each channel once as a :class:`ChannelSpec` (topic template,
message models and event types, QoS/retain, envelope or bare JSON, MQTT 5 expiry, share group)
and subclasses :class:`TypedClient` with thin, fully typed ``publish_*`` / ``subscribe_*`` /
``on_*`` / ``request_*`` / ``stream_*`` / ``serve_*`` wrappers around the protected methods below.

Incoming messages are decoded (envelope first, bare JSON fallback on enveloped channels),
validated against the channel's models, and only valid payloads reach handlers; invalid ones
are counted (:attr:`TypedClient.stats`) and logged with the topic and the reason. All of that
is the client's :class:`~mqttwire.codec.Codec`. A client made by
``mqttwire.testing.for_testing`` has a *strict* codec: invalid payloads, in or out, raise
:class:`PayloadValidationError` and handler errors are kept for the test to re-raise.

On MQTT 5 every publish carries the contract's content type, payload format indicator and
message expiry; envelope metadata is mirrored in user properties (see ``MQTTClient``).
Request/reply lives in :mod:`mqttwire.requests`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping
from dataclasses import replace
from datetime import UTC, datetime
from types import TracebackType
from typing import TYPE_CHECKING, Any, Literal, Protocol, Self, TypedDict, TypeVar

import orjson
from pydantic import BaseModel

from mqttwire.client import MQTTClient
from mqttwire.codec import Codec, TypedStats
from mqttwire.config import MQTTClientConfig
from mqttwire.dispatch import Subscription, require_async
from mqttwire.envelope import new_message_id
from mqttwire.errors import ConfigError, NeedsMQTT5Error
from mqttwire.meta import MessageMeta
from mqttwire.observability import Telemetry
from mqttwire.requests import ReplyRouter
from mqttwire.specs import (
    ChannelSpec,
    InvalidPayload,
    MessageSpec,
    RawMessageSpec,
    RequestSpec,
    StreamingRequestSpec,
)
from mqttwire.specs import outgoing_properties as _outgoing_properties
from mqttwire.topic_template import ParamSpec, TopicTemplate
from mqttwire.transport import MessageProperties

if TYPE_CHECKING:
    from mqttwire.observability.tracing import Instrumentation

__all__ = [
    "ChannelSpec",
    "Codec",
    "EnvelopePublishOptions",
    "Handler",
    "MessageSpec",
    "ParamSpec",
    "PublishOptions",
    "RawClient",
    "RawMessageSpec",
    "RequestSpec",
    "StreamingRequestSpec",
    "Subscription",
    "TopicTemplate",
    "TypedClient",
    "TypedStats",
    "new_uuid4_hex",
    "now_datetime",
    "now_timestamp",
    "omit_none",
]

log = logging.getLogger("mqttwire.typed")

M = TypeVar("M")
Q = TypeVar("Q")
R = TypeVar("R")
S = TypeVar("S")

Handler = Callable[[M, MessageMeta], Awaitable[None]]
"""A typed handler: ``async def handler(payload: M, meta: MessageMeta) -> None``."""


class PublishOptions(TypedDict, total=False):
    """Keyword options of every generated ``publish_*`` method.

    ``qos`` / ``retain`` replace the contract's values for this call (``None`` or absent: the
    contract's); a QoS below the contract's is allowed and logged once per channel.
    """

    qos: Literal[0, 1, 2] | None
    retain: bool | None


class EnvelopePublishOptions(PublishOptions, total=False):
    """:class:`PublishOptions` of a channel whose messages travel in the envelope:
    ``correlation_id`` is set in the envelope (default: none)."""

    correlation_id: str | None


# Default factory for ``x-default-factory: uuid4`` fields: 32 hex characters of a valid random
# UUID4 (``os.urandom`` with the version bits set, 3x cheaper than ``uuid.uuid4().hex``).
new_uuid4_hex = new_message_id


def now_datetime() -> datetime:
    """Default factory for ``x-default-factory: now`` on ``format: date-time`` fields (UTC)."""
    return datetime.now(UTC)


def omit_none(value: object) -> bool:
    """``exclude_if`` of optional fields whose schema does not allow null: an unset field is
    left out of the payload instead of going out as ``null``."""
    return value is None


def now_timestamp() -> float:
    """Default factory for ``x-default-factory: now`` fields (seconds since the epoch)."""
    return time.time()


class RawClient(Protocol):
    """What the typed layer needs from ``mqttwire.MQTTClient``."""

    @property
    def client_id(self) -> str: ...

    @property
    def protocol(self) -> str: ...

    async def connect(self) -> None: ...
    async def disconnect(self) -> None: ...
    async def shutdown(self) -> None: ...

    async def publish(
        self,
        topic: str,
        payload: bytes,
        *,
        qos: int = 0,
        retain: bool = False,
        properties: MessageProperties | None = None,
    ) -> None: ...

    async def publish_event(
        self,
        topic: str,
        event_type: str,
        data: Mapping[str, Any] | BaseModel,
        *,
        correlation_id: str | None = None,
        qos: int = 0,
        retain: bool = False,
        properties: MessageProperties | None = None,
    ) -> str: ...

    async def subscribe(
        self,
        topic_filter: str,
        handler: Callable[[bytes, MessageMeta], Awaitable[None]],
        *,
        qos: int = 0,
        order_group: str | None = None,
    ) -> Subscription: ...

    async def unsubscribe(self, subscription: Subscription) -> None: ...


_CONVENTIONS = (
    ("enable_health", "MQTT_ENABLE_HEALTH", "system/health/{client_id}"),
    ("enable_heartbeat", "MQTT_ENABLE_HEARTBEAT", "system/keepalive/{client_id}"),
)


class TypedClient:
    """Base class of generated clients. Construct with a config, ``from_env()``, ``client=``
    or, for unit tests on an in-memory broker, ``mqttwire.testing.for_testing(Client)``.

    ``response_topic`` is where MQTT 5 responders send replies to this client's requests
    (default ``mqttwire/reply/<client id>``). ``telemetry`` turns OpenTelemetry on for the
    client made from ``config`` (see :mod:`mqttwire.observability`); with ``client=``, pass it
    to that ``MQTTClient`` instead. ``codec`` replaces the client's default (lenient)
    :class:`~mqttwire.codec.Codec`; the request router uses the same one.

    What every generated method shares (each method's docstring gives its topic, QoS and what
    the contract says about it):

    * ``publish_<channel>(payload, *, <topic parameters>, **options)`` publishes a model on
      its channel with the contract's QoS, retain flag, envelope type and MQTT 5 properties, and
      returns the envelope id (``None`` on a bare channel). Topic parameters are keyword
      arguments, validated (no ``/``, ``+``, ``#``, NUL, empty). ``options``
      (:class:`PublishOptions`): ``qos`` / ``retain`` override the contract's values for this
      call (a QoS below the contract's is allowed and logged once per channel); on enveloped
      channels ``correlation_id`` goes into the envelope. Where several messages share a
      payload model, ``event_type`` picks the envelope type (default: the first message of that
      model). ``headers`` (the contract's message headers) travel as MQTT 5 user properties; on
      an MQTT 3.1.1 connection passing them raises ``NeedsMQTT5Error``.
    * ``clear_<channel>(*, <topic parameters>)`` (retained channels) publishes an empty retained
      payload: new subscribers get nothing until the next publish.
    * ``subscribe_<channel>(handler, *, <topic parameters>, share_group=None)`` delivers
      validated messages to ``async def handler(payload, meta)``; invalid ones are counted in
      :attr:`stats` and logged, never handed over. Topic parameters left ``None`` match any value
      (``+``); the actual values are in ``meta.params``. ``share_group`` (else the contract's
      ``x-share-group``) shares the subscription (``$share/<group>/...``): each message goes to
      one member of the group. Returns once the broker acknowledged the subscription when
      connected (else it is made on connect).
    * ``on_<channel>`` is the decorator form of ``subscribe_<channel>`` (all topic parameters);
      the subscription starts in the background (``connect`` and :meth:`wait_subscribed` wait
      for it).
    * ``request_<channel>(payload, *, timeout=30.0, <topic parameters>)`` publishes a request
      and returns the correlated reply declared in the contract (correlation by envelope id, a
      payload field or an MQTT 5 header; on MQTT 5 the reply may also come on this client's
      response topic); raises ``RequestTimeoutError`` after ``timeout`` seconds.
      ``stream_<channel>`` yields the streamed partial replies first and the final reply last;
      ``timeout`` bounds the whole exchange.
    * ``serve_<channel>(handler, *, <topic parameters>, share_group=None)`` answers requests
      with the handler's return value: on the request's MQTT 5 response topic when it has one,
      else on the contract's reply channel, carrying the request's correlation.
    """

    CHANNELS: Mapping[str, ChannelSpec[object]] = {}

    def __init__(
        self,
        config: MQTTClientConfig | None = None,
        *,
        client: RawClient | None = None,
        response_topic: str | None = None,
        telemetry: Telemetry | None = None,
        codec: Codec | None = None,
    ) -> None:
        if client is None:
            config = config if config is not None else MQTTClientConfig.from_env()
            client = MQTTClient(config, telemetry=telemetry)
        elif config is not None or telemetry is not None:
            raise TypeError("pass either a config (and telemetry) or a client, not both")
        self._client: RawClient = client
        self._check_conventions()
        self._telemetry: Instrumentation | None = getattr(client, "telemetry", None)
        self._codec = codec if codec is not None else Codec(telemetry=self._telemetry)
        self._replies = ReplyRouter(
            client,
            self._codec,
            publish=self._publish,
            subscribe=self._subscribe,
            response_topic=response_topic,
            telemetry=self._telemetry,
        )
        self._deferred: list[Callable[[], Awaitable[Any]]] = []
        self._deferred_handlers: list[str] = []  # what on_* registered before any loop ran
        # handlers subscribed before the client ever connected (reported if it never does)
        self._waiting_handlers: dict[str, None] = {}
        self._connect_called = False
        self._order_group: str | None = None
        self._starting: set[asyncio.Task[Any]] = set()
        self._downgrades_logged: set[str] = set()
        if self._telemetry is not None:
            self._telemetry.watch_typed(self, self.CHANNELS.values())

    def _check_conventions(self) -> None:
        """Health and heartbeat are the TARS conventions (enveloped ``health.status`` on
        ``system/health/{client_id}``, ``system/keepalive/{client_id}``): a client whose contract
        does not declare those channels refuses to publish them."""
        config = getattr(self._client, "config", None)
        if not self.CHANNELS or config is None:
            return
        addresses = {spec.address for spec in self.CHANNELS.values()}
        for flag, variable, address in _CONVENTIONS:
            if getattr(config, flag, False) is True and address not in addresses:
                raise ConfigError(
                    variable,
                    f"publishes on {address}, which the contract of {type(self).__name__} does "
                    "not declare (add the channel, or leave it off)",
                    True,
                )

    @classmethod
    def from_env(cls, *, response_topic: str | None = None, **overrides: Any) -> Self:
        """A client configured from the ``MQTT_*`` environment variables; keyword ``overrides``
        (any :class:`MQTTClientConfig` field, e.g. ``client_id="tars-tts"``) win over them, so a
        deployment may set only ``MQTT_URL``."""
        return cls(MQTTClientConfig.from_env(**overrides), response_topic=response_topic)

    @property
    def client(self) -> RawClient:
        """The underlying ``MQTTClient`` (for raw publish/subscribe and health)."""
        return self._client

    @property
    def codec(self) -> Codec:
        """What decodes, validates and encodes this client's payloads (and counts them)."""
        return self._codec

    @property
    def stats(self) -> TypedStats:
        """Counters per channel: received, invalid, late replies, cleared retained topics."""
        return self._codec.stats

    @property
    def subscribing(self) -> bool:
        """True while subscriptions started by ``on_*`` decorators are not yet in place."""
        return bool(self._starting)

    @property
    def mqtt5(self) -> bool:
        """True when the client speaks MQTT 5 (properties, response topics)."""
        return getattr(self._client, "protocol", "3.1.1") == "5"

    @property
    def response_topic(self) -> str:
        """Where MQTT 5 responders send the replies to this client's requests."""
        return self._replies.response_topic

    @property
    def requests_in_flight(self) -> int:
        """Requests still waiting for their reply."""
        return self._replies.in_flight

    async def connect(self) -> None:
        """Connect; subscriptions started by decorators are in place when this returns."""
        self._connect_called = True
        deferred, self._deferred = self._deferred, []
        self._deferred_handlers = []
        for start in deferred:
            await start()
        await self.wait_subscribed()
        await self._client.connect()

    async def wait_subscribed(self) -> None:
        """Wait for the subscriptions that ``on_*`` decorators started in the background (after
        ``connect``, until the broker acknowledged them); re-raises their errors."""
        while self._starting:
            await asyncio.gather(*list(self._starting))

    async def disconnect(self) -> None:
        await self._client.disconnect()

    async def shutdown(self) -> None:
        self._report_unsubscribed()
        self._replies.cancel_all()
        await self._client.shutdown()

    def _never_connected(self) -> bool:
        metrics = getattr(self._client, "metrics", None)  # MQTTClient's; a stand-in may lack it
        return not self._connect_called and getattr(metrics, "connects", 0) == 0

    def _report_unsubscribed(self) -> None:
        """Handlers registered (``on_*`` or ``subscribe_*``) on a client that never connected
        never ran: say so at shutdown or when the client is dropped (typically the handlers were
        registered on another client than the one connected, or ``connect`` was forgotten)."""
        deferred, self._deferred_handlers = self._deferred_handlers, []
        waiting, self._waiting_handlers = self._waiting_handlers, {}
        names = list(dict.fromkeys([*deferred, *(waiting if self._never_connected() else ())]))
        if names:
            log.warning(
                "%s never connected: %d handler(s) registered with on_*/subscribe_* never "
                "received anything: %s",
                type(self).__name__,
                len(names),
                ", ".join(names),
            )

    def __del__(self) -> None:
        with contextlib.suppress(Exception):  # a finalizer never raises (interpreter exit)
            self._report_unsubscribed()

    @contextlib.contextmanager
    def ordered(self, group: str) -> Iterator[None]:
        """Subscriptions made inside (``subscribe_*`` calls and ``on_*`` decorators) share one
        queue and worker: their messages are handled one at a time, in arrival order across
        channels. Outside a group each subscription has its own queue (no order between them)."""
        previous, self._order_group = self._order_group, group
        try:
            yield
        finally:
            self._order_group = previous

    async def run_until_signal(self) -> int:
        """Connect (unless connected), serve until SIGINT or SIGTERM, then :meth:`shutdown`;
        returns the signal number (see :func:`mqttwire.signals.run_until_signal`)."""
        from mqttwire.signals import run_until_signal

        return int(await run_until_signal(self.connect, self.shutdown))

    async def __aenter__(self) -> Self:
        await self.connect()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.shutdown()

    def take_errors(self) -> list[BaseException]:
        """Errors of handlers and invalid payloads kept by a strict codec (and forget them)."""
        return self._codec.take_errors()

    # -- publish -----------------------------------------------------------------------------
    async def _publish(
        self,
        spec: ChannelSpec[M],
        payload: M,
        params: Mapping[str, str],
        *,
        correlation_id: str | None = None,
        event_type: str | None = None,
        topic: str | None = None,
        extra: MessageProperties | None = None,
        headers: BaseModel | None = None,
        qos: int | None = None,
        retain: bool | None = None,
    ) -> str | None:
        """Publish a model on its channel; returns the envelope id (``None`` for bare JSON).

        ``event_type`` picks one of several message names that share the payload's model;
        ``topic`` replaces the channel's (a response topic) or, on a channel without address,
        is the topic (required, validated); ``extra`` adds MQTT 5 properties;
        ``headers`` (the message's declared headers) become MQTT 5 user properties.
        ``qos`` / ``retain`` replace the contract's values for this call (``None``: the
        contract's); a QoS below the contract's is allowed and logged once per channel.
        """
        if headers is not None:
            extra = self._with_headers(spec, headers, extra)
        topic = spec.topic_for(params, topic)
        if qos is None:
            qos = spec.publish_qos
        elif qos < spec.publish_qos:
            self._note_downgrade(spec, qos)
        if retain is None:
            retain = spec.publish_retain
        message, model = self._codec.outgoing(spec, payload, event_type, topic)
        enveloped = spec.enveloped(message)
        if correlation_id is not None and not enveloped:
            # the generated signature offers correlation_id= only on enveloped channels: an
            # untyped caller is told, rather than the id being dropped on the way
            raise TypeError(
                f"correlation_id= on channel {spec.name}: its messages travel without the "
                "envelope, which is where the correlation id goes (the contract decides)"
            )
        properties = _outgoing_properties(spec, message, extra) if self.mqtt5 else None
        optional: dict[str, Any] = {"properties": properties} if properties else {}
        if enveloped:
            return await self._client.publish_event(
                topic,
                message.event_type,
                self._codec.envelope_data(model),
                correlation_id=correlation_id,
                qos=qos,
                retain=retain,
                **optional,
            )
        await self._client.publish(
            topic, self._codec.body(message, model), qos=qos, retain=retain, **optional
        )
        return None

    async def _clear(
        self, spec: ChannelSpec[object], params: Mapping[str, str], *, topic: str | None = None
    ) -> None:
        """Clear the retained message of a retained channel: an empty retained payload
        (``topic``: the topic of a channel without address)."""
        await self._client.publish(
            spec.topic_for(params, topic), b"", qos=spec.publish_qos, retain=True
        )

    def _with_headers(
        self, spec: ChannelSpec[object], headers: BaseModel, extra: MessageProperties | None
    ) -> MessageProperties:
        if not self.mqtt5:
            raise NeedsMQTT5Error(spec.name, "message headers")
        values = headers.model_dump(mode="json", by_alias=True, exclude_none=True)
        pairs = tuple(
            (str(k), v if isinstance(v, str) else orjson.dumps(v).decode())
            for k, v in values.items()
        )
        base = extra if extra is not None else MessageProperties()
        return replace(base, user_properties=base.user_properties + pairs)

    def _note_downgrade(self, spec: ChannelSpec[object], qos: int) -> None:
        """Log (once per channel) that a publish asked for less than the contract's QoS."""
        if spec.name in self._downgrades_logged:
            return
        self._downgrades_logged.add(spec.name)
        log.warning(
            "publishing on channel %s at QoS %d, below the contract's QoS %d "
            "(logged once per channel)",
            spec.name,
            qos,
            spec.publish_qos,
        )

    async def _subscribe(
        self,
        spec: ChannelSpec[M],
        handler: Handler[M],
        filters: Mapping[str, str | None] | None = None,
        *,
        share_group: str | None = None,
        order_group: str | None = None,
        topic_filter: str | None = None,
    ) -> Subscription:
        """Subscribe a typed handler; only valid payloads reach it.

        ``topic_filter`` is the filter of a channel without address (required there).

        ``share_group`` (else the contract's ``x-share-group``) makes it a shared subscription:
        the broker gives each message to one member of the group. Returns once the broker
        acknowledged the subscription when connected (else it is made on connect).
        """
        require_async(handler, spec.name)
        topic_filter = spec.subscription_filter(filters, share_group, topic_filter)
        codec = self._codec

        async def on_raw(payload: bytes, meta: MessageMeta) -> None:
            if not payload and (meta.retain or spec.publish_retain):
                codec.stats.cleared[spec.name] += 1  # clears the retained topic: not a message
                return
            try:
                model, full_meta = codec.decode(spec, payload, meta)
            except InvalidPayload as exc:
                error = codec.reject(spec, meta, exc)
                codec.keep(error)
                if codec.strict:
                    raise error from None
                return
            codec.stats.received[spec.name] += 1
            if self._telemetry is not None:
                self._telemetry.annotate(spec.name, full_meta)
            try:
                await handler(model, full_meta)
            except Exception as exc:
                codec.keep(exc)
                raise

        # errors are logged under the user's handler, not this wrapper
        on_raw.__qualname__ = getattr(handler, "__qualname__", type(handler).__qualname__)
        if self._never_connected():
            self._waiting_handlers[f"{on_raw.__qualname__} ({spec.name})"] = None
        group = order_group or self._order_group
        if group is not None:
            return await self._client.subscribe(
                topic_filter, on_raw, qos=spec.subscribe_qos, order_group=group
            )
        return await self._client.subscribe(topic_filter, on_raw, qos=spec.subscribe_qos)

    def _on(
        self, spec: ChannelSpec[M], filters: Mapping[str, str | None] | None = None
    ) -> Callable[[Handler[M]], Handler[M]]:
        """Decorator form of :meth:`_subscribe`; the subscription starts in the background
        (``connect`` and :meth:`wait_subscribed` wait for it)."""

        if spec.topic is None:
            raise TypeError(f"channel {spec.name} has no address: subscribe with a topic_filter")

        def register(handler: Handler[M]) -> Handler[M]:
            require_async(handler, spec.name)
            label = f"{getattr(handler, '__qualname__', type(handler).__qualname__)} ({spec.name})"
            group = self._order_group  # the group in force where the decorator is applied
            self._spawn(lambda: self._subscribe(spec, handler, filters, order_group=group), label)
            if self._never_connected():
                self._waiting_handlers[label] = None
            return handler

        return register

    def _spawn(self, start: Callable[[], Awaitable[Any]], label: str = "") -> None:
        """Run ``start`` now (in the background) or, without a running loop, at ``connect()``."""
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            self._deferred.append(start)
            self._deferred_handlers.append(label)
            return

        async def run() -> Any:
            return await start()

        task = loop.create_task(run())
        self._starting.add(task)
        task.add_done_callback(self._starting.discard)

    async def _unsubscribe(self, subscription: Subscription) -> None:
        await self._client.unsubscribe(subscription)

    # -- request / reply (see mqttwire.requests) ----------------------------------------------
    async def _request(
        self,
        spec: RequestSpec[Q, R],
        payload: Q,
        params: Mapping[str, str],
        *,
        timeout: float,  # noqa: ASYNC109 - a deadline for the reply, part of the public API
    ) -> R:
        """Publish ``payload`` and wait for the correlated reply (stream items are skipped)."""
        return await self._replies.request(spec, payload, params, timeout=timeout)

    def _request_stream(
        self,
        spec: StreamingRequestSpec[Q, R, S],
        payload: Q,
        params: Mapping[str, str],
        *,
        timeout: float,
    ) -> AsyncIterator[R | S]:
        """Publish ``payload``; yield each streamed partial reply, then the final reply."""
        return self._replies.stream(spec, payload, params, timeout=timeout)

    async def _serve(
        self,
        spec: RequestSpec[Q, R],
        handler: Callable[[Q, MessageMeta], Awaitable[R]],
        filters: Mapping[str, str | None] | None = None,
        *,
        share_group: str | None = None,
    ) -> Subscription:
        """Answer requests with the handler's reply (see :meth:`ReplyRouter.serve`)."""
        return await self._replies.serve(spec, handler, filters, share_group=share_group)
