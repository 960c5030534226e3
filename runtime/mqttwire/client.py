"""``MQTTClient``: one supervised connection, offline buffering, isolated handlers, health.

Delivery guarantees (what a caller can rely on):

* ``publish`` with QoS 0 while the link is up hands the message to the connection and returns:
  it is written, in order, with the other messages of the same event-loop turn (one system call
  for a burst). It waits only while the connection's outgoing buffer is full (the socket does
  not take data; bounded, then :class:`PublishTimeoutError` after ``publish_timeout``). A message
  handed over just before the link drops may be lost, as QoS 0 allows. While the link is down it
  is dropped and counted (``metrics.dropped_qos0_offline``) unless ``offline_queue_qos0`` is set.
* ``publish`` with QoS >= 1 while the link is up waits for the broker's acknowledgement (at most
  ``publish_timeout``, then :class:`PublishTimeoutError`). While the link is down, or if the link
  drops before the acknowledgement, the message goes into the ordered offline queue and is sent
  again after reconnecting with the same bytes (so the same envelope id: receivers with dedupe see
  it once). A full queue raises :class:`OfflineQueueFullError`.
* Handlers registered before ``connect`` are subscribed with the first CONNECT, so with
  ``clean_session=False`` they receive what the broker kept for the session while we were away.
* With ``protocol="5"``, ``properties`` (user properties, content type, message expiry,
  response topic, correlation data) travel with each message and reach handlers in
  :class:`MessageMeta`; a broker refusal (PUBACK reason code >= 0x80) raises
  :class:`PublishError` with ``reason_code``. On 3.1.1 properties are dropped.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Mapping
from dataclasses import replace
from types import TracebackType
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

from mqttwire.config import MQTTClientConfig
from mqttwire.dedupe import MessageDeduplicator
from mqttwire.dispatch import DeadLetterHandler, Dispatcher, Handler, RetryPolicy, Subscription
from mqttwire.envelope import encode_envelope
from mqttwire.errors import (
    MQTTWireError,
    NotConnectedError,
    PublishError,
    PublishTimeoutError,
    QoSNotGrantedError,
    SubscribeError,
)
from mqttwire.health import encode_health, health_topic, keepalive_topic
from mqttwire.link import WATCHDOG_INTERVALS, LinkContext, SubscriptionIds
from mqttwire.meta import MessageMeta
from mqttwire.metrics import ClientMetrics
from mqttwire.observability import Telemetry, instrumentation_for
from mqttwire.offline_queue import OutgoingMessage
from mqttwire.outbox import POISON_STRIKES, Outbox
from mqttwire.reason_codes import reason_name
from mqttwire.safe_log import shown
from mqttwire.state import ClientState
from mqttwire.supervisor import Supervisor
from mqttwire.topic_filter import validate_topic_filter, validate_topic_name
from mqttwire.transport import (
    MessageProperties,
    Transport,
    TransportDisconnectedError,
    TransportError,
    TransportRefusedError,
    TransportTimeoutError,
)
from mqttwire.url import ConnectionParams

if TYPE_CHECKING:
    from mqttwire.observability.tracing import Instrumentation

__all__ = ["POISON_STRIKES", "WATCHDOG_INTERVALS", "MQTTClient"]

_LOG = logging.getLogger("mqttwire.client")

_TOPIC_CACHE_MAX = 1024
_STATES_ACCEPTING_OFFLINE = frozenset(
    {ClientState.CONNECTING, ClientState.CONNECTED, ClientState.RECONNECTING}
)


def _default_transport() -> Transport:
    from mqttwire.paho_transport import PahoTransport

    return PahoTransport()


class MQTTClient:
    """An asyncio MQTT client that keeps itself connected.

    ``connect()`` makes the first connection (failure raises :class:`ConnectError`, or
    :class:`AuthenticationError` for refused credentials) and starts a supervisor task that
    reconnects with exponential backoff and jitter, resubscribes every filter and flushes the
    offline queue. ``shutdown()`` is the graceful end; ``disconnect()`` just closes the link.

    ``transport`` replaces the paho-mqtt transport (see :mod:`mqttwire.transport`), e.g. with an
    in-memory one in tests. ``telemetry`` turns OpenTelemetry on with these providers (else
    ``MQTT_OTEL=true`` with the global ones; see :mod:`mqttwire.observability`).
    """

    def __init__(
        self,
        config: MQTTClientConfig,
        *,
        transport: Transport | None = None,
        telemetry: Telemetry | None = None,
    ) -> None:
        self._config = config
        self._telemetry = instrumentation_for(config, telemetry)
        self._transport: Transport = transport if transport is not None else _default_transport()
        self._metrics = ClientMetrics()
        self._dispatcher = Dispatcher(
            self._metrics,
            config.handler_queue_size,
            self._telemetry,
            queue_bytes=config.handler_queue_bytes,
        )
        self._outbox = Outbox(config, self._metrics, self._record_error)
        self._source = config.source_name or config.client_id
        self._health_topic = health_topic(config.effective_health_name)
        context = LinkContext(
            config=config,
            transport=self._transport,
            dispatcher=self._dispatcher,
            metrics=self._metrics,
            dedupe=(
                MessageDeduplicator(config.dedupe_ttl, config.dedupe_max_entries)
                if config.dedupe_ttl > 0
                else None
            ),
            subscription_ids=SubscriptionIds(),
            source=self._source,
            health_topic=self._health_topic,
            keepalive_topic=keepalive_topic(config.client_id),
            report=self._record_error,
        )
        self._supervisor = Supervisor(context, self._outbox)
        self.last_error: MQTTWireError | None = self._outbox.moved_aside
        self._valid_topics: set[str] = set()
        if self._telemetry is not None:
            self._telemetry.watch_client(self)

    # ------------------------------------------------------------------ properties

    @classmethod
    def from_env(cls, **overrides: Any) -> MQTTClient:
        """A client configured from the ``MQTT_*`` environment variables; keyword ``overrides``
        (``client_id="tars-tts"``, any config field) win over them."""
        return cls(MQTTClientConfig.from_env(**overrides))

    @property
    def config(self) -> MQTTClientConfig:
        return self._config

    @property
    def client_id(self) -> str:
        return self._config.client_id

    @property
    def source_name(self) -> str:
        """The envelope ``source``: ``source_name`` or else the client id."""
        return self._source

    @property
    def health_topic(self) -> str:
        """``system/health/{health_name or client_id}``: health, will and ``publish_health``."""
        return self._health_topic

    @property
    def state(self) -> ClientState:
        return self._supervisor.state

    @property
    def protocol(self) -> str:
        """``"3.1.1"`` or ``"5"`` (MQTT 5 carries message properties)."""
        return self._config.protocol

    @property
    def connected(self) -> bool:
        return self._supervisor.state is ClientState.CONNECTED

    @property
    def broker(self) -> ConnectionParams:
        """The broker of the current link (while disconnected: the one tried next).

        With several brokers in ``MQTT_URL`` this changes on failover.
        """
        return self._supervisor.params

    @property
    def brokers(self) -> tuple[ConnectionParams, ...]:
        """Every broker of ``MQTT_URL``, in the order they are tried."""
        return self._config.connections

    @property
    def client(self) -> Any:
        """The underlying ``paho.mqtt.client.Client`` while connected (escape hatch), else
        ``None``."""
        return self._transport.native

    @property
    def metrics(self) -> ClientMetrics:
        return self._metrics

    @property
    def telemetry(self) -> Instrumentation | None:
        """The OpenTelemetry hooks of this client, ``None`` when telemetry is off."""
        return self._telemetry

    @property
    def subscriptions(self) -> tuple[Subscription, ...]:
        return self._dispatcher.subscriptions

    @property
    def offline_queue_length(self) -> int:
        return len(self._outbox)

    def add_state_listener(self, callback: Callable[[ClientState], None]) -> None:
        """Call ``callback(state)`` on every state change (synchronously; keep it short)."""
        self._supervisor.add_listener(callback)

    def remove_state_listener(self, callback: Callable[[ClientState], None]) -> None:
        self._supervisor.remove_listener(callback)

    def _record_error(self, error: MQTTWireError) -> None:
        self.last_error = error

    # ------------------------------------------------------------------ lifecycle

    async def __aenter__(self) -> MQTTClient:
        await self.connect()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.shutdown()

    async def connect(self) -> None:
        """Connect and start supervising the link. Idempotent while connected.

        Raises :class:`ConnectError` (naming host and port) when the first attempt fails, or
        keeps retrying with backoff when ``connect_retry`` is set. Fatal refusals raise at once in
        both modes: :class:`AuthenticationError` for credentials/authorization, otherwise a
        :class:`ConnectError` with ``fatal=True`` (client id rejected, TLS setup).
        """
        await self._supervisor.start()

    async def disconnect(self) -> None:
        """Close the link cleanly (no will) and stop reconnecting; subscriptions stay registered."""
        supervisor = self._supervisor
        if not supervisor.started:
            supervisor.set_state(ClientState.DISCONNECTED)
            return
        supervisor.set_state(ClientState.DISCONNECTING)
        await supervisor.stop()
        supervisor.set_state(ClientState.DISCONNECTED)

    async def shutdown(self) -> None:
        """Graceful, idempotent end of the client.

        Lets handlers finish their queued messages, stops accepting publishes, sends what is in
        the offline queue, publishes the retained health ``shutdown`` (when health is enabled),
        then disconnects cleanly so the broker does not fire the will. Bounded by
        ``shutdown_timeout``; handlers still running after it are cancelled, and messages still
        queued are logged as not sent. After ``shutdown`` the client cannot connect again.
        """
        supervisor, outbox = self._supervisor, self._outbox
        if supervisor.closed:
            return
        supervisor.closed = True
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._config.shutdown_timeout
        # Handlers may still publish replies, so they go first; but a stuck handler must not
        # eat the time promised to queued messages.
        budget = self._config.shutdown_timeout
        await self._dispatcher.drain(budget / 2 if outbox else budget)
        outbox.accepting = False
        while outbox.busy and supervisor.running:
            if loop.time() >= deadline:
                break
            if supervisor.link_up and not outbox.flushing:
                try:
                    async with asyncio.timeout(max(0.0, deadline - loop.time())):
                        await supervisor.flush()
                except (TransportError, TimeoutError):
                    pass
                except Exception:
                    _LOG.exception("shutdown: offline queue flush failed")
                    await asyncio.sleep(0.02)
            else:
                await asyncio.sleep(0.02)
        if outbox and outbox.location is not None:
            _LOG.warning(
                "shutdown: %d queued message(s) not sent; kept in %s for the next start",
                len(outbox),
                outbox.location,
            )
        elif outbox:
            _LOG.warning("shutdown: %d queued message(s) not sent (dropped)", len(outbox))
        if self._config.enable_health and supervisor.link_up:
            payload = encode_health(False, source=self._source, event="shutdown")
            with contextlib.suppress(TransportError):
                await self._transport.publish(
                    self._health_topic,
                    payload,
                    1,
                    True,
                    max(0.5, min(self._config.publish_timeout, deadline - loop.time())),
                )
        if supervisor.started:
            supervisor.set_state(ClientState.DISCONNECTING)
            await supervisor.stop()
        unhandled = self._dispatcher.pending
        if unhandled:
            _LOG.warning("shutdown: %d received message(s) not handled (dropped)", unhandled)
        await self._dispatcher.close()
        outbox.close()
        supervisor.set_state(ClientState.DISCONNECTED)

    async def run_until_signal(self) -> int:
        """Connect (unless connected), serve until SIGINT or SIGTERM, then :meth:`shutdown`.

        Returns the signal number. SIGTERM (what service managers send) is handled as Ctrl-C:
        drained handlers, the queue sent, health ``shutdown``, no last will.
        """
        from mqttwire.signals import run_until_signal

        return int(await run_until_signal(self.connect, self.shutdown))

    def force_reconnect(self) -> None:
        """Drop the current link and reconnect (e.g. after an application-level health check)."""
        self._supervisor.force_reconnect()

    # ------------------------------------------------------------------ publish

    async def publish(
        self,
        topic: str,
        payload: bytes,
        *,
        qos: int = 0,
        retain: bool = False,
        properties: MessageProperties | None = None,
    ) -> None:
        """Publish raw bytes. See the module docstring for the delivery guarantees.

        ``properties`` are MQTT 5 message properties, ignored on 3.1.1 links.
        """
        if self._telemetry is not None:
            await self._telemetry.publish(self._publish, topic, payload, qos, retain, properties)
            return
        await self._publish(topic, payload, qos, retain, properties)

    async def _publish(
        self,
        topic: str,
        payload: bytes,
        qos: int,
        retain: bool,
        properties: MessageProperties | None,
    ) -> None:
        if qos not in (0, 1, 2):
            raise PublishError(topic, f"qos must be 0, 1 or 2, got {qos!r}", qos=qos)
        if topic not in self._valid_topics:
            validate_topic_name(topic)
            if len(self._valid_topics) >= _TOPIC_CACHE_MAX:
                self._valid_topics.clear()
            self._valid_topics.add(topic)
        outbox, supervisor = self._outbox, self._supervisor
        if not outbox.accepting:
            raise NotConnectedError("publish", "shutting down")
        if self._config.protocol != "5" or not properties:
            properties = None
        link = supervisor.link
        if qos == 2:
            supervisor.uses_qos2 = True
            if link is not None and link.up:
                await link.check_qos(topic, qos)
                link = supervisor.link
        if link is not None and link.up and (qos == 0 or not outbox.busy):
            seq = (
                outbox.track(OutgoingMessage(topic, payload, qos, retain, properties, _now()))
                if qos
                else 0
            )
            try:
                await link.send(
                    topic, payload, qos, retain, properties, self._config.publish_timeout
                )
                return
            except TransportDisconnectedError:
                if qos == 0:
                    self._metrics.dropped_qos0_offline += 1
                    return
                # Sent, maybe delivered, not acknowledged: resend the same bytes after reconnect.
                outbox.requeue_inflight()
                return
            except TransportRefusedError as exc:
                self._metrics.publish_refused += 1
                raise PublishError(
                    topic,
                    f"refused by broker: {exc.reason} ({exc.reason_code:#04x})",
                    qos=qos,
                    reason_code=exc.reason_code,
                ) from None
            except TransportTimeoutError:
                self._metrics.publish_timeouts += 1
                raise PublishTimeoutError(topic, self._config.publish_timeout, qos=qos) from None
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                # The MQTT library rejected the message itself (e.g. paho's ValueError).
                if isinstance(exc, TransportError):
                    raise PublishError(topic, shown(exc), qos=qos) from None
                self._metrics.publish_failed += 1
                raise PublishError(
                    topic, f"cannot be sent: {type(exc).__name__}: {shown(exc)}", qos=qos
                ) from None
            finally:
                if seq:
                    outbox.release(seq)
        if supervisor.state not in _STATES_ACCEPTING_OFFLINE:
            raise NotConnectedError("publish", supervisor.state.value)
        if qos == 0 and not self._config.offline_queue_qos0:
            self._metrics.dropped_qos0_offline += 1
            return
        outbox.put(OutgoingMessage(topic, payload, qos, retain, properties, _now()))

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
    ) -> str:
        """Wrap ``data`` in the TARS envelope and publish it; returns the envelope id.

        On MQTT 5 the envelope's ``type``, ``id`` and ``source`` are mirrored as user properties
        (before any in ``properties``), so brokers and tools can route on them without parsing.
        """
        message_id, payload = encode_envelope(
            event_type, data, source=self._source, correlation_id=correlation_id
        )
        if self._config.protocol == "5":
            base = properties if properties is not None else MessageProperties()
            mirrored = (("type", event_type), ("id", message_id), ("source", self._source))
            properties = replace(base, user_properties=mirrored + base.user_properties)
        if self._telemetry is not None:
            await self._telemetry.publish(
                self._publish, topic, payload, qos, retain, properties, message_id, correlation_id
            )
        else:
            await self._publish(topic, payload, qos, retain, properties)
        return message_id

    async def publish_health(
        self, ok: bool, *, event: str | None = None, error: str | None = None
    ) -> None:
        """Publish the retained ``health.status`` on :attr:`health_topic` at QoS 1.

        Does nothing when health is disabled (``enable_health`` false), like the deployed client.
        """
        if not self._config.enable_health:
            _LOG.debug("publish_health(ok=%s) ignored: health is disabled", ok)
            return
        payload = encode_health(ok, source=self._source, event=event, error=error)
        await self.publish(self._health_topic, payload, qos=1, retain=True)

    # ------------------------------------------------------------------ subscribe

    def dead_letter_topic(self, topic: str, *, qos: int = 1) -> DeadLetterHandler:
        """A :class:`RetryPolicy` ``dead_letter`` that republishes the failed message's payload,
        unchanged, to ``topic`` (through this client, so it is queued while offline)."""
        validate_topic_name(topic)

        async def forward(payload: bytes, meta: MessageMeta, error: Exception) -> None:
            await self.publish(topic, payload, qos=qos)

        return forward

    async def subscribe(
        self,
        topic_filter: str,
        handler: Handler,
        *,
        qos: int = 0,
        order_group: str | None = None,
        retry: RetryPolicy | None = None,
    ) -> Subscription:
        """Run ``handler`` for every message matching ``topic_filter``.

        ``handler`` is ``async (payload: bytes)`` or ``async (payload: bytes, meta: MessageMeta)``.
        It may be registered before ``connect``; every filter is resubscribed on each connect.
        Each subscription has its own bounded queue and worker (see :mod:`mqttwire.dispatch`),
        so there is no order between subscriptions; subscriptions with the same
        ``order_group`` share one queue and worker and are handled in arrival order.
        ``retry`` says what happens when the handler raises (default: logged, counted, done).
        """
        if qos not in (0, 1, 2):
            raise SubscribeError(topic_filter, f"qos must be 0, 1 or 2, got {qos!r}")
        validate_topic_filter(topic_filter)
        before = self._dispatcher.filters().get(topic_filter)
        sub = self._dispatcher.add(
            topic_filter, handler, qos, order_group=order_group, retry=retry or RetryPolicy()
        )
        link = self._supervisor.link
        if link is not None and link.up and (before is None or qos > before):
            try:
                granted = await link.broker_subscribe([(topic_filter, qos)])
            except TransportDisconnectedError:
                return sub  # resubscribed on reconnect
            except TransportTimeoutError:
                await self._dispatcher.remove(sub)
                raise SubscribeError(topic_filter, "no SUBACK in time") from None
            if granted and granted[0] >= 0x80:
                await self._dispatcher.remove(sub)
                self._metrics.subscribe_failures += 1
                code = granted[0]
                raise SubscribeError(
                    topic_filter,
                    f"refused by broker: {reason_name(code)} ({code:#04x})",
                    reason_code=code,
                )
            if granted and granted[0] < qos:
                # The broker lacks this QoS: fail now rather than deliver less than asked.
                code = granted[0]
                link.learn_max_qos(code)
                self._metrics.subscribe_failures += 1
                if await self._dispatcher.remove(sub) and before is None:
                    await link.unsubscribe(topic_filter)
                raise QoSNotGrantedError(
                    topic_filter, requested_qos=qos, granted_qos=code, broker=link.broker
                )
            if granted and qos == 2:
                link.learn_max_qos(2)
        return sub

    async def unsubscribe(self, subscription: Subscription) -> None:
        """Stop ``subscription`` (queued messages are dropped); unsubscribe the filter when unused."""
        last = await self._dispatcher.remove(subscription)
        link = self._supervisor.link
        if last and link is not None and link.up:
            await link.unsubscribe(subscription.topic_filter)

    # ------------------------------------------------------------------ misc

    def __repr__(self) -> str:
        return (
            f"MQTTClient(client_id={self.client_id!r}, broker={self.broker}, "
            f"state={self.state.value})"
        )


def _now() -> float:
    return asyncio.get_running_loop().time()
