"""No code of ours reads a private attribute of a dependency (paho-mqtt, aiomqtt, pydantic, the
standard library, ...): runtime, tests and benchmarks use public APIs only, so a patch release of
a dependency cannot break them.

Read from the source with ``ast``. An attribute ``x._y`` read on anything but ``self``/``cls``
(and a private name given to ``getattr``/``setattr``/``hasattr``/``delattr``/``monkeypatch.setattr``)
must be a name that our own source defines somewhere (a function, class, module-level name,
assigned attribute or ``__slots__`` entry in runtime, codegen, generated, demo, tests,
benchmarks or tools); whatever else it is, it belongs to a dependency. The private names of paho
and aiomqtt that the runtime once used are refused outright, even where we define a name like
them, and no class of ours subclasses a paho or aiomqtt class (whose ``self._x`` would be theirs).
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

from support.private_reads import is_private, private_reads

REPO = Path(__file__).resolve().parents[2]
CHECKED = ("runtime", "tests", "benchmarks")
OURS = (*CHECKED, "codegen", "generated", "demo", "tools")
# paho-mqtt and aiomqtt internals the runtime and a 336-line test once reached into (issue 16).
KNOWN_DEPENDENCY_PRIVATES = frozenset(
    {
        "_sock_recv",
        "_packet_write",
        "_on_publish",
        "_set_as_published",
        "_connected",
        "_disconnected",
        "_pending_publishes",
        "_out_packet",
        "_sock",
        "_in_packet",
        "_last_msg_out",
        "_client",
    }
)
MQTT_LIBRARIES = ("paho", "aiomqtt")


def _sources(roots: tuple[str, ...]) -> Iterator[tuple[Path, ast.Module]]:
    for root in roots:
        for path in sorted((REPO / root).rglob("*.py")):
            if ".venv" in path.parts or "__pycache__" in path.parts:
                continue
            yield path, ast.parse(path.read_text(encoding="utf-8"), filename=str(path))


def defined_private_names(trees: list[ast.Module]) -> set[str]:
    """Every private name our own source defines."""
    names: set[str] = set()
    for tree in trees:
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                names.add(node.name)
            elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
                names.add(node.id)
            elif isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store):
                names.add(node.attr)
            elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
                names.add(node.target.id)
            elif isinstance(node, ast.alias):
                names.add(node.asname or node.name.split(".")[-1])
            if isinstance(node, ast.Assign) and any(
                isinstance(t, ast.Name) and t.id == "__slots__" for t in node.targets
            ):
                names.update(
                    c.value
                    for c in ast.walk(node.value)
                    if isinstance(c, ast.Constant) and isinstance(c.value, str)
                )
    return {n for n in names if is_private(n)}


def mqtt_library_subclasses(tree: ast.Module) -> Iterator[tuple[int, str]]:
    """Classes whose base comes from paho or aiomqtt."""
    imported: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] in MQTT_LIBRARIES:
                    imported.add(alias.asname or alias.name.split(".")[0])
        elif isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] in (
            MQTT_LIBRARIES
        ):
            imported.update(alias.asname or alias.name for alias in node.names)
    for node in ast.walk(tree):
        if isinstance(node, ast.ClassDef):
            for base in node.bases:
                root = base
                while isinstance(root, ast.Attribute):
                    root = root.value
                if isinstance(root, ast.Name) and root.id in imported:
                    yield node.lineno, f"class {node.name}({ast.unparse(base)})"


def _report(found: list[str]) -> str:
    return "\n".join(found)


def test_no_private_attribute_of_a_dependency_is_read() -> None:
    ours = defined_private_names([tree for _path, tree in _sources(OURS)])
    found: list[str] = []
    checked = 0
    for path, tree in _sources(CHECKED):
        checked += 1
        for line, name, expr in private_reads(tree):
            if name not in ours or name in KNOWN_DEPENDENCY_PRIVATES:
                found.append(f"{path.relative_to(REPO)}:{line}: {expr}")
    assert checked > 250  # runtime, tests and benchmarks were read
    assert not found, "private attributes of dependencies:\n" + _report(found)


def test_no_class_of_ours_subclasses_an_mqtt_library_class() -> None:
    found = [
        f"{path.relative_to(REPO)}:{line}: {text}"
        for path, tree in _sources(CHECKED)
        for line, text in mqtt_library_subclasses(tree)
    ]
    assert not found, _report(found)


def test_the_check_finds_dependency_privates() -> None:
    source = """
import argparse
import paho.mqtt.client as mqtt
from aiomqtt import Client

class Mine:
    __slots__ = ("_slot",)
    def __init__(self) -> None:
        self._own = 1
    def _helper(self) -> None: ...

def f(client: mqtt.Client, info, other: Mine, parser: argparse.ArgumentParser, monkeypatch):
    client._sock_recv, info._set_as_published(), other._own, other._slot, other._helper()
    parser._actions, argparse._SubParsersAction, getattr(client, "_out_packet")
    monkeypatch.setattr(client, "_packet_write", None), other._connected

class Wrapped(mqtt.Client): ...
class Also(Client): ...
"""
    tree = ast.parse(source)
    ours = defined_private_names([tree])
    flagged = sorted(
        expr
        for _line, name, expr in private_reads(tree)
        if name not in ours or name in KNOWN_DEPENDENCY_PRIVATES
    )
    assert flagged == [
        "argparse._SubParsersAction",
        "client._sock_recv",
        "getattr(client, '_out_packet')",
        "info._set_as_published",
        "monkeypatch.setattr(client, '_packet_write', None)",
        "other._connected",
        "parser._actions",
    ]
    assert [text for _line, text in mqtt_library_subclasses(tree)] == [
        "class Wrapped(mqtt.Client)",
        "class Also(Client)",
    ]
