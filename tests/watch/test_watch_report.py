"""The report stays bounded on a busy bus, and its examples are bounded, escaped and secret-free."""

from __future__ import annotations

import io
import json

from watch_support import envelope, tars_contract

from mqttwire.health import encode_health
from mqttwire_codegen.watch.judge import Finding, FindingClass, Judge, Verdict
from mqttwire_codegen.watch.report import OTHER_TOPICS, WatchReport
from mqttwire_codegen.watch.table import LiveTable, summary_lines
from tars_mqtt.models import TtsSay

MESSAGES = 100_000


def test_100k_messages_on_100k_topics_keep_the_report_bounded() -> None:
    """Every message goes through the judge; distinct topics beyond the cap share one row."""
    judge = Judge(tars_contract())
    report = WatchReport(max_topics=200, example_bytes=256)
    health = encode_health(True, source="svc", event="ready")
    big = b'{"blob": "' + b"x" * 100_000 + b'"}'
    for i in range(MESSAGES):
        if i % 10 == 0:
            topic, payload, retain = f"system/health/svc-{i}", health, True
        else:
            topic, payload, retain = (
                f"flood/{i}/" + "t" * (i % 300),
                big if i == 1 else b"{}",
                False,
            )
        verdict = judge.judge(topic, payload, qos=1, retain=retain)
        report.record(topic, payload, qos=1, retain=retain, verdict=verdict)

    assert report.messages == MESSAGES
    tracked, example_chars = report.footprint()
    assert tracked == 200
    assert example_chars <= 256 * len(FindingClass)
    assert all(len(topic) <= 200 for topic in report.topics)
    assert report.counts[FindingClass.UNDECLARED_TOPIC] == MESSAGES - MESSAGES // 10
    assert sum(report.counts.values()) == MESSAGES - MESSAGES // 10  # health: clean
    assert report.other.messages == MESSAGES - 200
    assert sum(len(per) for per in report.by_channel.values()) <= len(FindingClass) * (
        len(tars_contract().channels) + 1
    )
    document = report.to_json()
    assert len(document["topics"]) == 201  # tracked rows + the "(other topics)" row
    assert document["topics"][-1]["topic"] == OTHER_TOPICS
    first = document["findings"]["undeclared-topic"]["first"]
    assert first["topic"] == "flood/1/t" and first["payload_truncated"] is True
    assert first["payload_bytes"] == len(big) and len(first["payload"]) <= 256
    assert len(json.dumps(document)) < 200 * 1024


def test_examples_hide_secrets_and_escape_control_characters() -> None:
    report = WatchReport(example_bytes=64)
    payload = b'{"user": "bob", "password": "hunter2", "nested": {"api_key": "k"}}'
    verdict = Verdict("x", (Finding(FindingClass.INVALID_PAYLOAD, "bad"),))
    report.record("a/b", payload, qos=0, retain=False, verdict=verdict)
    shown = report.examples[FindingClass.INVALID_PAYLOAD].payload
    assert "hunter2" not in shown and '"password":"***"' in shown and '"api_key":"***"' in shown

    evil = b"\x1b[2J\x1b[31mfake log line\nERROR forged\r"
    report.record(
        "evil/\x1b[2Jtopic",
        evil,
        qos=0,
        retain=False,
        verdict=Verdict(None, (Finding(FindingClass.UNDECLARED_TOPIC, "x\nforged"),)),
    )
    example = report.examples[FindingClass.UNDECLARED_TOPIC]
    for text in (example.payload, example.topic, example.detail):
        assert "\x1b" not in text and "\n" not in text and "\r" not in text
    assert example.payload.startswith("\\x1b[2J")


def test_the_table_prints_plain_lines_off_a_terminal_and_redraws_on_one() -> None:
    judge = Judge(tars_contract())
    report = WatchReport()
    say = envelope("tts.say", TtsSay(text="x"), "router")
    for qos in (1, 1, 0):
        report.record(
            "tts/say",
            say,
            qos=qos,
            retain=False,
            verdict=judge.judge("tts/say", say, qos=qos, retain=False),
        )

    plain = io.StringIO()
    table = LiveTable(plain, in_place=False)
    table.refresh(report, 2.0)
    table.refresh(report, 4.0)  # nothing new: nothing printed
    lines = plain.getvalue().splitlines()
    assert lines[0].strip() == "[    2.0s]"
    assert len(lines) == 2 and "\x1b" not in plain.getvalue()
    assert lines[1].split()[:4] == ["tts/say", "3", "1.5", "1"]
    assert "qos-mismatch: arrived at QoS 0" in lines[1]

    tty = io.StringIO()
    live = LiveTable(tty, in_place=True)
    live.refresh(report, 1.0)
    live.refresh(report, 2.0)
    assert tty.getvalue().count("\x1b[3F\x1b[J") == 1  # the second frame replaces the first

    summary = summary_lines(report, [FindingClass.QOS_MISMATCH])
    assert summary[0] == "watched 3 messages on 1 topics: 1 with findings"
    assert summary[-1] == "FAIL: qos-mismatch seen (--fail-on)"
