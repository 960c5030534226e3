"""The runnable examples of docs/guides run here, each the way its guide tells a reader to.

request_reply.py and mqtt5.py run as scripts against a Mosquitto this test starts (MQTT 3.1.1
and 5; for mqtt5.py one that denies ``forbidden/#``); test_chat_service.py runs under pytest,
in memory.
"""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from mqttwire.testing.acl import deny_topics_config
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
