"""Counters a service can export; plain integers, incremented on the hot path."""

from __future__ import annotations

from dataclasses import asdict, dataclass

__all__ = ["ClientMetrics"]


@dataclass(slots=True)
class ClientMetrics:
    """What happened to messages that did not take the happy path, and link events."""

    messages_received: int = 0
    messages_delivered: int = 0
    handler_errors: int = 0
    dead_lettered: int = 0  # messages given up after the retries of their RetryPolicy
    queue_overflow: int = 0
    queue_overflow_bytes: int = 0  # payload bytes of the messages counted in queue_overflow
    duplicates: int = 0
    dropped_qos0_offline: int = 0
    offline_queued: int = 0
    offline_flushed: int = 0
    publish_retries: int = 0
    publish_timeouts: int = 0
    publish_failed: int = 0  # messages the MQTT library rejected outright (never sent)
    publish_poisoned: int = 0  # queued messages dropped: the broker closed the link on each send
    publish_refused: int = 0  # MQTT 5: the broker refused a queued message (reason code)
    offline_expired: int = 0  # MQTT 5: message expiry interval passed while queued offline
    subscribe_failures: int = 0
    qos_unsupported: int = 0  # queued QoS 2 messages the broker of the link cannot take
    failovers: int = 0  # links established on another broker of MQTT_URL than the last one
    connects: int = 0
    reconnects: int = 0
    connect_failures: int = 0
    watchdog_reconnects: int = 0
    loop_stalls: int = 0  # the watchdog found the event loop blocked and re-armed
    heartbeats_sent: int = 0

    def snapshot(self) -> dict[str, int]:
        """A copy of every counter, e.g. for a metrics endpoint or a log line."""
        return asdict(self)
