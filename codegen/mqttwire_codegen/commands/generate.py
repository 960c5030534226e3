"""``mqttwire generate CONTRACT --package NAME --out DIR [--client-name X]``."""

from __future__ import annotations

import argparse
from pathlib import Path

from mqttwire_codegen.commands._common import EXIT_OK, Progress, guarded, print_diagnostics
from mqttwire_codegen.pipeline import generate_package
from mqttwire_codegen.writer import write_package


def add_generation_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("contract", type=Path, help="AsyncAPI 2.6/3.0 document (YAML or JSON)")
    parser.add_argument("--package", required=True, help="Python package name, e.g. tars_mqtt")
    parser.add_argument(
        "--out", required=True, type=Path, help="directory the package lands in (DIR/NAME/)"
    )
    parser.add_argument(
        "--client-name", default=None, help="client class name (default: <Title>Client)"
    )
    parser.add_argument("-q", "--quiet", action="store_true", help="do not print warnings")


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser("generate", help="generate a typed client package from a contract")
    add_generation_args(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    progress = Progress()  # a status line per step, on a terminal only

    def body() -> int:
        generated = generate_package(
            args.contract, args.package, client_name=args.client_name, progress=progress
        )
        target = Path(args.out) / args.package.replace(".", "/")
        progress(f"writing {len(generated.files)} files to {target}")
        write_package(generated.files, target)
        progress.clear()
        if not args.quiet:
            print_diagnostics(generated.warnings)
        print(
            f"wrote {target} ({len(generated.files)} files, client {generated.contract.client_name})"
        )
        return EXIT_OK

    return guarded(body, progress)
