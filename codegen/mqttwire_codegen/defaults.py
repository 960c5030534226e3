"""A schema's ``default`` must be valid against that schema, checked with ``jsonschema`` and
reported at the file + JSON pointer of the ``default``: a model generated from such a schema
would reject its own default or send a value its contract forbids.

Where the official parser checks it -- the default of a whole schema (component schemas,
payloads, headers, 2.x parameter schemas) in a 2.x document, its ``asyncapi2-schema-default``
-- it is an error with the parser's rule id; elsewhere (nested properties, 3.x, which the
parser accepts) a warning ``schema-default``. A ``null`` default where null is not allowed
stands for "no default" and is left to the model generator (which drops it)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

from jsonschema import Draft7Validator
from jsonschema.exceptions import best_match
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT7

from mqttwire_codegen import pointer
from mqttwire_codegen.diagnostics import ContractError, Diagnostic, Location
from mqttwire_codegen.loader import Resolver

_MAX = 60


def _short(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= _MAX else text[: _MAX - 3] + "..."


def _schema_roots(
    node: Any, loc: Location, path: tuple[str, ...]
) -> Iterator[tuple[Any, Location]]:
    """Schemas written in the document: component schemas, message payloads and headers,
    2.x parameter schemas. Examples (instances, not schemas) are not entered."""
    if isinstance(node, list):
        for i, item in enumerate(node):
            yield from _schema_roots(item, loc.child(i), path)
        return
    if not isinstance(node, dict):
        return
    for key, value in node.items():
        here = loc.child(key)
        if key in ("examples", "example") or key.startswith("x-"):
            continue
        if path[-1:] == ("schemas",) and path[-2:-1] == ("components",):
            yield value, here
        elif key in ("payload", "headers") and isinstance(value, dict):
            if "schemaFormat" in value and "schema" in value:  # 3.0 multi-format schema
                yield value["schema"], here.child("schema")
            else:
                yield value, here
        elif key == "schema" and "parameters" in path[-3:]:
            yield value, here
        else:
            yield from _schema_roots(value, here, (*path, key))


class _DefaultCheck:
    def __init__(self, resolver: Resolver, major: int) -> None:
        self.r = resolver
        self.major = major
        self.found: list[Diagnostic] = []
        self.seen: set[tuple[Location, bool]] = set()
        self.registry: Registry[Any] = Registry(retrieve=self.retrieve)  # type: ignore[call-arg]

    def retrieve(self, uri: str) -> Resource[Any]:
        path = Path(unquote(urlparse(uri).path))
        doc = self.r.load(path, Location(path, ""))
        return DRAFT7.create_resource(doc)

    def schema(self, node: Any, loc: Location, root: bool) -> None:
        if not isinstance(node, dict) or (loc, root) in self.seen:
            return
        self.seen.add((loc, root))
        if "$ref" in node:
            try:
                target, tloc = self.r.resolve_ref(node["$ref"], loc.child("$ref"))
            except ContractError:
                return  # reported by the reference check
            self.schema(target, tloc, root)
            return
        if node.get("default") is not None:
            self.default(node, loc, root)
        for key, value in node.items():
            for tokens, sub in pointer.subschemas(key, value):
                self.schema(sub, loc.child(key, *tokens), False)

    def default(self, node: dict[str, Any], loc: Location, root: bool) -> None:
        schema = {
            "$id": loc.file.as_uri(),
            "allOf": [{k: v for k, v in node.items() if k != "default"}],
        }
        validator = Draft7Validator(schema, registry=self.registry)
        try:
            error = best_match(validator.iter_errors(node["default"]))
        except Exception:
            return
        if error is None:
            return
        at = loc.child("default")
        parser_rule = root and self.major == 2
        self.found.append(
            Diagnostic(
                at,
                "asyncapi2-schema-default" if parser_rule else "schema-default",
                f"'default' {_short(node['default'])} is not valid against its own schema: "
                f"{error.message}",
                "error" if parser_rule else "warning",
                "make the default a value the schema accepts, or remove it",
                self.r.line_of(at),
            )
        )


def default_diagnostics(resolver: Resolver, major: int) -> list[Diagnostic]:
    """A diagnostic for each schema ``default`` its own schema rejects."""
    check = _DefaultCheck(resolver, major)
    for node, loc in _schema_roots(resolver.root, resolver.root_location, ()):
        check.schema(node, loc, True)
    # a schema reached both as a whole and as a property: reported once, as the error
    found = sorted(check.found, key=lambda d: d.severity != "error")
    unique: dict[Location, Diagnostic] = {}
    for d in found:
        unique.setdefault(d.location, d)
    return list(unique.values())
