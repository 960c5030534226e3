"""After the README's ``pip install -e ".[dev]"``, ``mypy --strict`` on a generated package outside
this repository finds ``mqttwire`` without ``MYPYPATH`` (the workspace's editable install is a
plain ``.pth`` of the source folders, which mypy follows, and the packages carry ``py.typed``)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
CONTRACT = REPO / "tests" / "golden" / "greenhouse_v3" / "contract.yaml"


def test_mypy_strict_on_a_package_generated_outside_the_repository(tmp_path: Path) -> None:
    project = tmp_path / "service"  # no mypy config, no MYPYPATH, not below the repository
    project.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("MYPYPATH", "PYTHONPATH")}
    mqttwire = Path(sys.executable).with_name("mqttwire")
    args = ["generate", str(CONTRACT), "--package", "greenhouse", "--out", ".", "-q"]
    subprocess.run([str(mqttwire), *args], cwd=project, env=env, check=True)
    done = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--no-incremental", "greenhouse"],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Success: no issues found" in done.stdout
