"""MQTTClientConfig: every variable, defaults, and errors that name the variable."""

from __future__ import annotations

from pathlib import Path

import pytest

from mqttwire import ENV_VARIABLES, ConfigError, MQTTClientConfig

BASE = {"MQTT_CLIENT_ID": "tars-stt"}


def test_defaults_match_the_deployed_design() -> None:
    config = MQTTClientConfig.from_env(BASE)
    assert config.url == "mqtt://localhost:1883"
    assert config.client_id == "tars-stt"
    assert config.source_name is None
    assert config.keepalive == 60
    assert config.enable_health is False
    assert config.enable_heartbeat is False
    assert config.heartbeat_interval == 5.0
    assert config.dedupe_ttl == 0
    assert config.dedupe_max_entries == 0
    assert config.reconnect_min_delay == 0.5
    assert config.reconnect_max_delay == 5.0
    assert config.protocol == "3.1.1"
    assert config.clean_session is True
    assert config.offline_queue_size == 1000
    assert config.publish_timeout == 10.0
    assert config.effective_source == "tars-stt"


def test_every_variable_is_read(tmp_path: Path) -> None:
    ca = tmp_path / "ca.pem"
    cert = tmp_path / "cert.pem"
    key = tmp_path / "key.pem"
    for path in (ca, cert, key):
        path.write_text("x")
    env = {
        "MQTT_URL": "mqtts://user:p%40ss@broker.local:8884",
        "MQTT_CLIENT_ID": "tts",
        "MQTT_SOURCE_NAME": "tts-worker",
        "MQTT_KEEPALIVE": "15",
        "MQTT_ENABLE_HEALTH": "true",
        "MQTT_ENABLE_HEARTBEAT": "1",
        "MQTT_HEARTBEAT_INTERVAL": "2.5",
        "MQTT_DEDUPE_TTL": "30",
        "MQTT_DEDUPE_MAX_ENTRIES": "2048",
        "MQTT_RECONNECT_MIN_DELAY": "0.2",
        "MQTT_RECONNECT_MAX_DELAY": "8",
        "MQTT_HEALTH_NAME": "tts",
        "MQTT_PROTOCOL": "5",
        "MQTT_CLEAN_SESSION": "false",
        "MQTT_SESSION_EXPIRY": "120",
        "MQTT_TLS_CA_FILE": str(ca),
        "MQTT_TLS_CERT_FILE": str(cert),
        "MQTT_TLS_KEY_FILE": str(key),
        "MQTT_TLS_INSECURE": "no",
        "MQTT_OFFLINE_QUEUE_SIZE": "50",
        "MQTT_OFFLINE_QUEUE_BYTES": "65536",
        "MQTT_OFFLINE_QUEUE_PATH": str(tmp_path / "outbox.db"),
        "MQTT_OFFLINE_QUEUE_QOS0": "on",
        "MQTT_PUBLISH_TIMEOUT": "3",
        "MQTT_CONNECT_TIMEOUT": "4",
        "MQTT_CONNECT_RETRY": "yes",
        "MQTT_HANDLER_QUEUE_SIZE": "10",
        "MQTT_HANDLER_QUEUE_BYTES": "4096",
        "MQTT_SHUTDOWN_TIMEOUT": "1.5",
        "MQTT_OTEL": "true",
        "MQTT_ACK_AFTER_HANDLER": "true",
    }
    assert set(env) == set(ENV_VARIABLES.values())
    config = MQTTClientConfig.from_env(env)
    assert config.connection.host == "broker.local"
    assert config.connection.port == 8884
    assert config.connection.password == "p@ss"
    assert config.tls is True
    assert config.client_id == "tts" and config.source_name == "tts-worker"
    assert config.effective_source == "tts-worker"
    assert config.effective_health_name == "tts"
    assert config.keepalive == 15
    assert config.enable_health and config.enable_heartbeat
    assert config.heartbeat_interval == 2.5
    assert (config.dedupe_ttl, config.dedupe_max_entries) == (30, 2048)
    assert (config.reconnect_min_delay, config.reconnect_max_delay) == (0.2, 8)
    assert config.protocol == "5" and config.clean_session is False
    assert config.session_expiry == 120
    assert (config.tls_ca_file, config.tls_cert_file, config.tls_key_file) == (
        str(ca),
        str(cert),
        str(key),
    )
    assert config.tls_insecure is False
    assert config.offline_queue_size == 50 and config.offline_queue_qos0 is True
    assert config.offline_queue_bytes == 65536
    assert config.offline_queue_path == str(tmp_path / "outbox.db")
    assert config.publish_timeout == 3 and config.connect_timeout == 4
    assert config.connect_retry is True
    assert config.handler_queue_size == 10 and config.shutdown_timeout == 1.5
    assert config.otel is True
    assert config.handler_queue_bytes == 4096
    assert config.ack_after_handler is True


def test_direct_construction_and_mqtt_url_alias() -> None:
    direct = MQTTClientConfig(url="mqtt://127.0.0.1:1883", client_id="tts")
    alias = MQTTClientConfig(mqtt_url="mqtt://127.0.0.1:1883", client_id="tts")
    assert direct == alias
    assert direct.connection.port == 1883


def test_overrides_win_over_environment() -> None:
    config = MQTTClientConfig.from_env({**BASE, "MQTT_KEEPALIVE": "10"}, keepalive=20)
    assert config.keepalive == 20


def test_empty_variables_count_as_unset() -> None:
    assert MQTTClientConfig.from_env({**BASE, "MQTT_KEEPALIVE": ""}).keepalive == 60


def test_keepalive_error_message_is_exact() -> None:
    with pytest.raises(ConfigError) as info:
        MQTTClientConfig.from_env({**BASE, "MQTT_KEEPALIVE": "0"})
    assert str(info.value) == "MQTT_KEEPALIVE must be between 1 and 3600, got 0"
    assert info.value.variable == "MQTT_KEEPALIVE" and info.value.value == 0


INVALID = [
    ("MQTT_URL", "http://broker:1883"),
    ("MQTT_URL", "not-even-a-url"),
    ("MQTT_URL", "mqtt://broker:99999"),
    ("MQTT_URL", "mqtt://:1883"),
    ("MQTT_URL", "mqtt://broker:1883/path"),
    ("MQTT_CLIENT_ID", "a/b"),
    ("MQTT_CLIENT_ID", "a+b"),
    ("MQTT_KEEPALIVE", "3601"),
    ("MQTT_KEEPALIVE", "1.5"),
    ("MQTT_KEEPALIVE", "abc"),
    ("MQTT_ENABLE_HEALTH", "maybe"),
    ("MQTT_ENABLE_HEARTBEAT", "2"),
    ("MQTT_HEARTBEAT_INTERVAL", "0.5"),
    ("MQTT_HEARTBEAT_INTERVAL", "abc"),
    ("MQTT_DEDUPE_TTL", "-0.5"),
    ("MQTT_DEDUPE_MAX_ENTRIES", "-1"),
    ("MQTT_DEDUPE_MAX_ENTRIES", "0.5"),
    ("MQTT_RECONNECT_MIN_DELAY", "0.005"),
    ("MQTT_RECONNECT_MAX_DELAY", "0.1"),
    ("MQTT_PROTOCOL", "4"),
    ("MQTT_CLEAN_SESSION", "sometimes"),
    ("MQTT_SESSION_EXPIRY", "-1"),
    ("MQTT_TLS_CA_FILE", "/nonexistent/ca.pem"),
    ("MQTT_TLS_CERT_FILE", "/nonexistent/cert.pem"),
    ("MQTT_TLS_KEY_FILE", "/nonexistent/key.pem"),
    ("MQTT_TLS_INSECURE", "perhaps"),
    ("MQTT_OFFLINE_QUEUE_SIZE", "-3"),
    ("MQTT_OFFLINE_QUEUE_QOS0", "x"),
    ("MQTT_PUBLISH_TIMEOUT", "0"),
    ("MQTT_CONNECT_TIMEOUT", "-1"),
    ("MQTT_CONNECT_RETRY", "x"),
    ("MQTT_HANDLER_QUEUE_SIZE", "0"),
    ("MQTT_SHUTDOWN_TIMEOUT", "-1"),
]


@pytest.mark.parametrize(("variable", "value"), INVALID)
def test_each_invalid_value_names_its_variable(variable: str, value: str) -> None:
    with pytest.raises(ConfigError) as info:
        MQTTClientConfig.from_env({**BASE, variable: value})
    assert info.value.variable == variable
    assert str(info.value).startswith(variable + " ")
    assert "got" in str(info.value)


def test_cross_field_rules() -> None:
    with pytest.raises(ConfigError) as info:
        MQTTClientConfig(client_id="c", reconnect_min_delay=5.0, reconnect_max_delay=1.0)
    assert info.value.variable == "MQTT_RECONNECT_MIN_DELAY"
    with pytest.raises(ConfigError) as info:
        MQTTClientConfig(client_id="c", dedupe_ttl=30.0, dedupe_max_entries=0)
    assert info.value.variable == "MQTT_DEDUPE_MAX_ENTRIES"


def test_client_id_is_required() -> None:
    with pytest.raises(ConfigError) as info:
        MQTTClientConfig.from_env({})
    assert info.value.variable == "MQTT_CLIENT_ID"
    with pytest.raises(ConfigError) as info:
        MQTTClientConfig()  # type: ignore[call-arg]
    assert info.value.variable == "MQTT_CLIENT_ID"


def test_unknown_setting_is_rejected() -> None:
    with pytest.raises(ConfigError):
        MQTTClientConfig(client_id="c", colour="blue")


def test_password_is_hidden_in_config_repr_and_errors() -> None:
    config = MQTTClientConfig(url="mqtt://u:hunter2@h:1883", client_id="c")
    assert "hunter2" not in repr(config)
    assert "hunter2" not in str(config)
    with pytest.raises(ConfigError) as info:
        MQTTClientConfig(url="http://u:hunter2@h:1883", client_id="c")
    assert "hunter2" not in str(info.value) and "hunter2" not in repr(info.value.value)


def test_config_is_immutable() -> None:
    config = MQTTClientConfig(client_id="c")
    with pytest.raises(Exception):  # noqa: B017 - pydantic's frozen error
        config.keepalive = 5  # type: ignore[misc]


def test_tars_valid_samples_are_accepted(tars_examples: Path) -> None:
    import json

    samples = json.loads((tars_examples / "MQTTClientConfig.valid.json").read_text())
    accepted = 0
    for sample in samples:
        if sample.get("unexpected_field") or sample.get("client_id") == "":
            continue  # our config forbids unknown keys and empty client ids (stricter on purpose)
        if sample.get("mqtt_url") == "not-even-a-url":
            continue
        if sample.get("dedupe_ttl") is True and not sample.get("dedupe_max_entries"):
            continue  # a TTL without room for entries is rejected here (no silent no-op dedupe)
        MQTTClientConfig(**sample)
        accepted += 1
    assert accepted >= 50


def test_tars_invalid_samples_are_rejected(tars_examples: Path) -> None:
    import json

    samples = json.loads((tars_examples / "MQTTClientConfig.invalid.json").read_text())
    for sample in samples:
        if "mqtt_url" not in sample:
            continue  # our url defaults to mqtt://localhost:1883
        with pytest.raises(ConfigError):
            MQTTClientConfig(**sample)
