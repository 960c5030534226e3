"""Format generated Python in memory with the pinned ruff (``ruff check --fix`` + ``ruff format``)."""

from __future__ import annotations

import subprocess

from mqttwire_codegen.errors import GeneratorError

_COMMON = ["--isolated", "--line-length", "100", "--target-version", "py311"]


def _ruff_bin() -> str:
    from ruff.__main__ import find_ruff_bin  # type: ignore[import-untyped]

    return str(find_ruff_bin())


def _run(args: list[str], source: str, filename: str) -> str:
    proc = subprocess.run(
        [_ruff_bin(), *args, "--stdin-filename", filename, "-"],
        input=source.encode(),
        capture_output=True,
        check=False,
    )
    if proc.returncode not in (0, 1) or (args[0] == "format" and proc.returncode != 0):
        raise GeneratorError(
            f"ruff {args[0]} failed on {filename}: {proc.stderr.decode(errors='replace')}"
        )
    return proc.stdout.decode()


def format_python(source: str, filename: str, first_party: tuple[str, ...] = ("mqttwire",)) -> str:
    """Sort imports, drop unused imports, then ruff-format. Deterministic for a given ruff.

    ``first_party`` makes import grouping match a project that owns the runtime and the package.
    """
    isort = "lint.isort.known-first-party = [" + ", ".join(f'"{m}"' for m in first_party) + "]"
    fixed = _run(
        [
            "check",
            "--fix",
            "--exit-zero",
            "--quiet",
            "--select",
            "I,F401,UP",
            *_COMMON,
            "--config",
            isort,
        ],
        source,
        filename,
    )
    return _run(["format", "--quiet", *_COMMON], fixed, filename)
