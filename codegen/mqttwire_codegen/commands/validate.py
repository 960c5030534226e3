"""``mqttwire validate CONTRACT``: diagnostics only; exit 2 when the contract is unusable."""

from __future__ import annotations

import argparse
from pathlib import Path

from mqttwire_codegen.api import load_contract
from mqttwire_codegen.commands._common import EXIT_OK, guarded, print_diagnostics


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser("validate", help="check a contract and print diagnostics")
    parser.add_argument("contract", type=Path)
    parser.add_argument(
        "-q", "--quiet", action="store_true", help="do not print warnings (errors still are)"
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    def body() -> int:
        contract, diagnostics = load_contract(args.contract)
        if not args.quiet:
            print_diagnostics(diagnostics)
        print(
            f"{args.contract}: valid AsyncAPI {contract.asyncapi_version} MQTT contract "
            f"({len(contract.channels)} channels, {len(contract.operations)} operations, "
            f"{len(contract.schema_defs)} models)"
        )
        return EXIT_OK

    return guarded(body)
