"""The runnable examples of docs/guides run here, each the way its guide tells a reader to.

request_reply.py and mqtt5.py run as scripts against a Mosquitto this test starts (MQTT 3.1.1
and 5; for mqtt5.py one that denies ``forbidden/#``); test_chat_service.py runs under pytest,
in memory.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from support.acl import deny_topics_config

from mqttwire.testing.broker import MosquittoBroker

REPO = Path(__file__).resolve().parents[2]
GUIDES = REPO / "docs" / "guides"
EXAMPLES = GUIDES / "examples"


def run(*args: str) -> str:
    result = subprocess.run(
        [sys.executable, *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, f"{args} failed:\n{result.stdout}\n{result.stderr}"
    return result.stdout


@pytest.fixture
def denying_broker(tmp_path: Path) -> Iterator[MosquittoBroker]:
    broker = MosquittoBroker(extra_config=deny_topics_config(tmp_path, ["forbidden/#"]))
    broker.start()
    try:
        yield broker
    finally:
        broker.close()


@pytest.mark.integration
@pytest.mark.parametrize("protocol", ["3.1.1", "5"])
def test_request_reply_example(mqtt_broker: MosquittoBroker, protocol: str) -> None:
    out = run(str(EXAMPLES / "request_reply.py"), mqtt_broker.url, protocol)
    assert out.splitlines() == [
        "reply: HELLO ROBOT",
        "concurrent: 100/100 matched",
        "stream: one two three [ONE TWO THREE]",
        "tool: c-7 {'tool': 'clock'}",
        "timeout: memory/query after 0.2s",
    ]


@pytest.mark.integration
def test_mqtt5_example(denying_broker: MosquittoBroker) -> None:
    out = run(str(EXAMPLES / "mqtt5.py"), denying_broker.url)
    assert out.splitlines() == [
        "user properties: {'type': 'tts.say', 'id': '...', 'source': 'router'}",
        "id mirrored: True",
        "content type: application/json",
        "shared: 20 lines, both workers busy: True",
        "response topic: mqttwire/reply/router",
        "reply: pong",
        "forbidden/x: refused, reason code 0x87 (not authorized)",
        "session kept: said while away",
    ]


def test_testing_example_passes_in_memory() -> None:
    out = run(
        "-m", "pytest", "-q", "-p", "no:cacheprovider", str(EXAMPLES / "test_chat_service.py")
    )
    assert re.search(r"\b6 passed\b", out), out


def test_every_guide_points_to_examples_that_exist_and_every_example_is_used() -> None:
    guides = {p.name: p.read_text() for p in GUIDES.glob("*.md")}
    assert set(guides) >= {"request-reply.md", "testing.md", "mqtt5.md"}
    referenced = {
        name
        for text in guides.values()
        for name in re.findall(r"(?<!\w)examples/([\w.]+\.py)", text)
    }
    examples = {p.name for p in EXAMPLES.glob("*.py")}
    assert referenced == examples


PARKING = EXAMPLES / "parking"


def test_your_own_contract_guide_shows_the_example_files() -> None:
    guide = (GUIDES / "your-own-contract.md").read_text()
    blocks = re.findall(r"<!-- guide-file: (\S+) -->\n```\w+\n(.*?)```", guide, re.DOTALL)
    assert [name for name, _ in blocks] == ["parking.yaml", "gate_service.py", "app.py"]
    for name, text in blocks:
        assert text == (PARKING / name).read_text(), name


def test_your_own_contract_guide_typo_message_is_what_validate_says(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from mqttwire_codegen.cli import main

    broken = tmp_path / "parking.yaml"
    text = (PARKING / "parking.yaml").read_text()
    broken.write_text(
        text.replace("    address: parking/{lot}/gate/open", "    adress: parking/{lot}/gate/open")
    )
    assert main(["validate", str(broken)]) == 2
    err = capsys.readouterr().err
    guide = " ".join((GUIDES / "your-own-contract.md").read_text().split())
    shown = "parking.yaml:15:/channels/gateOpen/adress: error [asyncapi-document-resolved] channel 'gateOpen' has an unknown property 'adress'"
    assert shown in " ".join(err.split()) and shown in guide
    assert "did you mean 'address'?" in err


@pytest.mark.integration
@pytest.mark.parametrize("protocol", ["3.1.1", "5"])
def test_your_own_contract_two_services(
    mqtt_broker: MosquittoBroker, protocol: str, tmp_path: Path
) -> None:
    from mqttwire_codegen.cli import main

    contract = PARKING / "parking.yaml"
    assert (
        main(
            ["generate", str(contract), "--package", "parking_client", "--out", str(tmp_path), "-q"]
        )
        == 0
    )
    env = {**os.environ, "PYTHONPATH": str(tmp_path)}
    gate = subprocess.Popen(
        [sys.executable, str(PARKING / "gate_service.py"), mqtt_broker.url, protocol],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert gate.stdout is not None
        assert gate.stdout.readline().strip() == "gate ready"  # serving and spaces published
        app = subprocess.run(
            [sys.executable, str(PARKING / "app.py"), mqtt_broker.url, protocol],
            capture_output=True,
            text=True,
            timeout=120,
            env=env,
            check=False,
        )
    finally:
        gate.terminate()
        gate.wait(30)
    assert app.returncode == 0, app.stderr
    assert app.stdout.splitlines() == [
        "free spaces: 12",
        "AB-123: opened (r-1)",
        "XX-666: refused (r-2)",
        "free spaces: 11",
    ]
    guide = (GUIDES / "your-own-contract.md").read_text()
    assert "\n".join(app.stdout.splitlines()) in guide
