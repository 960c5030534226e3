"""Shared parts of the receive cases: the flood publisher process and arrival bookkeeping."""

from __future__ import annotations

import asyncio
import sys
import time
from pathlib import Path

from cases.common import envelope_payload

__all__ = ["EVENT_TYPE_FOR_QOS", "TRANSCRIPT_DATA", "Arrivals", "flood", "transcript_payload"]

TRANSCRIPT_DATA = {"text": "turn on the kitchen light please", "lang": "en", "confidence": 0.93}
# Contract: stt/partial is QoS 0 (PartialTranscript), stt/final is QoS 1 (FinalTranscript).
EVENT_TYPE_FOR_QOS = {0: "stt.partial", 1: "stt.final"}
BENCH_ROOT = Path(__file__).resolve().parent.parent


def transcript_payload(qos: int) -> bytes:
    """The bytes the receive cases flood at `qos`: a valid transcript envelope (~170 bytes)."""
    return envelope_payload(EVENT_TYPE_FOR_QOS[qos], TRANSCRIPT_DATA, source="stt-worker")


async def flood(url: str, topic: str, count: int, qos: int, data: bytes) -> float:
    """Run the flood publisher process to completion (all messages taken by the broker);
    returns the publisher's own rate in msg/s."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "cases.flood",
        url,
        topic,
        str(count),
        str(qos),
        data.hex(),
        cwd=BENCH_ROOT,
        stdout=asyncio.subprocess.PIPE,
    )
    out, _ = await proc.communicate()
    if proc.returncode != 0:
        raise RuntimeError(f"flood publisher exited with {proc.returncode}")
    for line in out.decode().splitlines():
        if line.startswith("FLOOD-RATE "):
            return float(line.split()[1])
    return float("nan")


class Arrivals:
    """Counts deliveries; the rate spans first to last arrival, loss is expected minus seen."""

    def __init__(self, expected: int) -> None:
        self.expected = expected
        self.count = 0
        self.first = 0.0
        self.last = 0.0
        self.cpu_first = 0.0
        self.cpu_last = 0.0
        self.done = asyncio.Event()

    def hit(self) -> None:
        now = time.perf_counter()
        if self.count == 0:
            self.first, self.cpu_first = now, time.process_time()
        self.count += 1
        self.last = now
        if self.count >= self.expected:
            self.cpu_last = time.process_time()
            self.done.set()

    async def settle(self, idle_s: float = 1.5) -> None:
        """Return when all arrived or nothing arrived for `idle_s` seconds."""
        while not self.done.is_set():
            seen = self.count
            try:
                await asyncio.wait_for(self.done.wait(), idle_s)
            except TimeoutError:
                if self.count == seen:
                    return

    def result(self) -> dict[str, float]:
        span = max(self.last - self.first, 1e-9)
        cpu_last = self.cpu_last or time.process_time()
        return {
            "msg_per_s": self.count / span,
            "cpu_us_per_msg": (cpu_last - self.cpu_first) / max(self.count, 1) * 1e6,
            "received": float(self.count),
            "lost": float(self.expected - self.count),
            "loss_pct": 100.0 * (self.expected - self.count) / self.expected,
        }
