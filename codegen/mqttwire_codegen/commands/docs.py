"""``mqttwire docs CONTRACT -o docs/topics.md [--svg docs/topics.svg] [--check]``.

Writes the topic reference (Markdown with a Mermaid diagram) and optionally the same graph as an
SVG. ``--check`` writes nothing: exit 1 with a unified diff when the files on disk are stale.
"""

from __future__ import annotations

import argparse
import difflib
import os
import sys
import tempfile
from pathlib import Path

from mqttwire_codegen.api import load_contract
from mqttwire_codegen.commands._common import (
    EXIT_DIFFERS,
    EXIT_INVALID,
    EXIT_OK,
    guarded,
    print_diagnostics,
)
from mqttwire_codegen.docgen import render_docs
from mqttwire_codegen.writer import umask


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser(
        "docs", help="generate topic docs (Markdown + Mermaid, optional SVG) from a contract"
    )
    parser.add_argument("contract", type=Path, help="AsyncAPI 2.6/3.0 document (YAML or JSON)")
    parser.add_argument(
        "-o",
        "--output",
        required=True,
        type=Path,
        help="Markdown file to write, e.g. docs/topics.md",
    )
    parser.add_argument("--svg", type=Path, default=None, help="also write the graph as an SVG")
    parser.add_argument(
        "--check", action="store_true", help="write nothing; exit 1 with a diff if files are stale"
    )
    parser.add_argument("-q", "--quiet", action="store_true", help="do not print warnings")
    parser.set_defaults(run=run)


def _read(path: Path) -> str | None:
    try:
        return path.read_bytes().decode("utf-8", errors="replace")
    except FileNotFoundError:
        return None


def docs_diff(expected: dict[Path, str]) -> str:
    """Unified diff between the files on disk and their regenerated text ('' when current)."""
    chunks: list[str] = []
    for path, new in expected.items():
        old = _read(path)
        if old == new:
            continue
        chunks.extend(
            difflib.unified_diff(
                (old or "").splitlines(keepends=True),
                new.splitlines(keepends=True),
                fromfile=str(path) if old is not None else "/dev/null",
                tofile=f"{path} (regenerated)",
            )
        )
        if chunks and not chunks[-1].endswith("\n"):
            chunks.append("\n")
    return "".join(chunks)


def write_atomic(path: Path, text: str) -> None:
    """Replace ``path`` in one step (a temporary file in the same folder, then rename)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as handle:
            handle.write(text)
        os.chmod(tmp, 0o666 & ~umask())  # mkstemp makes it 0600
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def run(args: argparse.Namespace) -> int:
    def body() -> int:
        contract, diagnostics = load_contract(args.contract)
        if not args.quiet:
            print_diagnostics(d for d in diagnostics if d.severity != "error")
        files = render_docs(contract, args.output, args.svg)
        if args.check:
            diff = docs_diff(files)
            if diff:
                sys.stdout.write(diff)
                print("mqttwire docs: docs are out of date; run `mqttwire docs`", file=sys.stderr)
                return EXIT_DIFFERS
            print(f"{', '.join(str(p) for p in files)}: up to date")
            return EXIT_OK
        try:
            for path, text in files.items():
                if _read(path) != text:
                    write_atomic(path, text)
        except OSError as exc:
            print(f"mqttwire docs: cannot write {exc.filename}: {exc.strerror}", file=sys.stderr)
            return EXIT_INVALID
        print(f"wrote {', '.join(str(p) for p in files)} ({len(contract.channels)} topics)")
        return EXIT_OK

    return guarded(body)
