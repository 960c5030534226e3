"""Shared bits of the subcommands: printing diagnostics and mapping errors to exit codes."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable

from mqttwire_codegen.diagnostics import ContractError, Diagnostic
from mqttwire_codegen.errors import GeneratorError

EXIT_OK = 0
EXIT_DIFFERS = 1
EXIT_INVALID = 2


def print_diagnostics(diagnostics: Iterable[Diagnostic]) -> None:
    for d in diagnostics:
        print(d.render(), file=sys.stderr)


def guarded(fn: Callable[[], int]) -> int:
    """Run a command body; invalid input -> diagnostics on stderr and exit 2, never a traceback."""
    try:
        return fn()
    except ContractError as exc:
        print_diagnostics(exc.diagnostics)
        n = len(exc.diagnostics)
        print(
            f"mqttwire: contract rejected ({n} error{'s' if n != 1 else ''}); nothing written",
            file=sys.stderr,
        )
        return EXIT_INVALID
    except GeneratorError as exc:
        print(f"mqttwire: generation failed: {exc}; nothing written", file=sys.stderr)
        return EXIT_INVALID
