"""The judge: one message in, the findings a watcher reports out (pure, no broker)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from watch_support import envelope, tars_contract

from mqttwire.health import encode_health
from mqttwire_codegen.watch.judge import (
    FAIL_ON_GROUPS,
    FindingClass,
    Judge,
    Verdict,
    parse_fail_on,
)
from tars_mqtt.models import FinalTranscript, TtsSay, TtsStatus

F = FindingClass


@pytest.fixture(scope="module")
def judge() -> Judge:
    return Judge(tars_contract())


def kinds(verdict: Verdict) -> list[FindingClass]:
    return [f.kind for f in verdict.findings]


def test_messages_the_generated_models_publish_are_clean(judge: Judge) -> None:
    say = envelope("tts.say", TtsSay(text="hello"), "router")
    assert judge.judge("tts/say", say, qos=1, retain=False) == Verdict("tts_say")
    final = envelope("stt.final", FinalTranscript(text="hi", utt_id="u1"), "stt-worker")
    assert judge.judge("stt/final", final, qos=1, retain=False).ok
    status = envelope("tts.status", TtsStatus(event="speaking_end"), "tts-worker")
    assert judge.judge("tts/status", status, qos=1, retain=False).ok


def test_runtime_health_payloads_are_clean_on_the_declared_retained_channel(judge: Judge) -> None:
    """Any client may publish health (x-publishers '*'); the channel is QoS 1 and retained."""
    for ok, event, error in ((True, "ready", None), (False, "offline", "unexpected disconnect")):
        payload = encode_health(ok, source="demo-tts", event=event, error=error)
        verdict = judge.judge("system/health/demo-tts", payload, qos=1, retain=True)
        assert verdict == Verdict("system_health")


@pytest.mark.parametrize(
    ("topic", "payload", "qos", "retain", "expected"),
    [
        ("nobody/declared/this", b"{}", 0, False, [F.UNDECLARED_TOPIC]),
        ("tts/say", envelope("tts.say", {"text": 5}, "router"), 1, False, [F.INVALID_PAYLOAD]),
        ("tts/say", b"\xffnot json", 1, False, [F.INVALID_PAYLOAD]),
        ("tts/say", b'{"text": "bare, no envelope"}', 1, False, [F.INVALID_ENVELOPE]),
        (
            "tts/say",
            envelope("tts.shout", TtsSay(text="x"), "router"),
            1,
            False,
            [F.WRONG_EVENT_TYPE],
        ),
        ("tts/say", envelope("tts.say", TtsSay(text="x"), "router"), 0, False, [F.QOS_MISMATCH]),
        (
            "tts/say",
            envelope("tts.say", TtsSay(text="x"), "router"),
            1,
            True,
            [F.RETAINED_NOT_DECLARED],
        ),
        (
            "tts/say",
            envelope("tts.say", TtsSay(text="x"), "camera-service"),
            1,
            False,
            [F.UNDECLARED_PUBLISHER],
        ),
    ],
)
def test_each_fault_is_its_own_finding_class(
    judge: Judge,
    topic: str,
    payload: bytes,
    qos: int,
    retain: bool,
    expected: list[FindingClass],
) -> None:
    assert kinds(judge.judge(topic, payload, qos=qos, retain=retain)) == expected


def test_bare_json_channels_are_validated_without_an_envelope(judge: Judge) -> None:
    bad = judge.judge("movement/state", b'{"unexpected": true, "and": [1]}', qos=1, retain=False)
    assert bad.channel == "movement_state"
    assert kinds(bad) == [F.INVALID_PAYLOAD]


def test_content_type_is_compared_when_the_message_carries_one(judge: Judge) -> None:
    say = envelope("tts.say", TtsSay(text="x"), "router")
    ok = judge.judge("tts/say", say, qos=1, retain=False, content_type="application/json")
    assert ok.ok
    wrong = judge.judge("tts/say", say, qos=1, retain=False, content_type="text/plain")
    assert kinds(wrong) == [F.CONTENT_TYPE_MISMATCH]


def test_topic_parameters_outside_their_enum_are_reported() -> None:
    from dataclasses import replace

    from mqttwire_codegen.ir import Parameter, TopicTemplate

    contract = tars_contract()
    channel = contract.channel("system_config")
    param = Parameter(name="service", py_name="service", enum=("router", "tts"))
    fixed = replace(channel, topic=TopicTemplate(channel.topic.address, (param,)))
    restricted = replace(
        contract, channels=tuple(fixed if c.id == channel.id else c for c in contract.channels)
    )
    judge = Judge(restricted)
    good = b'{"service": "router", "data": {}}'
    assert F.INVALID_TOPIC_PARAMETER not in kinds(
        judge.judge("system/config/router", good, qos=1, retain=False)
    )
    verdict = judge.judge("system/config/toaster", good, qos=1, retain=False)
    assert verdict.channel == "system_config"
    assert F.INVALID_TOPIC_PARAMETER in kinds(verdict)


def test_publisher_aliases_map_client_ids_to_the_contracts_service_names() -> None:
    judge = Judge(tars_contract(), publisher_aliases={"tars-router-1": "router"})
    say = envelope("tts.say", TtsSay(text="x"), "tars-router-1")
    assert judge.judge("tts/say", say, qos=1, retain=False).ok
    other = envelope("tts.say", TtsSay(text="x"), "tars-router-2")
    assert kinds(judge.judge("tts/say", other, qos=1, retain=False)) == [F.UNDECLARED_PUBLISHER]


def test_replies_on_mqtt5_response_topics_are_not_undeclared(judge: Judge) -> None:
    assert judge.judge("mqttwire/reply/router", b"{}", qos=1, retain=False) == Verdict(None)


def test_arrival_qos_is_compared_capped_at_the_subscription_qos() -> None:
    judge = Judge(tars_contract(), subscription_qos=0)
    say = envelope("tts.say", TtsSay(text="x"), "router")
    assert judge.judge("tts/say", say, qos=0, retain=False).ok


def test_fail_on_takes_classes_and_groups_and_rejects_unknown_names() -> None:
    assert parse_fail_on("") == frozenset()
    assert parse_fail_on("invalid") == FAIL_ON_GROUPS["invalid"]
    assert parse_fail_on("qos-mismatch, undeclared-topic") == {F.QOS_MISMATCH, F.UNDECLARED_TOPIC}
    assert parse_fail_on("all") == frozenset(FindingClass)
    with pytest.raises(ValueError, match="unknown finding class 'bogus'"):
        parse_fail_on("invalid,bogus")


async def test_a_message_the_judge_chokes_on_is_counted_not_lost() -> None:
    """The watcher's handler never raises: a judge failure becomes a finding (in-memory broker)."""
    from mqttwire import MQTTClient
    from mqttwire.testing.memory import MEMORY_URL, MemoryBroker
    from mqttwire_codegen.watch.live import Watcher, watch_config
    from mqttwire_codegen.watch.report import WatchReport

    class Choking(Judge):
        def judge(self, topic: str, payload: bytes, **kwargs: Any) -> Verdict:
            if payload == b"boom":
                raise RecursionError("maximum recursion depth exceeded")
            return super().judge(topic, payload, **kwargs)

    broker = MemoryBroker()
    config = watch_config(MEMORY_URL, client_id="w", shutdown_timeout=1.0)
    watcher = Watcher(
        tars_contract(), config, client=MQTTClient(config, transport=broker.transport())
    )
    watcher.judge = Choking(tars_contract())
    await watcher.start()
    try:
        broker.publish("tts/say", b"boom", qos=1)
        broker.publish("tts/say", envelope("tts.say", TtsSay(text="x"), "router"), qos=1)
        await asyncio.wait_for(watcher.wait_for(lambda r: r.messages >= 2), 30)
    finally:
        await watcher.stop()
    report: WatchReport = watcher.report
    assert report.counts[F.INVALID_PAYLOAD] == 1
    example = report.examples[F.INVALID_PAYLOAD]
    assert (example.channel, example.detail) == ("tts_say", "cannot be judged: RecursionError")
    assert report.messages_with_findings == 1


def test_the_schema_is_stricter_than_a_lax_subscriber_on_types(judge: Judge) -> None:
    """docs/guides/watch.md: a number sent as a string is a finding, although pydantic coerces it."""
    data = {"text": "hi", "confidence": "0.9"}
    assert FinalTranscript.model_validate(data).confidence == 0.9
    verdict = judge.judge(
        "stt/final", envelope("stt.final", data, "stt-worker"), qos=1, retain=False
    )
    assert kinds(verdict) == [F.INVALID_PAYLOAD]
    assert "confidence" in verdict.findings[0].detail
