"""A small asyncio TCP proxy that injects network faults between a client and a broker.

Modes:

* ``pass``: bytes flow both ways.
* ``blackhole``: every socket stays open but bytes are dropped both ways (a half-open link, a
  dead Wi-Fi, a frozen NAT). New connections are accepted and blackholed too. Switching back to
  ``pass`` closes the connections that lost bytes: their MQTT streams are corrupt.
* :meth:`FaultProxy.reset` closes every connection at once (the broker stays up).
* :meth:`FaultProxy.flap` resets every 200-800 ms for a while.

It runs on the caller's event loop; its tasks are named ``faultproxy-...`` so leak checks can
tell them apart from the client's.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import socket
from dataclasses import dataclass, field
from typing import Literal

__all__ = ["PROXY_TASK_PREFIX", "FaultProxy", "Mode"]

Mode = Literal["pass", "blackhole"]
PROXY_TASK_PREFIX = "faultproxy-"
_CHUNK = 65536


@dataclass(eq=False)
class _Link:
    client: asyncio.StreamWriter
    upstream: asyncio.StreamWriter
    tainted: bool = False  # bytes were dropped: the stream can never be used again
    tasks: list[asyncio.Task[None]] = field(default_factory=list)

    def abort(self) -> None:
        for writer in (self.client, self.upstream):
            with contextlib.suppress(Exception):
                writer.transport.abort()


class FaultProxy:
    """Forwards ``127.0.0.1:<port>`` to ``target_host:target_port`` with injectable faults."""

    def __init__(self, target_host: str, target_port: int, *, host: str = "127.0.0.1") -> None:
        self.target_host = target_host
        self.target_port = target_port
        self.host = host
        self.mode: Mode = "pass"
        self.accepted = 0
        self.resets = 0
        self.dropped_bytes = 0
        self._links: set[_Link] = set()
        self._server: asyncio.Server | None = None
        self._handlers: set[asyncio.Task[None]] = set()

    @property
    def port(self) -> int:
        assert self._server is not None, "proxy not started"
        return int(self._server.sockets[0].getsockname()[1])

    @property
    def url(self) -> str:
        return f"mqtt://{self.host}:{self.port}"

    @property
    def connections(self) -> int:
        return len(self._links)

    async def start(self) -> FaultProxy:
        self._server = await asyncio.start_server(self._accept, self.host, 0)
        return self

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
        links = list(self._links)
        self.reset()
        pipes = [t for link in links for t in link.tasks]
        for task in pipes:
            task.cancel()
        await asyncio.gather(*pipes, return_exceptions=True)
        # The accept handlers end with their pipes (cancelling them upsets asyncio.streams).
        if self._handlers:
            await asyncio.wait(list(self._handlers), timeout=5)
        self._links.clear()

    async def __aenter__(self) -> FaultProxy:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    def set_mode(self, mode: Mode) -> None:
        self.mode = mode
        if mode == "pass":
            for link in [link for link in self._links if link.tainted]:
                self._drop(link)

    def reset(self) -> int:
        """Close every connection now; returns how many were closed."""
        links = list(self._links)
        for link in links:
            self._drop(link)
        if links:
            self.resets += 1
        return len(links)

    async def flap(
        self,
        duration: float,
        *,
        min_gap: float = 0.2,
        max_gap: float = 0.8,
        rng: random.Random | None = None,
    ) -> int:
        """Reset every ``min_gap``-``max_gap`` seconds for ``duration``; returns the reset count."""
        rng = rng or random.Random()
        loop = asyncio.get_running_loop()
        end = loop.time() + duration
        count = 0
        while True:
            gap = rng.uniform(min_gap, max_gap)
            if loop.time() + gap > end:
                await asyncio.sleep(max(0.0, end - loop.time()))
                return count
            await asyncio.sleep(gap)
            self.reset()
            count += 1

    def _drop(self, link: _Link) -> None:
        link.abort()
        self._links.discard(link)

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        task.set_name(f"{PROXY_TASK_PREFIX}accept")
        self._handlers.add(task)
        try:
            await self._serve(reader, writer)
        finally:
            self._handlers.discard(task)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.accepted += 1
        try:
            up_reader, up_writer = await asyncio.open_connection(self.target_host, self.target_port)
        except OSError:
            writer.transport.abort()
            return
        for w in (writer, up_writer):
            sock = w.get_extra_info("socket")
            if sock is not None:
                with contextlib.suppress(OSError):
                    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        link = _Link(writer, up_writer)
        if self.mode == "blackhole":
            link.tainted = True
        self._links.add(link)
        loop = asyncio.get_running_loop()
        link.tasks = [
            loop.create_task(self._pipe(reader, up_writer, link), name=f"{PROXY_TASK_PREFIX}up"),
            loop.create_task(self._pipe(up_reader, writer, link), name=f"{PROXY_TASK_PREFIX}down"),
        ]
        await asyncio.gather(*link.tasks, return_exceptions=True)
        self._drop(link)

    async def _pipe(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, link: _Link
    ) -> None:
        try:
            while True:
                data = await reader.read(_CHUNK)
                if not data:
                    break
                if self.mode == "blackhole" or link.tainted:
                    link.tainted = True
                    self.dropped_bytes += len(data)
                    continue
                writer.write(data)
                await writer.drain()
        except (ConnectionError, OSError):
            pass
        # One side ended: end the whole link, as the peer's TCP stack would learn. Not on a
        # blackholed link: there the FIN is lost like every other byte.
        if not link.tainted:
            self._drop(link)
