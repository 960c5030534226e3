"""The typed client without friction (issue 14, step 2), on the in-memory broker.

Per-call ``qos=`` / ``retain=`` on generated publish methods, ``TarsClient.from_env`` with
overrides, health under a service name, and ``publish_health`` with health disabled.
"""

from __future__ import annotations

import logging

import pytest

from mqttwire import ConfigError, MQTTClient, MQTTClientConfig
from mqttwire.testing import for_testing, kit_of
from tars_mqtt import TarsClient
from tars_mqtt.models import LLMResponse, TtsStatus


async def test_contract_qos_and_retain_are_the_default() -> None:
    async with for_testing(TarsClient) as tars:
        await tars.publish_tts_status(TtsStatus(event="speaking_start", text="hi"))
        (sent,) = kit_of(tars).published("tts_status")
    assert sent.meta.qos == tars.CHANNELS["tts_status"].publish_qos == 1
    assert sent.meta.retain is False


async def test_per_call_qos_and_retain_override_the_contract(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async with for_testing(TarsClient) as tars:
        with caplog.at_level(logging.WARNING, logger="mqttwire.typed"):
            await tars.publish_tts_status(TtsStatus(event="speaking_start", text="a"), qos=0)
            await tars.publish_tts_status(TtsStatus(event="speaking_end", text="a"), qos=0)
            await tars.publish_llm_response(LLMResponse(id="r1", reply="x"), qos=0)
            await tars.publish_tts_status(TtsStatus(event="paused", text="a"), qos=2, retain=True)
        sent = kit_of(tars).published("tts_status")
    assert [(p.meta.qos, p.meta.retain) for p in sent] == [(0, False), (0, False), (2, True)]
    downgrades = [r.getMessage() for r in caplog.records if "below the contract" in r.getMessage()]
    # once per channel: two downgrades on tts_status, one on llm_response; none for qos=2
    assert len(downgrades) == 2
    assert "tts_status at QoS 0, below the contract's QoS 1" in downgrades[0]
    assert "llm_response" in downgrades[1]


async def test_retain_false_overrides_a_retained_channel() -> None:
    from tars_mqtt.models import HealthPing

    async with for_testing(TarsClient) as tars:
        spec = tars.CHANNELS["system_health"]
        assert spec.publish_retain is True
        await tars.publish_system_health(HealthPing(ok=True), client_id="tts", retain=False)
        await tars.publish_system_health(HealthPing(ok=True), client_id="tts")
        sent = kit_of(tars).published("system_health")
    assert [p.meta.retain for p in sent] == [False, True]


def test_from_env_takes_overrides(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("MQTT_CLIENT_ID", "MQTT_SOURCE_NAME", "MQTT_HEALTH_NAME", "MQTT_ENABLE_HEALTH"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("MQTT_URL", "mqtt://broker.local:1884")
    tars = TarsClient.from_env(client_id="tars-tts", health_name="tts", enable_health=True)
    config = tars.client.config  # type: ignore[attr-defined]
    assert isinstance(config, MQTTClientConfig)
    assert (config.connection.host, config.connection.port) == ("broker.local", 1884)
    assert config.client_id == "tars-tts" and config.effective_health_name == "tts"
    assert tars.client.health_topic == "system/health/tts"  # type: ignore[attr-defined]

    monkeypatch.setenv("MQTT_CLIENT_ID", "from-env")
    assert TarsClient.from_env().client.client_id == "from-env"
    assert TarsClient.from_env(client_id="wins").client.client_id == "wins"


def test_raw_client_from_env_takes_overrides(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MQTT_CLIENT_ID", raising=False)
    monkeypatch.setenv("MQTT_URL", "mqtt://127.0.0.1:1884")
    client = MQTTClient.from_env(client_id="tars-tts", health_name="tts")
    assert client.client_id == "tars-tts" and client.health_topic == "system/health/tts"


def test_from_env_still_requires_a_client_id(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MQTT_CLIENT_ID", raising=False)
    monkeypatch.setenv("MQTT_URL", "mqtt://127.0.0.1:1883")
    with pytest.raises(ConfigError) as info:
        TarsClient.from_env()
    assert info.value.variable == "MQTT_CLIENT_ID"


def test_health_name_defaults_to_the_client_id_and_is_validated() -> None:
    config = MQTTClientConfig(client_id="tars-tts")
    assert config.health_name is None and config.effective_health_name == "tars-tts"
    assert (
        MQTTClientConfig.from_env({"MQTT_CLIENT_ID": "x", "MQTT_HEALTH_NAME": "tts"}).health_name
        == "tts"
    )
    for bad in ("", "a/b", "+", "#", "a\x00"):
        with pytest.raises(ConfigError) as info:
            MQTTClientConfig(client_id="tars-tts", health_name=bad)
        assert info.value.variable == "MQTT_HEALTH_NAME"


async def test_publish_health_is_a_no_op_when_health_is_disabled() -> None:
    async with for_testing(TarsClient, client_id="tars-tts") as tars:
        await tars.client.publish_health(True, event="ready")  # type: ignore[attr-defined]
        log = list(kit_of(tars).broker.log)
    assert [m.topic for m in log if m.topic.startswith("system/health/")] == []


async def test_publish_health_with_health_enabled_goes_to_the_health_name() -> None:
    async with for_testing(
        TarsClient, client_id="tars-tts", enable_health=True, health_name="tts"
    ) as tars:
        await tars.client.publish_health(False, event="error", error="no speaker")  # type: ignore[attr-defined]
        health = [m for m in kit_of(tars).broker.log if m.topic.startswith("system/health/")]
    assert {m.topic for m in health} == {"system/health/tts"}
    assert all(m.qos == 1 and m.retain for m in health)
