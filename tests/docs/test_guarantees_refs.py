"""docs/guarantees.md: every test it names exists, and every promise names one."""

from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
GUARANTEES = REPO / "docs" / "guarantees.md"
REFERENCE = re.compile(r"`([\w/]+\.py)::(\w+)`")


def test_every_named_test_exists() -> None:
    text = GUARANTEES.read_text(encoding="utf-8")
    refs = REFERENCE.findall(text)
    assert len(refs) > 40
    missing = []
    for path, name in refs:
        source = REPO / "tests" / path
        if not source.is_file() or not re.search(
            rf"^(async )?def {name}\(", source.read_text(encoding="utf-8"), re.M
        ):
            missing.append(f"{path}::{name}")
    assert not missing, missing


def test_every_bullet_and_step_names_a_test() -> None:
    text = GUARANTEES.read_text(encoding="utf-8")
    items = re.split(r"\n(?=\* |\d\. |\| \d )", text.split("## Publishing", 1)[1])
    unproven = [
        item.splitlines()[0]
        for item in items
        if item.startswith(("* ", "| "))
        and not REFERENCE.search(item)
        and "Limitation, not a promise" not in item
    ]
    assert not unproven, unproven
