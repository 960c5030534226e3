"""Small Markdown helpers: inline code, table cells, tables, stable anchors."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence


def code(text: str) -> str:
    """Inline code that survives backticks in ``text``."""
    if "`" not in text:
        return f"`{text}`"
    return f"`` {text} ``"


def cell(text: str) -> str:
    """One table cell: a single line, pipes escaped."""
    return " ".join(text.split()).replace("|", "\\|")


def table(headers: Sequence[str], rows: Iterable[Sequence[str]]) -> list[str]:
    out = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    out += ["| " + " | ".join(cell(c) for c in row) + " |" for row in rows]
    return out


def paragraph(text: str | None) -> str:
    """A description as Markdown: lines right-stripped, surrounding blank lines removed."""
    if not text:
        return ""
    return "\n".join(line.rstrip() for line in text.strip().splitlines())


def one_line(text: str | None) -> str:
    return " ".join(text.split()) if text else ""


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "x"


class Anchors:
    """Unique HTML anchor ids, assigned once per key (first come, first served)."""

    def __init__(self) -> None:
        self._ids: dict[tuple[str, str], str] = {}
        self._used: set[str] = set()

    def get(self, kind: str, key: str) -> str:
        if (kind, key) not in self._ids:
            base = f"{kind}-{slug(key)}"
            anchor, n = base, 2
            while anchor in self._used:
                anchor, n = f"{base}-{n}", n + 1
            self._used.add(anchor)
            self._ids[(kind, key)] = anchor
        return self._ids[(kind, key)]

    def tag(self, kind: str, key: str) -> str:
        return f'<a id="{self.get(kind, key)}"></a>'

    def link(self, kind: str, key: str, text: str) -> str:
        return f"[{text}](#{self.get(kind, key)})"
