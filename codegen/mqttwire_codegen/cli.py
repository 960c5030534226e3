"""The ``mqttwire`` command: a dispatcher over one small module per subcommand.

Subcommands are listed in ``COMMANDS`` (module names under ``mqttwire_codegen.commands``);
adding a command means adding a module with ``register(subparsers)``. The robot's demo has its
own entry point (``tars-demo``, ``python -m tars_demo``) in its own distribution.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from mqttwire_codegen import __version__

COMMANDS = ("generate", "check", "validate", "diff", "docs", "watch")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mqttwire", description="AsyncAPI MQTT contracts -> typed Python clients"
    )
    parser.add_argument("--version", action="version", version=f"mqttwire-codegen {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMANDS:
        importlib.import_module(f"mqttwire_codegen.commands.{name}").register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    code: int = args.run(args)
    return code


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
