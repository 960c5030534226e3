"""The drop-in is opt-in and light: nothing of it in ``import mqttwire``, no generator deps."""

from __future__ import annotations

import subprocess
import sys

import mqttwire

CODE = """
import sys
import mqttwire
assert "mqttwire.compat" not in sys.modules, "import mqttwire must not load the drop-in"
from mqttwire.compat.tars import (
    ConnectionParams, Envelope, HealthPing, HeartbeatPayload, MessageDeduplicator, MQTTClient,
    MQTTClientConfig, parse_mqtt_url,
)
MQTTClient("mqtt://localhost", "svc")
heavy = sorted(
    m for m in sys.modules
    if m.split(".")[0] in {"jinja2", "datamodel_code_generator", "yaml", "mqttwire_codegen"}
)
print(",".join(heavy))
"""


def test_importing_the_drop_in_pulls_no_generator_dependencies() -> None:
    proc = subprocess.run([sys.executable, "-c", CODE], capture_output=True, text=True, check=True)
    assert proc.stdout.strip() == ""


def test_mqttwire_exports_nothing_of_the_drop_in() -> None:
    assert "compat" not in mqttwire.__all__
    assert not any(name.startswith("compat") for name in mqttwire.__all__)
