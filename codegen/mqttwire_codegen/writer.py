"""Write a generated package atomically: all files appear together or nothing changes."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Mapping
from pathlib import Path


def umask() -> int:
    """The process umask (read by setting it, then restoring it at once)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def write_package(files: Mapping[str, str], target: Path) -> None:
    """Replace directory ``target`` with exactly ``files`` (relative path -> text)."""
    target = target.resolve()
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        # mkdtemp makes the folder 0700: give it the permissions a plain mkdir would have
        staging.chmod(0o777 & ~umask())
        for rel, text in sorted(files.items()):
            path = staging / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(text.encode())
        backup = None
        if target.exists():
            backup = target.parent / f".{target.name}.old-{os.getpid()}"
            os.replace(target, backup)
        os.replace(staging, target)
        if backup is not None:
            shutil.rmtree(backup, ignore_errors=True)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def read_package(target: Path) -> dict[str, str]:
    """Every file under ``target`` (relative posix path -> text), skipping caches."""
    out: dict[str, str] = {}
    if not target.is_dir():
        return out
    for path in sorted(target.rglob("*")):
        if (
            path.is_file()
            and "__pycache__" not in path.parts
            and not path.name.endswith((".pyc", ".pyo"))
        ):
            out[path.relative_to(target).as_posix()] = path.read_bytes().decode(errors="replace")
    return out
