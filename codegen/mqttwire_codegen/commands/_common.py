"""Shared bits of the subcommands: printing diagnostics and mapping errors to exit codes.

On a terminal, diagnostics are colored and long steps show a status line; when stderr is a
file or a pipe (CI logs, ``2>file``), or ``NO_COLOR`` is set, the output is plain text.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterable
from typing import TextIO

from mqttwire_codegen.diagnostics import ContractError, Diagnostic
from mqttwire_codegen.errors import GeneratorError

EXIT_OK = 0
EXIT_DIFFERS = 1
EXIT_INVALID = 2

_RESET = "\x1b[0m"
_BOLD = "\x1b[1m"
_DIM = "\x1b[2m"
_RED = "\x1b[1;31m"
_YELLOW = "\x1b[1;33m"
_CYAN = "\x1b[36m"
_SEVERITY = {"error": _RED, "warning": _YELLOW}


def is_terminal(stream: TextIO) -> bool:
    isatty = getattr(stream, "isatty", None)
    try:
        return bool(isatty and isatty())
    except ValueError:  # closed stream
        return False


def use_color(stream: TextIO) -> bool:
    """Color only on a terminal, never with ``NO_COLOR`` (any value) or ``TERM=dumb``."""
    if "NO_COLOR" in os.environ or os.environ.get("TERM") == "dumb":
        return False
    return is_terminal(stream)


def render_diagnostic(d: Diagnostic, color: bool) -> str:
    """``d.render()``, with severity, location, rule and hint colored when ``color``."""
    if not color:
        return d.render()
    severity = _SEVERITY.get(d.severity, _BOLD)
    where = f"{d.location.file}:{d.line}" if d.line else str(d.location.file)
    text = (
        f"{_BOLD}{where}:{d.location.pointer or '/'}{_RESET}: "
        f"{severity}{d.severity}{_RESET} {_DIM}[{d.rule}]{_RESET} {d.message}"
    )
    if d.hint:
        text += f"\n    {_CYAN}hint:{_RESET} {d.hint}"
    return text


def print_diagnostics(diagnostics: Iterable[Diagnostic]) -> None:
    color = use_color(sys.stderr)
    for d in diagnostics:
        print(render_diagnostic(d, color), file=sys.stderr)


def print_error(message: str) -> None:
    """A final ``mqttwire: ...`` error line on stderr (red on a terminal)."""
    if use_color(sys.stderr):
        message = f"{_RED}{message}{_RESET}"
    print(message, file=sys.stderr)


class Progress:
    """A status line on stderr that each step overwrites; shown on a terminal only.

    Call it with the step's text; :meth:`clear` erases the line before the final output.
    """

    def __init__(self, stream: TextIO | None = None) -> None:
        self._stream = sys.stderr if stream is None else stream
        self.enabled = is_terminal(self._stream) and os.environ.get("TERM") != "dumb"
        self._width = 0

    def __call__(self, step: str) -> None:
        if not self.enabled:
            return
        text = f"mqttwire: {step}"[:119]
        self._stream.write("\r" + text.ljust(self._width))
        self._stream.flush()
        self._width = len(text)

    def clear(self) -> None:
        if self.enabled and self._width:
            self._stream.write("\r" + " " * self._width + "\r")
            self._stream.flush()
            self._width = 0


def guarded(fn: Callable[[], int], progress: Progress | None = None) -> int:
    """Run a command body; invalid input -> diagnostics on stderr and exit 2, never a traceback."""
    try:
        return fn()
    except ContractError as exc:
        if progress is not None:
            progress.clear()
        print_diagnostics(exc.diagnostics)
        n = len(exc.diagnostics)
        print_error(
            f"mqttwire: contract rejected ({n} error{'s' if n != 1 else ''}); nothing written"
        )
        return EXIT_INVALID
    except GeneratorError as exc:
        if progress is not None:
            progress.clear()
        print_error(f"mqttwire: generation failed: {exc}; nothing written")
        return EXIT_INVALID
    finally:
        if progress is not None:
            progress.clear()
