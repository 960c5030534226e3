"""Developer and CI sessions. Every session installs what it needs into its own venv."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import nox

nox.options.default_venv_backend = "venv"
nox.options.reuse_existing_virtualenvs = True
nox.options.sessions = ["lint", "typecheck", "tests", "drift"]

ROOT = Path(__file__).parent
CONTRACT = "contracts/mqtt_client_api.yaml"
PYTHON_SOURCES = [
    "runtime",
    "codegen",
    "generated",
    "demo",
    "tests",
    "benchmarks",
    "tools",
    "noxfile.py",
]
TYPED_PACKAGES = [
    "runtime/mqttwire",
    "codegen/mqttwire_codegen",
    "generated/tars_mqtt",
    "demo/tars_demo",
]


def _find_mosquitto() -> str | None:
    return shutil.which("mosquitto") or shutil.which("mosquitto", path="/usr/sbin:/usr/local/sbin")


def _ensure_mosquitto(session: nox.Session) -> None:
    """Integration tests start their own Mosquitto; install it when the machine lacks it."""
    if _find_mosquitto():
        return
    if shutil.which("apt-get") and hasattr(os, "geteuid"):
        prefix = [] if os.geteuid() == 0 else ["sudo", "-n"]
        session.run(*prefix, "apt-get", "update", "-q", external=True, success_codes=[0, 100])
        session.run(*prefix, "apt-get", "install", "-y", "-q", "mosquitto", external=True)
    if not _find_mosquitto():
        session.error(
            "mosquitto is not installed and could not be installed automatically; "
            "install it (e.g. `apt-get install mosquitto` or `brew install mosquitto`)"
        )


def _install(session: nox.Session, extras: str = "dev") -> None:
    """The developer workspace (root pyproject.toml, ``mqttwire-workspace``), editable."""
    # A venv reused from before the split into four distributions still has the workspace
    # installed as ``mqttwire``: remove it so that one editable install maps the packages.
    session.run("python", "-m", "pip", "uninstall", "-y", "-q", "mqttwire", silent=True)
    session.install("-e", f".[{extras}]")


@nox.session
def tests(session: nox.Session) -> None:
    """The whole test suite, including integration tests against a real Mosquitto."""
    _ensure_mosquitto(session)
    _install(session)
    session.run("pytest", *session.posargs)


@nox.session
def demo(session: nox.Session) -> None:
    """Three services talk over an embedded broker; one is killed with SIGKILL and recovers.

    Broker: MQTT_URL if set, else mosquitto from PATH, else the in-process amqtt (dev extra).
    ``nox -s demo -- --broker amqtt`` forces one; ``-- --help`` lists the options.
    """
    _install(session)
    session.run("tars-demo", *session.posargs)


@nox.session
def lint(session: nox.Session) -> None:
    """ruff check + ruff format --check."""
    session.install("ruff==0.17.6")
    session.run("ruff", "check", *PYTHON_SOURCES)
    session.run("ruff", "format", "--check", *PYTHON_SOURCES)


@nox.session
def typecheck(session: nox.Session) -> None:
    """mypy --strict on the runtime, the generator and the generated package."""
    _install(session)
    session.run("mypy", "--strict", *[p for p in TYPED_PACKAGES if (ROOT / p).exists()])


@nox.session
def bench(session: nox.Session) -> None:
    """Benchmarks of issue 8 against their own Mosquitto -> benchmarks/results/latest.{json,png}.

    ``nox -s bench -- --quick`` for a short smoke run, ``-- --cases publish_qos0`` to filter.
    """
    _ensure_mosquitto(session)
    _install(session, "dev,bench")
    session.run("python", "benchmarks/run.py", *session.posargs)


@nox.session
def generate(session: nox.Session) -> None:
    """Regenerate generated/tars_mqtt from the contract."""
    _install(session)
    session.run("mqttwire", "generate", CONTRACT, "--package", "tars_mqtt", "--out", "generated")


@nox.session
def drift(session: nox.Session) -> None:
    """Fail when generated/ differs from what the contract generates (untracked files too)."""
    _install(session)
    session.run("mqttwire", "check", CONTRACT, "--package", "tars_mqtt", "--out", "generated")


def _git_out(*args: str) -> str | None:
    import subprocess

    done = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True)
    return done.stdout.strip() if done.returncode == 0 else None


@nox.session
def breaking(session: nox.Session) -> None:
    """Fail on breaking contract changes against the merge-base with main (or --against REF).

    Breaking changes pass when info.version's major was bumped or contracts/compat/allow.yaml
    names the rule and pointer.
    """
    args = list(session.posargs)
    against = None
    if "--against" in args:
        against = args[args.index("--against") + 1]
    else:
        for branch in ("origin/main", "main"):
            against = _git_out("merge-base", "HEAD", branch)
            if against:
                break
    if not against:
        session.skip("no main branch to compare with; pass --against REF")
    if _git_out("cat-file", "-e", f"{against}:{CONTRACT}") is None:
        session.skip(f"{CONTRACT} does not exist at {against}: nothing to compare")
    _install(session)
    session.log(f"comparing {CONTRACT} (working tree) against {against}")
    session.run(
        "mqttwire",
        "diff",
        f"git:{against}:{CONTRACT}",
        CONTRACT,
        "--gate",
        "--allow",
        "contracts/compat/allow.yaml",
    )


@nox.session
def docs(session: nox.Session) -> None:
    """Regenerate docs/topics.md and docs/topics.svg from the contract (`-- --check` to verify)."""
    _install(session)
    out = ["-o", "docs/topics.md", "--svg", "docs/topics.svg"]
    session.run("mqttwire", "docs", CONTRACT, *out, *session.posargs)


@nox.session(venv_backend="none")
def contract(session: nox.Session) -> None:
    """Validate every AsyncAPI document under contracts/ with the official @asyncapi/parser.

    Needs only node + npm (no Python venv); the parser is cached in .cache/asyncapi-parser.
    """
    tools = ROOT / ".cache" / "asyncapi-parser"
    tools.mkdir(parents=True, exist_ok=True)
    if not (tools / "node_modules" / "@asyncapi" / "parser").exists():
        session.run(
            "npm",
            "install",
            "--prefix",
            str(tools),
            "--no-audit",
            "--no-fund",
            "@asyncapi/parser@3",
            external=True,
        )
    session.run(
        "node",
        str(ROOT / "tools" / "validate_asyncapi.mjs"),
        *sorted(str(p) for p in (ROOT / "contracts").glob("*.yaml")),
        external=True,
        env={"NODE_PATH": str(tools / "node_modules")},
    )


if __name__ == "__main__":  # pragma: no cover
    sys.exit("run with: nox -s <session>")
