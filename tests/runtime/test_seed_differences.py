"""Each row of docs/migration.md "Settings: where mqttwire differs from the seed client".

The seed is py-tars' ``tars.adapters.mqtt_client`` as restated in
../shared/tars-interface/CLIENT-REQUIREMENTS.md (items 2, 4, 8-12, 30, 33, 45).
"""

from __future__ import annotations

import pytest

from mqttwire import ConfigError, MQTTClientConfig
from mqttwire.client import WATCHDOG_INTERVALS

BASE = {"MQTT_CLIENT_ID": "tars-tts"}


def test_missing_url_defaults_to_the_seeds_default_host_and_port() -> None:
    config = MQTTClientConfig.from_env(BASE)
    assert (config.connection.host, config.connection.port) == ("localhost", 1883)
    with pytest.raises(ConfigError) as info:
        MQTTClientConfig.from_env({"MQTT_URL": "mqtt://127.0.0.1:1883"})
    assert info.value.variable == "MQTT_CLIENT_ID"  # still required


@pytest.mark.parametrize("url", ["mqtt://h", "MQTT://h:1883", "mqtt://h:1883/"])
def test_every_url_shape_the_seed_accepts_without_a_path_still_works(url: str) -> None:
    config = MQTTClientConfig.from_env({**BASE, "MQTT_URL": url})
    assert (config.connection.host, config.connection.port) == ("h", 1883)


@pytest.mark.parametrize("url", ["mqtt://:1883", "mqtt://h:1883/ws", "mqtt://h?x=1"])
def test_empty_host_or_a_path_is_an_error_not_a_silent_default(url: str) -> None:
    with pytest.raises(ConfigError) as info:
        MQTTClientConfig.from_env({**BASE, "MQTT_URL": url})
    assert info.value.variable == "MQTT_URL"


@pytest.mark.parametrize("value", ["true", "TRUE", "True", "1", "yes", "on"])
def test_every_seed_true_is_true_and_common_spellings_too(value: str) -> None:
    assert MQTTClientConfig.from_env({**BASE, "MQTT_ENABLE_HEALTH": value}).enable_health


@pytest.mark.parametrize("value", ["false", "0", "no", "off"])
def test_false_spellings(value: str) -> None:
    assert not MQTTClientConfig.from_env({**BASE, "MQTT_ENABLE_HEALTH": value}).enable_health


@pytest.mark.parametrize("value", ["ture", "enabled", "2"])
def test_a_typo_is_an_error_where_the_seed_reads_false(value: str) -> None:
    with pytest.raises(ConfigError) as info:
        MQTTClientConfig.from_env({**BASE, "MQTT_ENABLE_HEALTH": value})
    assert info.value.variable == "MQTT_ENABLE_HEALTH"


def test_userinfo_is_percent_decoded() -> None:
    config = MQTTClientConfig.from_env({**BASE, "MQTT_URL": "mqtt://us%40er:p%25w%3Ad@h:1883"})
    assert (config.connection.username, config.connection.password) == ("us@er", "p%w:d")


def test_watchdog_finds_a_dead_link_within_the_seeds_three_intervals() -> None:
    # declared dead after WATCHDOG_INTERVALS without an echo, checked every quarter interval;
    # the behaviour itself: tests/faults/test_proxy_faults.py (blackholing proxy)
    assert WATCHDOG_INTERVALS + 0.25 <= 3.0


def test_health_topic_is_the_client_id_unless_health_name_is_set() -> None:
    assert MQTTClientConfig.from_env(BASE).effective_health_name == "tars-tts"
    named = MQTTClientConfig.from_env({**BASE, "MQTT_HEALTH_NAME": "tts"})
    assert named.effective_health_name == "tts"
