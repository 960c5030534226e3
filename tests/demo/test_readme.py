"""The README's examples run as written (only the broker address is swapped for the test's).

Each tested block is marked with ``<!-- readme-test: NAME -->`` in README.md. The service runs as
a real process configured from the environment; the test talks to it through the generated
client and checks what a reader is promised: the reply, the correlation id, health, graceful
Ctrl-C.
"""

from __future__ import annotations

import asyncio
import re
import signal
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from mqttwire import MessageMeta, MQTTClientConfig
from mqttwire.testing.broker import MosquittoBroker
from tars_mqtt import TarsClient, models

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
README = REPO / "README.md"
DEADLINE = 20.0
EXAMPLE_URL = "mqtt://127.0.0.1:1883"


def readme_blocks(path: Path = README) -> dict[str, str]:
    """``{name: code}`` of every fenced block that follows a ``readme-test`` marker."""
    pattern = re.compile(r"<!-- readme-test: ([\w-]+) -->\n```python\n(.*?)```", re.S)
    return {name: code for name, code in pattern.findall(path.read_text(encoding="utf-8"))}


def test_readme_marks_its_examples() -> None:
    assert set(readme_blocks()) == {"service", "request", "runtime"}


def test_docs_index_shows_the_same_quick_start() -> None:
    index = (REPO / "docs" / "index.md").read_text(encoding="utf-8")
    assert readme_blocks()["service"] in index


class Inbox:
    def __init__(self) -> None:
        self.queue: asyncio.Queue[tuple[Any, MessageMeta]] = asyncio.Queue()

    async def handler(self, msg: Any, meta: MessageMeta) -> None:
        await self.queue.put((msg, meta))

    async def next(self, what: str, process: asyncio.subprocess.Process | None = None) -> Any:
        """The next message, within the deadline; fails early when ``process`` died."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + DEADLINE
        while True:
            if process is not None and process.returncode is not None:
                out = await process.stdout.read() if process.stdout else b""
                raise AssertionError(f"{what}: the example exited ({process.returncode}):\n{out!r}")
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise AssertionError(f"{what}: nothing within {DEADLINE}s")
            try:
                return await asyncio.wait_for(self.queue.get(), min(0.5, remaining))
            except TimeoutError:
                continue


@pytest.fixture
async def tester(mqtt_broker: MosquittoBroker) -> AsyncIterator[TarsClient]:
    tars = TarsClient(MQTTClientConfig(url=mqtt_broker.url, client_id="readme-tester"))
    yield tars
    await tars.shutdown()


def _env(broker: MosquittoBroker, client_id: str, **extra: str) -> dict[str, str]:
    import os

    env = {k: v for k, v in os.environ.items() if not k.startswith("MQTT_")}
    env.update(MQTT_URL=broker.url, MQTT_CLIENT_ID=client_id, **extra)
    return env


@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
async def test_quick_start_service(
    mqtt_broker: MosquittoBroker, tester: TarsClient, tmp_path: Path, stop: signal.Signals
) -> None:
    script = tmp_path / "echo.py"
    script.write_text(readme_blocks()["service"])
    health, said = Inbox(), Inbox()
    await tester.subscribe_system_health(health.handler, client_id="readme-echo")
    await tester.subscribe_tts_say(said.handler)
    await tester.connect()
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        str(script),
        env=_env(mqtt_broker, "readme-echo", MQTT_ENABLE_HEALTH="true"),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    try:
        ready, _ = await health.next("health ready", process)
        assert ready.ok and ready.event == "ready"  # published after the SUBACK: listening now

        utterance_id = await tester.publish_stt_final(
            models.FinalTranscript(text="hello robot", utt_id="u-7")
        )
        say, meta = await said.next("tts/say from the example", process)
        assert isinstance(say, models.TtsSay)
        assert say.text == "you said hello robot" and say.utt_id == "u-7"
        assert meta.envelope_id == utterance_id  # correlated with the transcript
        assert meta.source == "readme-echo" and meta.qos == 1

        process.send_signal(stop)  # Ctrl-C, or a service manager stopping it
        bye, _ = await health.next(f"health after {stop.name}")
        assert not bye.ok and bye.event == "shutdown"  # graceful: not the last will
        assert await asyncio.wait_for(process.wait(), DEADLINE) == 0
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()


async def test_request_example(
    mqtt_broker: MosquittoBroker, tester: TarsClient, tmp_path: Path
) -> None:
    script = tmp_path / "ask.py"
    script.write_text(readme_blocks()["request"])
    asked: list[models.LLMRequest] = []

    async def answer(request: models.LLMRequest, meta: MessageMeta) -> models.LLMResponse:
        asked.append(request)
        return models.LLMResponse(id=request.id, reply=f"noon, you asked {request.text!r}")

    await tester.serve_llm_request(answer)
    await tester.connect()
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        str(script),
        env=_env(mqtt_broker, "readme-ask"),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), DEADLINE)
    assert process.returncode == 0, err.decode()
    assert out.decode() == "noon, you asked 'what time is it?'\n"
    assert [r.id for r in asked] == ["q1"]


async def test_runtime_example(mqtt_broker: MosquittoBroker, tmp_path: Path) -> None:
    code = readme_blocks()["runtime"]
    assert code.count(EXAMPLE_URL) == 1
    script = tmp_path / "raw.py"
    script.write_text(code.replace(EXAMPLE_URL, mqtt_broker.url))
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        str(script),
        env=_env(mqtt_broker, "unused"),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), DEADLINE)
    assert process.returncode == 0, err.decode()
    topic, event_type, payload = out.decode().strip().split(" ", 2)
    assert (topic, event_type) == ("tts/say", "tts.say")
    assert '"source":"tts"' in payload and '"data":{"text":"hi"}' in payload
