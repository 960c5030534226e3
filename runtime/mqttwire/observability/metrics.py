"""OpenTelemetry instruments of mqttwire, created once per meter provider.

Counters that the runtime keeps anyway (:class:`~mqttwire.metrics.ClientMetrics`, the typed
layer's per-channel stats, queue lengths) are read by observable instruments when the metrics
are collected: no second count on the hot path. What only exists when telemetry is on (message
and handler durations, request latency) is recorded by the hooks in :mod:`.tracing`.
"""

from __future__ import annotations

import weakref
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import fields
from typing import TYPE_CHECKING, Any

from opentelemetry import metrics
from opentelemetry.metrics import CallbackOptions, Meter, Observation

from mqttwire.metrics import ClientMetrics
from mqttwire.version import __version__

if TYPE_CHECKING:
    from mqttwire.observability.tracing import Instrumentation

__all__ = ["Instruments", "instruments_for"]

# The messaging semantic conventions' advice for operation durations (seconds).
DURATION_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10)

_BY_PROVIDER: weakref.WeakKeyDictionary[Any, Instruments] = weakref.WeakKeyDictionary()


class Instruments:
    """The instruments on one meter; observable ones report every live client registered."""

    def __init__(self, meter: Meter) -> None:
        self._sources: weakref.WeakSet[Instrumentation] = weakref.WeakSet()
        self.sent = meter.create_counter(
            "messaging.client.sent.messages", "{message}", "Messages handed to publish"
        )
        self.consumed = meter.create_counter(
            "messaging.client.consumed.messages", "{message}", "Messages delivered to handlers"
        )
        self.publish_duration = meter.create_histogram(
            "messaging.client.operation.duration",
            "s",
            "Duration of a publish (QoS >= 1: until the broker acknowledged it)",
            explicit_bucket_boundaries_advisory=DURATION_BUCKETS,
        )
        self.process_duration = meter.create_histogram(
            "messaging.process.duration",
            "s",
            "Duration of one handler call",
            explicit_bucket_boundaries_advisory=DURATION_BUCKETS,
        )
        self.request_duration = meter.create_histogram(
            "mqttwire.request.duration",
            "s",
            "Request/reply latency, until the reply arrived or the request failed",
            explicit_bucket_boundaries_advisory=DURATION_BUCKETS,
        )
        self.request_timeouts = meter.create_counter(
            "mqttwire.request.timeouts", "{request}", "Requests that got no reply in time"
        )
        for field in fields(ClientMetrics):
            meter.create_observable_counter(
                f"mqttwire.client.{field.name}",
                [self._client_counter(field.name)],
                "{event}",
                f"ClientMetrics.{field.name}",
            )
        meter.create_observable_counter(
            "mqttwire.messages.invalid",
            [self._invalid],
            "{message}",
            "Received messages that failed validation, per channel",
        )
        meter.create_observable_counter(
            "mqttwire.messages.dropped",
            [self._dropped],
            "{message}",
            "Messages dropped because a handler's queue was full, per subscription",
        )
        meter.create_observable_gauge(
            "mqttwire.handler.queue.depth",
            [self._queue_depth],
            "{message}",
            "Messages queued or being handled, per subscription",
        )
        meter.create_observable_gauge(
            "mqttwire.offline_queue.size",
            [self._offline_size],
            "{message}",
            "Publishes waiting for the link in the offline queue",
        )
        meter.create_observable_gauge(
            "mqttwire.requests.in_flight",
            [self._in_flight],
            "{request}",
            "Requests waiting for their reply",
        )

    def register(self, source: Instrumentation) -> None:
        self._sources.add(source)

    def _clients(self) -> Iterator[tuple[dict[str, Any], Any]]:
        for source in list(self._sources):
            client = source.client
            if client is not None:
                yield source.metric_attributes, client

    def _typed(self) -> Iterator[tuple[dict[str, Any], Any]]:
        for source in list(self._sources):
            for typed in source.typed_clients:
                yield source.metric_attributes, typed

    def _client_counter(self, name: str) -> Callable[[CallbackOptions], Iterable[Observation]]:
        def observe(_options: CallbackOptions) -> Iterable[Observation]:
            return [
                Observation(getattr(client.metrics, name), attrs)
                for attrs, client in self._clients()
            ]

        return observe

    def _invalid(self, _options: CallbackOptions) -> Iterable[Observation]:
        return [
            Observation(count, {**attrs, "mqttwire.channel": channel})
            for attrs, typed in self._typed()
            for channel, count in typed.stats.invalid.items()
        ]

    def _per_subscription(self, value: str) -> Iterable[Observation]:
        observations: list[Observation] = []
        for attrs, client in self._clients():
            totals: Counter[str] = Counter()
            for sub in client.subscriptions:
                totals[sub.topic_filter] += getattr(sub, value)
            observations.extend(
                Observation(n, {**attrs, "messaging.destination.subscription.name": name})
                for name, n in totals.items()
            )
        return observations

    def _dropped(self, _options: CallbackOptions) -> Iterable[Observation]:
        return self._per_subscription("dropped")

    def _queue_depth(self, _options: CallbackOptions) -> Iterable[Observation]:
        return self._per_subscription("pending")

    def _offline_size(self, _options: CallbackOptions) -> Iterable[Observation]:
        return [
            Observation(client.offline_queue_length, attrs) for attrs, client in self._clients()
        ]

    def _in_flight(self, _options: CallbackOptions) -> Iterable[Observation]:
        return [Observation(typed.requests_in_flight, attrs) for attrs, typed in self._typed()]


def instruments_for(meter_provider: Any) -> Instruments:
    """The instruments on ``meter_provider`` (the global one when ``None``), made once."""
    provider = meter_provider if meter_provider is not None else metrics.get_meter_provider()
    found = _BY_PROVIDER.get(provider)
    if found is None:
        found = _BY_PROVIDER[provider] = Instruments(provider.get_meter("mqttwire", __version__))
    return found
