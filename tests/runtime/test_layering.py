"""The runtime's objects talk to each other through public names only; the typed layer shares
one codec.

(That production code never imports the testing kit is checked with the other import directions
in tests/structure/test_imports.py; that no code reads a dependency's private attributes, in
tests/structure/test_no_dependency_privates.py.)"""

from __future__ import annotations

import ast
from pathlib import Path

from support.private_reads import private_reads

import mqttwire
from mqttwire.codec import Codec
from mqttwire.testing import for_testing, kit_of
from tars_mqtt import TarsClient

RUNTIME = Path(mqttwire.__file__).resolve().parent


def foreign_private_reads(source: str) -> list[tuple[int, str]]:
    """``(line, expression)`` of every read of another object's private attribute."""
    return [(line, expr) for line, _name, expr in private_reads(ast.parse(source))]


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
