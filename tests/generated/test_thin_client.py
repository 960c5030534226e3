"""The generated TARS client is thin (issue 16): short typed delegations to the runtime, which
returns the declared types (generic ``ChannelSpec``/``RequestSpec``), so no ``cast``."""

from __future__ import annotations

import ast
from pathlib import Path

import tars_mqtt.client

CLIENT = Path(tars_mqtt.client.__file__)


def test_the_tars_client_is_under_1000_lines_without_casts() -> None:
    source = CLIENT.read_text(encoding="utf-8")
    assert len(source.splitlines()) < 1000
    tree = ast.parse(source)
    calls = [n for n in ast.walk(tree) if isinstance(n, ast.Call)]
    names = {n.func.id for n in calls if isinstance(n.func, ast.Name)} | {
        n.func.attr for n in calls if isinstance(n.func, ast.Attribute)
    }
    assert len(calls) > 100  # the walk saw the wrappers' delegations
    assert "cast" not in names


def test_each_wrapper_is_one_delegation() -> None:
    tree = ast.parse(CLIENT.read_text(encoding="utf-8"))
    (client,) = [n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == "TarsClient"]
    wrappers = [
        n
        for n in client.body
        if isinstance(n, ast.AsyncFunctionDef | ast.FunctionDef) and not n.name.startswith("_")
    ]
    assert len(wrappers) > 40
    long = []
    for fn in wrappers:
        body = fn.body[1:] if ast.get_docstring(fn) is not None else fn.body
        if len(body) != 1:
            long.append(f"{fn.name}: {len(body)} statements")
    assert long == []
