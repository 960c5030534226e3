"""The suite runs in any combination of its directories.

Every test directory has its own ``conftest.py``, and all of them are modules named ``conftest``:
a test module that imports from ``conftest`` gets whichever directory's was imported first, so
``pytest tests/faults tests/observability`` once failed to collect. Helpers shared by a
directory's tests live in a uniquely named module beside them (``fault_support.py``, ...). (A
directory that is a package, like tests/contract, may import ``.conftest``: that name is its own.)
"""

from __future__ import annotations

import ast
from pathlib import Path

TESTS = Path(__file__).resolve().parents[1]


def test_no_test_module_imports_from_conftest() -> None:
    found: list[str] = []
    modules = [p for p in sorted(TESTS.rglob("*.py")) if p.name != "conftest.py"]
    for path in modules:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = (
                [node.module or ""]
                if isinstance(node, ast.ImportFrom) and node.level == 0
                else [a.name for a in node.names]
                if isinstance(node, ast.Import)
                else []
            )
            if any(n.split(".")[-1] == "conftest" for n in names):
                found.append(f"{path.relative_to(TESTS)}:{node.lineno}")
    assert len(modules) > 150
    assert found == []
