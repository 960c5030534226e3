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
from functools import partial
from types import TracebackType
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

from mqttwire.backoff import Backoff
from mqttwire.config import MQTTClientConfig
from mqttwire.dedupe import MessageDeduplicator
from mqttwire.dispatch import DeadLetterHandler, Dispatcher, Handler, RetryPolicy, Subscription
from mqttwire.envelope import encode_envelope
from mqttwire.errors import (
    AuthenticationError,
    BrokerLimitError,
    ConnectError,
    MQTTWireError,
    NotConnectedError,
    ProtocolNotSupportedError,
    PublishError,
    PublishTimeoutError,
    QoSNotGrantedError,
    QoSNotSupportedError,
    SubscribeError,
)
from mqttwire.health import (
    WILL_ERROR,
    WILL_EVENT,
    encode_health,
    encode_heartbeat,
    health_topic,
    keepalive_topic,
)
from mqttwire.meta import MessageMeta
from mqttwire.metrics import ClientMetrics
from mqttwire.observability import Telemetry, instrumentation_for
from mqttwire.observability.logs import log_fields
from mqttwire.offline_queue import OutgoingMessage
from mqttwire.outbox_store import open_outbox
from mqttwire.reason_codes import reason_name
from mqttwire.safe_log import RateLimitedLog, shown
from mqttwire.state import ClientState
from mqttwire.topic_filter import validate_topic_filter, validate_topic_name
from mqttwire.transport import (
    ConnectOptions,
    IncomingMessage,
    MessageProperties,
    TLSOptions,
    Transport,
    TransportConnectError,
    TransportDisconnectedError,
    TransportError,
    TransportRefusedError,
    TransportTimeoutError,
    WillMessage,
)
from mqttwire.url import ConnectionParams

if TYPE_CHECKING:
    from mqttwire.observability.tracing import Instrumentation

__all__ = ["MQTTClient"]

_LOG = logging.getLogger("mqttwire.client")
_STALL_LOG = RateLimitedLog(_LOG)

# The watchdog reconnects after this many heartbeat intervals without our own heartbeat coming
# back; checked four times per interval, so a dead link is found within 2.75 intervals.
WATCHDOG_INTERVALS = 2.5
_FLUSH_WINDOW = 64
# A queued message is dropped as poison when the link died this many times in a row while it was
# the only message in flight (sent alone after a failed window): the broker refuses it by closing
# the connection, and resending it forever would block every message behind it.
POISON_STRIKES = 3
_TOPIC_CACHE_MAX = 1024
# CONNACK codes for "unacceptable protocol version": 3.1.1 return code 1, MQTT 5 reason 0x84.
_PROTOCOL_REFUSED = frozenset({1, 0x84})
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
        # Failover: the brokers of MQTT_URL in order; _params is the one we use now.
        self._connections = config.connections
        self._broker_index = 0
        self._params = self._connections[0]
        self._round_errors: list[ConnectError] = []
        # Highest QoS the broker of the current link grants (learned from SUBACKs), or None.
        self._broker_max_qos: int | None = None
        self._uses_qos2 = False
        self._last_link_broker: ConnectionParams | None = None
        self._transport: Transport = transport if transport is not None else _default_transport()
        self._metrics = ClientMetrics()
        self._dispatcher = Dispatcher(
            self._metrics,
            config.handler_queue_size,
            self._telemetry,
            queue_bytes=config.handler_queue_bytes,
        )
        self._offline = open_outbox(config)  # memory, or the file of offline_queue_path
        self._dedupe = (
            MessageDeduplicator(config.dedupe_ttl, config.dedupe_max_entries)
            if config.dedupe_ttl > 0
            else None
        )
        self._source = config.source_name or config.client_id
        self._health_topic = health_topic(config.effective_health_name)
        self._keepalive_topic = keepalive_topic(config.client_id)
        self._state = ClientState.CREATED
        self._listeners: list[Callable[[ClientState], None]] = []
        self._supervisor: asyncio.Task[None] | None = None
        self._first_result: asyncio.Future[None] | None = None
        self._stop = asyncio.Event()
        self._wake = asyncio.Event()
        self._link_up = False
        self._flushing = False
        self._connected_once = False
        self._accepting = True
        self._shutdown_done = False
        self._auth_error: ConnectError | None = None
        self._last_heartbeat_seen = 0.0
        self._failures_in_row = 0
        self._short_links = 0
        self._subscription_ids: dict[str, int] = {}  # MQTT 5: broker filter -> identifier
        self._filters_by_id: dict[int, str] = {}
        self.last_error: MQTTWireError | None = self._offline.moved_aside
        # Live QoS >= 1 publishes awaiting their ack, in call order: requeued together, in order,
        # when the link drops (each caller learning of it separately would reverse them).
        self._inflight: dict[int, OutgoingMessage] = {}
        self._inflight_seq = 0
        # Poison detection (see POISON_STRIKES): the message at the head of a failed flush.
        self._suspect: OutgoingMessage | None = None
        self._strikes = 0
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
        return self._state

    @property
    def protocol(self) -> str:
        """``"3.1.1"`` or ``"5"`` (MQTT 5 carries message properties)."""
        return self._config.protocol

    @property
    def connected(self) -> bool:
        return self._state is ClientState.CONNECTED

    @property
    def broker(self) -> ConnectionParams:
        """The broker of the current link (while disconnected: the one tried next).

        With several brokers in ``MQTT_URL`` this changes on failover.
        """
        return self._params

    @property
    def brokers(self) -> tuple[ConnectionParams, ...]:
        """Every broker of ``MQTT_URL``, in the order they are tried."""
        return self._connections

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
        return len(self._offline)

    def add_state_listener(self, callback: Callable[[ClientState], None]) -> None:
        """Call ``callback(state)`` on every state change (synchronously; keep it short)."""
        self._listeners.append(callback)

    def remove_state_listener(self, callback: Callable[[ClientState], None]) -> None:
        with contextlib.suppress(ValueError):
            self._listeners.remove(callback)

    def _set_state(self, state: ClientState) -> None:
        if state is self._state:
            return
        self._state = state
        for callback in list(self._listeners):
            try:
                callback(state)
            except Exception:
                _LOG.exception("state listener %r failed", callback)

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
        if self._shutdown_done:
            raise NotConnectedError("connect", "shut down")
        if self._supervisor is not None and not self._supervisor.done():
            if self._first_result is not None:
                await asyncio.shield(self._first_result)
            return
        loop = asyncio.get_running_loop()
        self._stop.clear()
        self._wake.clear()
        self._accepting = True
        self._connected_once = False
        self._first_result = loop.create_future()
        self._set_state(ClientState.CONNECTING)
        self._supervisor = loop.create_task(
            self._supervise(), name=f"mqttwire-supervisor[{self.client_id}]"
        )
        try:
            await asyncio.shield(self._first_result)
        except asyncio.CancelledError:
            await self._stop_supervisor()
            self._set_state(ClientState.DISCONNECTED)
            raise

    async def disconnect(self) -> None:
        """Close the link cleanly (no will) and stop reconnecting; subscriptions stay registered."""
        if self._supervisor is None:
            self._set_state(ClientState.DISCONNECTED)
            return
        self._set_state(ClientState.DISCONNECTING)
        await self._stop_supervisor()
        self._set_state(ClientState.DISCONNECTED)

    async def shutdown(self) -> None:
        """Graceful, idempotent end of the client.

        Lets handlers finish their queued messages, stops accepting publishes, sends what is in
        the offline queue, publishes the retained health ``shutdown`` (when health is enabled),
        then disconnects cleanly so the broker does not fire the will. Bounded by
        ``shutdown_timeout``; handlers still running after it are cancelled, and messages still
        queued are logged as not sent. After ``shutdown`` the client cannot connect again.
        """
        if self._shutdown_done:
            return
        self._shutdown_done = True
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._config.shutdown_timeout
        # Handlers may still publish replies, so they go first; but a stuck handler must not
        # eat the time promised to queued messages.
        budget = self._config.shutdown_timeout
        await self._dispatcher.drain(budget / 2 if self._offline else budget)
        self._accepting = False
        while (
            (self._offline or self._flushing)
            and self._supervisor is not None
            and not self._supervisor.done()
        ):
            if loop.time() >= deadline:
                break
            if self._link_up and not self._flushing:
                try:
                    async with asyncio.timeout(max(0.0, deadline - loop.time())):
                        await self._flush()
                except (TransportError, TimeoutError):
                    pass
                except Exception:
                    _LOG.exception("shutdown: offline queue flush failed")
                    await asyncio.sleep(0.02)
            else:
                await asyncio.sleep(0.02)
        if self._offline and self._offline.location is not None:
            _LOG.warning(
                "shutdown: %d queued message(s) not sent; kept in %s for the next start",
                len(self._offline),
                self._offline.location,
            )
        elif self._offline:
            _LOG.warning("shutdown: %d queued message(s) not sent (dropped)", len(self._offline))
        if self._config.enable_health and self._link_up:
            payload = encode_health(False, source=self._source, event="shutdown")
            with contextlib.suppress(TransportError):
                await self._transport.publish(
                    self._health_topic,
                    payload,
                    1,
                    True,
                    max(0.5, min(self._config.publish_timeout, deadline - loop.time())),
                )
        if self._supervisor is not None:
            self._set_state(ClientState.DISCONNECTING)
            await self._stop_supervisor()
        unhandled = self._dispatcher.pending
        if unhandled:
            _LOG.warning("shutdown: %d received message(s) not handled (dropped)", unhandled)
        await self._dispatcher.close()
        self._offline.close()
        self._set_state(ClientState.DISCONNECTED)

    async def run_until_signal(self) -> int:
        """Connect (unless connected), serve until SIGINT or SIGTERM, then :meth:`shutdown`.

        Returns the signal number. SIGTERM (what service managers send) is handled as Ctrl-C:
        drained handlers, the queue sent, health ``shutdown``, no last will.
        """
        from mqttwire.signals import run_until_signal

        return int(await run_until_signal(self.connect, self.shutdown))

    async def _stop_supervisor(self) -> None:
        supervisor = self._supervisor
        self._stop.set()
        self._wake.set()
        if supervisor is not None:
            try:
                await asyncio.wait_for(asyncio.shield(supervisor), self._config.connect_timeout + 2)
            except (TimeoutError, asyncio.CancelledError):
                supervisor.cancel()
                await asyncio.gather(supervisor, return_exceptions=True)
        self._supervisor = None
        self._link_up = False
        await self._transport.disconnect(1.0)

    # ------------------------------------------------------------------ supervisor

    def _connect_options(self) -> ConnectOptions:
        config, params = self._config, self._params
        will = None
        if config.enable_health:
            will = WillMessage(
                self._health_topic,
                encode_health(False, source=self._source, event=WILL_EVENT, error=WILL_ERROR),
                qos=1,
                retain=True,
            )
        tls = None
        if config.uses_tls(params):
            tls = TLSOptions(
                config.tls_ca_file, config.tls_cert_file, config.tls_key_file, config.tls_insecure
            )
        return ConnectOptions(
            host=params.host,
            port=params.port,
            client_id=config.client_id,
            username=params.username,
            password=params.password,
            keepalive=config.keepalive,
            clean_session=config.clean_session,
            protocol=config.protocol,
            session_expiry=config.session_expiry,
            tls=tls,
            will=will,
            timeout=config.connect_timeout,
            manual_ack=config.ack_after_handler,
        )

    def _resolve_first(self, error: BaseException | None) -> None:
        future = self._first_result
        if future is None or future.done():
            return
        if error is None:
            future.set_result(None)
        else:
            future.set_exception(error)

    async def _sleep(self, delay: float) -> None:
        """Sleep unless asked to stop."""
        if delay <= 0:
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stop.wait(), delay)

    async def _supervise(self) -> None:
        config = self._config
        backoff = Backoff(config.reconnect_min_delay, config.reconnect_max_delay)
        loop = asyncio.get_running_loop()
        held_after = max(config.reconnect_max_delay, 1.0)
        brokers = len(self._connections)
        tried = 0  # brokers tried since the last backoff sleep (failover: one round = all)
        fatal_in_round = False
        try:
            while not self._stop.is_set():
                try:
                    await self._transport.connect(self._connect_options())
                except TransportConnectError as exc:
                    tried += 1
                    if not self._on_connect_failure(exc, round_done=tried >= brokers):
                        return
                    fatal_in_round = fatal_in_round or (
                        isinstance(self.last_error, ConnectError) and self.last_error.fatal
                    )
                    self._next_broker()
                    if tried < brokers:
                        continue  # the next broker of the list, at once
                    tried = 0
                    delay = backoff.next_delay()
                    if fatal_in_round:
                        delay = max(delay, config.reconnect_max_delay)
                    fatal_in_round = False
                    await self._sleep(max(delay, config.reconnect_min_delay))
                    continue
                tried = 0
                fatal_in_round = False
                if self._stop.is_set():
                    return
                started = loop.time()
                reason = "link lost"
                try:
                    await self._link_established()
                    reason = await self._run_link()
                except TransportError as exc:
                    reason = f"link lost during setup: {exc}"
                except BrokerLimitError as exc:
                    # Only raised while setting up the first link (connect() reports it).
                    self.last_error = exc
                    self._set_state(ClientState.DISCONNECTED)
                    self._resolve_first(exc)
                    await self._transport.disconnect(1.0)
                    return
                finally:
                    self._link_up = False
                if self._stop.is_set():
                    return
                lasted = loop.time() - started
                if lasted >= held_after:
                    backoff.reset()
                    self._short_links = 0
                elif lasted < 1.0 and reason == "link lost":
                    self._short_links += 1
                    if self._short_links == 3:
                        _LOG.warning(
                            "MQTT connection %s dropped right after connecting 3 times in a "
                            "row; is another client using client id %r? backing off",
                            self._params,
                            self.client_id,
                        )
                self._metrics.reconnects += 1
                self._set_state(ClientState.RECONNECTING)
                _LOG.info("MQTT link to %s down (%s); reconnecting", self._params, reason)
                await self._transport.disconnect(1.0)
                self._next_broker()
                await self._sleep(backoff.next_delay())
        except Exception as exc:
            _LOG.exception("MQTT supervisor failed")
            self._resolve_first(exc)
            self._set_state(ClientState.DISCONNECTED)
        finally:
            self._link_up = False
            if not self._connected_once:
                self._resolve_first(
                    ConnectError(self._params.host, self._params.port, "connect cancelled")
                )

    def _next_broker(self) -> None:
        """Failover: the next broker of ``MQTT_URL`` (round robin; a no-op for one broker)."""
        if len(self._connections) > 1:
            self._broker_index = (self._broker_index + 1) % len(self._connections)
            self._params = self._connections[self._broker_index]

    def _connect_error(self, exc: TransportConnectError) -> ConnectError:
        """The typed error for a failed attempt on the current broker."""
        host, port = self._params.host, self._params.port
        protocol = self._config.protocol
        if exc.authentication:
            return AuthenticationError(host, port, exc.reason, fatal=True)
        if exc.code in _PROTOCOL_REFUSED:
            hint = "; set MQTT_PROTOCOL=3.1.1" if protocol == "5" else ""
            return ProtocolNotSupportedError(
                host,
                port,
                f"the broker does not support MQTT {protocol} (CONNACK {exc.code:#04x}: "
                f"unacceptable protocol version){hint}",
                protocol=protocol,
            )
        if exc.closed_before_connack and protocol == "5":
            return ProtocolNotSupportedError(
                host,
                port,
                "the broker closed the connection in reply to an MQTT 5 CONNECT without a "
                "CONNACK: it does not support MQTT 5 (RabbitMQ before 3.13 does this); set "
                "MQTT_PROTOCOL=3.1.1",
                protocol=protocol,
            )
        return ConnectError(host, port, exc.reason, fatal=exc.fatal)

    def _on_connect_failure(self, exc: TransportConnectError, *, round_done: bool = True) -> bool:
        """Record a failed attempt; False when the supervisor should give up.

        With several brokers, the first ``connect()`` gives up only after trying each of them
        once (``round_done``); it then raises the first fatal error, else the first error.
        """
        self._metrics.connect_failures += 1
        error = self._connect_error(exc)
        self.last_error = error
        self._round_errors.append(error)
        if round_done:
            errors, self._round_errors = self._round_errors, []
            if not self._connected_once and (
                any(e.fatal for e in errors) or not self._config.connect_retry
            ):
                chosen = next((e for e in errors if e.fatal), errors[0])
                if len(errors) > 1:
                    _LOG.error(
                        "no MQTT broker of %d reachable: %s",
                        len(errors),
                        "; ".join(str(e) for e in errors),
                    )
                self.last_error = chosen
                self._set_state(ClientState.DISCONNECTED)
                self._resolve_first(chosen)
                return False
        if error.fatal:
            if self._auth_error is None:
                self._auth_error = error
                _LOG.error("%s; retrying every %gs", error, self._config.reconnect_max_delay)
        elif self._failures_in_row == 0:
            _LOG.warning("%s; retrying with backoff", error)
        else:
            _LOG.debug("%s", error)
        self._failures_in_row += 1
        self._set_state(
            ClientState.RECONNECTING if self._connected_once else ClientState.CONNECTING
        )
        return True

    async def _link_established(self) -> None:
        """Resubscribe, announce health, go CONNECTED, flush the offline queue."""
        config = self._config
        self._broker_max_qos = None  # learned again for every link: failover may change broker
        if self._last_link_broker is not None and self._last_link_broker != self._params:
            self._metrics.failovers += 1
            _LOG.warning("MQTT failover: %s -> %s", self._last_link_broker, self._params)
        self._last_link_broker = self._params
        filters = self._dispatcher.filters()
        if config.enable_heartbeat:
            filters.setdefault(self._keepalive_topic, 0)
        await self._subscribe_all(filters)
        reconnect = self._connected_once
        self._metrics.connects += 1
        if config.enable_health:
            await self._transport.publish(
                self._health_topic,
                encode_health(
                    True, source=self._source, event="reconnected" if reconnect else "ready"
                ),
                1,
                True,
                config.publish_timeout,
            )
        self._auth_error = None
        self._link_up = True
        self._connected_once = True
        self._last_heartbeat_seen = asyncio.get_running_loop().time()
        # subscribe() calls made while we were setting up saw the link down: catch them up.
        missing = {
            topic_filter: qos
            for topic_filter, qos in self._dispatcher.filters().items()
            if filters.get(topic_filter, -1) < qos
        }
        await self._subscribe_all(missing)
        if self._uses_qos2 and self._broker_max_qos is None:
            await self._probe_max_qos()  # before the offline queue is flushed
        self._set_state(ClientState.CONNECTED)
        self._resolve_first(None)
        self._failures_in_row = 0
        if reconnect:
            _LOG.info("MQTT reconnected to %s", self._params)

    async def _subscribe_all(self, filters: dict[str, int]) -> None:
        if not filters:
            return
        items = list(filters.items())
        granted = await self._broker_subscribe(items)
        for (topic_filter, qos), code in zip(items, granted, strict=False):
            if code >= 0x80:
                self._metrics.subscribe_failures += 1
                _LOG.error(
                    "broker refused subscription %r (code %#x)",
                    topic_filter,
                    code,
                    extra=log_fields(subscription=topic_filter),
                )
            elif code < qos:
                # Never a silent downgrade: the first connect fails, later links log it.
                self._learn_max_qos(code)
                self._metrics.subscribe_failures += 1
                error = QoSNotGrantedError(
                    topic_filter, requested_qos=qos, granted_qos=code, broker=str(self._params)
                )
                self.last_error = error
                if not self._connected_once:
                    raise error
                _LOG.error("%s", error)
            elif qos == 2:
                self._learn_max_qos(2)

    def _learn_max_qos(self, granted: int) -> None:
        if self._broker_max_qos is None or granted < self._broker_max_qos:
            self._broker_max_qos = granted

    async def _probe_max_qos(self) -> int | None:
        """Ask the broker for QoS 2 on a private filter; its SUBACK tells its maximum QoS.

        MQTT 3.1.1 has no other way to learn it (NATS closes the link on a QoS 2 PUBLISH,
        RabbitMQ silently downgrades it). ``None`` when the link is down; a refused probe
        (ACL) counts as "QoS 2 available" since nothing better is known.
        """
        probe = f"mqttwire/qos-probe/{self.client_id}"
        timeout = self._config.publish_timeout
        try:
            granted = await self._transport.subscribe([(probe, 2)], timeout)
        except TransportError:
            return None
        code = granted[0] if granted else 0x80
        if code >= 0x80:
            _LOG.debug("QoS probe refused by %s (code %#x)", self._params, code)
            code = 2
        self._learn_max_qos(code)
        with contextlib.suppress(TransportError):
            await self._transport.unsubscribe([probe], timeout)
        return self._broker_max_qos

    async def _check_qos(self, topic: str, qos: int) -> None:
        """Raise :class:`QoSNotSupportedError` when the broker of this link lacks ``qos``."""
        self._uses_qos2 = True
        limit = self._broker_max_qos
        if limit is None:
            limit = await self._probe_max_qos()
        if limit is not None and limit < qos:
            raise QoSNotSupportedError(topic, qos=qos, max_qos=limit, broker=str(self._params))

    def _within_broker_limits(self, batch: list[OutgoingMessage]) -> list[OutgoingMessage]:
        """Drop queued messages above the broker's QoS (logged, counted, ``last_error``)."""
        limit = self._broker_max_qos
        if limit is None or limit >= 2:
            return batch
        kept: list[OutgoingMessage] = []
        for message in batch:
            if message.qos <= limit:
                kept.append(message)
                continue
            self._metrics.qos_unsupported += 1
            self._offline.done([message])
            error = QoSNotSupportedError(
                message.topic, qos=message.qos, max_qos=limit, broker=str(self._params)
            )
            self.last_error = error
            _LOG.error("queued message dropped: %s", error, extra=log_fields(topic=message.topic))
        return kept

    async def _broker_subscribe(self, items: list[tuple[str, int]]) -> list[int]:
        """SUBSCRIBE and return the granted QoS (or failure code) per filter.

        On MQTT 5 each filter gets its own packet and subscription identifier: a v5 broker sends
        one copy of a message per matching subscription, and the identifier says which handlers
        a copy is for (see :meth:`_read`). On 3.1.1 one packet and one copy per message.
        """
        timeout = self._config.publish_timeout
        if self._config.protocol != "5":
            return await self._transport.subscribe(items, timeout)
        ids = self._subscription_ids
        for topic_filter, _qos in items:
            if topic_filter not in ids:
                ids[topic_filter] = len(ids) + 1
                self._filters_by_id[ids[topic_filter]] = topic_filter
        results = await asyncio.gather(
            *(
                self._transport.subscribe([item], timeout, subscription_id=ids[item[0]])
                for item in items
            )
        )
        return [granted[0] if granted else 0x80 for granted in results]

    async def _flush(self) -> None:
        """Send the offline queue in order, a window at a time; requeue on failure."""
        if self._flushing:
            return
        self._flushing = True
        timeout = self._config.publish_timeout
        try:
            while self._offline and self._link_up:
                window = 1 if self._suspect is not None else _FLUSH_WINDOW
                batch = self._within_broker_limits(self._unexpired(self._offline.take(window)))
                acked = [False] * len(batch)
                try:
                    results = await asyncio.gather(
                        *(self._send_queued(m, timeout, acked, i) for i, m in enumerate(batch)),
                        return_exceptions=True,
                    )
                except asyncio.CancelledError:
                    # The link went down and its tasks were cancelled mid-window: what was taken
                    # from the queue and not acknowledged goes back, or it would be lost.
                    unacked = [m for i, m in enumerate(batch) if not acked[i]]
                    self._offline.done(m for i, m in enumerate(batch) if acked[i])
                    self._metrics.offline_flushed += len(batch) - len(unacked)
                    unacked = self._after_failed_window(batch, unacked)
                    self._offline.put_front(unacked)
                    self._metrics.publish_retries += len(unacked)
                    raise
                self._offline.done(
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
                    self._offline.put_front(failed)
                    self._metrics.publish_retries += len(failed)
                    # Not acknowledged although the link looked up: treat the link as dead.
                    self._wake.set()
                    raise TransportDisconnectedError("offline queue flush interrupted")
        finally:
            self._flushing = False

    def _after_failed_window(
        self, batch: list[OutgoingMessage], unacked: list[OutgoingMessage]
    ) -> list[OutgoingMessage]:
        """Poison detection: what of ``unacked`` goes back to the queue.

        The first unacknowledged message of a window cut by a lost link becomes the suspect and
        is sent alone next time; when the link dies :data:`POISON_STRIKES` times in a row while
        it is alone in flight, it is dropped (logged, counted, :attr:`last_error`).
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
                error = PublishError(
                    head.topic,
                    f"the broker closed the connection each of the {POISON_STRIKES} times this "
                    "message was sent alone; dropped so the messages behind it can go",
                    qos=head.qos,
                )
                self.last_error = error
                _LOG.error(
                    "queued message on %s (%d bytes) dropped as poison: the link died %d times "
                    "in a row while it was the only message in flight",
                    shown(head.topic),
                    len(head.payload),
                    POISON_STRIKES,
                )
                self._offline.done([head])
                return unacked[1:]
        elif suspect is None or not _same_message(head, suspect):
            self._suspect, self._strikes = head, 1 if len(batch) == 1 else 0
        return unacked

    def _drop_unsendable(self, message: OutgoingMessage, error: Exception) -> None:
        """A queued message the MQTT library rejects outright: drop it, never the queue."""
        self._metrics.publish_failed += 1
        self._offline.done([message])
        self.last_error = PublishError(
            message.topic, f"cannot be sent: {shown(error)}", qos=message.qos
        )
        _LOG.error(
            "queued message on %s dropped: the MQTT library rejected it (%s: %s)",
            shown(message.topic),
            type(error).__name__,
            shown(error),
        )

    async def _send_queued(
        self, m: OutgoingMessage, ack_timeout: float, acked: list[bool], index: int
    ) -> None:
        """Send one queued message; ``acked[index]`` tells a cancelled flush what got through."""
        await self._send(m.topic, m.payload, m.qos, m.retain, m.properties, ack_timeout)
        acked[index] = True

    def _unexpired(self, batch: list[OutgoingMessage]) -> list[OutgoingMessage]:
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
                self._offline.done([message])
                continue
            kept.append(
                message._replace(
                    properties=replace(props, message_expiry_interval=left), queued_at=now
                )
            )
        return kept

    async def _send(
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

    async def _flush_in_background(self) -> None:
        """Flush after (re)connect; never ends the link by itself, only wakes the supervisor."""
        try:
            await self._flush()
        except TransportError as exc:
            _LOG.info("offline queue flush interrupted: %s", exc)
        except Exception:
            _LOG.exception("offline queue flush failed")
        await asyncio.Event().wait()  # stay pending: only the other tasks end the link

    async def _run_link(self) -> str:
        """Serve the live link until it drops, the watchdog fires or we are asked to stop."""
        loop = asyncio.get_running_loop()
        self._wake.clear()
        if self._stop.is_set():
            return "stop"
        tasks = [
            loop.create_task(self._read(), name="mqttwire-reader"),
            loop.create_task(self._wake.wait(), name="mqttwire-wake"),
        ]
        if self._config.enable_heartbeat:
            tasks.append(loop.create_task(self._heartbeat(), name="mqttwire-heartbeat"))
        flush = loop.create_task(self._flush_in_background(), name="mqttwire-flush")
        tasks.append(flush)
        try:
            done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        if tasks[0] in done:
            return "link lost"
        if self._config.enable_heartbeat and tasks[2] in done and not tasks[2].cancelled():
            return "watchdog"
        return "stop" if self._stop.is_set() else "forced reconnect"

    async def _read(self) -> None:
        metrics = self._metrics
        dispatch = self._dispatcher.dispatch
        dedupe = self._dedupe
        keepalive = self._keepalive_topic
        message: IncomingMessage
        by_id = self._filters_by_id
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

    async def _heartbeat(self) -> None:
        """Publish heartbeats; return when our own heartbeats stop coming back.

        A check that runs much later than scheduled means the event loop itself was blocked
        (e.g. a handler calling ``time.sleep``): echoes may be waiting unread in the socket, so
        the watchdog logs a stall and re-arms instead of declaring a healthy link dead.
        """
        interval = self._config.heartbeat_interval
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
                self._metrics.loop_stalls += 1
                _STALL_LOG.warning(
                    "stall",
                    "event loop stalled for %.1fs (a handler blocking it?); MQTT watchdog "
                    "re-armed instead of judging the link",
                    late,
                )
                self._last_heartbeat_seen = now
            elif now - self._last_heartbeat_seen > limit:
                self._metrics.watchdog_reconnects += 1
                _LOG.warning(
                    "MQTT watchdog: no heartbeat echo for %.1fs from %s; forcing reconnect",
                    now - self._last_heartbeat_seen,
                    self._params,
                )
                return
            if now >= next_beat:
                next_beat = now + interval
                try:
                    await self._transport.publish(
                        self._keepalive_topic, encode_heartbeat(), 0, False, interval
                    )
                    self._metrics.heartbeats_sent += 1
                except TransportError:
                    pass
            await asyncio.sleep(tick)

    def force_reconnect(self) -> None:
        """Drop the current link and reconnect (e.g. after an application-level health check)."""
        self._wake.set()

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
        if not self._accepting:
            raise NotConnectedError("publish", "shutting down")
        if self._config.protocol != "5" or not properties:
            properties = None
        if qos == 2 and self._link_up:
            await self._check_qos(topic, qos)
        elif qos == 2:
            self._uses_qos2 = True
        if self._link_up and (qos == 0 or not (self._offline or self._flushing)):
            seq = 0
            if qos:
                # A durable store writes it down first: a crash before the ack resends it.
                seq = self._inflight_seq = self._inflight_seq + 1
                self._inflight[seq] = self._offline.track(
                    OutgoingMessage(topic, payload, qos, retain, properties, self._now())
                )
            try:
                await self._send(
                    topic, payload, qos, retain, properties, self._config.publish_timeout
                )
                return
            except TransportDisconnectedError:
                if qos == 0:
                    self._metrics.dropped_qos0_offline += 1
                    return
                # Sent, maybe delivered, not acknowledged: resend the same bytes after reconnect.
                self._requeue_inflight()
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
                # Acknowledged, refused or given up: no longer held (a requeued one is
                # back in the offline queue and no longer in _inflight).
                held = self._inflight.pop(seq, None) if seq else None
                if held is not None:
                    self._offline.done([held])
        if self._state not in _STATES_ACCEPTING_OFFLINE:
            raise NotConnectedError("publish", self._state.value)
        if qos == 0 and not self._config.offline_queue_qos0:
            self._metrics.dropped_qos0_offline += 1
            return
        self._offline.put(OutgoingMessage(topic, payload, qos, retain, properties, self._now()))
        self._metrics.offline_queued += 1

    def _requeue_inflight(self) -> None:
        """The link dropped under live publishes: every one not acknowledged goes back to the
        head of the offline queue in call order (first caller to notice moves them all)."""
        if not self._inflight:
            return
        messages = list(self._inflight.values())
        self._inflight.clear()
        self._offline.put_front(messages)
        self._metrics.publish_retries += len(messages)

    @staticmethod
    def _now() -> float:
        return asyncio.get_running_loop().time()

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
        sub = self._dispatcher.add(topic_filter, handler, qos, order_group, retry or RetryPolicy())
        if self._link_up and (before is None or qos > before):
            try:
                granted = await self._broker_subscribe([(topic_filter, qos)])
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
                self._learn_max_qos(code)
                self._metrics.subscribe_failures += 1
                if await self._dispatcher.remove(sub) and before is None:
                    with contextlib.suppress(TransportError):
                        await self._transport.unsubscribe(
                            [topic_filter], self._config.publish_timeout
                        )
                raise QoSNotGrantedError(
                    topic_filter, requested_qos=qos, granted_qos=code, broker=str(self._params)
                )
            if granted and qos == 2:
                self._learn_max_qos(2)
        return sub

    async def unsubscribe(self, subscription: Subscription) -> None:
        """Stop ``subscription`` (queued messages are dropped); unsubscribe the filter when unused."""
        last = await self._dispatcher.remove(subscription)
        if last and self._link_up:
            with contextlib.suppress(TransportError):
                await self._transport.unsubscribe(
                    [subscription.topic_filter], self._config.publish_timeout
                )

    # ------------------------------------------------------------------ misc

    def __repr__(self) -> str:
        return f"MQTTClient(client_id={self.client_id!r}, broker={self._params}, state={self._state.value})"


def _same_message(a: OutgoingMessage, b: OutgoingMessage) -> bool:
    return a.topic == b.topic and a.payload == b.payload
