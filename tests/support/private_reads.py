"""Reads of another object's private attributes, found in source with ``ast`` (one check for
tests/runtime/test_layering.py and tests/structure/test_no_dependency_privates.py)."""

from __future__ import annotations

import ast
from collections.abc import Iterator

# The documented API of namedtuples, underscored so as not to clash with field names.
NAMEDTUPLE_API = frozenset({"_asdict", "_field_defaults", "_fields", "_make", "_replace"})
ATTR_FUNCTIONS = frozenset({"getattr", "setattr", "hasattr", "delattr"})


def is_private(name: str) -> bool:
    """``_x`` but not ``__x__``."""
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def private_reads(tree: ast.Module) -> Iterator[tuple[int, str, str]]:
    """``(line, name, expression)`` of every read of another object's private attribute: ``x._y``
    where ``x`` is not ``self``/``cls`` (dunders and the namedtuple API are public), and a private
    name given to ``getattr``/``setattr``/``hasattr``/``delattr`` (also as ``monkeypatch.setattr``).
    Module-level private names (``_helper``) are plain names, not attribute reads."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and is_private(node.attr):
            own = isinstance(node.value, ast.Name) and node.value.id in {"self", "cls"}
            if not own and node.attr not in NAMEDTUPLE_API:
                yield node.lineno, node.attr, ast.unparse(node)
        elif isinstance(node, ast.Call) and len(node.args) >= 2:
            func = node.func
            called = func.id if isinstance(func, ast.Name) else getattr(func, "attr", "")
            name = node.args[1]
            if (
                called in ATTR_FUNCTIONS
                and isinstance(name, ast.Constant)
                and isinstance(name.value, str)
                and is_private(name.value)
            ):
                yield node.lineno, name.value, ast.unparse(node)
