"""Paths and corpus index helpers shared by the generator tests."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from shared_data import CORPUS as SHARED_CORPUS
from shared_data import TARS_INTERFACE as SHARED_TARS

REPO = Path(__file__).resolve().parents[2]
CORPUS = SHARED_CORPUS
TARS_INTERFACE = SHARED_TARS
TARS_CONTRACT = REPO / "contracts" / "mqtt_client_api.yaml"


def corpus_rows() -> dict[str, list[str]]:
    """INDEX.md table rows: file -> cells (origin, licence, asyncapi, protocols, parser, note)."""
    rows: dict[str, list[str]] = {}
    for line in (CORPUS / "INDEX.md").read_text().splitlines():
        if line.startswith("| ") and not line.startswith(("| file", "|---")):
            cells = [c.strip() for c in line.strip().strip("|").split("|")]
            rows[cells[0]] = cells[1:]
    return rows


def mypy_strict(generated: Path, config_dir: Path) -> subprocess.CompletedProcess[str]:
    """One ``mypy --strict`` run (pydantic plugin) over every package found in ``generated``."""
    ini = config_dir / "mypy.ini"
    ini.write_text("[mypy]\nstrict = True\nplugins = pydantic.mypy\n")
    packages = sorted(p.name for p in generated.iterdir() if (p / "__init__.py").exists())
    args = [sys.executable, "-m", "mypy", "--config-file", str(ini), "--no-incremental"]
    for pkg in packages:
        args += ["-p", pkg]
    env = {"MYPYPATH": f"{generated}:{REPO / 'runtime'}", "PATH": "/usr/bin:/bin"}
    return subprocess.run(args, capture_output=True, text=True, env=env, cwd=generated, check=False)
