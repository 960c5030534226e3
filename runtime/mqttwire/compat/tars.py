"""Drop-in for py-tars' ``tars.adapters.mqtt_client``: the seed's API on mqttwire's runtime.

A service switches one import and keeps its code::

    from mqttwire.compat.tars import MQTTClient, MQTTClientConfig   # was tars.adapters.mqtt_client

Same names, signatures, defaults and wire format as the seed: ``MQTTClient(mqtt_url, client_id,
source_name=None, ...)``, ``publish_event(...) -> str`` (QoS 0, no retain by default, the
correlation id becomes the envelope id), ``publish_health(ok, event=None, err=None)``,
``subscribe(topic, handler, qos=0)`` with ``async def handler(payload: bytes)``,
``wait_for_disconnect()``, ``RuntimeError`` from ``publish_event``/``subscribe`` when not
connected, ``MQTTClientConfig.from_env()``, ``ConnectionParams``, ``parse_mqtt_url``,
``MessageDeduplicator``, ``HeartbeatPayload``, ``Envelope``, ``HealthPing``. Underneath runs
:class:`mqttwire.MQTTClient`, so a connection cycle gains reconnect with backoff, resubscribe,
the offline queue for QoS >= 1 while the link is down and handlers queued per subscription;
with the heartbeat on, a watchdog that reconnects; with health on, a last will on the health
topic and health ``reconnected``.

Where this module follows the specification (py-tars ``specs/004-centralize-mqtt-client``)
instead of what the seed's implementation does, and why:

* ``#`` matches by topic levels (``events/#`` matches ``events`` and ``events/a``, not
  ``eventsX/a``). The seed tested a plain string prefix, delivering foreign topics to handlers.
* ``shutdown()`` ends a connection cycle, not the object: ``connect()`` may follow, and the next
  ``shutdown()`` publishes health and disconnects again. The seed set a permanent flag, so a
  reused object (llm-worker, memory-worker) skipped health and disconnect on later shutdowns and
  its heartbeat stopped at once.
* Reconnecting happens inside the client (backoff ``reconnect_min_delay`` doubling to
  ``reconnect_max_delay``, every subscription of the cycle re-subscribed, health
  ``reconnected``). The seed stored these settings and never reconnected. A lost link is still
  reported to services that run their own loop: ``wait_for_disconnect()`` raises
  :class:`ConnectionLostError` (a ``ConnectionError``) when the link of the current cycle goes
  down, and the service's ``shutdown()`` / ``connect()`` then work as before. The watchdog,
  too, reconnects instead of only closing the link.
* Handlers belong to one connection cycle: ``disconnect()``/``shutdown()`` clear them (the
  service subscribes again after ``connect()``, as services on the seed do). The seed kept
  stale handlers, which could win the wildcard order against the new ones.
* The cross-field config rules are checked whatever fields were given.

Other differences, from the runtime underneath:

* Handlers of different subscriptions run concurrently, each subscription with its own ordered
  queue (the seed awaited every handler in one loop, so a slow handler stalled all topics).
* Subscribing a topic again with the same or a lower QoS replaces the handler without another
  SUBSCRIBE; a higher QoS sends one.
* While the link of a cycle is down and being re-established, ``publish_event`` queues QoS >= 1
  messages (sent after reconnecting) and drops QoS 0 ones instead of raising.
* A failed ``connect()`` raises :class:`mqttwire.ConnectError` (the seed raised the library's
  ``MqttError``, the spec asked for ``ConnectionError``).
* Invalid URL: :class:`InvalidMQTTURLError`, a ``ValueError`` as in the seed.
* ``connected`` is false while the link is down (the seed's flag stayed true until
  ``disconnect()``); ``client`` is the underlying ``paho.mqtt.client.Client`` (the seed's was an
  asyncio-mqtt client).
* The client id may not contain ``/``, ``+``, ``#`` (it is a level of the health and keepalive
  topics); ``ValueError`` at construction.
* Dedupe keys hash the data with a stable digest instead of Python's per-process ``hash()``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from types import TracebackType
from typing import Any

from pydantic import BaseModel

from mqttwire.client import MQTTClient as RuntimeClient
from mqttwire.compat._tars_config import (
    ConnectionParams,
    MQTTClientConfig,
    parse_mqtt_url,
    runtime_config,
)
from mqttwire.compat._tars_errors import (
    ClientNotConnectedError,
    ConnectionLostError,
    InvalidMQTTURLError,
)
from mqttwire.compat._tars_models import (
    Envelope,
    HealthPing,
    HeartbeatPayload,
    MessageDeduplicator,
    SubscriptionHandler,
)
from mqttwire.compat._tars_routing import HandlerTable
from mqttwire.meta import MessageMeta
from mqttwire.state import ClientState

__all__ = [
    "ClientNotConnectedError",
    "ConnectionLostError",
    "ConnectionParams",
    "Envelope",
    "HealthPing",
    "HeartbeatPayload",
    "InvalidMQTTURLError",
    "MQTTClient",
    "MQTTClientConfig",
    "MessageDeduplicator",
    "SubscriptionHandler",
    "parse_mqtt_url",
]

_LOG = logging.getLogger("mqttwire.compat.tars")


class _Cycle:
    """One connect ... disconnect/shutdown; ``ended`` is set when it is over or its link lost."""

    __slots__ = ("closing", "ended", "error", "was_connected")

    def __init__(self) -> None:
        self.closing = False
        self.was_connected = False
        self.ended = asyncio.Event()
        self.error: ConnectionLostError | None = None


class _Route:
    """The runtime handler of one filter: runs the seed handler when the seed's rule picks it.

    The runtime hands a message to every subscription whose filter matches; each route lets it
    through only when its filter is the one the seed's rule selects and it belongs to the
    current cycle, so exactly one handler runs. The client gives each route its lookup and
    dispatch functions (bound methods), so the route needs nothing else of it.
    """

    __slots__ = ("_dispatch", "_handler_for", "qos", "topic_filter")

    def __init__(
        self,
        topic_filter: str,
        qos: int,
        handler_for: Callable[[str], SubscriptionHandler | None],
        dispatch: Callable[[_Route, bytes, str], Awaitable[None]],
    ) -> None:
        self._handler_for = handler_for
        self._dispatch = dispatch
        self.topic_filter = topic_filter
        self.qos = qos

    def __repr__(self) -> str:
        handler = self._handler_for(self.topic_filter)
        name = getattr(handler, "__qualname__", handler)
        return f"{name} (mqttwire.compat.tars, {self.topic_filter!r})"

    async def __call__(self, payload: bytes, meta: MessageMeta) -> None:
        await self._dispatch(self, payload, meta.topic)


async def _ignore(payload: bytes) -> None:
    """Handler of the extra subscription that raises a filter's QoS (see ``subscribe``)."""


class MQTTClient:
    """py-tars' centralized MQTT client, on mqttwire (see the module docstring)."""

    def __init__(
        self,
        mqtt_url: str,
        client_id: str,
        source_name: str | None = None,
        keepalive: int = 60,
        enable_health: bool = False,
        enable_heartbeat: bool = False,
        heartbeat_interval: float = 5.0,
        dedupe_ttl: float = 0.0,
        dedupe_max_entries: int = 0,
        reconnect_min_delay: float = 0.5,
        reconnect_max_delay: float = 5.0,
    ) -> None:
        self._config = MQTTClientConfig(
            mqtt_url=mqtt_url,
            client_id=client_id,
            source_name=source_name,
            keepalive=keepalive,
            enable_health=enable_health,
            enable_heartbeat=enable_heartbeat,
            heartbeat_interval=heartbeat_interval,
            dedupe_ttl=dedupe_ttl,
            dedupe_max_entries=dedupe_max_entries,
            reconnect_min_delay=reconnect_min_delay,
            reconnect_max_delay=reconnect_max_delay,
        )
        self._params = parse_mqtt_url(mqtt_url)
        self._runtime_config = runtime_config(self._config, self._params)
        self._deduplicator = (
            MessageDeduplicator(dedupe_ttl, dedupe_max_entries)
            if dedupe_ttl > 0 and dedupe_max_entries > 0
            else None
        )
        self._handlers = HandlerTable()
        self._routes: dict[str, _Route] = {}
        self._runtime: RuntimeClient | None = None
        self._cycle: _Cycle | None = None
        self._lifecycle = asyncio.Lock()

    def __repr__(self) -> str:
        return f"MQTTClient(client_id={self._config.client_id!r}, broker={self._params!r})"

    # ------------------------------------------------------------------ properties

    @property
    def client(self) -> Any:
        """The underlying ``paho.mqtt.client.Client`` while the link is up, else ``None``."""
        return self._runtime.client if self._runtime is not None else None

    @property
    def connected(self) -> bool:
        """True while the link of the current connection cycle is up."""
        return self._runtime is not None and self._runtime.connected

    @property
    def runtime(self) -> RuntimeClient | None:
        """The :class:`mqttwire.MQTTClient` of the current cycle (``None`` between cycles).

        Step 2 of a migration wraps it: ``TarsClient(client=compat_client.runtime)``.
        """
        return self._runtime

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
        """Start a connection cycle; a no-op while one runs.

        Publishes health ``ready`` when health is on, starts the heartbeat when enabled. Raises
        :class:`mqttwire.ConnectError` when the broker cannot be reached.
        """
        async with self._lifecycle:
            if self._runtime is not None:
                return
            runtime = RuntimeClient(self._runtime_config)
            cycle = _Cycle()
            runtime.add_state_listener(lambda state: self._on_state(cycle, runtime, state))
            try:
                await runtime.connect()
            except BaseException:
                cycle.closing = True
                await runtime.shutdown()
                raise
            self._runtime = runtime
            self._cycle = cycle
            _LOG.info(
                "connected to MQTT broker %s:%d (client_id=%s)",
                self._params.hostname,
                self._params.port,
                self._config.client_id,
            )

    def _on_state(self, cycle: _Cycle, runtime: RuntimeClient, state: ClientState) -> None:
        if state is ClientState.CONNECTED:
            cycle.was_connected = True
            return
        lost = state in (ClientState.RECONNECTING, ClientState.DISCONNECTED)
        if lost and cycle.was_connected and not cycle.closing and not cycle.ended.is_set():
            reason = "link down"
            if state is ClientState.DISCONNECTED:
                reason = str(runtime.last_error or "client stopped")
            cycle.error = ConnectionLostError(self._params.hostname, self._params.port, reason)
            cycle.ended.set()
            _LOG.warning(
                "MQTT link to %s:%d lost; %s",
                self._params.hostname,
                self._params.port,
                "reconnecting" if state is ClientState.RECONNECTING else "stopped",
            )

    async def disconnect(self) -> None:
        """End the cycle: stop handlers and heartbeat, close the link (no health, no will)."""
        async with self._lifecycle:
            runtime = self._runtime
            if runtime is None:
                return
            self._closing()
            try:
                await runtime.disconnect()
                await runtime.shutdown()  # link already closed: just stops the handler workers
            finally:
                self._finish_cycle()

    async def shutdown(self) -> None:
        """Graceful end of the cycle: handlers finish (and may still publish), queued messages
        are sent, health ``shutdown`` is published (when on and the link is up), then the link
        closes. Idempotent; ``connect()`` may start a new cycle afterwards."""
        async with self._lifecycle:
            runtime = self._runtime
            if runtime is None:
                return
            self._closing()
            try:
                await runtime.shutdown()
            finally:
                self._finish_cycle()
            _LOG.info("MQTT client shutdown complete")

    def _closing(self) -> None:
        if self._cycle is not None:
            self._cycle.closing = True  # from here on, the link going down is no loss

    def _finish_cycle(self) -> None:
        self._runtime = None
        self._handlers.clear()
        self._routes.clear()
        if self._cycle is not None:
            self._cycle.ended.set()

    async def wait_for_disconnect(self) -> None:
        """Wait until the current (or last) connection cycle ends.

        Raises :class:`ConnectionLostError` when it ended because the link went down (the
        client keeps reconnecting underneath until ``shutdown()``), returns ``None`` after
        ``disconnect()``/``shutdown()``, and raises ``RuntimeError`` before the first
        ``connect()``.
        """
        cycle = self._cycle
        if cycle is None:
            raise ClientNotConnectedError("wait for disconnect", "never connected")
        await cycle.ended.wait()
        if cycle.error is not None:
            raise cycle.error

    def _require_runtime(self, operation: str) -> RuntimeClient:
        runtime = self._runtime
        if runtime is None:
            raise ClientNotConnectedError(operation, "not connected to the MQTT broker")
        return runtime

    # ------------------------------------------------------------------ publish

    async def publish_event(
        self,
        topic: str,
        event_type: str,
        data: Mapping[str, Any] | BaseModel,
        *,
        correlation_id: str | None = None,
        qos: int = 0,
        retain: bool = False,
    ) -> str:
        """Publish ``data`` in the envelope; returns the envelope id (= ``correlation_id``
        when given). Raises ``RuntimeError`` outside a connection cycle."""
        runtime = self._require_runtime("publish")
        if not isinstance(data, BaseModel | Mapping):
            Envelope(type=event_type, data=data)  # raises ValidationError, as the seed does
        envelope_id = await runtime.publish_event(
            topic, event_type, data, correlation_id=correlation_id, qos=qos, retain=retain
        )
        _LOG.debug(
            "published %s on %r (envelope_id=%s, qos=%d, retain=%s)",
            event_type,
            topic,
            envelope_id,
            qos,
            retain,
        )
        return envelope_id

    async def publish_health(
        self, ok: bool, event: str | None = None, err: str | None = None
    ) -> None:
        """Retained ``health.status`` on ``system/health/{client_id}`` at QoS 1.

        A no-op when health is disabled; logs a warning and returns when the link is down.
        """
        if not self._config.enable_health:
            return
        runtime = self._runtime
        if runtime is None or not runtime.connected:
            _LOG.warning("cannot publish health: not connected")
            return
        await runtime.publish_health(ok, event=event, error=err)

    # ------------------------------------------------------------------ subscribe

    async def subscribe(self, topic: str, handler: SubscriptionHandler, qos: int = 0) -> None:
        """Route messages on ``topic`` (``+``/``#`` allowed) to ``async handler(payload)``.

        One handler per topic string: subscribing again replaces it. Raises ``RuntimeError``
        outside a connection cycle.
        """
        runtime = self._require_runtime("subscribe")
        self._handlers.set(topic, handler)  # InvalidTopicError for a malformed filter
        route = self._routes.get(topic)
        if route is None:
            route = self._routes[topic] = _Route(topic, qos, self._handler_for, self._dispatch)
            try:
                await runtime.subscribe(topic, route, qos=qos)
            except BaseException:
                del self._routes[topic]
                self._handlers.remove(topic)
                raise
        elif qos > route.qos:
            # One route per filter keeps each message on one handler; a second runtime
            # subscription that ignores its messages only raises the broker's QoS.
            await runtime.subscribe(topic, _ignore, qos=qos)
            route.qos = qos
        _LOG.info("subscribed to %r (qos=%d)", topic, qos)

    def _handler_for(self, topic_filter: str) -> SubscriptionHandler | None:
        """The handler registered for ``topic_filter`` in this cycle."""
        return self._handlers.get(topic_filter)

    async def _dispatch(self, route: _Route, payload: bytes, topic: str) -> None:
        """Run the handler the seed's dispatch rule picks, once per message (see ``_Route``)."""
        if self._handlers.select(topic) != route.topic_filter:
            return
        if self._routes.get(route.topic_filter) is not route:
            return
        if self._deduplicator is not None and self._deduplicator.is_duplicate(payload):
            _LOG.debug("skipping duplicate message on %r", topic)
            return
        handler = self._handlers.get(route.topic_filter)
        if handler is not None:
            await handler(payload)  # exceptions: logged by the runtime, dispatch goes on
