"""Decide whether breaking changes may land: a major version bump, or an allow-list entry.

The allow-list is a YAML/JSON list of ``{rule, pointer, reason}``; an entry accepts a change
when the rule id matches and the pointer equals the change's new (or old) pointer.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from mqttwire_codegen.compat.changes import Change
from mqttwire_codegen.diagnostics import ContractError, Diagnostic, Location


@dataclass(frozen=True, slots=True)
class Allowance:
    rule: str
    pointer: str
    reason: str

    def accepts(self, change: Change) -> bool:
        return change.rule.id == self.rule and self.pointer in (
            change.new_pointer,
            change.old_pointer,
        )


def load_allow_list(path: Path) -> list[Allowance]:
    import yaml  # codegen dependency; only needed when an allow-list is given

    where = Location(path, "")
    try:
        raw = (
            yaml.safe_load(path.read_text())
            if path.suffix != ".json"
            else json.loads(path.read_text())
        )
    except (OSError, ValueError, yaml.YAMLError) as exc:
        raise ContractError([Diagnostic(where, "allow-list-unreadable", str(exc))]) from None
    if raw is None:
        return []
    entries: list[Allowance] = []
    problems: list[Diagnostic] = []
    for index, item in enumerate(raw if isinstance(raw, list) else [raw]):
        if not isinstance(item, dict) or not all(
            isinstance(item.get(k), str) for k in ("rule", "pointer", "reason")
        ):
            message = "each entry needs string fields rule, pointer and reason"
            problems.append(Diagnostic(where.child(index), "allow-list-entry", message))
            continue
        entries.append(Allowance(item["rule"], item["pointer"], item["reason"]))
    if problems:
        raise ContractError(problems)
    return entries


def major(version: str) -> int | None:
    head = version.strip().lstrip("vV").split(".", 1)[0]
    return int(head) if head.isdigit() else None


@dataclass(frozen=True, slots=True)
class Verdict:
    blocking: tuple[Change, ...]
    allowed: tuple[tuple[Change, str], ...]
    major_bumped: bool

    @property
    def passes(self) -> bool:
        return not self.blocking


def judge(
    changes: Sequence[Change], old_version: str, new_version: str, allow: Sequence[Allowance]
) -> Verdict:
    old_major, new_major = major(old_version), major(new_version)
    bumped = old_major is not None and new_major is not None and new_major > old_major
    blocking: list[Change] = []
    allowed: list[tuple[Change, str]] = []
    for change in changes:
        if not change.breaking:
            continue
        entry = next((a for a in allow if a.accepts(change)), None)
        if entry is not None:
            allowed.append((change, f"allow-list: {entry.reason}"))
        elif bumped:
            allowed.append((change, f"major version bumped {old_version} -> {new_version}"))
        else:
            blocking.append(change)
    return Verdict(tuple(blocking), tuple(allowed), bumped)
