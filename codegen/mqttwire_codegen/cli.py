"""The ``mqttwire`` command: a dispatcher over one small module per subcommand.

Subcommands are listed in ``COMMANDS`` (module names under ``mqttwire_codegen.commands``);
adding ``diff``/``docs``/``demo`` means adding a module with ``register(subparsers)``.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from mqttwire_codegen import __version__

COMMANDS = ("generate", "check", "validate", "diff", "docs", "demo")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mqttwire", description="AsyncAPI MQTT contracts -> typed Python clients"
    )
    parser.add_argument("--version", action="version", version=f"mqttwire-codegen {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMANDS:
        try:
            module = importlib.import_module(f"mqttwire_codegen.commands.{name}")
        except ModuleNotFoundError as exc:
            if exc.name == f"mqttwire_codegen.commands.{name}":
                continue  # not built yet
            raise
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    code: int = args.run(args)
    return code


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
