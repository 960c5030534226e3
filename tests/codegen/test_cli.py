"""The ``mqttwire`` CLI: generate / check / validate, exit codes, nothing written on error."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from codegen_support import CORPUS, REPO

from mqttwire_codegen.cli import main

GOLDEN = REPO / "tests" / "golden" / "greenhouse_v3" / "contract.yaml"


def test_generate_then_check_is_clean(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["generate", str(GOLDEN), "--package", "gh", "--out", str(tmp_path)]) == 0
    files = sorted(p.name for p in (tmp_path / "gh").iterdir())
    assert files == ["__init__.py", "channels.py", "client.py", "models.py", "py.typed"]
    assert main(["check", str(GOLDEN), "--package", "gh", "--out", str(tmp_path)]) == 0
    assert "up to date" in capsys.readouterr().out


def test_check_reports_modified_missing_and_extra_files(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    main(["generate", str(GOLDEN), "--package", "gh", "--out", str(tmp_path)])
    capsys.readouterr()
    pkg = tmp_path / "gh"
    (pkg / "client.py").write_text((pkg / "client.py").read_text().replace("async def", "def", 1))
    (pkg / "stray.py").write_text("x = 1\n")
    (pkg / "py.typed").unlink()
    assert main(["check", str(GOLDEN), "--package", "gh", "--out", str(tmp_path)]) == 1
    out = capsys.readouterr().out
    assert "--- " in out and "+++ " in out
    assert "stray.py" in out and "client.py" in out and "py.typed" in out


def test_client_name_override(tmp_path: Path) -> None:
    assert (
        main(
            [
                "generate",
                str(GOLDEN),
                "--package",
                "gh",
                "--out",
                str(tmp_path),
                "--client-name",
                "Hothouse",
            ]
        )
        == 0
    )
    assert "class Hothouse(TypedClient)" in (tmp_path / "gh" / "client.py").read_text()


def test_invalid_contract_exit_2_and_nothing_written(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    existing = out / "home"
    existing.mkdir(parents=True)
    (existing / "keep.txt").write_text("untouched")
    bad = CORPUS / "constructed" / "invalid" / "i01-qos-out-of-range.yaml"
    assert main(["generate", str(bad), "--package", "home", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    # file:line:pointer (the line comes from the YAML source)
    assert "i01-qos-out-of-range.yaml:46:/operations/publishTemperature/bindings/mqtt/qos" in err
    assert "[mqtt-binding-qos]" in err
    assert sorted(p.name for p in existing.iterdir()) == ["keep.txt"]
    assert sorted(p.name for p in out.iterdir()) == ["home"]


def test_validate_command(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", str(GOLDEN)]) == 0
    assert "valid AsyncAPI 3.0.0 MQTT contract (3 channels" in capsys.readouterr().out
    assert main(["validate", str(CORPUS / "constructed/invalid/i07-missing-action.yaml")]) == 2


def test_console_script_runs_without_traceback(tmp_path: Path) -> None:
    exe = shutil.which("mqttwire", path=str(Path(sys.executable).parent))
    assert exe is not None
    proc = subprocess.run(
        [exe, "validate", str(CORPUS / "constructed/invalid/i04-address-param-undeclared.yaml")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 2
    assert "asyncapi3-channel-parameters" in proc.stderr and "Traceback" not in proc.stderr


def test_write_is_atomic_when_generation_fails_midway(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import mqttwire_codegen.pipeline as pipeline
    from mqttwire_codegen.errors import GeneratorError

    main(["generate", str(GOLDEN), "--package", "gh", "--out", str(tmp_path)])
    before = {p.name: p.read_bytes() for p in (tmp_path / "gh").iterdir()}

    def boom(source: str, filename: str, first_party: tuple[str, ...] = ()) -> str:
        if filename == "models.py":
            raise GeneratorError("ruff exploded")
        return source

    monkeypatch.setattr(pipeline, "format_python", boom)
    assert main(["generate", str(GOLDEN), "--package", "gh", "--out", str(tmp_path)]) == 2
    assert {p.name: p.read_bytes() for p in (tmp_path / "gh").iterdir()} == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["gh"]
