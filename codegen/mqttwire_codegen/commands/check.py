"""``mqttwire check CONTRACT --package NAME --out DIR``: exit 1 with a diff when DIR/NAME drifted."""

from __future__ import annotations

import argparse
import difflib
import sys
from pathlib import Path

from mqttwire_codegen.commands._common import EXIT_DIFFERS, EXIT_OK, guarded
from mqttwire_codegen.commands.generate import add_generation_args
from mqttwire_codegen.pipeline import generate_package
from mqttwire_codegen.writer import read_package


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser("check", help="fail (exit 1) when the generated package is out of date")
    add_generation_args(parser)
    parser.set_defaults(run=run)


def package_diff(expected: dict[str, str], actual: dict[str, str], prefix: str) -> str:
    """Unified diff of two file maps (missing, extra and changed files)."""
    chunks: list[str] = []
    for rel in sorted(set(expected) | set(actual)):
        old, new = actual.get(rel), expected.get(rel)
        if old == new:
            continue
        if old is None or new is None:
            state = "missing (would be created)" if old is None else "extra (not generated)"
            chunks.append(f"{prefix}/{rel}: {state}\n")
        chunks.extend(
            difflib.unified_diff(
                (old or "").splitlines(keepends=True),
                (new or "").splitlines(keepends=True),
                fromfile=f"{prefix}/{rel}" if old is not None else "/dev/null",
                tofile=f"{prefix}/{rel} (regenerated)" if new is not None else "/dev/null",
            )
        )
        if chunks and not chunks[-1].endswith("\n"):
            chunks.append("\n")
    return "".join(chunks)


def run(args: argparse.Namespace) -> int:
    def body() -> int:
        generated = generate_package(args.contract, args.package, client_name=args.client_name)
        target = Path(args.out) / args.package.replace(".", "/")
        diff = package_diff(generated.files, read_package(target), str(target))
        if diff:
            sys.stdout.write(diff)
            print(
                f"mqttwire check: {target} is out of date; run `mqttwire generate`", file=sys.stderr
            )
            return EXIT_DIFFERS
        print(f"{target} is up to date")
        return EXIT_OK

    return guarded(body)
