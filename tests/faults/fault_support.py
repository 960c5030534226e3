"""Helpers of the fault-injection suite: brokers, a client factory, recording transport, inboxes,
paced publishers, waits. (Test modules import them from here, not from ``conftest``: a module
named ``conftest`` is one of several when test directories are run together.)"""

from __future__ import annotations

import asyncio
import os
import re
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import orjson
import pytest

from mqttwire import ClientState, MessageMeta, MQTTClient, MQTTClientConfig
from mqttwire.paho_transport import PahoTransport
from mqttwire.testing.broker import MosquittoBroker, find_mosquitto
from mqttwire.transport import ConnectOptions

__all__ = [
    "ClientFactory",
    "EnvelopeInbox",
    "PacedPublisher",
    "RecordingTransport",
    "count_fds",
    "last_autosave",
    "start_broker",
    "wait_state",
    "wait_until",
]


async def wait_until(
    predicate: Callable[[], bool], within: float, what: str, *, interval: float = 0.01
) -> None:
    """Poll ``predicate`` until true; fail with ``what`` after ``within`` s (only to catch hangs)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while not predicate():
        if loop.time() >= deadline:
            raise AssertionError(f"timed out after {within:g}s waiting for {what}")
        await asyncio.sleep(interval)


async def wait_state(client: MQTTClient, state: ClientState, within: float) -> None:
    await wait_until(lambda: client.state is state, within, f"{client.client_id} {state.value}")


def last_autosave(broker_log: str) -> float:
    """Wall-clock second of mosquitto's last "Saving in-memory database" (0 if none).

    Mosquitto stamps log lines with whole seconds taken at the start of its loop iteration, so
    everything acknowledged before this second is in the saved file.
    """
    saves = re.findall(r"^(\d+): Saving in-memory database", broker_log, re.MULTILINE)
    return float(saves[-1]) if saves else 0.0


def count_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


class RecordingTransport(PahoTransport):
    """The production transport, recording connect attempts and broker acknowledgements."""

    def __init__(self) -> None:
        super().__init__()
        self.connect_attempts: list[float] = []
        # payload -> loop time / wall-clock time of its first acknowledged publish
        self.acked_at: dict[bytes, float] = {}
        self.acked_wall: dict[bytes, float] = {}

    async def connect(self, options: ConnectOptions) -> None:
        self.connect_attempts.append(asyncio.get_running_loop().time())
        await super().connect(options)

    async def publish(
        self,
        topic: str,
        payload: bytes,
        qos: int,
        retain: bool,
        ack_timeout: float,
        **kwargs: Any,
    ) -> None:
        await super().publish(topic, payload, qos, retain, ack_timeout, **kwargs)
        self.acked_at.setdefault(payload, asyncio.get_running_loop().time())
        self.acked_wall.setdefault(payload, time.time())


@dataclass
class EnvelopeInbox:
    """Counts handler calls per envelope id (``data.seq`` carries the publisher's sequence)."""

    calls: Counter[str] = field(default_factory=Counter)
    seqs: list[int] = field(default_factory=list)

    async def handler(self, payload: bytes, meta: MessageMeta) -> None:
        envelope = orjson.loads(payload)
        self.calls[envelope["id"]] += 1
        self.seqs.append(envelope["data"]["seq"])

    @property
    def total(self) -> int:
        return sum(self.calls.values())

    def twice(self) -> list[str]:
        return [message_id for message_id, n in self.calls.items() if n > 1]


class PacedPublisher:
    """Publishes QoS 1 envelopes ``{"seq": i}`` at a steady rate, one awaited call at a time."""

    def __init__(self, client: MQTTClient, topic: str, rate: float) -> None:
        self.client = client
        self.topic = topic
        self.rate = rate
        self.ids: list[str] = []
        self.payload_of: dict[str, bytes] = {}
        self.returned_at: list[float] = []
        self._stop = asyncio.Event()

    @property
    def sent(self) -> int:
        return len(self.ids)

    def stop(self) -> None:
        self._stop.set()

    async def run(self, count: int | None = None) -> int:
        """Publish until ``count`` messages were accepted or :meth:`stop`; returns the count."""
        from mqttwire.envelope import encode_envelope

        loop = asyncio.get_running_loop()
        start = loop.time()
        seq = 0
        while not self._stop.is_set() and (count is None or seq < count):
            message_id, payload = encode_envelope(
                "fault.seq", {"seq": seq}, source=self.client.source_name
            )
            await self.client.publish(self.topic, payload, qos=1)
            self.ids.append(message_id)
            self.payload_of[message_id] = payload
            self.returned_at.append(loop.time())
            seq += 1
            delay = start + seq / self.rate - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
        return seq


def start_broker(**kwargs: Any) -> MosquittoBroker:
    """A started Mosquitto (the fault suite fails, not skips, without one)."""
    if find_mosquitto() is None:
        pytest.fail("mosquitto is required for the fault suite; `nox -s tests` installs it")
    broker = MosquittoBroker(**kwargs)
    broker.start()
    return broker


class ClientFactory:
    """Makes MQTTClients on the production transport (recording); shuts them all down.

    ``transport_of(client)`` is the client's :class:`RecordingTransport`."""

    def __init__(self) -> None:
        self.clients: list[MQTTClient] = []
        self._transports: dict[int, RecordingTransport] = {}

    def __call__(self, client_id: str, url: str, **settings: Any) -> MQTTClient:
        settings.setdefault("reconnect_min_delay", 0.1)
        settings.setdefault("reconnect_max_delay", 0.5)
        settings.setdefault("shutdown_timeout", 2.0)
        settings.setdefault("connect_timeout", 3.0)
        settings.setdefault("publish_timeout", 10.0)
        config = MQTTClientConfig(url=url, client_id=client_id, **settings)
        transport = RecordingTransport()
        client = MQTTClient(config, transport=transport)
        self.clients.append(client)
        self._transports[id(client)] = transport
        return client

    def transport_of(self, client: MQTTClient) -> RecordingTransport:
        return self._transports[id(client)]

    async def close(self) -> None:
        for client in self.clients:
            await client.shutdown()
        self.clients.clear()
        self._transports.clear()
