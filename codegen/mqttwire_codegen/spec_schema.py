"""Structural validation by the official AsyncAPI JSON Schemas (``@asyncapi/specs``, shipped as
package data in ``asyncapi_schemas/``), offline, each error as a file + JSON-pointer diagnostic.

The official parser validates the fully resolved document. Here a ``$ref`` to another file is
replaced by its target (that content is checked where it is used, as by the parser), while a
``$ref`` inside the contract's own file stays a Reference Object: its target is checked where it
is written (components, channels...), once, which keeps the TARS contract at a tenth of the
time. Each error's instance path is walked back through the ``$ref``s to the file and pointer
where the offending node is written.
"""

from __future__ import annotations

import copy
import difflib
import functools
import json
import re
from collections.abc import Iterable, Iterator
from importlib import resources
from typing import Any

from jsonschema import Draft7Validator
from jsonschema.exceptions import ValidationError, relevance
from referencing import Registry
from referencing.jsonschema import DRAFT7

from mqttwire_codegen.diagnostics import ContractError, Diagnostic, Location
from mqttwire_codegen.loader import Resolver

RULE = "asyncapi-document-resolved"  # the official parser's id for the same check
SHIPPED = (
    "2.0.0", "2.1.0", "2.2.0", "2.3.0", "2.4.0", "2.5.0", "2.6.0", "3.0.0", "3.1.0",
)  # fmt: skip
# 3.x requires Reference Objects in these places; a ``$ref`` to another file puts its target
# there (the official parser validates the resolved document against the same substitution).
_REFERENCE_ONLY_3X: dict[str, dict[tuple[str, ...], str]] = {
    "channel.json": {("servers", "items"): "server.json"},
    "operation.json": {("channel",): "channel.json", ("messages", "items"): "messageObject.json"},
    "operationReply.json": {
        ("channel",): "channel.json",
        ("messages", "items"): "messageObject.json",
    },
}
_MQTT_KEY_RULES = {"qos": "mqtt-binding-qos", "retain": "mqtt-binding-retain"}
_KINDS = {
    "channels": "channel",
    "operations": "operation",
    "servers": "server",
    "messages": "message",
    "parameters": "parameter",
    "schemas": "schema",
}
_MAX_VALUE_CHARS = 60


@functools.cache
def _validator(version: str) -> Draft7Validator:
    """Compiled once per version: the bundled schema and every ``$id`` inside it, no network."""
    text = resources.files("mqttwire_codegen").joinpath(f"asyncapi_schemas/{version}.json")
    schema: dict[str, Any] = json.loads(text.read_text(encoding="utf-8"))
    if version.startswith("3."):
        schema = copy.deepcopy(schema)
        base = f"http://asyncapi.com/definitions/{version}/"
        for name, places in _REFERENCE_ONLY_3X.items():
            definition = schema["definitions"][base + name]
            for path, target in places.items():
                node = definition["properties"]
                for key in path[:-1]:
                    node = node[key]
                node[path[-1]] = {"anyOf": [node[path[-1]], {"$ref": base + target}]}
    registry: Registry[Any] = Registry().with_resources(
        (uri, DRAFT7.create_resource(sub)) for uri, sub in schema["definitions"].items()
    )
    registry = registry.with_resource(schema["$id"], DRAFT7.create_resource(schema))
    return Draft7Validator(schema, registry=registry.crawl())


@functools.cache
def _json_schema_nodes(version: str) -> frozenset[int]:
    """ids of the subschemas that describe a JSON Schema (payloads, headers, components/schemas)."""
    schema: Any = _validator(version).schema
    definitions: dict[str, Any] = schema["definitions"]
    found: set[int] = set()

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            found.add(id(node))
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    for uri, sub in definitions.items():
        if "json-schema.org" in uri or uri.endswith("/schema.json"):
            walk(sub)
    walk(Draft7Validator.META_SCHEMA)  # jsonschema resolves the meta-schema's $id to its own copy
    return frozenset(found)


# -- the resolved view -----------------------------------------------------------------------
def resolved_view(resolver: Resolver) -> Any:
    """The document with every ``$ref`` to another file replaced by its target (siblings win).
    Shared targets are shared objects; a ``$ref`` back into its own ancestors stays as is."""
    done: dict[Location, Any] = {}

    def build(node: Any, loc: Location, open_refs: frozenset[Location]) -> Any:
        if isinstance(node, list):
            return [build(item, loc.child(i), open_refs) for i, item in enumerate(node)]
        if not isinstance(node, dict):
            return node
        if "$ref" in node:
            try:
                target, tloc = resolver.resolve_ref(node["$ref"], loc.child("$ref"))
            except ContractError:
                return node  # reported by the reference check
            if tloc.file == resolver.root_file or tloc in open_refs:
                return node
            if tloc not in done:
                done[tloc] = build(target, tloc, open_refs | {tloc})
            resolved = done[tloc]
            siblings = {k: v for k, v in node.items() if k != "$ref"}
            if not siblings or not isinstance(resolved, dict):
                return resolved
            return {
                **resolved,
                **{k: build(v, loc.child(k), open_refs) for k, v in siblings.items()},
            }
        return {key: build(value, loc.child(key), open_refs) for key, value in node.items()}

    return build(resolver.root, resolver.root_location, frozenset())


def origin(resolver: Resolver, path: Iterable[str | int]) -> Location:
    """Where the node at ``path`` of the resolved view is written (file + pointer)."""
    node, loc = resolver.root, resolver.root_location
    for token in path:
        while isinstance(node, dict) and "$ref" in node and token not in node:
            try:
                node, loc = resolver.resolve_ref(node["$ref"], loc.child("$ref"))
            except ContractError:
                return loc.child(token)
        inside = (isinstance(node, dict) and token in node) or (
            isinstance(node, list) and isinstance(token, int) and token < len(node)
        )
        if not inside:
            return loc.child(token)
        node = node[token]
        loc = loc.child(token)
    return loc


# -- errors -> diagnostics -------------------------------------------------------------------
def _is_reference_alternative(error: ValidationError) -> bool:
    return bool(error.validator == "required" and error.validator_value == ["$ref"])


def _kept_reference_matches_both(error: ValidationError) -> bool:
    """A local ``$ref`` left unresolved matches both alternatives of a ``oneOf`` whose object
    may itself carry ``$ref`` (the 2.x Parameter Object): the parser, which resolves it first,
    sees no error, and neither do we (its target is checked where it is written)."""
    return (
        error.validator == "oneOf"
        and not error.context
        and isinstance(error.instance, dict)
        and "$ref" in error.instance
    )


def _key(error: ValidationError) -> Any:
    # the "is it a Reference Object?" alternative of a oneOf is almost never what the author meant
    return (_is_reference_alternative(error), relevance(error))


def _leaves(error: ValidationError) -> Iterator[ValidationError]:
    """The errors of the alternative of a oneOf/anyOf that fits best (all of them: an operation
    with a typo and a missing field gets both), not a wall of every alternative's errors."""
    if not error.context or error.validator not in ("oneOf", "anyOf"):
        yield error
        return

    def branch(e: ValidationError) -> str | int | None:
        return e.relative_schema_path[0] if e.relative_schema_path else None

    nearest = branch(min(error.context, key=_key))
    for sibling in error.context:
        if branch(sibling) == nearest:
            yield from _leaves(sibling)


def _short(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False) if not isinstance(value, str) else repr(value)
    return text if len(text) <= _MAX_VALUE_CHARS else text[: _MAX_VALUE_CHARS - 3] + "..."


def _what(path: list[str | int]) -> str:
    """'channel 'gateOpen'' for /channels/gateOpen/..., else the last key."""
    for i in range(len(path) - 2, -1, -1):
        kind = _KINDS.get(str(path[i]))
        if kind and isinstance(path[i + 1], str) and i + 2 == len(path):
            return f"{kind} {path[i + 1]!r}"
    if path and isinstance(path[-1], int) and len(path) > 1:
        return f"{path[-2]!r} item {path[-1]}"
    return f"{path[-1]!r}" if path else "the document"


def _rule(path: list[str | int], error: ValidationError, version: str) -> str:
    tokens = [str(t) for t in path]
    if "bindings" in tokens and "mqtt" in tokens[tokens.index("bindings") :]:
        return _MQTT_KEY_RULES.get(tokens[-1], "mqtt-binding")
    if id(error.schema) in _json_schema_nodes(version):
        return "schema-type" if tokens and tokens[-1] == "type" else "schema"
    return RULE


def _unknown_keys(error: ValidationError) -> list[str]:
    schema: Any = error.schema
    instance: Any = error.instance
    if not isinstance(schema, dict) or not isinstance(instance, dict):
        return []
    known = schema.get("properties", {})
    patterns = [re.compile(p) for p in schema.get("patternProperties", {})]
    return [
        key for key in instance if key not in known and not any(p.search(key) for p in patterns)
    ]


def _findings(
    error: ValidationError, path: list[str | int]
) -> Iterator[tuple[list[str | int], str, str]]:
    """(path, message, hint) for one leaf error, in the words of a contract author."""
    validator = error.validator
    expected: Any = error.validator_value
    instance: Any = error.instance
    schema: Any = error.schema
    if validator == "additionalProperties":
        allowed = sorted(schema.get("properties", {}))
        for key in _unknown_keys(error):
            close = difflib.get_close_matches(key, allowed, n=1)
            hint = f"did you mean {close[0]!r}?" if close else "extensions must start with 'x-'"
            if key == "schema" and len(path) >= 2 and path[-2] == "parameters":
                hint = (
                    "replace `schema: {enum: [...]}` with `enum: [...]` directly on the parameter"
                )
            yield [*path, key], f"{_what(path)} has an unknown property {key!r}", hint
        return
    if validator == "required":
        missing = [k for k in expected if isinstance(instance, dict) and k not in instance]
        names = ", ".join(repr(k) for k in missing or expected)
        plural = "properties" if len(missing) > 1 else "property"
        yield path, f"{_what(path)} must have required {plural} {names}", ""
        return
    if validator == "enum":
        choices = ", ".join(_short(v) for v in expected)
        close = (
            difflib.get_close_matches(instance, [v for v in expected if isinstance(v, str)], n=1)
            if isinstance(instance, str)
            else []
        )
        hint = f"did you mean {close[0]!r}?" if close else ""
        if path and path[-1] == "action":
            hint = "AsyncAPI 2.x 'publish' is 3.0 'receive', 'subscribe' is 'send'"
        yield path, f"{_short(instance)} is not one of {choices}", hint
        return
    if validator == "type":
        wanted = expected if isinstance(expected, str) else " or ".join(expected)
        yield path, f"must be of type {wanted}, got {_short(instance)}", ""
        return
    if validator == "const":
        yield path, f"must be {_short(expected)}, got {_short(instance)}", ""
        return
    if validator in ("anyOf", "oneOf"):
        options = [c for c in error.context or () if not c.path]
        values: list[tuple[str, Any]] = [(str(c.validator), c.validator_value) for c in options]
        alternatives = [v for kind, vs in values if kind == "enum" for v in vs]
        needed = [vs[0] for kind, vs in values if kind == "required"]
        if alternatives and isinstance(instance, str):
            near = difflib.get_close_matches(instance, [str(c) for c in alternatives], n=1)
            listed = ", ".join(_short(c) for c in alternatives)
            yield (
                path,
                f"{_short(instance)} is not one of {listed}",
                (f"did you mean {near[0]!r}?" if near else ""),
            )
            return
        if needed and len(needed) == len(options):
            wanted = " or ".join(repr(k) for k in needed)
            yield path, f"{_what(path)} must have at least one of {wanted}", ""
            return
    message = error.message
    if len(message) > 200:
        message = f"{_short(instance)} is not valid ({validator}: {_short(expected)})"
    yield path, message, ""


def schema_diagnostics(resolver: Resolver) -> list[Diagnostic]:
    """Errors of the document against the official schema of its ``asyncapi`` version."""
    version = str(resolver.root.get("asyncapi"))
    if version not in SHIPPED:
        return [
            Diagnostic(
                resolver.root_location.child("asyncapi"),
                "asyncapi-version",
                f"no official AsyncAPI schema for version {version!r}",
                "error",
                f"this generator reads AsyncAPI {', '.join(SHIPPED)}",
                resolver.line_of(resolver.root_location.child("asyncapi")),
            )
        ]
    out: list[Diagnostic] = []
    for top in _validator(version).iter_errors(resolved_view(resolver)):
        for leaf in _leaves(top):
            if _kept_reference_matches_both(leaf):
                continue
            for path, message, hint in _findings(leaf, list(leaf.absolute_path)):
                loc = origin(resolver, path)
                rule = _rule(path, leaf, version)
                out.append(Diagnostic(loc, rule, message, "error", hint, resolver.line_of(loc)))
    unique: dict[tuple[Location, str], Diagnostic] = {}
    for (
        d
    ) in out:  # one finding per node and rule: a string qos is a type error, not also an enum one
        unique.setdefault((d.location, d.rule), d)
    return sorted(unique.values(), key=lambda d: (str(d.location.file), d.line or 0))
