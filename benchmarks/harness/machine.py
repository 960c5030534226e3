"""Machine and package facts recorded next to the numbers."""

from __future__ import annotations

import os
import platform
import subprocess
from importlib import metadata
from typing import Any

from mqttwire.testing.broker import find_mosquitto

PACKAGES = (
    "mqttwire",
    "mqttwire-workspace",  # the developer install of this repository (pyproject.toml at the root)
    "aiomqtt",
    "paho-mqtt",
    "pydantic",
    "pydantic-core",
    "orjson",
    "faststream",
    "zmqtt",
    "matplotlib",
)

__all__ = ["machine_info"]


def _version(package: str) -> str | None:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def _mosquitto_version() -> str | None:
    binary = find_mosquitto()
    if binary is None:
        return None
    # `mosquitto -h` prints "mosquitto version X.Y.Z" and exits non-zero.
    proc = subprocess.run([binary, "-h"], capture_output=True, text=True, timeout=10, check=False)
    first = (proc.stdout or proc.stderr).splitlines()
    return first[0].strip() if first else None


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine_info() -> dict[str, Any]:
    load = os.getloadavg() if hasattr(os, "getloadavg") else None
    return {
        "cpu_count": os.cpu_count(),
        "cpu_model": _cpu_model(),
        "machine": platform.machine(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "python_implementation": platform.python_implementation(),
        "load_average_at_start": list(load) if load else None,
        "mosquitto": _mosquitto_version(),
        "packages": {name: _version(name) for name in PACKAGES},
    }
