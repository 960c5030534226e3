"""Diagnostics: what is wrong, where (file + JSON pointer), and which rule says so."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from mqttwire_codegen import pointer


@dataclass(frozen=True, slots=True)
class Location:
    """A node of a contract: the file it was read from and its JSON pointer in that file."""

    file: Path
    pointer: str

    def child(self, *tokens: str | int) -> Location:
        return Location(self.file, pointer.join(self.pointer, *tokens))

    def __str__(self) -> str:
        return f"{self.file}#{self.pointer}"


@dataclass(frozen=True, slots=True)
class Diagnostic:
    """One finding. ``rule`` is a stable id (the official parser's id where one exists)."""

    location: Location
    rule: str
    message: str
    severity: str = "error"
    hint: str = ""
    line: int | None = None  # 1-based line in ``location.file``, where it is known

    def render(self) -> str:
        where = f"{self.location.file}:{self.line}" if self.line else str(self.location.file)
        text = (
            f"{where}:{self.location.pointer or '/'}: {self.severity} [{self.rule}] {self.message}"
        )
        if self.hint:
            text += f"\n    hint: {self.hint}"
        return text


class ContractError(Exception):
    """The contract cannot be turned into a client. Carries the diagnostics."""

    def __init__(self, diagnostics: Sequence[Diagnostic]) -> None:
        self.diagnostics: tuple[Diagnostic, ...] = tuple(diagnostics)
        super().__init__("\n".join(d.render() for d in self.diagnostics))

    @property
    def rules(self) -> set[str]:
        return {d.rule for d in self.diagnostics}


class NotMQTTError(ContractError):
    """A valid AsyncAPI document that does not describe an MQTT API."""


def errors_only(diagnostics: Iterable[Diagnostic]) -> list[Diagnostic]:
    return [d for d in diagnostics if d.severity == "error"]
