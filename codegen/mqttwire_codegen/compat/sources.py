"""Where a contract version comes from: a file path, or ``git:REV:path`` read through git.

A contract in git is exported together with the folder around it (its relative ``$ref``s to
schema files must resolve at the same revision) into a temporary folder.
"""

from __future__ import annotations

import io
import subprocess
import tarfile
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path, PurePosixPath

from mqttwire_codegen.diagnostics import ContractError, Diagnostic, Location


def _git(args: list[str], cwd: Path) -> bytes:
    try:
        done = subprocess.run(["git", *args], cwd=cwd, capture_output=True, check=True)
    except FileNotFoundError:
        raise _source_error("git:", "git is not installed") from None
    except subprocess.CalledProcessError as exc:
        message = exc.stderr.decode(errors="replace").strip() or f"git {' '.join(args)} failed"
        raise _source_error("git:" + ":".join(args[-1:]), message) from None
    return done.stdout


def _source_error(spec: str, message: str) -> ContractError:
    return ContractError([Diagnostic(Location(Path(spec), ""), "source-unreadable", message)])


@contextmanager
def materialize(spec: str, *, repo: Path | None = None) -> Iterator[Path]:
    """Yield a local path for ``spec`` (a path, or ``git:REV:path`` relative to the repo root)."""
    if not spec.startswith("git:"):
        yield Path(spec)
        return
    try:
        _, rev, rel = spec.split(":", 2)
    except ValueError:
        raise _source_error(
            spec, "expected git:REV:path, e.g. git:origin/main:contracts/api.yaml"
        ) from None
    cwd = repo or Path.cwd()
    top = Path(_git(["rev-parse", "--show-toplevel"], cwd).decode().strip())
    folder = str(PurePosixPath(rel).parent)
    archive = _git(["archive", "--format=tar", rev, "--", folder], top)
    with tempfile.TemporaryDirectory(prefix="mqttwire-diff-") as tmp:
        with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
            tar.extractall(tmp, filter="data")
        path = Path(tmp) / rel
        if not path.is_file():
            raise _source_error(spec, f"{rel} does not exist at {rev}")
        yield path
