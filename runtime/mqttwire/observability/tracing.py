"""The hooks that the client, the dispatcher and the typed layer call when telemetry is on.

Spans follow the OpenTelemetry messaging semantic conventions: ``send <destination>``
(PRODUCER) per publish, ``process <destination>`` (CONSUMER) per handled message, and
``request <destination>`` (CLIENT) around a request and its reply, where ``<destination>`` is
the channel's topic template (see :mod:`.destinations`). On MQTT 5 the publish span's W3C trace
context (``traceparent``, ``tracestate``; whatever the global propagator writes) travels in the
message's user properties and the handler's span continues it; on 3.1.1 the spans are unlinked.
"""

from __future__ import annotations

import contextlib
import time
import weakref
from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping
from dataclasses import replace
from typing import TYPE_CHECKING, Any, TypeVar

from opentelemetry import context as otel_context
from opentelemetry import propagate, trace
from opentelemetry.trace import Link, Span, SpanKind, Status, StatusCode

from mqttwire.errors import RequestTimeoutError
from mqttwire.meta import MessageMeta
from mqttwire.observability.destinations import Destinations
from mqttwire.observability.metrics import Instruments, instruments_for
from mqttwire.observability.settings import Telemetry
from mqttwire.specs import ChannelSpec
from mqttwire.transport import MessageProperties
from mqttwire.version import __version__

if TYPE_CHECKING:
    from mqttwire.client import MQTTClient
    from mqttwire.typed import TypedClient

__all__ = ["Instrumentation", "RequestSpan"]

T = TypeVar("T")

SYSTEM = "mqtt"
Send = Callable[[str, bytes, int, bool, MessageProperties | None], Awaitable[None]]
_EMPTY = otel_context.Context()


def error_type(exc: BaseException) -> str:
    """``error.type``: the exception's class name (low cardinality)."""
    return type(exc).__qualname__


def _fail(span: Span, exc: BaseException) -> None:
    span.record_exception(exc)
    span.set_status(Status(StatusCode.ERROR, error_type(exc)))
    span.set_attribute("error.type", error_type(exc))


class Instrumentation:
    """Tracer, instruments and topic names of one client."""

    def __init__(self, telemetry: Telemetry, client_id: str, protocol: str) -> None:
        provider = telemetry.tracer_provider or trace.get_tracer_provider()
        self._tracer = (
            provider.get_tracer("mqttwire", __version__)
            if telemetry.tracing
            else trace.NoOpTracer()
        )
        self._instruments: Instruments | None = (
            instruments_for(telemetry.meter_provider) if telemetry.metrics else None
        )
        self._propagates = protocol == "5"
        self.client_id = client_id
        self.destinations = Destinations()
        self.metric_attributes: dict[str, Any] = {
            "messaging.system": SYSTEM,
            "messaging.client.id": client_id,
        }
        self._client: weakref.ref[MQTTClient] | None = None
        self._typed: weakref.WeakSet[TypedClient] = weakref.WeakSet()

    # -- registration (for the observable instruments) -----------------------------------------
    def watch_client(self, client: MQTTClient) -> None:
        self._client = weakref.ref(client)
        if self._instruments is not None:
            self._instruments.register(self)

    def watch_typed(self, typed: TypedClient, channels: Iterable[ChannelSpec[Any]]) -> None:
        self._typed.add(typed)
        self.destinations.add_channels(channels)

    @property
    def client(self) -> MQTTClient | None:
        return self._client() if self._client is not None else None

    @property
    def typed_clients(self) -> list[TypedClient]:
        return list(self._typed)

    # -- publish ---------------------------------------------------------------------------------
    async def publish(
        self,
        send: Send,
        topic: str,
        payload: bytes,
        qos: int,
        retain: bool,
        properties: MessageProperties | None,
        message_id: str | None = None,
        conversation_id: str | None = None,
    ) -> None:
        """``send`` the message inside a ``send`` span; on MQTT 5 with its trace context."""
        destination = self.destinations.published(topic)
        attributes: dict[str, Any] = {
            "messaging.system": SYSTEM,
            "messaging.operation.type": "send",
            "messaging.operation.name": "publish",
            "messaging.destination.name": topic,
            "messaging.destination.template": destination.template,
            "messaging.message.body.size": len(payload),
            "messaging.client.id": self.client_id,
            "mqtt.qos": qos,
            "mqtt.retain": retain,
        }
        if message_id is not None:
            attributes["messaging.message.id"] = message_id
        if conversation_id is not None:
            attributes["messaging.message.conversation_id"] = conversation_id
        if destination.channel is not None:
            attributes["mqttwire.channel"] = destination.channel
        if destination.temporary:
            attributes["messaging.destination.temporary"] = True
        span = self._tracer.start_span(
            f"send {destination.template}", kind=SpanKind.PRODUCER, attributes=attributes
        )
        if self._propagates and span.get_span_context().is_valid:
            carrier: dict[str, str] = {}
            propagate.inject(carrier, context=trace.set_span_in_context(span))
            if carrier:
                base = properties if properties is not None else MessageProperties()
                properties = replace(
                    base, user_properties=base.user_properties + tuple(carrier.items())
                )
        started = time.perf_counter()
        failure: str | None = None
        try:
            await send(topic, payload, qos, retain, properties)
        except BaseException as exc:
            failure = error_type(exc)
            _fail(span, exc)
            raise
        finally:
            span.end()
            instruments = self._instruments
            if instruments is not None:
                labels = self._labels(destination.template, destination.channel, failure)
                instruments.sent.add(1, labels)
                instruments.publish_duration.record(
                    time.perf_counter() - started, {**labels, "messaging.operation.name": "publish"}
                )

    def _labels(self, template: str, channel: str | None, failure: str | None) -> dict[str, Any]:
        labels = {**self.metric_attributes, "messaging.destination.template": template}
        if channel is not None:
            labels["mqttwire.channel"] = channel
        if failure is not None:
            labels["error.type"] = failure
        return labels

    # -- process ---------------------------------------------------------------------------------
    async def process(
        self,
        call: Callable[[bytes, MessageMeta], Awaitable[None]],
        payload: bytes,
        meta: MessageMeta,
        topic_filter: str,
    ) -> None:
        """Run a handler inside a ``process`` span, the child of the publisher's context."""
        parent = propagate.extract(meta.user_properties) if meta.user_properties else _EMPTY
        creation = trace.get_current_span(parent).get_span_context()
        links = [Link(creation)] if creation.is_valid else None
        destination = self.destinations.received(meta.topic, topic_filter)
        attributes: dict[str, Any] = {
            "messaging.system": SYSTEM,
            "messaging.operation.type": "process",
            "messaging.operation.name": "process",
            "messaging.destination.name": meta.topic,
            "messaging.destination.template": destination.template,
            "messaging.destination.subscription.name": topic_filter,
            "messaging.message.body.size": len(payload),
            "messaging.client.id": self.client_id,
            "mqtt.qos": meta.qos,
            "mqtt.retain": meta.retain,
        }
        if destination.channel is not None:
            attributes["mqttwire.channel"] = destination.channel
        if destination.temporary:
            attributes["messaging.destination.temporary"] = True
        span = self._tracer.start_span(
            f"process {destination.template}",
            context=parent,
            kind=SpanKind.CONSUMER,
            attributes=attributes,
            links=links,
        )
        token = otel_context.attach(trace.set_span_in_context(span, parent))
        started = time.perf_counter()
        failure: str | None = None
        try:
            await call(payload, meta)
        except BaseException as exc:
            failure = error_type(exc)
            _fail(span, exc)
            raise
        finally:
            otel_context.detach(token)
            span.end()
            instruments = self._instruments
            if instruments is not None:
                labels = self._labels(destination.template, destination.channel, None)
                labels["messaging.destination.subscription.name"] = topic_filter
                instruments.consumed.add(1, labels)
                if failure is not None:
                    labels["error.type"] = failure
                instruments.process_duration.record(time.perf_counter() - started, labels)

    @staticmethod
    def annotate(channel: str, meta: MessageMeta, invalid: str | None = None) -> None:
        """The typed layer adds what it decoded to the current ``process`` span."""
        span = trace.get_current_span()
        if not span.is_recording():
            return
        values: Mapping[str, Any] = {
            "mqttwire.channel": channel,
            "messaging.message.id": meta.envelope_id,
            "messaging.message.conversation_id": meta.correlation_id,
        }
        span.set_attributes({k: v for k, v in values.items() if v is not None})
        if invalid is not None:
            span.set_attribute("error.type", "invalid_payload")
            span.set_status(Status(StatusCode.ERROR, invalid[:200]))

    # -- request/reply ---------------------------------------------------------------------------
    def request_span(self, channel: ChannelSpec[Any], topic: str) -> RequestSpan:
        """A ``request`` span, started now; see :class:`RequestSpan`."""
        return RequestSpan(self, self._tracer, channel, topic)

    async def request(
        self, channel: ChannelSpec[Any], topic: str, call: Callable[[], Awaitable[T]]
    ) -> T:
        """Run a request (publish + wait for the reply) inside a ``request`` span."""
        span = self.request_span(channel, topic)
        try:
            with span.current():
                return await call()
        except BaseException as exc:
            span.fail(exc)
            raise
        finally:
            span.end()

    def record_request(
        self, channel: ChannelSpec[Any], seconds: float, failure: BaseException | None
    ) -> None:
        """Record a finished request's duration (and timeout); :meth:`RequestSpan.end` calls it."""
        instruments = self._instruments
        if instruments is None:
            return
        kind = error_type(failure) if failure is not None else None
        labels = self._labels(channel.label, channel.name, kind)
        instruments.request_duration.record(seconds, labels)
        if isinstance(failure, RequestTimeoutError):
            instruments.request_timeouts.add(1, labels)


class RequestSpan:
    """The ``request`` span of one request/reply (or streamed) exchange.

    :meth:`current` makes it the current span while the request is published (so the
    ``send`` span is its child); :meth:`end` records the latency.
    """

    def __init__(
        self, owner: Instrumentation, tracer: trace.Tracer, channel: ChannelSpec[Any], topic: str
    ) -> None:
        self._owner = owner
        self._channel = channel
        self._failure: BaseException | None = None
        self._started = time.perf_counter()
        self._span = tracer.start_span(
            f"request {channel.label}",
            kind=SpanKind.CLIENT,
            attributes={
                "messaging.system": SYSTEM,
                "messaging.operation.name": "request",
                "messaging.destination.name": topic,
                "messaging.destination.template": channel.label,
                "messaging.client.id": owner.client_id,
                "mqttwire.channel": channel.name,
            },
        )

    @contextlib.contextmanager
    def current(self) -> Iterator[None]:
        token = otel_context.attach(trace.set_span_in_context(self._span))
        try:
            yield
        finally:
            otel_context.detach(token)

    def fail(self, exc: BaseException) -> None:
        if isinstance(exc, GeneratorExit):  # the caller stopped reading a stream: not an error
            return
        self._failure = exc
        _fail(self._span, exc)

    def end(self) -> None:
        self._span.end()
        self._owner.record_request(
            self._channel, time.perf_counter() - self._started, self._failure
        )
