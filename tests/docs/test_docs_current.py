"""The committed topic docs are what the contract generates (like the drift check)."""

from __future__ import annotations

import pytest
from docs_support import REPO, TARS_CONTRACT

from mqttwire_codegen.cli import main


def test_committed_docs_are_current(capsys: pytest.CaptureFixture[str]) -> None:
    args = [
        "docs",
        str(TARS_CONTRACT),
        "-o",
        str(REPO / "docs" / "topics.md"),
        "--svg",
        str(REPO / "docs" / "topics.svg"),
        "--check",
        "-q",
    ]
    code = main(args)
    out = capsys.readouterr().out
    assert code == 0, f"docs/topics.* are stale; run `nox -s docs`:\n{out[:4000]}"
