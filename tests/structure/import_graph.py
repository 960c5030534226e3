"""The import graph of the source roots, read from the source with ``ast`` (nothing is imported).

Every ``import`` / ``from ... import`` counts, at module level and inside functions. Imports
under ``if TYPE_CHECKING:`` are kept apart (``Edge.typing_only``): they never run, so they do not
make an import cycle, but they still count for the direction rules.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
# import package -> source root
ROOTS = {
    "mqttwire": REPO / "runtime",
    "mqttwire_codegen": REPO / "codegen",
    "tars_mqtt": REPO / "generated",
    "tars_demo": REPO / "demo",
}


@dataclass(frozen=True)
class Edge:
    source: str  # importing module
    target: str  # imported module (or the package a name was imported from)
    line: int
    typing_only: bool

    def __str__(self) -> str:
        kind = " (TYPE_CHECKING)" if self.typing_only else ""
        return f"{self.source}:{self.line} -> {self.target}{kind}"


def _module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def modules(package: str) -> dict[str, Path]:
    root = ROOTS[package]
    return {_module_name(p, root): p for p in sorted((root / package).rglob("*.py"))}


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imports(tree: ast.AST, typing_only: bool = False) -> Iterator[tuple[ast.stmt, bool]]:
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, ast.Import | ast.ImportFrom):
            yield node, typing_only
        elif isinstance(node, ast.If) and _is_type_checking(node.test):
            for child in node.body:
                yield from _imports(ast.Module(body=[child], type_ignores=[]), True)
            for child in node.orelse:
                yield from _imports(ast.Module(body=[child], type_ignores=[]), typing_only)
        else:
            yield from _imports(node, typing_only)


def edges(name: str, path: Path, known: Iterable[str]) -> list[Edge]:
    """The imports of module ``name``; ``from pkg import mod`` targets ``pkg.mod`` when that
    is a module in ``known``."""
    known_set = set(known)
    is_package = path.name == "__init__.py"
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    out = []
    for node, typing_only in _imports(tree):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        else:
            assert isinstance(node, ast.ImportFrom)
            if node.level:
                base = name.split(".") if is_package else name.split(".")[:-1]
                base = base[: len(base) - (node.level - 1)]
                module = ".".join([*base, node.module] if node.module else base)
            else:
                module = node.module or ""
            targets = [
                f"{module}.{alias.name}" if f"{module}.{alias.name}" in known_set else module
                for alias in node.names
            ]
        out += [Edge(name, t, node.lineno, typing_only) for t in dict.fromkeys(targets)]
    return out


def graph(packages: Iterable[str]) -> list[Edge]:
    found: dict[str, Path] = {}
    for package in packages:
        found.update(modules(package))
    every = set(found)
    for package in ROOTS:
        every |= set(modules(package))
    return [edge for name, path in found.items() for edge in edges(name, path, every)]


def cycles(all_edges: Iterable[Edge]) -> list[list[str]]:
    """Strongly connected components with more than one module (or a self-import), sorted."""
    succ: dict[str, set[str]] = {}
    for edge in all_edges:
        if not edge.typing_only:
            succ.setdefault(edge.source, set()).add(edge.target)
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:  # Tarjan; the graphs are small enough for recursion
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(succ.get(v, ())):
            if w not in succ:
                continue  # outside the packages walked
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1 or v in succ.get(v, ()):
                found.append(sorted(component))

    for v in sorted(succ):
        if v not in index:
            visit(v)
    return sorted(found)


def in_package(module: str, package: str) -> bool:
    return module == package or module.startswith(package + ".")
