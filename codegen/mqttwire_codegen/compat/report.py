"""Render classified changes as text, JSON or Markdown (for a pull-request comment)."""

from __future__ import annotations

import json
from collections.abc import Sequence

from mqttwire_codegen.compat.changes import Change


def summary(changes: Sequence[Change]) -> str:
    breaking = sum(c.breaking for c in changes)
    if not changes:
        return "no changes"
    if not breaking:
        return f"compatible: {len(changes)} change(s), none breaking"
    return f"BREAKING: {breaking} of {len(changes)} change(s) break deployed services"


def as_text(changes: Sequence[Change]) -> str:
    lines = []
    for c in changes:
        mark = "BREAKING" if c.breaking else "ok      "
        lines.append(f"{mark} [{c.rule.id}] {c.detail} (breaks {c.breaks.value})")
        lines.append(f"         old: {c.old_pointer or '-'}")
        lines.append(f"         new: {c.new_pointer or '-'}")
        lines.append(f"         why: {c.rule.why}")
    lines.append(summary(changes))
    return "\n".join(lines) + "\n"


def as_json(changes: Sequence[Change]) -> str:
    document = {
        "breaking": any(c.breaking for c in changes),
        "summary": summary(changes),
        "changes": [c.as_dict() for c in changes],
    }
    return json.dumps(document, indent=2, sort_keys=True) + "\n"


def _escape(text: str) -> str:
    return text.replace("|", "\\|")


def _cell(text: str | None) -> str:
    return "-" if not text else f"`{_escape(text)}`"


def as_markdown(changes: Sequence[Change]) -> str:
    lines = [f"### Contract compatibility: {summary(changes)}", ""]
    if changes:
        lines += [
            "| | rule | change | breaks | old | new |",
            "|---|---|---|---|---|---|",
        ]
        for c in changes:
            icon = "❌" if c.breaking else "✅"
            lines.append(
                f"| {icon} | `{c.rule.id}` | {_escape(c.detail)} | {c.breaks.value} "
                f"| {_cell(c.old_pointer)} | {_cell(c.new_pointer)} |"
            )
    return "\n".join(lines) + "\n"


RENDERERS = {"text": as_text, "json": as_json, "markdown": as_markdown}
