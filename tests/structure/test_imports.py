"""Import structure: no cycles, and every import goes the allowed direction.

generated code (tars_mqtt) -> runtime (mqttwire) <- generator (mqttwire_codegen) <- demo;
``mqttwire.testing`` builds on the runtime, never the reverse. Read from the source with ``ast``
(see ``import_graph.py``): module-level and function-level imports both count.
"""

from __future__ import annotations

import pytest
from import_graph import Edge, cycles, graph, in_package

# (importing module, imported module) pairs that break a rule today and are on their way out.
# The test fails when one of them no longer occurs, so that this set only ever shrinks.
KNOWN_EXCEPTIONS: set[tuple[str, str]] = set()


def _violations(edges: list[Edge], source: str, forbidden: tuple[str, ...]) -> list[Edge]:
    return [
        e
        for e in edges
        if in_package(e.source, source) and any(in_package(e.target, f) for f in forbidden)
    ]


def _report(found: list[Edge]) -> str:
    return "\n".join(str(e) for e in found)


@pytest.fixture(scope="module")
def edges() -> list[Edge]:
    return graph(["mqttwire", "mqttwire_codegen", "tars_mqtt", "tars_demo"])


@pytest.mark.parametrize("package", ["mqttwire", "mqttwire_codegen"])
def test_no_import_cycle(edges: list[Edge], package: str) -> None:
    inside = [e for e in edges if in_package(e.source, package) and in_package(e.target, package)]
    found = cycles(inside)
    assert not found, "import cycles:\n" + "\n".join(" <-> ".join(c) for c in found)


def test_the_cycle_finder_finds_cycles() -> None:
    def e(a: str, b: str, typing_only: bool = False) -> Edge:
        return Edge(a, b, 1, typing_only)

    assert cycles([e("a", "b"), e("b", "c"), e("c", "a"), e("c", "d")]) == [["a", "b", "c"]]
    assert cycles([e("a", "a")]) == [["a"]]
    assert cycles([e("a", "b"), e("b", "a", typing_only=True)]) == []


def test_the_runtime_imports_neither_generator_nor_robot_nor_demo(edges: list[Edge]) -> None:
    found = _violations(edges, "mqttwire", ("mqttwire_codegen", "tars_mqtt", "tars_demo"))
    assert not found, _report(found)


def test_the_generator_never_imports_the_demo_or_the_robot_package(edges: list[Edge]) -> None:
    found = _violations(edges, "mqttwire_codegen", ("tars_demo", "tars_mqtt"))
    assert not found, _report(found)


def test_generated_code_imports_only_the_runtime(edges: list[Edge]) -> None:
    found = _violations(edges, "tars_mqtt", ("mqttwire_codegen", "tars_demo", "mqttwire.testing"))
    found = [e for e in found if (e.source, e.target) not in KNOWN_EXCEPTIONS]
    assert not found, _report(found)


def test_the_runtime_never_imports_its_testing_package(edges: list[Edge]) -> None:
    production = [e for e in edges if not in_package(e.source, "mqttwire.testing")]
    found = _violations(production, "mqttwire", ("mqttwire.testing",))
    unexpected = [e for e in found if (e.source, e.target) not in KNOWN_EXCEPTIONS]
    assert not unexpected, _report(unexpected)
    stale = KNOWN_EXCEPTIONS - {(e.source, e.target) for e in found}
    assert not stale, f"no longer imported, remove from KNOWN_EXCEPTIONS: {sorted(stale)}"
