"""The four distributions, each built from its own directory and installed alone.

* ``mqttwire`` (runtime/): what a service installs; no generator, no robot package, no demo.
* ``mqttwire-codegen`` (codegen/): the ``mqttwire`` command; needs only the runtime besides
  its own dependencies, and what it generates imports with the runtime wheel alone.
* ``tars-mqtt`` (generated/): the robot's generated client on the runtime.
* ``tars-demo`` (demo/): ``tars-demo`` / ``python -m tars_demo`` on tars-mqtt and the runtime.

Each wheel is built from a copy of its directory (the work tree gets no build/ or egg-info) and
installed with pip into a fresh venv (one per distribution, shared by the tests of this module)
that sees nothing of the development install.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tomllib
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

pytestmark = pytest.mark.packaging

REPO = Path(__file__).resolve().parents[2]
GOLDEN = REPO / "tests" / "golden" / "greenhouse_v3" / "contract.yaml"
CONTRACT = REPO / "contracts" / "mqtt_client_api.yaml"
COMMANDS = ("generate", "check", "validate", "diff", "docs", "watch")
CODEGEN_ONLY = ("jinja2", "datamodel_code_generator", "yaml", "mqttwire_codegen")
# distribution -> (source directory, import package)
DISTS = {
    "mqttwire": ("runtime", "mqttwire"),
    "mqttwire-codegen": ("codegen", "mqttwire_codegen"),
    "tars-mqtt": ("generated", "tars_mqtt"),
    "tars-demo": ("demo", "tars_demo"),
}
# What each distribution's venv holds besides the distribution itself (its dependencies).
REQUIRES = {
    "mqttwire": (),
    "mqttwire-codegen": ("mqttwire",),
    "tars-mqtt": ("mqttwire",),
    "tars-demo": ("mqttwire", "tars-mqtt"),
}
IMPORT_NAMES = ("mqttwire", "mqttwire_codegen", "tars_mqtt", "tars_demo", "pydantic_settings")


def _clean_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    return env


def _check(args: list[str], cwd: Path, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        args, cwd=cwd, env=_clean_env(), capture_output=True, text=True, timeout=timeout
    )
    assert done.returncode == 0, f"{args} failed ({done.returncode}):\n{done.stdout}{done.stderr}"
    return done


def _pyproject(directory: str) -> dict[str, object]:
    with (REPO / directory / "pyproject.toml").open("rb") as f:
        data: dict[str, object] = tomllib.load(f)
    return data


@pytest.fixture(scope="module")
def wheels(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """One wheel per distribution, built (in one pip run) from copies of the four directories."""
    root = tmp_path_factory.mktemp("wheels")
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info", "build", "dist")
    sources = []
    for directory, _ in DISTS.values():
        shutil.copytree(REPO / directory, root / "src" / directory, ignore=ignore)
        sources.append(str(root / "src" / directory))
    dist = root / "dist"
    _check([sys.executable, "-m", "pip", "wheel", "--no-deps", "-w", str(dist), *sources], root)
    built = {}
    for name in DISTS:
        found = list(dist.glob(f"{name.replace('-', '_')}-*-py3-none-any.whl"))
        assert len(found) == 1, sorted(p.name for p in dist.iterdir())
        built[name] = found[0]
    return built


@dataclass
class Venv:
    root: Path
    work: Path

    @property
    def python(self) -> str:
        return str(self.root / "bin" / "python")

    def script(self, name: str) -> Path:
        return self.root / "bin" / name

    def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            list(args), cwd=self.work, env=_clean_env(), capture_output=True, text=True, timeout=120
        )

    def importable(self) -> dict[str, bool]:
        code = (
            "import importlib.util\n"
            f"for name in {IMPORT_NAMES + CODEGEN_ONLY!r}:\n"
            "    print(name, importlib.util.find_spec(name) is not None)\n"
        )
        done = self.run(self.python, "-c", code)
        assert done.returncode == 0, done.stderr
        return {line.split()[0]: line.split()[1] == "True" for line in done.stdout.splitlines()}


def _venv(name: str, wheels: dict[str, Path], factory: pytest.TempPathFactory) -> Venv:
    """A fresh venv with distribution ``name`` and its dependencies among ours, nothing else."""
    root = factory.mktemp(name)
    _check([sys.executable, "-m", "venv", "--without-pip", str(root / "venv")], root)
    work = root / "work"
    work.mkdir()
    venv = Venv(root / "venv", work)
    ours = [str(wheels[dep]) for dep in (name, *REQUIRES[name])]
    # pip of the test interpreter installs into the venv (pip >= 22.3); the other dependencies
    # come from the machine's normal index / wheel cache.
    _check([sys.executable, "-m", "pip", "--python", venv.python, "install", "-q", *ours], work)
    return venv


@pytest.fixture(scope="module")
def runtime_venv(wheels: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> Venv:
    return _venv("mqttwire", wheels, tmp_path_factory)


@pytest.fixture(scope="module")
def codegen_venv(wheels: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> Venv:
    return _venv("mqttwire-codegen", wheels, tmp_path_factory)


@pytest.fixture(scope="module")
def tars_venv(wheels: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> Venv:
    return _venv("tars-mqtt", wheels, tmp_path_factory)


@pytest.fixture(scope="module")
def demo_venv(wheels: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> Venv:
    return _venv("tars-demo", wheels, tmp_path_factory)


@pytest.fixture(scope="module")
def generated_out(codegen_venv: Venv) -> Iterator[Path]:
    """The golden contract generated by the installed generator wheel (package ``gh``)."""
    out = codegen_venv.work / "out"
    done = codegen_venv.run(
        str(codegen_venv.script("mqttwire")),
        "generate",
        str(GOLDEN),
        "--package",
        "gh",
        "--out",
        str(out),
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "wrote" in done.stdout
    yield out


# ----------------------------------------------------------------------------- the wheels


def test_each_wheel_holds_only_its_own_package(wheels: dict[str, Path]) -> None:
    for name, (_, package) in DISTS.items():
        with zipfile.ZipFile(wheels[name]) as wheel:
            tops = {
                n.split("/")[0]
                for n in wheel.namelist()
                if not n.split("/")[0].endswith(".dist-info")
            }
            assert tops == {package}, (name, tops)
            assert f"{package}/py.typed" in wheel.namelist(), name


def test_the_runtime_wheel_ships_no_test_support_of_this_repository(
    wheels: dict[str, Path],
) -> None:
    with zipfile.ZipFile(wheels["mqttwire"]) as wheel:
        testing = {
            n.removeprefix("mqttwire/testing/")
            for n in wheel.namelist()
            if n.startswith("mqttwire/testing/")
        }
        entry_points = wheel.read(
            next(n for n in wheel.namelist() if n.endswith(".dist-info/entry_points.txt"))
        ).decode()
    assert testing == {"__init__.py", "broker.py", "kit.py", "memory.py", "pytest_plugin.py"}
    assert "[pytest11]\nmqttwire = mqttwire.testing.pytest_plugin" in entry_points
    assert "console_scripts" not in entry_points


def test_the_generator_wheel_ships_its_templates_and_schemas(wheels: dict[str, Path]) -> None:
    with zipfile.ZipFile(wheels["mqttwire-codegen"]) as wheel:
        names = wheel.namelist()
    assert any(n.endswith(".j2") for n in names)
    assert any(n.startswith("mqttwire_codegen/asyncapi_schemas/") for n in names)


def test_declared_dependencies() -> None:
    """Runtime deps stay small, the generator pins what shapes its output, the workspace
    (root pyproject) installs the union of the four."""

    def deps(directory: str) -> list[str]:
        project = _pyproject(directory)["project"]
        assert isinstance(project, dict)
        return list(project.get("dependencies", []))

    assert deps("runtime") == ["paho-mqtt>=2.1,<3", "pydantic>=2.12,<3", "orjson>=3.9"]
    assert "datamodel-code-generator==0.89.0" in deps("codegen")
    assert any(d.startswith("mqttwire>=") for d in deps("codegen"))
    assert [d for d in deps("generated") if d.startswith("mqttwire")] == deps("generated")
    ours = {"mqttwire", "mqttwire-codegen", "tars-mqtt", "tars-demo"}
    union = {
        d
        for directory in ("runtime", "codegen", "generated", "demo")
        for d in deps(directory)
        if re.split(r"[<>=!~\[; ]", d)[0] not in ours
    }
    assert union <= set(deps(".")), union - set(deps("."))
    assert not any("pydantic-settings" in d for d in deps("."))


def test_the_generated_distribution_is_versioned_as_its_contract() -> None:
    import tars_mqtt

    project = _pyproject("generated")["project"]
    assert isinstance(project, dict)
    assert project["version"] == tars_mqtt.CONTRACT_VERSION


# ------------------------------------------------------------------------ installed alone


def test_runtime_alone(runtime_venv: Venv) -> None:
    importable = runtime_venv.importable()
    assert importable["mqttwire"]
    assert {k for k, v in importable.items() if v} == {"mqttwire"}
    code = (
        "import mqttwire, mqttwire.testing\n"
        "from mqttwire.testing import MemoryBroker, TestKit\n"
        "print(mqttwire.__file__)\n"
    )
    done = runtime_venv.run(runtime_venv.python, "-c", code)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(str(runtime_venv.root)), "imported the development copy"
    assert not runtime_venv.script("mqttwire").exists()
    assert not runtime_venv.script("tars-demo").exists()


def test_installing_the_runtime_installs_its_dependencies_and_nothing_else(
    runtime_venv: Venv,
) -> None:
    """``pip install mqttwire`` brings mqttwire and the closure of its declared requirements
    (paho-mqtt, pydantic, orjson and theirs): no generator, robot package, demo, aiomqtt or
    anything of the workspace's extras."""
    code = (
        "import importlib.metadata as md, re, json\n"
        "def key(n): return re.sub(r'[-_.]+', '-', n).lower()\n"
        "dists = {key(d.metadata['Name']): d for d in md.distributions()}\n"
        "installed = set(dists) - {'pip', 'setuptools', 'wheel'}\n"
        "needed, todo = set(), ['mqttwire']\n"
        "while todo:\n"
        "    name = todo.pop()\n"
        "    if name in needed or name not in dists: continue\n"
        "    needed.add(name)\n"
        "    for req in dists[name].requires or []:\n"
        "        if 'extra ==' in req: continue\n"
        "        todo.append(key(re.split(r'[<>=!~\\[; (]', req, maxsplit=1)[0]))\n"
        "print(json.dumps({'installed': sorted(installed), 'needed': sorted(needed)}))\n"
    )
    done = runtime_venv.run(runtime_venv.python, "-c", code)
    assert done.returncode == 0, done.stderr
    found = json.loads(done.stdout)
    installed, needed = set(found["installed"]), set(found["needed"])
    assert {"mqttwire", "paho-mqtt", "pydantic", "orjson"} <= needed
    assert installed == needed, f"installed but not required: {sorted(installed - needed)}"
    workspace_only = {
        "aiomqtt",
        "jinja2",
        "datamodel-code-generator",
        "jsonschema",
        "pyyaml",
        "pydantic-settings",
        "amqtt",
        "mqttwire-codegen",
        "tars-mqtt",
        "tars-demo",
    }
    assert not installed & workspace_only


def test_generator_alone_lists_every_command(codegen_venv: Venv) -> None:
    importable = codegen_venv.importable()
    assert importable["mqttwire_codegen"] and importable["mqttwire"]
    assert not importable["tars_mqtt"] and not importable["tars_demo"]
    mqttwire = str(codegen_venv.script("mqttwire"))
    helped = codegen_venv.run(mqttwire, "--help")
    assert helped.returncode == 0, helped.stderr
    listed = {
        line.split()[0]
        for line in helped.stdout.splitlines()
        if line.startswith("    ") and line.split()
    }
    assert set(COMMANDS) <= listed
    assert "demo" not in listed
    version = codegen_venv.run(mqttwire, "--version")
    assert version.stdout.startswith("mqttwire-codegen ")


def test_generator_output_is_drift_free_and_imports_with_the_runtime_alone(
    codegen_venv: Venv, runtime_venv: Venv, generated_out: Path
) -> None:
    checked = codegen_venv.run(
        str(codegen_venv.script("mqttwire")),
        "check",
        str(GOLDEN),
        "--package",
        "gh",
        "--out",
        str(generated_out),
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    code = (
        "import sys\n"
        f"sys.path.insert(0, {str(generated_out)!r})\n"
        "import gh, mqttwire\n"
        "print(type(gh.__all__).__name__, mqttwire.__file__.startswith(sys.prefix))\n"
    )
    imported = runtime_venv.run(runtime_venv.python, "-c", code)
    assert imported.returncode == 0, imported.stderr
    assert imported.stdout.split() == ["list", "True"]


def test_generated_tars_package_alone(tars_venv: Venv) -> None:
    importable = tars_venv.importable()
    assert {k for k, v in importable.items() if v} == {"mqttwire", "tars_mqtt"}
    code = (
        "from tars_mqtt import TarsClient\n"
        "from tars_mqtt.models import TtsSay\n"
        "assert TarsClient.publish_tts_say and TtsSay(text='hi').text == 'hi'\n"
    )
    done = tars_venv.run(tars_venv.python, "-c", code)
    assert done.returncode == 0, done.stderr


def test_demo_alone(demo_venv: Venv) -> None:
    importable = demo_venv.importable()
    assert {k for k, v in importable.items() if v} == {"mqttwire", "tars_mqtt", "tars_demo"}
    for command in ([str(demo_venv.script("tars-demo"))], [demo_venv.python, "-m", "tars_demo"]):
        helped = demo_venv.run(*command, "--help")
        assert helped.returncode == 0, helped.stderr
        assert "--broker" in helped.stdout
    # --watch needs the generator, which the demo does not install by default.
    watched = demo_venv.run(str(demo_venv.script("tars-demo")), "--watch", str(CONTRACT))
    assert watched.returncode == 2
    assert "--watch needs the generator: pip install mqttwire-codegen" in watched.stderr


def test_the_generator_wheel_reproduces_the_committed_tars_package(codegen_venv: Venv) -> None:
    """The wheel with its pinned dependencies generates generated/tars_mqtt byte for byte."""
    checked = codegen_venv.run(
        str(codegen_venv.script("mqttwire")),
        "check",
        str(CONTRACT),
        "--package",
        "tars_mqtt",
        "--out",
        str(REPO / "generated"),
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "up to date" in checked.stdout
