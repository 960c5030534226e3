"""The watch on a live broker: one read-only mqttwire client feeding the judge and the report.

The client never publishes: no last will, no health, no heartbeat, no offline queue. It
subscribes to ``#`` at QoS 2, so every message arrives at the QoS it was published with; a
broker that refuses ``#`` (ACL) gets one subscription per contract channel instead, and then
undeclared topics cannot be seen (``coverage`` in the report says which). As a normal mqttwire
client it reconnects and resubscribes by itself after a broker restart.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Callable, Mapping
from typing import Any

from mqttwire import (
    MessageMeta,
    MQTTClient,
    MQTTClientConfig,
    QoSNotGrantedError,
    SubscribeError,
)
from mqttwire.url import redact_url
from mqttwire_codegen.ir import Contract
from mqttwire_codegen.watch.findings import Finding, FindingClass, Verdict
from mqttwire_codegen.watch.judge import Judge
from mqttwire_codegen.watch.report import WatchReport

__all__ = ["Watcher", "watch_config"]


def watch_config(
    url: str, *, client_id: str | None = None, protocol: str = "3.1.1", **overrides: Any
) -> MQTTClientConfig:
    """A client configuration that cannot publish anything on its own."""
    settings: dict[str, Any] = {
        "url": url,
        "client_id": client_id or f"mqttwire-watch-{os.urandom(4).hex()}",
        "protocol": protocol,
        "enable_health": False,
        "enable_heartbeat": False,
        "offline_queue_size": 0,
        "handler_queue_size": 10_000,
        "clean_session": True,
        **overrides,
    }
    return MQTTClientConfig(**settings)


class Watcher:
    """Judge every message of the broker against ``contract`` into ``report``.

    ``publisher_aliases`` maps envelope sources to ``x-publishers`` names (see :class:`Judge`).
    ``start()`` connects and subscribes (raises :class:`mqttwire.ConnectError` and friends when
    the broker cannot be reached); ``stop()`` disconnects. :meth:`wait_for` waits until a
    condition on the report holds (tests, the demo).
    """

    def __init__(
        self,
        contract: Contract,
        config: MQTTClientConfig,
        *,
        report: WatchReport | None = None,
        client: MQTTClient | None = None,
        publisher_aliases: Mapping[str, str] | None = None,
    ) -> None:
        self.contract = contract
        self.config = config
        self.report = report if report is not None else WatchReport()
        self.client = client if client is not None else MQTTClient(config)
        self.judge = Judge(contract, publisher_aliases=publisher_aliases)
        self.coverage = "all topics (#)"
        self.started_at: float | None = None
        self._changed = asyncio.Event()

    async def _on_message(self, payload: bytes, meta: MessageMeta) -> None:
        try:
            verdict = self.judge.judge(
                meta.topic,
                payload,
                qos=meta.qos,
                retain=meta.retain,
                content_type=meta.content_type,
            )
        except Exception as exc:  # e.g. RecursionError from a pathological payload
            finding = Finding(
                FindingClass.INVALID_PAYLOAD, f"cannot be judged: {type(exc).__name__}"
            )
            verdict = Verdict(self.judge.channel_name(meta.topic), (finding,))
        self.report.record(meta.topic, payload, qos=meta.qos, retain=meta.retain, verdict=verdict)
        self._changed.set()

    async def start(self) -> None:
        await self.client.connect()
        self.started_at = time.monotonic()
        try:
            await self._subscribe("#")
        except SubscribeError:
            self.coverage = "contract channels only (the broker refused '#')"
            for channel in self.contract.channels:
                await self._subscribe(self.judge.channel_filter(channel.id))

    async def _subscribe(self, topic_filter: str) -> None:
        try:
            await self.client.subscribe(topic_filter, self._on_message, qos=2)
        except QoSNotGrantedError as exc:
            # a broker without QoS 2: arrival QoS is then capped, and so is the comparison
            self.judge.subscription_qos = min(self.judge.subscription_qos, exc.granted_qos)
            await self.client.subscribe(topic_filter, self._on_message, qos=exc.granted_qos)

    async def stop(self) -> None:
        await self.client.shutdown()

    async def wait_for(self, condition: Callable[[WatchReport], bool]) -> None:
        """Return once ``condition(report)`` holds (checked after every judged message)."""
        while not condition(self.report):
            self._changed.clear()
            await self._changed.wait()

    def meta(self) -> dict[str, Any]:
        """The report's header: contract, broker (password redacted), client, coverage."""
        metrics = self.client.metrics
        elapsed = 0.0 if self.started_at is None else time.monotonic() - self.started_at
        return {
            "contract": {
                "title": self.contract.title,
                "version": self.contract.version,
                "file": str(self.contract.source_file.file),
                "sha256": self.contract.sha256,
            },
            "broker": redact_url(self.config.url),
            "client_id": self.config.client_id,
            "protocol": self.config.protocol,
            "coverage": self.coverage,
            "subscription_qos": self.judge.subscription_qos,
            "duration_s": round(elapsed, 3),
            "connects": metrics.connects,
            "dropped_by_watcher": metrics.queue_overflow,
        }
