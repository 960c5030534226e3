"""``mqttwire watch`` as a command: exit codes, the JSON report, and nothing published by it.

The real runs start the command as a process beside a broker-side ``#`` subscriber (the spy):
whatever the broker routes, the spy gets too, so the spy proves the watcher published nothing,
not even a last will when it is killed.
"""

from __future__ import annotations

import asyncio
import json
import re
import signal
import sys
from pathlib import Path

import pytest
from inbox_helper import Inbox
from watch_support import TARS_CONTRACT, envelope

from mqttwire import MQTTClient, MQTTClientConfig
from mqttwire.testing.broker import MosquittoBroker, free_port
from mqttwire_codegen.cli import main
from tars_mqtt.models import FinalTranscript

WAIT = 60.0  # only catches hangs (a cold Python start on a busy machine)


def test_usage_and_contract_errors_exit_2(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("MQTT_URL", raising=False)
    url = f"mqtt://127.0.0.1:{free_port()}"
    assert main(["watch", str(TARS_CONTRACT)]) == 2
    assert "pass --url or set MQTT_URL" in capsys.readouterr().err
    assert main(["watch", str(TARS_CONTRACT), "--url", url, "--fail-on", "bogus"]) == 2
    assert "unknown finding class 'bogus'" in capsys.readouterr().err
    assert main(["watch", str(TARS_CONTRACT), "--url", url, "--publisher-alias", "x"]) == 2
    assert "expected SOURCE=NAME" in capsys.readouterr().err
    broken = tmp_path / "broken.yaml"
    broken.write_text("asyncapi: 3.0.0\ninfo: {}\n")
    assert main(["watch", str(broken), "--url", url]) == 2
    assert "contract rejected" in capsys.readouterr().err
    assert main(["watch", str(TARS_CONTRACT), "--url", url.replace("mqtt:", "ftp:")]) == 2
    # nothing listens on that port: the watch cannot start
    assert main(["watch", str(TARS_CONTRACT), "--url", url, "--duration", "5"]) == 2
    assert "cannot watch" in capsys.readouterr().err


def test_help_names_every_finding_class_and_the_exit_codes(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit):
        main(["watch", "--help"])
    out = capsys.readouterr().out
    for name in (
        "invalid-payload",
        "invalid-envelope",
        "wrong-event-type",
        "invalid-topic-parameter",
        "content-type-mismatch",
        "qos-mismatch",
        "retained-not-declared",
        "undeclared-topic",
        "undeclared-publisher",
        "--fail-on",
        "--report",
        "--duration",
    ):
        assert name in out
    assert "1 a --fail-on class was seen" in out


async def _start_watch(broker: MosquittoBroker, *extra: str) -> asyncio.subprocess.Process:
    url = broker.url.replace("mqtt://", "mqtt://ci:s3cret-pw@")
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "mqttwire_codegen.cli",
        "watch",
        str(TARS_CONTRACT),
        "--url",
        url,
        "--client-id",
        "cli-watcher",
        *extra,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    assert process.stderr is not None
    line = await asyncio.wait_for(process.stderr.readline(), WAIT)
    assert b"mqttwire watch: watching mqtt://ci:***@127.0.0.1:" in line, line
    return process


async def _spy(broker: MosquittoBroker) -> tuple[MQTTClient, Inbox]:
    spy = MQTTClient(MQTTClientConfig(url=broker.url, client_id="spy"))
    inbox = Inbox()
    await spy.subscribe("#", inbox.handler, qos=2)
    await spy.connect()
    return spy, inbox


async def test_a_ci_gate_run_fails_on_an_invalid_payload_and_writes_the_report(
    mqtt_broker: MosquittoBroker, tmp_path: Path
) -> None:
    spy, inbox = await _spy(mqtt_broker)
    injector = MQTTClient(MQTTClientConfig(url=mqtt_broker.url, client_id="stt-worker"))
    await injector.connect()
    report_path = tmp_path / "watch.json"
    watch = await _start_watch(
        mqtt_broker, "--fail-on", "invalid", "--report", str(report_path), "--interval", "0.2"
    )
    try:
        good = envelope("stt.final", FinalTranscript(text="hi"), "stt-worker")
        await injector.publish("stt/final", good, qos=1)
        bad = envelope("stt.final", {"text": None}, "stt-worker")
        await injector.publish("stt/final", bad, qos=1)
        # the plain (non-terminal) table prints a line each time a topic got messages
        assert watch.stdout is not None
        while True:
            line = await asyncio.wait_for(watch.stdout.readline(), WAIT)
            assert line, "the watch ended early"
            if re.match(rb"stt/final\s+2\s", line):
                break
        watch.send_signal(signal.SIGTERM)
        out, err = await asyncio.wait_for(watch.communicate(), WAIT)
        assert watch.returncode == 1, err.decode()
        text = out.decode()
        assert "watched 2 messages on 1 topics: 1 with findings" in text
        assert "FAIL: invalid-payload seen (--fail-on)" in text

        # the broker routed nothing from the watcher: the spy saw only what we published
        await injector.publish("sentinel/end", b"end", qos=1)
        await inbox.wait_for(3, within=WAIT)
        assert [meta.topic for _, meta in inbox.items] == ["stt/final", "stt/final", "sentinel/end"]
    finally:
        if watch.returncode is None:
            watch.kill()
            await watch.wait()
        await injector.shutdown()
        await spy.shutdown()

    raw = report_path.read_text()
    assert "s3cret-pw" not in raw
    report = json.loads(raw)
    assert report["broker"].startswith("mqtt://ci:***@")
    assert report["messages"] == 2 and report["clean"] is False
    assert report["failed"] == ["invalid-payload"]
    assert report["findings"]["invalid-payload"]["count"] == 1
    assert report["findings"]["invalid-payload"]["first"]["topic"] == "stt/final"
    assert set(report["findings"]) == {
        "invalid-payload",
        "invalid-envelope",
        "wrong-event-type",
        "invalid-topic-parameter",
        "content-type-mismatch",
        "qos-mismatch",
        "retained-not-declared",
        "undeclared-topic",
        "undeclared-publisher",
    }
    assert "Received PUBLISH from cli-watcher " not in mqtt_broker.log()


async def test_a_killed_watcher_leaves_no_last_will_behind(mqtt_broker: MosquittoBroker) -> None:
    spy, inbox = await _spy(mqtt_broker)
    watch = await _start_watch(mqtt_broker, "--format", "json")
    try:
        watch.kill()  # SIGKILL: a client with a will would now have it published
        await asyncio.wait_for(watch.wait(), WAIT)
        gone = re.compile(
            r"(Client cli-watcher (closed its connection|disconnected)"
            r"|Socket error on client cli-watcher)"
        )

        async def disconnected() -> None:
            # the broker's log file has no event to wait on
            while not gone.search(mqtt_broker.log()):  # noqa: ASYNC110
                await asyncio.sleep(0.05)

        await asyncio.wait_for(disconnected(), WAIT)
        sentinel = MQTTClient(MQTTClientConfig(url=mqtt_broker.url, client_id="sentinel"))
        await sentinel.connect()
        await sentinel.publish("sentinel/end", b"end", qos=1)
        await sentinel.shutdown()
        await inbox.wait_for(1, within=WAIT)
        assert [meta.topic for _, meta in inbox.items] == ["sentinel/end"]
    finally:
        if watch.returncode is None:
            watch.kill()
            await watch.wait()
        await spy.shutdown()


def test_json_format_prints_the_report_on_stdout_when_the_duration_ends(
    mqtt_broker: MosquittoBroker, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["watch", str(TARS_CONTRACT), "--url", mqtt_broker.url, "--format", "json"]
    assert main([*args, "--duration", "0.5", "--fail-on", "all"]) == 0  # nothing seen: exit 0
    captured = capsys.readouterr()
    report = json.loads(captured.out)
    assert report["messages"] == 0 and report["clean"] is True and report["failed"] == []
    assert report["coverage"] == "all topics (#)" and report["subscription_qos"] == 2
    assert len(report["fail_on"]) == 9
    assert "watching mqtt://127.0.0.1:" in captured.err
