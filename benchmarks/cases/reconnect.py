"""Reconnect after a proxy reset (broker up) and after a broker restart, with messages lost.

Harness wrappers around ``benchmarks/bench_reconnect.py`` (``n`` = number of outages):

    Case(name="reconnect.proxy_reset", target="cases.reconnect:proxy_reset", metric="p50_ms",
         unit="ms", higher_is_better=False, n=20, quick_n=5, broker="own", repetitions=1, ...)
"""

from __future__ import annotations

from typing import Any

from bench_reconnect import run_case

__all__ = ["broker_restart", "proxy_reset"]


def proxy_reset(params: dict[str, Any]) -> dict[str, float]:
    return run_case("proxy_reset", int(params["n"]))


def broker_restart(params: dict[str, Any]) -> dict[str, float]:
    return run_case("broker_restart", int(params["n"]))
