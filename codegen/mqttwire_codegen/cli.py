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

COMMANDS = ("generate", "check", "validate", "diff", "docs", "demo", "watch")


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
            if exc.name is None or exc.name.split(".")[0] == "mqttwire_codegen":
                raise
            _register_unavailable(sub, name, exc.name)  # runtime-only install
            continue
        module.register(sub)
    return parser


def _register_unavailable(
    sub: argparse._SubParsersAction[argparse.ArgumentParser], name: str, missing: str
) -> None:
    """A command whose dependencies are not installed: it explains how to get them."""
    hint = "needs the generator's dependencies: pip install 'mqttwire[codegen]'"
    parser = sub.add_parser(name, help=f"({hint})", add_help=False)
    parser.add_argument("rest", nargs=argparse.REMAINDER)

    def run(args: argparse.Namespace) -> int:
        print(f"mqttwire {name}: {hint} (missing module {missing!r})", file=sys.stderr)
        return 2

    parser.set_defaults(run=run)


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    code: int = args.run(args)
    return code


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
