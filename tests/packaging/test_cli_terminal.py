"""``mqttwire`` output on a terminal (progress line, colors) versus a pipe (plain text)."""

from __future__ import annotations

import dataclasses
import io
import os
import pty
import re
import select
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from mqttwire_codegen.commands import _common
from mqttwire_codegen.diagnostics import Diagnostic, Location

REPO = Path(__file__).resolve().parents[2]
GOLDEN = REPO / "tests" / "golden" / "greenhouse_v3" / "contract.yaml"
ANSI = re.compile(r"\x1b\[[0-9;]*m")


def _mqttwire() -> str:
    exe = shutil.which("mqttwire", path=str(Path(sys.executable).parent))
    assert exe is not None, "the mqttwire console script is not installed"
    return exe


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "TERM")}
    env["TERM"] = "xterm"
    env.update(extra)
    return env


def _run_in_pty(args: list[str], env: dict[str, str], timeout: float = 60.0) -> tuple[int, str]:
    """Run with stdout and stderr on a pseudo-terminal; returns (exit code, everything shown)."""
    master, slave = pty.openpty()
    proc = subprocess.Popen(args, stdin=slave, stdout=slave, stderr=slave, env=env, close_fds=True)
    os.close(slave)
    chunks: list[bytes] = []
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 0.2)
            if ready:
                try:
                    data = os.read(master, 65536)
                except OSError:  # EIO: the child closed the terminal
                    break
                if not data:
                    break
                chunks.append(data)
            elif proc.poll() is not None:
                break
        code = proc.wait(timeout=max(1.0, deadline - time.monotonic()))
    finally:
        os.close(master)
        if proc.poll() is None:
            proc.kill()
    return code, b"".join(chunks).decode(errors="replace")


@pytest.fixture
def invalid(tmp_path: Path) -> Path:
    """The golden contract with one operation's QoS out of range."""
    folder = tmp_path / "contract"
    shutil.copytree(GOLDEN.parent, folder)
    path = folder / GOLDEN.name
    text = path.read_text()
    assert "        qos: 2\n" in text
    path.write_text(text.replace("        qos: 2\n", "        qos: 7\n", 1))
    return path


def _run_piped(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, capture_output=True, text=True, env=env, timeout=60, check=False)


def test_generate_shows_a_progress_line_on_a_terminal(tmp_path: Path) -> None:
    args = [_mqttwire(), "generate", str(GOLDEN), "--package", "gh", "--out", str(tmp_path)]
    code, shown = _run_in_pty(args, _env())
    assert code == 0, shown
    steps = re.findall(r"\rmqttwire: ([^\r]*?)\s*(?=\r)", shown)
    assert any(s.startswith("loading ") for s in steps), shown
    assert any(re.fullmatch(r"formatting client\.py \(\d/\d\)", s) for s in steps), steps
    assert any(s.startswith("writing 5 files to ") for s in steps), steps
    # the status line is erased before the result (and the warnings before it, e.g. the
    # greenhouse reply channel's undeclared QoS), which stand on clean lines
    erased_then_result = r"\r +\r(?:(?!\rmqttwire: ).)*?wrote .*gh \(5 files, client "
    assert re.search(erased_then_result, shown, re.DOTALL), repr(shown[-300:])
    assert sorted(p.name for p in (tmp_path / "gh").iterdir())[0] == "__init__.py"


def test_generate_is_plain_text_into_a_pipe(tmp_path: Path) -> None:
    args = [_mqttwire(), "generate", str(GOLDEN), "--package", "gh", "--out", str(tmp_path)]
    done = _run_piped(args, _env())
    assert done.returncode == 0, done.stderr
    assert "\r" not in done.stdout + done.stderr
    assert "\x1b" not in done.stdout + done.stderr
    assert re.fullmatch(r"wrote \S+gh \(5 files, client \w+\)\n", done.stdout)


def test_diagnostics_are_colored_on_a_terminal(tmp_path: Path, invalid: Path) -> None:
    args = [_mqttwire(), "generate", str(invalid), "--package", "x", "--out", str(tmp_path)]
    code, shown = _run_in_pty(args, _env())
    assert code == 2
    assert "\x1b[1;31merror\x1b[0m \x1b[2m[mqtt-binding-qos]\x1b[0m" in shown
    assert "\x1b[1;31mmqttwire: contract rejected (1 error); nothing written\x1b[0m" in shown
    plain = ANSI.sub("", shown)
    assert re.search(
        r"contract\.yaml:\d+:/operations/setVent/bindings/mqtt/qos: error \[mqtt-binding-qos\]",
        plain,
    )
    assert not (tmp_path / "x").exists()


def test_no_color_is_respected_on_a_terminal(tmp_path: Path, invalid: Path) -> None:
    args = [_mqttwire(), "generate", str(invalid), "--package", "x", "--out", str(tmp_path)]
    code, shown = _run_in_pty(args, _env(NO_COLOR="1"))
    assert code == 2
    assert "\x1b[" not in shown
    assert "error [mqtt-binding-qos]" in shown


def test_diagnostics_into_a_pipe_have_no_escape_codes(invalid: Path) -> None:
    args = [_mqttwire(), "validate", str(invalid)]
    done = _run_piped(args, _env())
    assert done.returncode == 2
    assert "\x1b" not in done.stderr and "\r" not in done.stderr
    assert "error [mqtt-binding-qos]" in done.stderr


def test_colored_rendering_carries_the_same_text() -> None:
    d = Diagnostic(
        Location(Path("api.yaml"), "/channels/a"), "rule-x", "bad thing", "warning", "fix it"
    )
    colored = _common.render_diagnostic(d, color=True)
    assert colored != d.render()
    assert ANSI.sub("", colored) == d.render()
    assert "\x1b[1;33mwarning" in colored
    with_line = dataclasses.replace(d, line=7)  # the line is shown with and without color
    assert ANSI.sub("", _common.render_diagnostic(with_line, color=True)) == with_line.render()


class _FakeTTY(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_use_color_rules(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.setenv("TERM", "xterm-256color")
    assert _common.use_color(_FakeTTY())
    assert not _common.use_color(io.StringIO())
    monkeypatch.setenv("NO_COLOR", "")  # any value, even empty, disables color
    assert not _common.use_color(_FakeTTY())
    monkeypatch.delenv("NO_COLOR")
    monkeypatch.setenv("TERM", "dumb")
    assert not _common.use_color(_FakeTTY())


def test_progress_is_silent_off_a_terminal() -> None:
    stream = io.StringIO()
    progress = _common.Progress(stream)
    progress("step one")
    progress.clear()
    assert stream.getvalue() == ""
    tty = _FakeTTY()
    progress = _common.Progress(tty)
    progress("a long first step")
    progress("short")
    progress.clear()
    assert tty.getvalue() == (
        "\rmqttwire: a long first step"
        + "\rmqttwire: short".ljust(len("\rmqttwire: a long first step"))
        + "\r"
        + " " * len("mqttwire: short")
        + "\r"
    )
