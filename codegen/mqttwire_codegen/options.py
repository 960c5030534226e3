"""The root ``x-mqttwire`` options of a contract (unknown options and bad values are errors)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from mqttwire_codegen.diagnostics import Diagnostic, Location

ENUM_STYLES = ("literal", "str-enum")
ROOT_OPTIONS = ("enums", "whole-system")


@dataclass(frozen=True, slots=True)
class Options:
    enums: str = "literal"  # ``literal`` or ``str-enum``
    whole_system: bool = False  # every channel in both directions


def read_options(doc: dict[str, Any], root: Location) -> tuple[Options, list[Diagnostic]]:
    """``x-mqttwire: {enums: literal | str-enum, whole-system: true | false}``."""
    options = doc.get("x-mqttwire")
    loc = root.child("x-mqttwire")
    errors: list[Diagnostic] = []

    def fail(at: Location, message: str, hint: str = "") -> None:
        errors.append(Diagnostic(at, "bad-extension", message, "error", hint))

    if options is None:
        return Options(), errors
    if not isinstance(options, dict):
        fail(loc, "x-mqttwire must be a mapping")
        return Options(), errors
    unknown = sorted(set(options) - set(ROOT_OPTIONS))
    if unknown:
        fail(loc, f"x-mqttwire has unknown options {unknown}", f"known: {', '.join(ROOT_OPTIONS)}")
    style = options.get("enums", "literal")
    if style not in ENUM_STYLES:
        fail(
            loc.child("enums"),
            f"x-mqttwire.enums is {style!r}",
            f"use one of {', '.join(ENUM_STYLES)}",
        )
        style = "literal"
    whole = options.get("whole-system", False)
    if not isinstance(whole, bool):
        fail(
            loc.child("whole-system"), f"x-mqttwire.whole-system is {whole!r}", "use true or false"
        )
        whole = False
    return Options(enums=str(style), whole_system=whole), errors
