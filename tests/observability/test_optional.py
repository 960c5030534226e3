"""OpenTelemetry stays optional: nothing imports it until telemetry is switched on."""

from __future__ import annotations

import subprocess
import sys

from mqttwire import MQTTClient, MQTTClientConfig


def _run(code: str) -> str:
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    return result.stdout.strip()


def test_importing_and_using_the_runtime_does_not_import_opentelemetry() -> None:
    code = (
        "import sys, mqttwire, tars_mqtt, mqttwire.observability, mqttwire.observability.logs\n"
        "from tars_mqtt import TarsClient\n"
        "TarsClient(mqttwire.MQTTClientConfig(client_id='x'))\n"
        "print(sorted(m for m in sys.modules if m.startswith('opentelemetry')))\n"
    )
    assert _run(code) == "[]"


def test_mqtt_otel_without_the_api_installed_is_a_config_error() -> None:
    code = (
        "import sys\n"
        "sys.modules['opentelemetry'] = None  # as if not installed\n"
        "from mqttwire import ConfigError, MQTTClient, MQTTClientConfig\n"
        "try:\n"
        "    MQTTClient(MQTTClientConfig(client_id='x', otel=True))\n"
        "except ConfigError as exc:\n"
        "    print(exc.variable, '|', exc)\n"
    )
    out = _run(code)
    assert out.startswith("MQTT_OTEL |"), out
    assert "pip install 'mqttwire[otel]'" in out


def test_off_by_default_and_on_by_setting() -> None:
    assert MQTTClient(MQTTClientConfig(client_id="x")).telemetry is None
    assert MQTTClientConfig.from_env({"MQTT_CLIENT_ID": "x", "MQTT_OTEL": "true"}).otel
    assert MQTTClient(MQTTClientConfig(client_id="x", otel=True)).telemetry is not None
