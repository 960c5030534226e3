"""Keeps a client connected: connect, failover, backoff, the watchdog, and the client's state.

One :class:`Supervisor` per client. Its task connects the transport, makes a
:class:`~mqttwire.link.Link` for each connection, runs the link's reader and heartbeat beside
the outbox flush until one of them ends, then backs off and connects again (the next broker of
``MQTT_URL`` on failover).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

from mqttwire.backoff import Backoff
from mqttwire.errors import (
    AuthenticationError,
    BrokerLimitError,
    ConnectError,
    NotConnectedError,
    ProtocolNotSupportedError,
)
from mqttwire.health import WILL_ERROR, WILL_EVENT, encode_health
from mqttwire.link import Link, LinkContext
from mqttwire.outbox import Outbox
from mqttwire.state import ClientState
from mqttwire.transport import (
    ConnectOptions,
    TLSOptions,
    TransportConnectError,
    TransportError,
    WillMessage,
)
from mqttwire.url import ConnectionParams

__all__ = ["Supervisor"]

_LOG = logging.getLogger("mqttwire.client")

# The states in which a link was up since start() (see Supervisor._connected_once).
_CONNECTED_ONCE = frozenset({ClientState.CONNECTED, ClientState.RECONNECTING})
# CONNACK codes for "unacceptable protocol version": 3.1.1 return code 1, MQTT 5 reason 0x84.
_PROTOCOL_REFUSED = frozenset({1, 0x84})


class Supervisor:
    """The supervisor task, the current link (``link``, ``None`` between connections) and the
    client's :class:`ClientState`."""

    def __init__(self, context: LinkContext, outbox: Outbox) -> None:
        self._ctx = context
        self._config = context.config
        self._transport = context.transport
        self._metrics = context.metrics
        self._outbox = outbox
        # Failover: the brokers of MQTT_URL in order; params is the one we use now.
        self._connections = context.config.connections
        self._broker_index = 0
        self.params = self._connections[0]
        self._round_errors: list[ConnectError] = []
        self._last_link_broker: ConnectionParams | None = None
        self.link: Link | None = None
        # Set once a QoS 2 publish was made: every later link learns the broker's maximum QoS.
        self.uses_qos2 = False
        self._state = ClientState.CREATED
        self._listeners: list[Callable[[ClientState], None]] = []
        self._task: asyncio.Task[None] | None = None
        self._first_result: asyncio.Future[None] | None = None
        self._stop = asyncio.Event()
        self._wake = asyncio.Event()
        self._auth_error: ConnectError | None = None
        self._failures_in_row = 0
        self._short_links = 0
        # Set by shutdown: this client never connects again.
        self.closed = False

    # ------------------------------------------------------------------ state

    @property
    def state(self) -> ClientState:
        return self._state

    @property
    def _connected_once(self) -> bool:
        """A link was established since :meth:`start`: later failures reconnect instead of
        raising. Read from the state: ``CONNECTING`` until the first link is up, then
        ``CONNECTED`` and ``RECONNECTING`` (``start`` goes back to ``CONNECTING``)."""
        return self._state in _CONNECTED_ONCE

    @property
    def link_up(self) -> bool:
        return self.link is not None and self.link.up

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    @property
    def started(self) -> bool:
        return self._task is not None

    def add_listener(self, callback: Callable[[ClientState], None]) -> None:
        self._listeners.append(callback)

    def remove_listener(self, callback: Callable[[ClientState], None]) -> None:
        with contextlib.suppress(ValueError):
            self._listeners.remove(callback)

    def set_state(self, state: ClientState) -> None:
        if state is self._state:
            return
        self._state = state
        for callback in list(self._listeners):
            try:
                callback(state)
            except Exception:
                _LOG.exception("state listener %r failed", callback)

    # ------------------------------------------------------------------ control

    async def start(self) -> None:
        """Start the task (unless running) and wait for the first connection's outcome."""
        if self.closed:
            raise NotConnectedError("connect", "shut down")
        if self.running:
            if self._first_result is not None:
                await asyncio.shield(self._first_result)
            return
        loop = asyncio.get_running_loop()
        self._stop.clear()
        self._wake.clear()
        self._first_result = loop.create_future()
        self.set_state(ClientState.CONNECTING)
        self._task = loop.create_task(
            self._supervise(), name=f"mqttwire-supervisor[{self._config.client_id}]"
        )
        try:
            await asyncio.shield(self._first_result)
        except asyncio.CancelledError:
            await self.stop()
            self.set_state(ClientState.DISCONNECTED)
            raise

    async def stop(self) -> None:
        task = self._task
        self._stop.set()
        self._wake.set()
        if task is not None:
            try:
                await asyncio.wait_for(asyncio.shield(task), self._config.connect_timeout + 2)
            except (TimeoutError, asyncio.CancelledError):
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)
        self._task = None
        self._drop_link()
        await self._transport.disconnect(1.0)

    def force_reconnect(self) -> None:
        self._wake.set()

    async def flush(self) -> None:
        """Flush the outbox over the current link (nothing while it is down)."""
        link = self.link
        if link is None:
            return
        await self._outbox.flush(link, self._config.publish_timeout, self._wake.set)

    def _drop_link(self) -> None:
        if self.link is not None:
            self.link.up = False
        self.link = None

    # ------------------------------------------------------------------ the loop

    def _connect_options(self) -> ConnectOptions:
        config, params = self._config, self.params
        will = None
        if config.enable_health:
            will = WillMessage(
                self._ctx.health_topic,
                encode_health(False, source=self._ctx.source, event=WILL_EVENT, error=WILL_ERROR),
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
                    error = self._on_connect_failure(exc, round_done=tried >= brokers)
                    if error is None:
                        return
                    fatal_in_round = fatal_in_round or error.fatal
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
                link = self.link = Link(self._ctx, self.params)
                try:
                    await self._link_established(link)
                    reason = await self._run_link(link)
                except TransportError as exc:
                    reason = f"link lost during setup: {exc}"
                except BrokerLimitError as exc:
                    # Only raised while setting up the first link (connect() reports it).
                    self._ctx.report(exc)
                    self.set_state(ClientState.DISCONNECTED)
                    self._resolve_first(exc)
                    await self._transport.disconnect(1.0)
                    return
                finally:
                    self._drop_link()
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
                            self.params,
                            self._config.client_id,
                        )
                self._metrics.reconnects += 1
                if link.opened_at is not None:  # (else a first connect() is still connecting)
                    self.set_state(ClientState.RECONNECTING)
                _LOG.info("MQTT link to %s down (%s); reconnecting", self.params, reason)
                await self._transport.disconnect(1.0)
                self._next_broker()
                await self._sleep(backoff.next_delay())
        except Exception as exc:
            _LOG.exception("MQTT supervisor failed")
            self._resolve_first(exc)
            self.set_state(ClientState.DISCONNECTED)
        finally:
            self._drop_link()
            # (a no-op once the first connection's outcome is known)
            self._resolve_first(
                ConnectError(self.params.host, self.params.port, "connect cancelled")
            )

    def _next_broker(self) -> None:
        """Failover: the next broker of ``MQTT_URL`` (round robin; a no-op for one broker)."""
        if len(self._connections) > 1:
            self._broker_index = (self._broker_index + 1) % len(self._connections)
            self.params = self._connections[self._broker_index]

    def _connect_error(self, exc: TransportConnectError) -> ConnectError:
        """The typed error for a failed attempt on the current broker."""
        host, port = self.params.host, self.params.port
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

    def _on_connect_failure(
        self, exc: TransportConnectError, *, round_done: bool = True
    ) -> ConnectError | None:
        """Record a failed attempt; returns its error, or None when the supervisor gives up.

        With several brokers, the first ``connect()`` gives up only after trying each of them
        once (``round_done``); it then raises the first fatal error, else the first error.
        """
        self._metrics.connect_failures += 1
        error = self._connect_error(exc)
        self._ctx.report(error)
        if self._stop.is_set():
            return None  # disconnect() or shutdown() is under way: its state stands
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
                self._ctx.report(chosen)
                self.set_state(ClientState.DISCONNECTED)
                self._resolve_first(chosen)
                return None
        if error.fatal:
            if self._auth_error is None:
                self._auth_error = error
                _LOG.error("%s; retrying every %gs", error, self._config.reconnect_max_delay)
        elif self._failures_in_row == 0:
            _LOG.warning("%s; retrying with backoff", error)
        else:
            _LOG.debug("%s", error)
        self._failures_in_row += 1
        self.set_state(ClientState.RECONNECTING if self._connected_once else ClientState.CONNECTING)
        return error

    async def _link_established(self, link: Link) -> None:
        """Resubscribe, announce health, go CONNECTED, flush the offline queue."""
        if self._last_link_broker is not None and self._last_link_broker != self.params:
            self._metrics.failovers += 1
            _LOG.warning("MQTT failover: %s -> %s", self._last_link_broker, self.params)
        self._last_link_broker = self.params
        subscribed = await link.subscribe_on_connect(strict=not self._connected_once)
        reconnect = self._connected_once
        self._metrics.connects += 1
        await link.announce(reconnect=reconnect)
        self._auth_error = None
        link.open()
        await link.catch_up(subscribed)
        if self.uses_qos2 and link.max_qos is None:
            await link.probe_max_qos()  # before the offline queue is flushed
        self.set_state(ClientState.CONNECTED)
        self._resolve_first(None)
        self._failures_in_row = 0
        if reconnect:
            _LOG.info("MQTT reconnected to %s", self.params)

    async def _flush_in_background(self) -> None:
        """Flush after (re)connect; never ends the link by itself, only wakes the supervisor."""
        try:
            await self.flush()
        except TransportError as exc:
            _LOG.info("offline queue flush interrupted: %s", exc)
        except Exception:
            _LOG.exception("offline queue flush failed")
        await asyncio.Event().wait()  # stay pending: only the other tasks end the link

    async def _run_link(self, link: Link) -> str:
        """Serve the live link until it drops, the watchdog fires or we are asked to stop."""
        loop = asyncio.get_running_loop()
        self._wake.clear()
        if self._stop.is_set():
            return "stop"
        tasks = [
            loop.create_task(link.read(), name="mqttwire-reader"),
            loop.create_task(self._wake.wait(), name="mqttwire-wake"),
        ]
        if self._config.enable_heartbeat:
            tasks.append(loop.create_task(link.heartbeat(), name="mqttwire-heartbeat"))
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
