"""Serving until the process is asked to stop: SIGTERM is handled like Ctrl-C (SIGINT).

Service managers (systemd, Docker, Kubernetes) stop a process with SIGTERM; by default Python
dies on it at once, without the graceful shutdown (drain, retained health ``shutdown``, clean
DISCONNECT so the will does not fire). :func:`run_until_signal` waits for either signal, shuts
the client down, and ignores further signals while it does.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Awaitable, Callable, Iterable

__all__ = ["STOP_SIGNALS", "run_until_signal"]

_LOG = logging.getLogger("mqttwire.signals")

STOP_SIGNALS: tuple[signal.Signals, ...] = (signal.SIGINT, signal.SIGTERM)


async def run_until_signal(
    connect: Callable[[], Awaitable[None]],
    shutdown: Callable[[], Awaitable[None]],
    signals: Iterable[signal.Signals] = STOP_SIGNALS,
) -> signal.Signals:
    """Connect, wait for one of ``signals``, then shut down; returns the signal received.

    Signals arriving during the shutdown are logged and otherwise ignored, so a second Ctrl-C
    or a service manager repeating SIGTERM cannot cut the graceful shutdown short (it is bounded
    by ``shutdown_timeout``). Afterwards the process is on its way out: later ``signals`` are
    ignored (``SIG_IGN``, which, unlike a Python handler, also holds during interpreter
    finalization) instead of killing it while it exits.
    """
    loop = asyncio.get_running_loop()
    received: asyncio.Future[signal.Signals] = loop.create_future()
    installed: list[signal.Signals] = []

    def on_signal(sig: signal.Signals) -> None:
        if received.done():
            _LOG.warning("%s received again: already shutting down", sig.name)
        else:
            _LOG.info("%s received: shutting down", sig.name)
            received.set_result(sig)

    for sig in signals:
        try:
            loop.add_signal_handler(sig, on_signal, sig)
        except (NotImplementedError, RuntimeError):  # pragma: no cover - not on Unix main thread
            continue
        installed.append(sig)
    exiting = False
    try:
        await connect()
        sig = await received
        await shutdown()
        exiting = True
        return sig
    finally:
        for installed_sig in installed:
            with contextlib.suppress(Exception):
                loop.remove_signal_handler(installed_sig)  # back to the default action
                if exiting:
                    signal.signal(installed_sig, signal.SIG_IGN)
