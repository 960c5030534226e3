"""The runtime's objects talk to each other through public names only; the typed layer shares
one codec.

(That production code never imports the testing kit is checked with the other import directions
in tests/structure/test_imports.py; that no code reads a dependency's private attributes, in
tests/structure/test_no_dependency_privates.py.)"""

from __future__ import annotations

import ast
from pathlib import Path

import mqttwire
from mqttwire.codec import Codec
from mqttwire.testing import for_testing, kit_of
from tars_mqtt import TarsClient

RUNTIME = Path(mqttwire.__file__).resolve().parent
# The documented API of ``typing.NamedTuple`` / ``collections.namedtuple`` (underscored so as not
# to clash with field names): public, whatever the object.
NAMEDTUPLE_API = frozenset({"_asdict", "_field_defaults", "_fields", "_make", "_replace"})


def foreign_private_reads(source: str) -> list[tuple[int, str]]:
    """``(line, expression)`` of every read of another object's private attribute: ``x._y``
    where ``x`` is not ``self``/``cls`` (``x.__y__`` and the namedtuple API are public), and
    ``getattr``/``setattr``/``hasattr``/``delattr`` with a private name. Module-level private
    names (``_helper``) are plain names, not attribute reads, and are allowed."""
    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Attribute):
            attr = node.attr
            private = attr.startswith("_") and not (attr.startswith("__") and attr.endswith("__"))
            own = isinstance(node.value, ast.Name) and node.value.id in {"self", "cls"}
            if private and not own and attr not in NAMEDTUPLE_API:
                found.append((node.lineno, ast.unparse(node)))
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id in {"getattr", "setattr", "hasattr", "delattr"}
            and len(node.args) >= 2
            and isinstance(node.args[1], ast.Constant)
            and isinstance(node.args[1].value, str)
            and node.args[1].value.startswith("_")
            and not node.args[1].value.endswith("__")
        ):
            found.append((node.lineno, ast.unparse(node)))
    return found


def test_no_runtime_module_reads_a_private_attribute_of_another_object() -> None:
    modules = sorted(RUNTIME.rglob("*.py"))
    found = [
        f"{path.relative_to(RUNTIME)}:{line}: {expr}"
        for path in modules
        for line, expr in foreign_private_reads(path.read_text(encoding="utf-8"))
    ]
    assert len(modules) > 40  # the whole package, subpackages included
    assert found == []


def test_the_private_read_check_finds_what_it_looks_for() -> None:
    source = """
class A:
    def f(self, other, link):
        self._mine, cls._ours, other.public, _module_level()
        other.__class__, link._replace(qos=1)
        self.broker._publish(link)
        other._handle()
        getattr(other, "_sock")
        super()._secret
"""
    assert sorted(foreign_private_reads(source)) == [
        (6, "self.broker._publish"),
        (7, "other._handle"),
        (8, "getattr(other, '_sock')"),
        (9, "super()._secret"),
    ]


async def test_for_testing_gives_the_client_router_and_kit_one_strict_codec() -> None:
    async with for_testing(TarsClient) as tars:
        assert isinstance(tars.codec, Codec) and tars.codec.strict
        assert tars.stats is tars.codec.stats
        kit = kit_of(tars)
        assert kit.errors == [] and kit.broker.log == []
    plain = TarsClient(client=tars.client)
    assert not plain.codec.strict and plain.codec is not tars.codec
