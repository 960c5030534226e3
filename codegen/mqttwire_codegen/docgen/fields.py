"""Read a bundled JSON Schema as documentation rows: field, type, required, default, constraints.

Schemas come from the IR (``Message.payload_schema`` and ``Contract.schema_defs``): named models
are ``{"$ref": "#/$defs/<Class>"}``, everything else is inlined. ``link`` turns a model name into
whatever the caller wants to show (a Markdown link, or the bare name).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

Schema = Mapping[str, Any]
Link = Callable[[str], str]

DEFS_PREFIX = "#/$defs/"

_FACTORY_TEXT = {"uuid4": "uuid4 hex", "now": "current time"}


def plain(name: str) -> str:
    return name


@dataclass(frozen=True, slots=True)
class FieldRow:
    """One property of an object schema, ready to print."""

    name: str
    type: str
    required: bool
    default: str  # JSON of the default, "" when there is none
    auto: str  # how the model fills the field itself (x-default-factory), "" when it does not
    constraints: tuple[str, ...]
    description: str


def ref_name(schema: Any) -> str | None:
    """``Foo`` for ``{"$ref": "#/$defs/Foo"}``; None for anything else."""
    if isinstance(schema, Mapping):
        ref = schema.get("$ref")
        if isinstance(ref, str) and ref.startswith(DEFS_PREFIX):
            return ref[len(DEFS_PREFIX) :]
    return None


def dump(value: Any) -> str:
    """Compact, stable JSON for defaults, enum values and constants."""
    return json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(", ", ": "))


def _is_null(schema: Any) -> bool:
    return isinstance(schema, Mapping) and schema.get("type") == "null"


def split_nullable(schema: Schema) -> tuple[Schema, bool]:
    """Strip the ``null`` alternative (``anyOf [T, null]`` or ``type: [T, "null"]``)."""
    for key in ("anyOf", "oneOf"):
        branches = schema.get(key)
        if isinstance(branches, list) and any(_is_null(b) for b in branches):
            rest = [b for b in branches if not _is_null(b)]
            outer = {k: v for k, v in schema.items() if k != key}
            if len(rest) == 1 and isinstance(rest[0], Mapping):
                return {**rest[0], **outer}, True
            return {**outer, key: rest}, True
    types = schema.get("type")
    if isinstance(types, list) and "null" in types:
        rest_types = [t for t in types if t != "null"]
        single: Any = rest_types[0] if len(rest_types) == 1 else rest_types
        return {**schema, "type": single}, True
    return schema, False


def _single_all_of(schema: Schema) -> Schema:
    """pydantic wraps a ``$ref`` with siblings in ``allOf: [ref]``: unwrap it."""
    parts = schema.get("allOf")
    if isinstance(parts, list) and len(parts) == 1 and isinstance(parts[0], Mapping):
        return {**{k: v for k, v in schema.items() if k != "allOf"}, **parts[0]}
    return schema


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    return "array" if isinstance(value, list) else "object"


def type_text(schema: Any, link: Link = plain) -> str:
    """A short type expression: ``string``, ``array[Foo]``, ``map[string, integer]``, ``a | b``."""
    if not isinstance(schema, Mapping):
        return "any" if schema is True or schema is None else "never"
    schema = _single_all_of(schema)
    name = ref_name(schema)
    if name is not None:
        return link(name)
    core, nullable = split_nullable(schema)
    text = _core_type(core, link)
    return f"{text} | null" if nullable and text != "any" else text


def _core_type(schema: Schema, link: Link) -> str:
    name = ref_name(schema)
    if name is not None:
        return link(name)
    for key in ("anyOf", "oneOf"):
        branches = schema.get(key)
        if isinstance(branches, list) and branches:
            return " | ".join(type_text(b, link) for b in branches)
    if "const" in schema:
        return _json_type(schema["const"])
    typ = schema.get("type")
    if isinstance(typ, list):
        return " | ".join(str(t) for t in typ)
    if typ is None and isinstance(schema.get("enum"), list):
        kinds = sorted({_json_type(v) for v in schema["enum"]})
        return " | ".join(kinds)
    if typ == "array" or (typ is None and "items" in schema):
        items = schema.get("items")
        if isinstance(schema.get("prefixItems"), list):
            inner = ", ".join(type_text(s, link) for s in schema["prefixItems"])
            return f"tuple[{inner}]"
        return f"array[{type_text(items, link)}]" if items is not None else "array"
    if typ == "object" or (typ is None and ("properties" in schema or "allOf" in schema)):
        extra = schema.get("additionalProperties")
        if isinstance(extra, Mapping) and not schema.get("properties"):
            return f"map[string, {type_text(extra, link)}]"
        return "object"
    if isinstance(typ, str):
        return typ
    return "any"


def _range(low: Any, high: Any, what: str) -> list[str]:
    prefix = f"{what} " if what else ""
    if low is not None and high is not None:
        return [f"{prefix}{dump(low)}..{dump(high)}"]
    if low is not None:
        return [f"{prefix}≥ {dump(low)}"]
    if high is not None:
        return [f"{prefix}≤ {dump(high)}"]
    return []


def constraints(schema: Any) -> list[str]:
    """Human-readable validation keywords of one (non-null part of a) schema."""
    if not isinstance(schema, Mapping):
        return []
    core, _ = split_nullable(_single_all_of(schema))
    out: list[str] = []
    if isinstance(core.get("enum"), list):
        out.append("one of: " + ", ".join(f"`{dump(v)}`" for v in core["enum"]))
    if "const" in core:
        out.append(f"always `{dump(core['const'])}`")
    if isinstance(core.get("format"), str):
        out.append(f"format: {core['format']}")
    out += _range(core.get("minimum"), core.get("maximum"), "")
    if "exclusiveMinimum" in core and not isinstance(core["exclusiveMinimum"], bool):
        out.append(f"> {dump(core['exclusiveMinimum'])}")
    if "exclusiveMaximum" in core and not isinstance(core["exclusiveMaximum"], bool):
        out.append(f"< {dump(core['exclusiveMaximum'])}")
    if "multipleOf" in core:
        out.append(f"multiple of {dump(core['multipleOf'])}")
    out += _range(core.get("minLength"), core.get("maxLength"), "length")
    if isinstance(core.get("pattern"), str):
        out.append(f"pattern `{core['pattern']}`")
    out += _range(core.get("minItems"), core.get("maxItems"), "items")
    if core.get("uniqueItems") is True:
        out.append("unique items")
    out += _range(core.get("minProperties"), core.get("maxProperties"), "keys")
    names = core.get("propertyNames")
    if isinstance(names, Mapping) and isinstance(names.get("pattern"), str):
        out.append(f"keys match `{names['pattern']}`")
    items = core.get("items")
    if isinstance(items, Mapping) and ref_name(items) is None:
        out += [f"each item: {c}" for c in constraints(items)]
    if core.get("deprecated") is True or schema.get("deprecated") is True:
        out.append("deprecated")
    return out


def default_text(schema: Any) -> str:
    if isinstance(schema, Mapping) and "default" in schema:
        return dump(schema["default"])
    return ""


def auto_text(schema: Any) -> str:
    """What ``x-default-factory`` fills in (``uuid4 hex``, ``current time``), or ""."""
    factory = schema.get("x-default-factory") if isinstance(schema, Mapping) else None
    return _FACTORY_TEXT.get(factory, factory) if isinstance(factory, str) else ""


def description_of(schema: Any) -> str:
    if not isinstance(schema, Mapping):
        return ""
    text = schema.get("description")
    if not isinstance(text, str):
        core, _ = split_nullable(_single_all_of(schema))
        text = core.get("description") if ref_name(core) is None else None
    return " ".join(text.split()) if isinstance(text, str) else ""


def object_parts(schema: Schema, defs: Mapping[str, Schema]) -> tuple[dict[str, Any], set[str]]:
    """Properties (in declared order) and required names of an object, following ``allOf``."""
    props: dict[str, Any] = {}
    required: set[str] = set()
    seen: set[str] = set()

    def visit(node: Any) -> None:
        name = ref_name(node)
        if name is not None:
            if name in seen or name not in defs:
                return
            seen.add(name)
            node = defs[name]
        if not isinstance(node, Mapping):
            return
        for part in node.get("allOf") or ():
            visit(part)
        if isinstance(node.get("properties"), Mapping):
            props.update(node["properties"])
        if isinstance(node.get("required"), list):
            required.update(str(r) for r in node["required"])

    visit(schema)
    return props, required


def field_rows(schema: Schema, defs: Mapping[str, Schema], link: Link = plain) -> list[FieldRow]:
    """One row per property of an object schema (empty for non-object payloads)."""
    props, required = object_parts(schema, defs)
    rows: list[FieldRow] = []
    for name, sub in props.items():
        rows.append(
            FieldRow(
                name=name,
                type=type_text(sub, link),
                required=name in required,
                default=default_text(sub),
                auto=auto_text(sub),
                constraints=tuple(constraints(sub)),
                description=description_of(sub),
            )
        )
    for name in sorted(required - props.keys()):
        rows.append(FieldRow(name, "any", True, "", "", ("not declared in properties",), ""))
    return rows


def iter_refs(node: Any) -> Iterator[str]:
    """Every model name a schema refers to, in document order (with repeats)."""
    if isinstance(node, Mapping):
        name = ref_name(node)
        if name is not None:
            yield name
        for key, value in node.items():
            if key not in ("default", "examples", "example", "const", "enum"):
                yield from iter_refs(value)
    elif isinstance(node, list):
        for item in node:
            yield from iter_refs(item)


def referenced_models(roots: list[Any], defs: Mapping[str, Schema]) -> list[str]:
    """Models reachable from ``roots`` through ``$ref`` (transitively), first reference first."""
    order: list[str] = []
    queue = [name for root in roots for name in iter_refs(root)]
    while queue:
        name = queue.pop(0)
        if name in order or name not in defs:
            continue
        order.append(name)
        queue.extend(iter_refs(defs[name]))
    return order


def is_object_schema(schema: Schema, defs: Mapping[str, Schema]) -> bool:
    props, _ = object_parts(schema, defs)
    return bool(props) or schema.get("type") == "object"
