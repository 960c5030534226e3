"""The broker every benchmark talks to: a private mosquitto on a free loopback port."""

from __future__ import annotations

from pathlib import Path

from mqttwire.testing.broker import MosquittoBroker

__all__ = ["BenchBroker"]


class BenchBroker(MosquittoBroker):
    """`MosquittoBroker` with per-message logging switched off.

    The test broker logs every packet (`log_type all`) into a file, which costs the broker
    more CPU than routing at benchmark rates; here only warnings and errors are logged.
    """

    def _write_config(self) -> Path:
        path = super()._write_config()
        lines = [
            line
            for line in path.read_text().splitlines()
            if not line.startswith(("log_type", "connection_messages"))
        ]
        lines += ["log_type error", "log_type warning", "connection_messages false"]
        path.write_text("\n".join(lines) + "\n")
        return path
