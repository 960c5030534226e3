"""The built wheel in fresh virtual environments: runtime only, then with the ``codegen`` extra.

The wheel is built from a copy of the source roots (so the work tree gets no build/ or
egg-info), installed with pip into venvs that see nothing of the development install, and
exercised the way a service on the robot (``pip install mqttwire``) and a developer
(``pip install mqttwire[codegen]``) would.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

pytestmark = pytest.mark.packaging

REPO = Path(__file__).resolve().parents[2]
SOURCES = ("pyproject.toml", "README.md", "runtime", "codegen", "generated", "demo")
GOLDEN = REPO / "tests" / "golden" / "greenhouse_v3" / "contract.yaml"
COMMANDS = ("generate", "check", "validate", "diff", "docs", "demo", "watch")
CODEGEN_ONLY = ("jinja2", "datamodel_code_generator", "yaml")


def _clean_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    return env


def _check(args: list[str], cwd: Path, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        args, cwd=cwd, env=_clean_env(), capture_output=True, text=True, timeout=timeout
    )
    assert done.returncode == 0, f"{args} failed ({done.returncode}):\n{done.stdout}{done.stderr}"
    return done


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("wheel")
    src = root / "src"
    src.mkdir()
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info", "build", "dist")
    for name in SOURCES:
        path = REPO / name
        if path.is_dir():
            shutil.copytree(path, src / name, ignore=ignore)
        else:
            shutil.copy2(path, src / name)
    dist = root / "dist"
    _check([sys.executable, "-m", "pip", "wheel", str(src), "--no-deps", "-w", str(dist)], root)
    wheels = list(dist.glob("mqttwire-*-py3-none-any.whl"))
    assert len(wheels) == 1, list(dist.iterdir())
    return wheels[0]


@dataclass
class Venv:
    root: Path
    work: Path

    @property
    def python(self) -> str:
        return str(self.root / "bin" / "python")

    @property
    def mqttwire(self) -> str:
        return str(self.root / "bin" / "mqttwire")

    def install(self, requirement: str) -> None:
        # pip of the test interpreter installs into the venv (pip >= 22.3); dependencies come
        # from the machine's normal index / wheel cache.
        _check(
            [sys.executable, "-m", "pip", "--python", self.python, "install", "-q", requirement],
            self.work,
        )

    def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            list(args), cwd=self.work, env=_clean_env(), capture_output=True, text=True, timeout=120
        )


def _venv(root: Path) -> Venv:
    _check([sys.executable, "-m", "venv", "--without-pip", str(root / "venv")], root)
    work = root / "work"
    work.mkdir()
    return Venv(root / "venv", work)


@pytest.fixture(scope="module")
def runtime_venv(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Venv]:
    venv = _venv(tmp_path_factory.mktemp("runtime"))
    venv.install(str(wheel))
    yield venv


@pytest.fixture(scope="module")
def codegen_venv(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Venv]:
    venv = _venv(tmp_path_factory.mktemp("codegen"))
    venv.install(f"{wheel}[codegen]")
    yield venv


def test_runtime_install_has_no_generator_dependencies(runtime_venv: Venv) -> None:
    code = (
        "import importlib.util, sys\n"
        "import mqttwire, tars_mqtt, tars_demo.cli\n"
        "from tars_mqtt import TarsClient\n"
        "from tars_mqtt.models import TtsSay\n"
        "assert TarsClient.publish_tts_say and TtsSay(text='hi').text == 'hi'\n"
        "print('file', mqttwire.__file__)\n"
        f"for name in {CODEGEN_ONLY!r}:\n"
        "    print(name, importlib.util.find_spec(name) is not None)\n"
    )
    done = runtime_venv.run(runtime_venv.python, "-c", code)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].startswith(f"file {runtime_venv.root}"), "imported the development copy"
    assert lines[1:] == [f"{name} False" for name in CODEGEN_ONLY]
    demo = runtime_venv.run(runtime_venv.python, "-m", "tars_demo", "--help")
    assert demo.returncode == 0 and "--broker" in demo.stdout, demo.stderr


def test_runtime_install_cli_explains_the_codegen_extra(runtime_venv: Venv) -> None:
    helped = runtime_venv.run(runtime_venv.mqttwire, "--help")
    assert helped.returncode == 0, helped.stderr
    assert "demo" in helped.stdout and "mqttwire[codegen]" in helped.stdout
    refused = runtime_venv.run(runtime_venv.mqttwire, "generate", str(GOLDEN), "--package", "x")
    assert refused.returncode == 2
    assert "pip install 'mqttwire[codegen]'" in refused.stderr
    assert "Traceback" not in refused.stderr


def test_codegen_extra_cli_lists_every_command(codegen_venv: Venv) -> None:
    helped = codegen_venv.run(codegen_venv.mqttwire, "--help")
    assert helped.returncode == 0, helped.stderr
    listed = {
        line.split()[0]
        for line in helped.stdout.splitlines()
        if line.startswith("    ") and line.split()[0] in COMMANDS
    }
    assert listed == set(COMMANDS)
    assert "mqttwire[codegen]" not in helped.stdout
    version = codegen_venv.run(codegen_venv.mqttwire, "--version")
    assert version.stdout.startswith("mqttwire-codegen ")


def test_codegen_extra_generates_an_importable_package(codegen_venv: Venv) -> None:
    out = codegen_venv.work / "out"
    done = codegen_venv.run(
        codegen_venv.mqttwire, "generate", str(GOLDEN), "--package", "gh", "--out", str(out)
    )
    assert done.returncode == 0, done.stderr
    assert "wrote" in done.stdout
    code = (
        "import sys\n"
        f"sys.path.insert(0, {str(out)!r})\n"
        "import gh\n"
        "print(type(gh.__all__).__name__, sorted(m for m in sys.modules if m.split('.')[0] in "
        f"{CODEGEN_ONLY!r}))\n"
    )
    imported = codegen_venv.run(codegen_venv.python, "-c", code)
    assert imported.returncode == 0, imported.stderr
    assert imported.stdout.strip() == "list []"  # generated code never imports the generator
    checked = codegen_venv.run(
        codegen_venv.mqttwire, "check", str(GOLDEN), "--package", "gh", "--out", str(out)
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
