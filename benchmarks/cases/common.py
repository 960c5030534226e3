"""Small helpers shared by the measurement modules (no mqttwire import here)."""

from __future__ import annotations

import json
import os
import socket
import time
from dataclasses import dataclass
from typing import Any

PAYLOAD_SIZE = 100
NODELAY = (socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
FLUSH_SUFFIX = "/flush"

__all__ = [
    "FLUSH_SUFFIX",
    "NODELAY",
    "PAYLOAD_SIZE",
    "Clock",
    "envelope_payload",
    "payload",
    "rss_mib",
    "unique_topic",
]


def payload(size: int = PAYLOAD_SIZE) -> bytes:
    """Ready bytes of the given size (printable, so brokers and logs stay readable)."""
    return (b"x" * size)[:size]


def unique_topic(prefix: str) -> str:
    """A topic no other run or repetition shares."""
    return f"bench/{prefix}/{os.getpid()}-{os.urandom(3).hex()}"


def envelope_payload(event_type: str, data: dict[str, Any], source: str = "bench") -> bytes:
    """A TARS envelope `{id, type, ts, source, data}` built by hand (raw and typed cases share it)."""
    envelope = {
        "id": os.urandom(16).hex(),
        "type": event_type,
        "ts": time.time(),
        "source": source,
        "data": data,
    }
    return json.dumps(envelope, separators=(",", ":")).encode()


def rss_mib() -> float:
    """Resident set size of this process (VmRSS from /proc/self/status) in MiB."""
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError("VmRSS not found in /proc/self/status")


@dataclass
class Clock:
    """Wall and process-CPU time since `start()` (CPU covers every thread of the process)."""

    wall: float = 0.0
    cpu: float = 0.0

    @classmethod
    def start(cls) -> Clock:
        return cls(time.perf_counter(), time.process_time())

    def throughput(self, messages: int) -> dict[str, float]:
        """msg/s and CPU µs per message for `messages` handled since start."""
        wall = time.perf_counter() - self.wall
        cpu = time.process_time() - self.cpu
        return {
            "msg_per_s": messages / wall,
            "cpu_us_per_msg": cpu / messages * 1e6,
            "seconds": wall,
        }
