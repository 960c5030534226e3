"""Load YAML/JSON documents and resolve ``$ref`` (local pointers, relative files, pointers in them).

Every node handed out comes with its :class:`Location` (file + JSON pointer) for diagnostics.
"""

from __future__ import annotations

import json
import re
from dataclasses import replace
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import yaml

from mqttwire_codegen import pointer
from mqttwire_codegen.diagnostics import ContractError, Diagnostic, Location

try:  # pragma: no cover - depends on the PyYAML build
    _BaseLoader: Any = yaml.CSafeLoader
except AttributeError:  # pragma: no cover
    _BaseLoader = yaml.SafeLoader


class _Yaml12Loader(_BaseLoader):  # type: ignore[misc]
    """Safe loader with YAML 1.2 booleans: ``on``/``off``/``yes``/``no`` stay strings, as in
    the official (JavaScript) parser. Only ``true``/``false`` are booleans."""


_Yaml12Loader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:bool"]
    for first, resolvers in _BaseLoader.yaml_implicit_resolvers.items()
}
_Yaml12Loader.add_implicit_resolver(
    "tag:yaml.org,2002:bool",
    re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"),
    list("tTfF"),
)
_YamlLoader: Any = _Yaml12Loader


def _stringify_keys(node: Any) -> Any:
    """YAML 1.1 turns keys like ``on`` into booleans; JSON documents only have string keys."""
    if isinstance(node, dict):
        return {
            str(k) if not isinstance(k, str) else k: _stringify_keys(v) for k, v in node.items()
        }
    if isinstance(node, list):
        return [_stringify_keys(v) for v in node]
    return node


def _not_text(exc: BaseException) -> int | None:
    """The byte offset at which ``exc`` found content that is not UTF-8 text, if that is what
    it reports."""
    if isinstance(exc, UnicodeDecodeError):
        return exc.start
    if isinstance(exc, yaml.reader.ReaderError):
        return int(exc.position)
    return None


def _parse_diagnostic(path: Path, referrer: Location, exc: BaseException) -> Diagnostic:
    """A syntax error of ``path`` in our own words: line and column of the document, the
    problem, no parser internals. A file reached by ``$ref`` is reported at the ``$ref``."""
    referenced = referrer.file != path
    offset = _not_text(exc)
    if offset is not None:
        return Diagnostic(
            referrer if referenced else Location(path, ""),
            "invalid-ref" if referenced else "parse-error",
            f"{'$ref to ' if referenced else ''}{path.name}: not a YAML/JSON document (binary "
            f"content at byte {offset}, not UTF-8 text)",
            hint="only YAML and JSON files can be referenced" if referenced else "",
        )
    line = column = None
    problem = str(exc)
    if isinstance(exc, json.JSONDecodeError):
        line, column, problem = exc.lineno, exc.colno, exc.msg
    elif isinstance(exc, yaml.MarkedYAMLError) and exc.problem_mark is not None:
        line, column = exc.problem_mark.line + 1, exc.problem_mark.column + 1
        problem = exc.problem or problem
        if exc.context:
            problem += f" ({exc.context})"
    where = f"line {line}, column {column}: " if line is not None else ""
    message = f"{path.name} is not valid YAML/JSON: {where}{problem}"
    if referenced and path.suffix.lower() not in (".yaml", ".yml", ".json"):
        # e.g. a description written in Markdown: not a document with a syntax error
        return Diagnostic(
            referrer,
            "parse-error",
            f"$ref to {path.name}: not a YAML/JSON document (read as YAML, {where}{problem})",
            hint="only YAML and JSON files can be referenced",
        )
    if referenced:
        return Diagnostic(referrer, "parse-error", f"$ref to {message}")
    return Diagnostic(Location(path, ""), "parse-error", message, line=line)


class Resolver:
    """Reads documents (cached by absolute path) and follows ``$ref``s between them."""

    def __init__(self, root_file: Path) -> None:
        self.root_file = root_file.resolve()
        self._docs: dict[Path, Any] = {}
        self._texts: dict[Path, bytes] = {}
        self.root: Any = self.load(self.root_file, Location(self.root_file, ""))

    @property
    def root_location(self) -> Location:
        return Location(self.root_file, "")

    @property
    def files(self) -> dict[Path, bytes]:
        """Raw bytes of every file read so far (root first)."""
        return dict(self._texts)

    def load(self, path: Path, referrer: Location) -> Any:
        if path in self._docs:
            return self._docs[path]
        path = path.resolve()
        if path in self._docs:
            return self._docs[path]
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise ContractError(
                [Diagnostic(referrer, "invalid-ref", f"cannot read {path}: {exc.strerror or exc}")]
            ) from None
        try:
            if path.suffix.lower() == ".json":
                doc = json.loads(data)
            else:
                doc = yaml.load(data, Loader=_YamlLoader)
        except (ValueError, yaml.YAMLError) as exc:
            raise ContractError([_parse_diagnostic(path, referrer, exc)]) from None
        if referrer.file != path and not isinstance(doc, dict | list):
            raise ContractError(
                [
                    Diagnostic(
                        referrer,
                        "invalid-ref",
                        f"$ref to {path.name}: not a YAML/JSON document (only YAML and JSON "
                        "files can be referenced)",
                        hint="convert the schema to JSON Schema in a .json or .yaml file",
                    )
                ]
            )
        doc = _stringify_keys(doc)
        self._docs[path] = doc
        self._texts[path] = data
        return doc

    def line_of(self, loc: Location) -> int | None:
        """The 1-based line of the node at ``loc`` (its key, for a mapping entry), if known."""
        data = self._texts.get(loc.file)
        if data is None:
            return None
        try:
            node = yaml.compose(data, Loader=yaml.SafeLoader)
        except yaml.YAMLError:
            return None
        line = node.start_mark.line if node is not None else None
        for token in pointer.split(loc.pointer):
            if isinstance(node, yaml.MappingNode):
                match = next(((k, v) for k, v in node.value if k.value == token), None)
                if match is None:
                    return None
                line, node = match[0].start_mark.line, match[1]
            elif isinstance(node, yaml.SequenceNode) and token.isdigit():
                if int(token) >= len(node.value):
                    return None
                node = node.value[int(token)]
                line = node.start_mark.line
            else:
                return None
        return None if line is None else line + 1

    def pointer_get(self, doc: Any, ptr: str, file: Path, referrer: Location) -> Any:
        try:
            return pointer.resolve(doc, ptr)
        except LookupError:
            where = "" if file == self.root_file else f"{file.name}"
            raise ContractError(
                [Diagnostic(referrer, "invalid-ref", f"'{where}#{ptr}' does not exist")]
            ) from None

    def resolve_ref(self, ref: object, referrer: Location) -> tuple[Any, Location]:
        """Resolve one ``$ref`` value found at ``referrer`` (the location of the ref object)."""
        if not isinstance(ref, str):
            raise ContractError([Diagnostic(referrer, "invalid-ref", "$ref must be a string")])
        if "://" in ref.split("#", 1)[0]:
            raise ContractError(
                [
                    Diagnostic(
                        referrer,
                        "remote-ref",
                        f"remote $ref {ref!r} is not supported (no network access at generation time)",
                        hint="vendor the referenced file next to the contract and use a relative path",
                    )
                ]
            )
        file_part, _, ptr = ref.partition("#")
        # a $ref is a URI reference: its parts may be percent-encoded (FastStream writes
        # ``#/components/schemas/Gate%43ommand``)
        file_part, ptr = unquote(file_part), unquote(ptr)
        if ptr and not ptr.startswith("/"):
            raise ContractError(
                [Diagnostic(referrer, "invalid-ref", f"$ref pointer {ptr!r} must start with '/'")]
            )
        if file_part:
            target_file = (referrer.file.parent / file_part).resolve()
            doc = self.load(target_file, referrer)
        else:
            target_file = referrer.file
            cached = self._docs.get(target_file)
            doc = cached if cached is not None else self.load(target_file, referrer)
        node = self.pointer_get(doc, ptr, target_file, referrer)
        return node, Location(target_file, ptr)

    def deref(self, node: Any, loc: Location) -> tuple[Any, Location]:
        """Follow a chain of reference objects to the real node."""
        seen: set[Location] = set()
        while isinstance(node, dict) and "$ref" in node:
            if loc in seen:
                raise ContractError([Diagnostic(loc, "invalid-ref", "circular $ref chain")])
            seen.add(loc)
            node, loc = self.resolve_ref(node["$ref"], loc.child("$ref"))
        return node, loc

    def check_all_refs(self) -> list[Diagnostic]:
        """Visit every node reachable from the root and report each unresolvable ``$ref``."""
        found: list[Diagnostic] = []
        visited: set[Location] = set()
        stack: list[tuple[Any, Location]] = [(self.root, self.root_location)]
        while stack:
            node, loc = stack.pop()
            if isinstance(node, dict):
                if "$ref" in node and isinstance(node["$ref"], str):
                    try:
                        target, tloc = self.resolve_ref(node["$ref"], loc.child("$ref"))
                    except ContractError as exc:
                        found.extend(
                            d if d.line else replace(d, line=self.line_of(d.location))
                            for d in exc.diagnostics
                        )
                    else:
                        if tloc.file != self.root_file and tloc not in visited:
                            visited.add(tloc)
                            stack.append((target, tloc))
                for key in sorted(node, reverse=True):
                    if key != "$ref":
                        stack.append((node[key], loc.child(key)))
            elif isinstance(node, list):
                for i in range(len(node) - 1, -1, -1):
                    stack.append((node[i], loc.child(i)))
        unique: dict[tuple[Location, str], Diagnostic] = {}
        for d in found:
            unique.setdefault((d.location, d.message), d)
        return list(unique.values())
