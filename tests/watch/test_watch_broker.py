"""``mqttwire watch`` on a real mosquitto: clean traffic, each injected fault once, restarts.

The watcher runs in-process (:class:`Watcher`); the CLI around it is tested in test_watch_cli.
Every wait is on messages judged or on client state, never on time.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from support.acl import deny_topics_config
from watch_support import envelope, tars_contract

from mqttwire import ClientState, MQTTClient, MQTTClientConfig
from mqttwire.testing.broker import MosquittoBroker
from mqttwire.transport import MessageProperties
from mqttwire_codegen.watch.findings import FindingClass
from mqttwire_codegen.watch.live import Watcher, watch_config
from mqttwire_codegen.watch.report import WatchReport
from tars_mqtt import TarsClient
from tars_mqtt.models import FinalTranscript, LLMRequest, TtsSay, TtsStatus

pytestmark = pytest.mark.integration

WAIT = 30.0  # only catches hangs
FAST = {"reconnect_min_delay": 0.1, "reconnect_max_delay": 0.5, "shutdown_timeout": 2.0}


async def until(watcher: Watcher, condition: Callable[[WatchReport], bool]) -> None:
    await asyncio.wait_for(watcher.wait_for(condition), WAIT)


def counts(report: WatchReport) -> dict[str, int]:
    return {c.value: n for c, n in report.counts.items() if n}


@pytest.fixture
async def watcher_on(
    mqtt_broker: MosquittoBroker,
) -> AsyncIterator[Callable[..., Any]]:
    started: list[Watcher] = []

    async def start(protocol: str = "3.1.1") -> Watcher:
        config = watch_config(mqtt_broker.url, client_id="the-watcher", protocol=protocol, **FAST)
        watcher = Watcher(tars_contract(), config)
        started.append(watcher)
        await watcher.start()
        return watcher

    yield start
    for watcher in started:
        await watcher.stop()


def _service(broker: MosquittoBroker, name: str, **settings: Any) -> TarsClient:
    return TarsClient(MQTTClientConfig(url=broker.url, client_id=name, **FAST, **settings))


def _assert_never_published(broker: MosquittoBroker, client_id: str) -> None:
    log = broker.log()
    assert f"as {client_id} (" in log, "the watcher never connected?"
    assert f"Received PUBLISH from {client_id} " not in log


async def test_compliant_traffic_of_the_generated_client_gives_a_clean_report(
    mqtt_broker: MosquittoBroker, watcher_on: Callable[..., Any]
) -> None:
    watcher = await watcher_on()
    # services named as the contract's x-publishers; each announces health (retained, QoS 1)
    names = ("stt-worker", "router", "tts-worker")
    services = {n: _service(mqtt_broker, n, enable_health=True) for n in names}
    for service in services.values():
        await service.connect()
    await services["stt-worker"].publish_stt_final(FinalTranscript(text="hi", utt_id="u1"))
    await services["router"].publish_llm_request(LLMRequest(id="r1", text="hi"))
    await services["router"].publish_tts_say(TtsSay(text="hello", utt_id="u1"))
    await services["tts-worker"].publish_tts_status(TtsStatus(event="speaking_start"))
    await services["tts-worker"].publish_tts_status(TtsStatus(event="speaking_end"))
    for service in services.values():
        await service.shutdown()  # health ok=false event=shutdown, retained
    await until(watcher, lambda r: r.messages >= 3 + 5 + 3)

    report = watcher.report
    assert report.messages == 11
    assert counts(report) == {}
    document = report.to_json(watcher.meta())
    assert document["clean"] is True
    assert {t["topic"] for t in document["topics"]} >= {
        "stt/final",
        "llm/request",
        "tts/say",
        "tts/status",
        "system/health/router",
    }
    assert "Received PUBLISH from router " in mqtt_broker.log()  # the check below can fail
    _assert_never_published(mqtt_broker, "the-watcher")


async def test_each_injected_fault_appears_exactly_once_with_its_class(
    mqtt_broker: MosquittoBroker, watcher_on: Callable[..., Any]
) -> None:
    injector = MQTTClient(MQTTClientConfig(url=mqtt_broker.url, client_id="injector", **FAST))
    await injector.connect()
    try:
        # from last year: a retained status on a channel the contract does not retain
        stale = envelope("tts.status", TtsStatus(event="stopped"), "tts-worker")
        await injector.publish("tts/status", stale, qos=1, retain=True)
        watcher = await watcher_on()
        await until(watcher, lambda r: r.messages >= 1)

        await injector.publish("nobody/declared/this", b"{}", qos=1)
        wrong_type = envelope("tts.say", {"text": 42}, "router")
        await injector.publish("tts/say", wrong_type, qos=1)
        wrong_event = envelope("tts.shout", TtsSay(text="hey"), "router")
        await injector.publish("tts/say", wrong_event, qos=1)
        qos0 = envelope("stt.final", FinalTranscript(text="hi"), "stt-worker")
        await injector.publish("stt/final", qos0, qos=0)
        await until(watcher, lambda r: r.messages >= 5)
    finally:
        await injector.shutdown()

    report = watcher.report
    assert report.messages == 5
    assert counts(report) == {
        "retained-not-declared": 1,
        "undeclared-topic": 1,
        "invalid-payload": 1,
        "wrong-event-type": 1,
        "qos-mismatch": 1,
    }
    examples = {c.value: e for c, e in report.examples.items()}
    assert examples["retained-not-declared"].topic == "tts/status"
    assert examples["retained-not-declared"].retain is True
    assert examples["undeclared-topic"].topic == "nobody/declared/this"
    assert "text: 42 is not of type 'string'" in examples["invalid-payload"].detail
    assert "'tts.shout'" in examples["wrong-event-type"].detail
    assert examples["qos-mismatch"].topic == "stt/final"
    assert examples["qos-mismatch"].qos == 0
    failed = report.seen(frozenset({FindingClass.INVALID_PAYLOAD, FindingClass.UNDECLARED_TOPIC}))
    assert failed == [FindingClass.INVALID_PAYLOAD, FindingClass.UNDECLARED_TOPIC]
    _assert_never_published(mqtt_broker, "the-watcher")


async def test_mqtt5_content_type_is_judged_and_generated_traffic_is_clean(
    mqtt_broker: MosquittoBroker, watcher_on: Callable[..., Any]
) -> None:
    watcher = await watcher_on(protocol="5")
    router = _service(mqtt_broker, "router", protocol="5")
    await router.connect()
    try:
        await router.publish_tts_say(TtsSay(text="typed, over MQTT 5"))
        await until(watcher, lambda r: r.messages >= 1)
        payload = envelope("tts.say", TtsSay(text="labelled wrongly"), "router")
        await router.client.publish(
            "tts/say", payload, qos=1, properties=MessageProperties(content_type="text/plain")
        )
        await until(watcher, lambda r: r.messages >= 2)
    finally:
        await router.shutdown()
    assert counts(watcher.report) == {"content-type-mismatch": 1}
    assert watcher.meta()["protocol"] == "5"
    _assert_never_published(mqtt_broker, "the-watcher")


async def test_the_watcher_survives_a_broker_restart_and_judges_what_comes_after(
    mqtt_broker: MosquittoBroker, watcher_on: Callable[..., Any]
) -> None:
    watcher = await watcher_on()
    reconnected = asyncio.Event()

    def on_state(state: ClientState) -> None:
        if state is ClientState.CONNECTED and watcher.client.metrics.connects >= 2:
            reconnected.set()

    watcher.client.add_state_listener(on_state)
    publisher = MQTTClient(MQTTClientConfig(url=mqtt_broker.url, client_id="router", **FAST))
    await publisher.connect()
    try:
        good = envelope("tts.say", TtsSay(text="before"), "router")
        await publisher.publish("tts/say", good, qos=1)
        await until(watcher, lambda r: r.messages >= 1)

        mqtt_broker.kill()
        mqtt_broker.start()
        await asyncio.wait_for(reconnected.wait(), WAIT)  # connected = resubscribed

        bad = envelope("tts.say", {"text": ["not", "a", "string"]}, "router")
        await publisher.publish("tts/say", bad, qos=1)  # queued until the publisher is back
        await until(watcher, lambda r: r.messages >= 2)
    finally:
        await publisher.shutdown()
    assert watcher.report.messages == 2
    assert counts(watcher.report) == {"invalid-payload": 1}
    assert watcher.meta()["connects"] == 2
    _assert_never_published(mqtt_broker, "the-watcher")


def test_the_watch_client_is_configured_to_never_publish_on_its_own() -> None:
    config = watch_config("mqtt://user:secret@127.0.0.1:1")
    assert config.enable_health is False  # no last will, no health messages
    assert config.enable_heartbeat is False
    assert config.offline_queue_size == 0
    assert config.client_id.startswith("mqttwire-watch-")
    watcher = Watcher(tars_contract(), config)
    assert watcher.meta()["broker"] == "mqtt://user:***@127.0.0.1:1"


async def test_a_broker_refusing_hash_gets_one_subscription_per_channel(tmp_path: Path) -> None:
    """Without ``#`` the watcher still judges the contract's channels (not undeclared topics)."""
    config = deny_topics_config(tmp_path, ["#"])
    path = tmp_path / "dynamic-security.json"
    dynsec = json.loads(path.read_text())
    for acl in dynsec["roles"][0]["acls"]:
        acl["acltype"] = "subscribeLiteral"  # refuse exactly the filter "#", nothing else
    path.write_text(json.dumps(dynsec))
    with MosquittoBroker(extra_config=config) as broker:
        broker.start()
        watcher = Watcher(
            tars_contract(), watch_config(broker.url, client_id="acl-watcher", **FAST)
        )
        await watcher.start()
        publisher = MQTTClient(MQTTClientConfig(url=broker.url, client_id="router", **FAST))
        await publisher.connect()
        try:
            assert watcher.coverage == "contract channels only (the broker refused '#')"
            await publisher.publish("nobody/declared/this", b"{}", qos=1)
            bad = envelope("tts.say", {"text": 1}, "router")
            await publisher.publish("tts/say", bad, qos=1)
            await until(watcher, lambda r: r.messages >= 1)
        finally:
            await publisher.shutdown()
            await watcher.stop()
    assert counts(watcher.report) == {"invalid-payload": 1}
    assert [topic for topic, _ in watcher.report.rows()] == ["tts/say"]


async def test_a_real_flood_of_distinct_topics_stays_within_the_topic_cap(
    mqtt_broker: MosquittoBroker,
) -> None:
    config = watch_config(mqtt_broker.url, client_id="flood-watcher", **FAST)
    watcher = Watcher(tars_contract(), config, report=WatchReport(max_topics=50))
    await watcher.start()
    flooder = MQTTClient(MQTTClientConfig(url=mqtt_broker.url, client_id="flooder", **FAST))
    await flooder.connect()
    try:
        for i in range(1000):
            await flooder.publish(f"flood/{i}", b"{}", qos=1)
        await until(watcher, lambda r: r.messages >= 1000)
    finally:
        await flooder.shutdown()
        await watcher.stop()
    report = watcher.report
    assert report.footprint()[0] == 50
    assert report.other.messages == 950
    assert counts(report) == {"undeclared-topic": 1000}
    assert watcher.meta()["dropped_by_watcher"] == 0
