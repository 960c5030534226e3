"""Pick a broker for a demo or a local run: MQTT_URL, else mosquitto from PATH, else amqtt.

amqtt (pure Python) is an optional dependency (`pip install 'tars-demo[amqtt]'`); it runs
in-process on its own thread and event loop so it survives whatever the caller's loop does.
"""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from mqttwire.testing.broker import (
    BrokerNotAvailableError,
    MosquittoBroker,
    find_mosquitto,
    free_port,
)

__all__ = [
    "DefaultBroker",
    "start_amqtt",
    "start_default_broker",
    "start_external",
    "start_mosquitto",
]

BrokerKind = Literal["external", "mosquitto", "amqtt"]


@dataclass
class DefaultBroker:
    """The broker chosen for this run; ``close()`` stops it when we started it."""

    kind: BrokerKind
    url: str
    description: str
    _mosquitto: MosquittoBroker | None = None
    _amqtt: _AmqttThread | None = field(default=None, repr=False)

    def close(self) -> None:
        if self._mosquitto is not None:
            self._mosquitto.close()
        if self._amqtt is not None:
            self._amqtt.stop()


class _AmqttThread:
    """An amqtt broker on a private event loop in a daemon thread."""

    def __init__(self, port: int) -> None:
        self.port = port
        self._ready = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="amqtt-broker", daemon=True)

    def start(self, timeout: float = 15.0) -> None:
        self._thread.start()
        if not self._ready.wait(timeout):
            raise TimeoutError(f"amqtt did not start on 127.0.0.1:{self.port} within {timeout}s")
        if self._error is not None:
            raise RuntimeError(f"amqtt failed to start: {self._error}") from self._error

    def stop(self) -> None:
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(10)

    def _run(self) -> None:
        asyncio.run(self._serve())

    async def _serve(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        try:
            from amqtt.broker import Broker
        except ImportError as exc:  # pragma: no cover - checked before starting the thread
            self._error = exc
            self._ready.set()
            return
        config: dict[str, Any] = {
            "listeners": {"default": {"type": "tcp", "bind": f"127.0.0.1:{self.port}"}},
            "plugins": {
                "amqtt.plugins.authentication.AnonymousAuthPlugin": {"allow_anonymous": True}
            },
        }
        broker = Broker(config)
        try:
            await broker.start()
        except BaseException as exc:
            self._error = exc
            self._ready.set()
            return
        self._ready.set()
        await self._stop.wait()
        await broker.shutdown()


def _amqtt_available() -> bool:
    try:
        import amqtt.broker  # noqa: F401
    except ImportError:
        return False
    return True


def start_external(url: str) -> DefaultBroker:
    """Point at a broker someone else runs (the password never reaches the description)."""
    return DefaultBroker("external", url, f"the broker in MQTT_URL ({url.split('@')[-1]})")


def start_mosquitto() -> DefaultBroker:
    """A mosquitto from PATH on a free loopback port."""
    if find_mosquitto() is None:
        raise BrokerNotAvailableError(
            "mosquitto is not installed (apt-get install mosquitto / brew install mosquitto)"
        )
    mosquitto = MosquittoBroker()
    mosquitto.start()
    return DefaultBroker(
        "mosquitto",
        mosquitto.url,
        f"mosquitto from PATH ({mosquitto.binary}) on 127.0.0.1:{mosquitto.port}",
        _mosquitto=mosquitto,
    )


def start_amqtt() -> DefaultBroker:
    """The pure-Python amqtt broker in-process, on a free loopback port."""
    if not _amqtt_available():
        raise BrokerNotAvailableError("amqtt is not installed (pip install 'tars-demo[amqtt]')")
    server = _AmqttThread(free_port())
    server.start()
    return DefaultBroker(
        "amqtt",
        f"mqtt://127.0.0.1:{server.port}",
        f"the embedded pure-Python amqtt broker on 127.0.0.1:{server.port}",
        _amqtt=server,
    )


def start_default_broker(env: Mapping[str, str] | None = None) -> DefaultBroker:
    """Use MQTT_URL when set; otherwise start mosquitto or, lacking it, amqtt on a free port."""
    environ = os.environ if env is None else env
    url = environ.get("MQTT_URL")
    if url:
        return start_external(url)
    if find_mosquitto() is not None:
        return start_mosquitto()
    if _amqtt_available():
        return start_amqtt()
    raise BrokerNotAvailableError(
        "no broker: set MQTT_URL, install mosquitto, or `pip install 'tars-demo[amqtt]'` for amqtt"
    )
