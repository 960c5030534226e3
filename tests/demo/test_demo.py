"""The demo end to end: real processes, a real broker, the timeline a newcomer reads.

Every run is bounded (subprocess timeouts, line deadlines); assertions are on the printed
timeline, the exit code, and on the processes and broker being gone afterwards.
"""

from __future__ import annotations

import os
import queue
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from mqttwire.testing.broker import free_port
from tars_demo import embedded

RUN_TIMEOUT = 90.0  # the demo promises a minute; leave room for a slow CI machine


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MQTT_", "TARS_DEMO_"))}
    env.update(extra)
    return env


def _run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tars_demo", *args],
        capture_output=True,
        text=True,
        env=_env() if env is None else env,
        timeout=RUN_TIMEOUT,
        check=False,
    )


def _pids(out: str) -> list[int]:
    return [int(p) for p in re.findall(r"started \w+ \(pid (\d+)\)", out)]


def _assert_gone(pids: list[int]) -> None:
    assert pids, "no service pid printed"
    for pid in pids:
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)


def _assert_port_closed(out: str) -> None:
    port = int(re.search(r"broker: .* on 127\.0\.0\.1:(\d+)", out).group(1))  # type: ignore[union-attr]
    with pytest.raises(OSError), socket.create_connection(("127.0.0.1", port), 1.0):
        pass


def _line(out: str, pattern: str) -> int:
    """Index of the first line matching ``pattern`` (a regex); fails with the timeline."""
    for index, line in enumerate(out.splitlines()):
        if re.search(pattern, line):
            return index
    raise AssertionError(f"no line matches {pattern!r} in:\n{out}")


def assert_full_timeline(out: str, utterances: int = 3) -> None:
    """The key lines of a successful run, in the order the story needs them."""
    ready = [
        _line(
            out, rf"{name}\s+system/health/demo-{name}\s+QoS 1\s+HealthPing\s+ok=true event=ready"
        )
        for name in ("router", "llm", "tts")
    ]
    healthy = _line(out, r"^all 3 services healthy at")
    assert max(ready) < healthy
    for n in range(1, utterances + 2):
        key = rf"utt-{n}\b"
        hops = [
            _line(out, rf"monitor\s+stt/final\s+QoS 1\s+FinalTranscript\s+{key}"),
            _line(out, rf"router\s+llm/request\s+QoS 1\s+LLMRequest\s+{key}.*\+[\d.]+ ms$"),
            _line(out, rf"llm\s+llm/response\s+QoS 1\s+LLMResponse\s+{key}.*reply [\d.]+ ms after"),
            _line(out, rf"llm\s+tts/say\s+QoS 1\s+TtsSay\s+{key}"),
            _line(out, rf"tts\s+tts/status\s+QoS 1\s+TtsStatus\s+{key}\s+speaking_start"),
            _line(out, rf"tts\s+tts/status\s+QoS 1\s+TtsStatus\s+{key}\s+speaking_end"),
        ]
        assert hops[0] < hops[1] < hops[-2] < hops[-1], f"utt-{n} out of order:\n{out}"
        assert hops[1] < hops[2], f"reply before request for utt-{n}"
    kill = _line(out, r"kill -KILL \d+ \(tts\)")
    will = _line(
        out,
        r"tts\s+system/health/demo-tts\s+QoS 1\s+HealthPing\s+"
        r'ok=false event=offline err="unexpected disconnect"',
    )
    assert kill < will, "the will must come after the kill"
    assert re.search(r"tts is unhealthy: last will received [\d.]+ ms after the kill", out)
    assert "health board: router: ok (ready) | llm: ok (ready) | tts: DOWN (offline)" in out
    restart = _line(out, r"restarted tts \(pid \d+\)")
    back = _line(out, r"tts recovered: healthy [\d.]+ s after the restart")
    assert will < restart < back
    assert "health board: router: ok (ready) | llm: ok (ready) | tts: ok (ready)" in out
    spoken_again = _line(out, rf"tts\s+tts/status.*utt-{utterances + 1}\s+speaking_end")
    assert back < spoken_again
    total = utterances + 1
    assert f"utterances: {total} injected, {total} spoken" in out
    assert re.search(r"request/reply llm/request -> llm/response: min [\d.]+ ms, median", out)
    assert "invalid payloads dropped by the monitor: 0" in out
    for name in ("router", "llm", "tts"):
        _line(
            out,
            rf"{name}\s+system/health/demo-{name}\s+QoS 1\s+HealthPing\s+ok=false event=shutdown",
        )
    assert "stopped services (exit codes: router 0, llm 0, tts 0)" in out
    last = out.strip().splitlines()[-1]
    match = re.fullmatch(r"demo OK in ([\d.]+) s", last)
    assert match, f"last line is {last!r}"
    assert float(match.group(1)) < 60


def test_demo_on_mosquitto_from_path() -> None:
    started = time.monotonic()
    done = _run()
    took = time.monotonic() - started
    assert done.returncode == 0, done.stdout + done.stderr
    assert "broker: mosquitto from PATH" in done.stdout and "[mosquitto]" in done.stdout
    assert_full_timeline(done.stdout)
    assert took < 60
    _assert_gone(_pids(done.stdout))
    _assert_port_closed(done.stdout)


def test_demo_with_watch_runs_mqttwire_watch_beside_the_services_and_the_bus_is_clean() -> None:
    done = _run("--broker", "mosquitto", "--utterances", "1", "--watch")
    assert done.returncode == 0, done.stdout + done.stderr
    out = done.stdout
    assert_full_timeline(out, utterances=1)
    assert "mqttwire watch runs beside the services as demo-watch" in out
    # the watcher's summary comes after the services stopped, before the final line
    summary = _line(out, r"^-- mqttwire watch: what the contract watcher saw on the bus")
    assert _line(out, r"^stopped services") < summary < _line(out, r"^demo OK in")
    watched = re.search(r"^watched (\d+) messages on (\d+) topics: 0 with findings$", out, re.M)
    assert watched, out
    # 3 ready + 2 utterances x 6 hops + will + ready again, before the goodbyes
    assert int(watched.group(1)) >= 17
    assert "no findings: the traffic matches the contract" in out
    _assert_gone(_pids(out))


def test_demo_watch_with_a_missing_contract_fails_before_starting_anything() -> None:
    done = _run("--watch", "/nonexistent/contract.yaml")
    assert done.returncode == 2
    assert "demo FAILED: --watch needs the contract file; none at /nonexistent/contract.yaml" in (
        done.stderr
    )
    assert "broker:" not in done.stdout


def test_demo_falls_back_to_amqtt_without_mosquitto(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The real fallback path of ``auto``: no MQTT_URL, no mosquitto -> in-process amqtt."""
    from tars_demo.cli import main

    for name in list(os.environ):
        if name.startswith(("MQTT_", "TARS_DEMO_")):
            monkeypatch.delenv(name)
    monkeypatch.setattr(embedded, "find_mosquitto", lambda: None)
    code = main(["--utterances", "2"])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "broker: the embedded pure-Python amqtt broker on 127.0.0.1:" in out
    assert "[amqtt]" in out
    assert_full_timeline(out, utterances=2)
    _assert_gone(_pids(out))


def test_tars_demo_console_script_forces_amqtt() -> None:
    exe = shutil.which("tars-demo", path=str(Path(sys.executable).parent))
    assert exe is not None, "the tars-demo console script is not installed"
    done = subprocess.run(
        [exe, "--broker", "amqtt", "--utterances", "1"],
        capture_output=True,
        text=True,
        env=_env(),
        timeout=RUN_TIMEOUT,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "[amqtt]" in done.stdout
    assert_full_timeline(done.stdout, utterances=1)


def test_broker_env_var_forces_amqtt() -> None:
    done = _run("--utterances", "1", env=_env(TARS_DEMO_BROKER="amqtt"))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "[amqtt]" in done.stdout


@dataclass
class _Live:
    process: subprocess.Popen[str]
    lines: queue.Queue[str | None]
    seen: list[str]

    def wait_for(self, text: str, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while not any(text in line for line in self.seen):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"{text!r} not printed within {timeout}s:\n{self.output}")
            try:
                line = self.lines.get(timeout=remaining)
            except queue.Empty:
                continue
            if line is None:
                raise AssertionError(f"demo exited before printing {text!r}:\n{self.output}")
            self.seen.append(line)

    def finish(self, timeout: float = 30.0) -> tuple[int, str]:
        code = self.process.wait(timeout)
        while (line := self.lines.get(timeout=timeout)) is not None:
            self.seen.append(line)
        return code, self.output

    @property
    def output(self) -> str:
        return "".join(self.seen)


@pytest.fixture
def live_demo() -> Iterator[_Live]:
    process = subprocess.Popen(
        [sys.executable, "-m", "tars_demo", "--keep-running", "--utterances", "1"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=_env(),
        start_new_session=True,  # its own process group, like a job in a terminal
    )
    lines: queue.Queue[str | None] = queue.Queue()

    def pump() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            lines.put(line)
        lines.put(None)

    threading.Thread(target=pump, daemon=True).start()
    live = _Live(process, lines, [])
    try:
        yield live
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(10)


@pytest.mark.parametrize("how", ["SIGTERM to the demo", "Ctrl-C (SIGINT to the process group)"])
def test_signal_shuts_everything_down_cleanly(live_demo: _Live, how: str) -> None:
    live_demo.wait_for("services keep running on mqtt://127.0.0.1:")
    if how.startswith("SIGTERM"):
        live_demo.process.send_signal(signal.SIGTERM)
        name = "SIGTERM"
    else:
        os.killpg(live_demo.process.pid, signal.SIGINT)
        name = "SIGINT"
    started = time.monotonic()
    code, out = live_demo.finish()
    assert time.monotonic() - started < 15
    assert code == 0, out  # the scenario had passed; a signal is how --keep-running ends
    assert f"{name} received; shutting everything down" in out
    for service in ("router", "llm", "tts"):
        assert re.search(
            rf"{service}\s+system/health/demo-{service}\s+.*ok=false event=shutdown", out
        )
    assert "stopped services (exit codes: router 0, llm 0, tts 0)" in out
    _assert_gone(_pids(out) + [int(p) for p in re.findall(r"restarted tts \(pid (\d+)\)", out)])
    _assert_port_closed(out)


def test_sigterm_during_the_scenario_exits_143() -> None:
    """Interrupted before the scenario finished: non-zero, yet everything is stopped."""
    process = subprocess.Popen(
        [sys.executable, "-m", "tars_demo"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=_env(),
    )
    assert process.stdout is not None
    out = []
    deadline = time.monotonic() + 60
    for line in process.stdout:
        out.append(line)
        if "started tts" in line:  # before any service can be healthy: mid-scenario
            process.send_signal(signal.SIGTERM)
            break
        assert time.monotonic() < deadline
    rest, _ = process.communicate(timeout=30)
    text = "".join(out) + rest
    assert process.returncode == 128 + signal.SIGTERM, text
    assert "SIGTERM received; shutting everything down" in text
    assert "demo OK" not in text
    _assert_gone(_pids(text))
    _assert_port_closed(text)


def test_a_crashing_service_fails_fast_with_its_reason() -> None:
    started = time.monotonic()
    done = _run(env=_env(MQTT_KEEPALIVE="0"))  # the services read MQTT_*; the monitor does not
    assert done.returncode == 1
    assert time.monotonic() - started < 15, "must not wait for the health deadline"
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith("demo FAILED: health of ")
    assert "exited with code 1" in last
    assert "MQTT_KEEPALIVE must be between 1 and 3600, got 0" in last
    assert "Traceback" not in done.stdout + done.stderr
    _assert_gone(_pids(done.stdout))


def test_unreachable_broker_is_a_clear_failure() -> None:
    url = f"mqtt://127.0.0.1:{free_port()}"
    done = _run("--broker", "external", env=_env(MQTT_URL=url))
    assert done.returncode == 1
    assert f"broker: the broker in MQTT_URL ({url})" in done.stdout
    assert "demo FAILED: the monitor cannot reach the broker: cannot connect to MQTT broker" in (
        done.stderr
    )


def test_external_broker_without_url_says_what_to_set() -> None:
    done = _run("--broker", "external")
    assert done.returncode == 1
    assert "--broker external needs MQTT_URL=mqtt://host:port" in done.stderr


def test_overall_deadline() -> None:
    done = _run("--timeout", "0.2")
    assert done.returncode == 1
    assert "demo FAILED: the demo did not finish within 0.2 s (--timeout)" in done.stderr
    _assert_gone(_pids(done.stdout))


def test_the_generator_cli_has_no_demo_command(capsys: pytest.CaptureFixture[str]) -> None:
    """The demo's entry point lives with the demo (``tars-demo``), not in the generator."""
    from mqttwire_codegen.cli import build_parser

    parser = build_parser()
    assert parser.parse_args(["validate", "x.yaml"]).command == "validate"
    with pytest.raises(SystemExit) as exited:
        parser.parse_args(["demo"])
    assert exited.value.code == 2
    assert "invalid choice: 'demo'" in capsys.readouterr().err


def test_no_broker_at_all_fails_with_what_to_do(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from tars_demo.cli import main

    monkeypatch.delenv("MQTT_URL", raising=False)
    monkeypatch.delenv("TARS_DEMO_BROKER", raising=False)
    monkeypatch.setattr(embedded, "find_mosquitto", lambda: None)
    monkeypatch.setattr(embedded, "_amqtt_available", lambda: False)
    assert main([]) == 1
    err = capsys.readouterr().err
    assert "demo FAILED: no broker: set MQTT_URL, install mosquitto, or" in err
