"""Configuration from the environment and URL parsing, as the seed does them (items 1-14, 56)."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from mqttwire.compat.tars import (
    ConnectionParams,
    MQTTClient,
    MQTTClientConfig,
    parse_mqtt_url,
)
from mqttwire.url import ConnectionParams as RuntimeParams

REQUIRED = {"MQTT_URL": "mqtt://broker.local:1884", "MQTT_CLIENT_ID": "tars-tts"}


def _env(monkeypatch: pytest.MonkeyPatch, **values: str) -> None:
    for name, value in {**REQUIRED, **values}.items():
        monkeypatch.setenv(name, value)


# ---------------------------------------------------------------- from_env


@pytest.mark.parametrize("missing", ["MQTT_URL", "MQTT_CLIENT_ID"])
def test_required_variable_missing_is_a_key_error_naming_it(
    monkeypatch: pytest.MonkeyPatch, missing: str
) -> None:
    _env(monkeypatch)
    monkeypatch.delenv(missing)
    with pytest.raises(KeyError, match=missing):
        MQTTClientConfig.from_env()


def test_defaults_when_only_the_required_variables_are_set(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _env(monkeypatch)
    config = MQTTClientConfig.from_env()
    assert config.mqtt_url == "mqtt://broker.local:1884"
    assert config.client_id == "tars-tts"
    assert config.source_name is None
    assert config.keepalive == 60
    assert config.enable_health is False
    assert config.enable_heartbeat is False
    assert config.heartbeat_interval == 5.0
    assert config.dedupe_ttl == 0
    assert config.dedupe_max_entries == 0
    assert config.reconnect_min_delay == 0.5
    assert config.reconnect_max_delay == 5.0


def test_every_optional_variable_is_read(monkeypatch: pytest.MonkeyPatch) -> None:
    _env(
        monkeypatch,
        MQTT_SOURCE_NAME="tts",
        MQTT_KEEPALIVE="30",
        MQTT_ENABLE_HEALTH="true",
        MQTT_ENABLE_HEARTBEAT="TRUE",
        MQTT_HEARTBEAT_INTERVAL="2.5",
        MQTT_DEDUPE_TTL="30",
        MQTT_DEDUPE_MAX_ENTRIES="2048",
        MQTT_RECONNECT_MIN_DELAY="1",
        MQTT_RECONNECT_MAX_DELAY="8",
    )
    config = MQTTClientConfig.from_env()
    assert (config.source_name, config.keepalive) == ("tts", 30)
    assert (config.enable_health, config.enable_heartbeat) == (True, True)
    assert config.heartbeat_interval == 2.5
    assert (config.dedupe_ttl, config.dedupe_max_entries) == (30.0, 2048)
    assert (config.reconnect_min_delay, config.reconnect_max_delay) == (1.0, 8.0)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("true", True),
        ("True", True),
        ("TRUE", True),
        ("false", False),
        ("1", False),
        ("yes", False),
        ("on", False),
        ("", False),
        ("   true", False),
    ],
)
def test_only_the_word_true_is_true(
    monkeypatch: pytest.MonkeyPatch, raw: str, expected: bool
) -> None:
    _env(monkeypatch, MQTT_ENABLE_HEALTH=raw, MQTT_ENABLE_HEARTBEAT=raw)
    config = MQTTClientConfig.from_env()
    assert config.enable_health is expected
    assert config.enable_heartbeat is expected


@pytest.mark.parametrize(
    "variable",
    [
        "MQTT_KEEPALIVE",
        "MQTT_HEARTBEAT_INTERVAL",
        "MQTT_DEDUPE_TTL",
        "MQTT_DEDUPE_MAX_ENTRIES",
        "MQTT_RECONNECT_MIN_DELAY",
        "MQTT_RECONNECT_MAX_DELAY",
    ],
)
@pytest.mark.parametrize("raw", ["abc", "", "1.5x"])
def test_malformed_number_is_a_value_error_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch, variable: str, raw: str
) -> None:
    _env(monkeypatch, **{variable: raw})
    with pytest.raises(ValueError, match=variable):
        MQTTClientConfig.from_env()


def test_integer_variables_reject_fractions_like_int_does(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _env(monkeypatch, MQTT_KEEPALIVE="60.0")
    with pytest.raises(ValueError, match="MQTT_KEEPALIVE"):
        MQTTClientConfig.from_env()


@pytest.mark.parametrize(
    ("variable", "raw"),
    [
        ("MQTT_KEEPALIVE", "0"),
        ("MQTT_KEEPALIVE", "3601"),
        ("MQTT_HEARTBEAT_INTERVAL", "0.5"),
        ("MQTT_DEDUPE_TTL", "-1"),
        ("MQTT_DEDUPE_MAX_ENTRIES", "-1"),
        ("MQTT_RECONNECT_MIN_DELAY", "0.05"),
        ("MQTT_RECONNECT_MAX_DELAY", "0.4"),
    ],
)
def test_out_of_range_values_fail_at_load_time(
    monkeypatch: pytest.MonkeyPatch, variable: str, raw: str
) -> None:
    _env(monkeypatch, **{variable: raw})
    with pytest.raises(ValidationError):
        MQTTClientConfig.from_env()


@pytest.mark.parametrize(
    ("variable", "raw"),
    [("MQTT_KEEPALIVE", "1"), ("MQTT_KEEPALIVE", "3600"), ("MQTT_HEARTBEAT_INTERVAL", "1.0")],
)
def test_range_limits_are_inclusive(
    monkeypatch: pytest.MonkeyPatch, variable: str, raw: str
) -> None:
    _env(monkeypatch, **{variable: raw})
    MQTTClientConfig.from_env()


def test_max_delay_below_min_delay_is_rejected(monkeypatch: pytest.MonkeyPatch) -> None:
    _env(monkeypatch, MQTT_RECONNECT_MIN_DELAY="3", MQTT_RECONNECT_MAX_DELAY="2")
    with pytest.raises(ValidationError, match="reconnect_max_delay"):
        MQTTClientConfig.from_env()


def test_dedupe_ttl_needs_max_entries(monkeypatch: pytest.MonkeyPatch) -> None:
    _env(monkeypatch, MQTT_DEDUPE_TTL="30")
    with pytest.raises(ValidationError, match="dedupe_max_entries"):
        MQTTClientConfig.from_env()


def test_cross_field_rules_hold_even_for_defaulted_fields() -> None:
    """Spec over seed: the seed accepted MQTTClientConfig(..., dedupe_ttl=30) alone."""
    with pytest.raises(ValidationError, match="dedupe_max_entries"):
        MQTTClientConfig(mqtt_url="mqtt://h", client_id="c", dedupe_ttl=30)
    with pytest.raises(ValidationError, match="reconnect_max_delay"):
        MQTTClientConfig(mqtt_url="mqtt://h", client_id="c", reconnect_min_delay=6.0)


def test_constructor_validates_with_the_same_model() -> None:
    with pytest.raises(ValueError):
        MQTTClient("mqtt://h", "c", keepalive=0)
    with pytest.raises(ValueError):
        MQTTClient("mqtt://h", "c", heartbeat_interval=0.5)
    with pytest.raises(ValueError):
        MQTTClient("mqtt://h", "c", dedupe_ttl=10)


def test_unknown_constructor_keyword_is_a_type_error() -> None:
    with pytest.raises(TypeError):
        MQTTClient("mqtt://h", "c", keep_alive=30)  # type: ignore[call-arg]


def test_source_name_is_the_third_positional_argument() -> None:
    client = MQTTClient("mqtt://h", "tars-tts", "tts", enable_health=True)
    assert client.runtime is None
    assert "tars-tts" in repr(client)


# ---------------------------------------------------------------- URL


def test_full_url() -> None:
    params = parse_mqtt_url("mqtt://user:secret@broker.example:1884")
    assert (params.hostname, params.port) == ("broker.example", 1884)
    assert (params.username, params.password) == ("user", "secret")


def test_defaults_host_localhost_and_port_1883() -> None:
    assert parse_mqtt_url("mqtt://broker") == ConnectionParams(hostname="broker", port=1883)
    assert parse_mqtt_url("mqtt://").hostname == "localhost"
    assert parse_mqtt_url("mqtt://:1999") == ConnectionParams(hostname="localhost", port=1999)


def test_path_and_query_are_ignored_and_scheme_case_is_free() -> None:
    assert parse_mqtt_url("MQTT://host:1900/some/path?x=1").port == 1900


def test_userinfo_is_taken_verbatim_and_ipv6_works() -> None:
    params = parse_mqtt_url("mqtt://us%40er:p%3Ass@[::1]:1884")
    assert (params.username, params.password) == ("us%40er", "p%3Ass")
    assert (params.hostname, params.port) == ("::1", 1884)


@pytest.mark.parametrize(
    "url", ["mqtts://h:8883", "tcp://h:1883", "ws://h:9001", "localhost:1883", "h", ""]
)
def test_only_the_mqtt_scheme(url: str) -> None:
    with pytest.raises(ValueError, match="Invalid MQTT URL scheme"):
        parse_mqtt_url(url)


@pytest.mark.parametrize("url", ["mqtt://h:abc", "mqtt://h:70000", "mqtt://u:pw@h:-1"])
def test_bad_port_is_a_value_error_without_the_password(url: str) -> None:
    with pytest.raises(ValueError) as info:
        parse_mqtt_url(url)
    assert "pw" not in str(info.value)


def test_invalid_url_fails_at_construction() -> None:
    with pytest.raises(ValueError, match="Invalid MQTT URL scheme"):
        MQTTClient("tcp://h:1883", "c")


def test_password_is_redacted_in_repr_and_str() -> None:
    params = parse_mqtt_url("mqtt://user:hunter2@h:1883")
    for text in (repr(params), str(params), repr(MQTTClient("mqtt://user:hunter2@h", "c"))):
        assert "hunter2" not in text
        assert "***REDACTED***" in text
    assert "***REDACTED***" not in repr(parse_mqtt_url("mqtt://user@h"))


@pytest.mark.parametrize("client_id", ["tars/tts", "tts+", "tts#"])
def test_client_id_that_cannot_be_a_topic_level_is_a_value_error(client_id: str) -> None:
    with pytest.raises(ValueError, match="MQTT_CLIENT_ID"):
        MQTTClient("mqtt://h", client_id)


@pytest.mark.parametrize(
    "url",
    [
        "mqtt://user:p@ss@h:1884",
        "mqtt://us%40er:pa%3Ass@h",
        "mqtt://user:a:b%2Fc@[::1]:1999",
        "mqtt://only-user@h",
        "mqtt://h",
    ],
)
def test_the_runtime_connects_with_exactly_the_seeds_credentials(url: str) -> None:
    """Userinfo is verbatim in the seed; the runtime's URL decoding must give it back as is."""
    seed = parse_mqtt_url(url)
    runtime = RuntimeParams.from_url(seed.runtime_url())
    assert (runtime.host, runtime.port) == (seed.hostname, seed.port)
    assert (runtime.username, runtime.password) == (seed.username, seed.password)
