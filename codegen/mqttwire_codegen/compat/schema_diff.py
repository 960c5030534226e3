"""Classify the difference between two JSON Schemas of one payload.

Schemas are compared by shape after following ``$ref``: moving a schema to another file or
component changes nothing. Each side carries its own resolver, since the two contract versions
resolve references in different documents.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from mqttwire_codegen.compat import rules as r
from mqttwire_codegen.compat.changes import Change, Rule
from mqttwire_codegen.pointer import join as pointer_join

Schema = Mapping[str, Any]
# Follows a {"$ref": ...} node: returns the target schema and its JSON pointer.
Resolver = Callable[[Schema, str], tuple[Schema, str]]

_LOWER_BOUNDS = ("minimum", "exclusiveMinimum", "minLength", "minItems", "minProperties")
_UPPER_BOUNDS = ("maximum", "exclusiveMaximum", "maxLength", "maxItems", "maxProperties")
_COMPOSITIONS = ("oneOf", "anyOf", "allOf")


@dataclass(frozen=True, slots=True)
class Side:
    schema: Schema
    pointer: str


class SchemaDiff:
    """Walks two schemas in parallel and yields classified changes."""

    def __init__(self, resolve_old: Resolver, resolve_new: Resolver) -> None:
        self._resolve_old = resolve_old
        self._resolve_new = resolve_new
        self._seen: set[tuple[str, str]] = set()

    def compare(self, old: Schema, old_ptr: str, new: Schema, new_ptr: str) -> list[Change]:
        self._seen.clear()
        return list(self._walk(Side(old, old_ptr), Side(new, new_ptr)))

    def _deref(self, side: Side, resolve: Resolver) -> Side:
        schema, pointer = side.schema, side.pointer
        hops = 0
        while isinstance(schema, Mapping) and "$ref" in schema and hops < 64:
            schema, pointer = resolve(schema, pointer)
            hops += 1
        return Side(schema, pointer)

    def _walk(self, old: Side, new: Side) -> Iterator[Change]:
        old = self._deref(old, self._resolve_old)
        new = self._deref(new, self._resolve_new)
        key = (old.pointer, new.pointer)
        if key in self._seen:  # recursive schemas
            return
        self._seen.add(key)
        old_base, old_null = _split_nullable(old)
        new_base, new_null = _split_nullable(new)
        if old_null != new_null:
            rule = r.TYPE_WIDENED if new_null else r.TYPE_NARROWED
            yield _change(rule, old, new, f"nullable {old_null} -> {new_null}")
        old, new = old_base, new_base
        old, new = self._deref(old, self._resolve_old), self._deref(new, self._resolve_new)
        type_changes = list(self._types(old, new))
        yield from type_changes
        if any(c.rule is r.TYPE_CHANGED for c in type_changes):
            return  # constraints of an unrelated type say nothing more
        yield from self._enum_and_const(old, new)
        yield from self._constraints(old, new)
        yield from self._simple_keyword(old, new, "format", r.FORMAT_CHANGED)
        yield from self._simple_keyword(old, new, "default", r.DEFAULT_CHANGED)
        yield from self._objects(old, new)
        yield from self._items(old, new)
        yield from self._compositions(old, new)

    def _types(self, old: Side, new: Side) -> Iterator[Change]:
        old_types, new_types = _types_of(old.schema), _types_of(new.schema)
        if old_types is None or new_types is None or old_types == new_types:
            if (old_types is None) != (new_types is None):
                loosened = r.TYPE_WIDENED if new_types is None else r.TYPE_NARROWED
                yield _change(loosened, old, new, f"type {_fmt(old_types)} -> {_fmt(new_types)}")
            return
        old_accepts, new_accepts = _accepted(old_types), _accepted(new_types)
        if old_accepts < new_accepts:
            rule: Rule = r.TYPE_WIDENED
        elif new_accepts < old_accepts:
            rule = r.TYPE_NARROWED
        else:
            rule = r.TYPE_CHANGED
        yield _change(rule, old, new, f"type {_fmt(old_types)} -> {_fmt(new_types)}")

    def _enum_and_const(self, old: Side, new: Side) -> Iterator[Change]:
        old_enum, new_enum = old.schema.get("enum"), new.schema.get("enum")
        if old_enum is not None and new_enum is not None:
            removed = [v for v in old_enum if v not in new_enum]
            added = [v for v in new_enum if v not in old_enum]
            for value in removed:
                yield _change(
                    r.ENUM_VALUE_REMOVED, old, new, f"enum value {value!r} removed", "enum"
                )
            for value in added:
                yield _change(r.ENUM_VALUE_ADDED, old, new, f"enum value {value!r} added", "enum")
        elif old_enum is None and new_enum is not None:
            yield _change(r.ENUM_ADDED, old, new, f"enum {new_enum!r} added", "enum")
        elif old_enum is not None and new_enum is None:
            yield _change(r.ENUM_REMOVED, old, new, f"enum {old_enum!r} removed", "enum")
        if old.schema.get("const", _MISSING) != new.schema.get("const", _MISSING):
            detail = f"const {old.schema.get('const')!r} -> {new.schema.get('const')!r}"
            yield _change(r.CONST_CHANGED, old, new, detail, "const")

    def _constraints(self, old: Side, new: Side) -> Iterator[Change]:
        for keyword in (*_LOWER_BOUNDS, *_UPPER_BOUNDS):
            before, after = old.schema.get(keyword), new.schema.get(keyword)
            if before == after or _is_bool(before) or _is_bool(after):
                continue
            lower = keyword in _LOWER_BOUNDS
            if after is None and _closed_set_within(new.schema, keyword, before):
                continue  # the bound gave way to an enum/const inside it: enum-added says it
            if before is None:
                tightened = True
            elif after is None:
                tightened = False
            else:
                tightened = after > before if lower else after < before
            if tightened and _closed_set_within(old.schema, keyword, after):
                continue  # every value the old enum/const allowed is inside the new bound
            rule = r.CONSTRAINT_TIGHTENED if tightened else r.CONSTRAINT_LOOSENED
            yield _change(rule, old, new, f"{keyword} {before!r} -> {after!r}", keyword)
        for keyword in ("pattern", "multipleOf", "uniqueItems"):
            before, after = old.schema.get(keyword), new.schema.get(keyword)
            if before == after:
                continue
            rule = r.CONSTRAINT_LOOSENED if after is None else r.CONSTRAINT_TIGHTENED
            yield _change(rule, old, new, f"{keyword} {before!r} -> {after!r}", keyword)

    def _simple_keyword(self, old: Side, new: Side, keyword: str, rule: Rule) -> Iterator[Change]:
        before, after = old.schema.get(keyword, _MISSING), new.schema.get(keyword, _MISSING)
        if before != after:
            detail = f"{keyword} {_show(before)} -> {_show(after)}"
            yield _change(rule, old, new, detail, keyword)

    def _objects(self, old: Side, new: Side) -> Iterator[Change]:
        old_props: Mapping[str, Schema] = old.schema.get("properties") or {}
        new_props: Mapping[str, Schema] = new.schema.get("properties") or {}
        no_extra_rule = all("additionalProperties" not in s.schema for s in (old, new))
        if not old_props and not new_props and no_extra_rule:
            return
        old_req = set(old.schema.get("required") or ())
        new_req = set(new.schema.get("required") or ())
        old_closed = old.schema.get("additionalProperties") is False
        new_closed = new.schema.get("additionalProperties") is False
        if old_closed and not new_closed:
            yield _change(r.ADDITIONAL_PROPERTIES_OPENED, old, new, "additionalProperties opened")
        elif new_closed and not old_closed:
            yield _change(r.ADDITIONAL_PROPERTIES_CLOSED, old, new, "additionalProperties closed")
        for name in new_props.keys() - old_props.keys():
            required = name in new_req
            if required:
                rule = (
                    r.PROPERTY_ADDED_REQUIRED_CLOSED
                    if old_closed
                    else r.PROPERTY_ADDED_REQUIRED_OPEN
                )
            else:
                rule = (
                    r.PROPERTY_ADDED_OPTIONAL_CLOSED
                    if old_closed
                    else r.PROPERTY_ADDED_OPTIONAL_OPEN
                )
            kind = "required" if required else "optional"
            yield Change(
                rule,
                None,
                pointer_join(new.pointer, "properties", name),
                f"{kind} property {name!r} added",
            )
        for name in old_props.keys() - new_props.keys():
            required = name in old_req
            if required:
                rule = (
                    r.PROPERTY_REMOVED_REQUIRED_CLOSED
                    if new_closed
                    else r.PROPERTY_REMOVED_REQUIRED_OPEN
                )
            else:
                rule = (
                    r.PROPERTY_REMOVED_OPTIONAL_CLOSED
                    if new_closed
                    else r.PROPERTY_REMOVED_OPTIONAL_OPEN
                )
            kind = "required" if required else "optional"
            yield Change(
                rule,
                pointer_join(old.pointer, "properties", name),
                None,
                f"{kind} property {name!r} removed",
            )
        for name in sorted(old_props.keys() & new_props.keys()):
            old_child = Side(old_props[name], pointer_join(old.pointer, "properties", name))
            new_child = Side(new_props[name], pointer_join(new.pointer, "properties", name))
            if name in new_req and name not in old_req:
                yield _change(
                    r.OPTIONAL_TO_REQUIRED, old_child, new_child, f"property {name!r} now required"
                )
            elif name in old_req and name not in new_req:
                yield _change(
                    r.REQUIRED_TO_OPTIONAL, old_child, new_child, f"property {name!r} now optional"
                )
            yield from self._walk(old_child, new_child)
        old_extra, new_extra = (
            old.schema.get("additionalProperties"),
            new.schema.get("additionalProperties"),
        )
        if isinstance(old_extra, Mapping) and isinstance(new_extra, Mapping):
            yield from self._walk(
                Side(old_extra, pointer_join(old.pointer, "additionalProperties")),
                Side(new_extra, pointer_join(new.pointer, "additionalProperties")),
            )

    def _items(self, old: Side, new: Side) -> Iterator[Change]:
        old_items, new_items = old.schema.get("items"), new.schema.get("items")
        if isinstance(old_items, Mapping) and isinstance(new_items, Mapping):
            yield from self._walk(
                Side(old_items, pointer_join(old.pointer, "items")),
                Side(new_items, pointer_join(new.pointer, "items")),
            )

    def _compositions(self, old: Side, new: Side) -> Iterator[Change]:
        for keyword in _COMPOSITIONS:
            before: Sequence[Schema] = old.schema.get(keyword) or ()
            after: Sequence[Schema] = new.schema.get(keyword) or ()
            if not before and not after:
                continue
            if len(before) != len(after):
                detail = f"{keyword} has {len(before)} -> {len(after)} branches"
                yield _change(r.SCHEMA_COMPOSITION_CHANGED, old, new, detail, keyword)
                continue
            for index, (a, b) in enumerate(zip(before, after, strict=True)):
                yield from self._walk(
                    Side(a, pointer_join(old.pointer, keyword, index)),
                    Side(b, pointer_join(new.pointer, keyword, index)),
                )


_MISSING: Any = object()


def _show(value: object) -> str:
    return "(none)" if value is _MISSING else repr(value)


def _closed_set_within(schema: Schema, keyword: str, bound: Any) -> bool:
    """Whether every value of ``schema``'s ``enum``/``const`` satisfies ``keyword: bound``
    (a removed ``minimum`` is no loosening when only values above it are left)."""
    values = schema.get("enum") if "enum" in schema else None
    if values is None and "const" in schema:
        values = [schema["const"]]
    if not isinstance(values, list) or not values or _is_bool(bound):
        return False
    checks: dict[str, Any] = {
        "minimum": lambda v: v >= bound,
        "exclusiveMinimum": lambda v: v > bound,
        "maximum": lambda v: v <= bound,
        "exclusiveMaximum": lambda v: v < bound,
        "minLength": lambda v: len(v) >= bound,
        "maxLength": lambda v: len(v) <= bound,
        "minItems": lambda v: len(v) >= bound,
        "maxItems": lambda v: len(v) <= bound,
        "minProperties": lambda v: len(v) >= bound,
        "maxProperties": lambda v: len(v) <= bound,
    }
    try:
        return all(checks[keyword](v) for v in values if v is not None)
    except TypeError:  # a value of another type than the bound speaks of
        return False


def _is_bool(value: object) -> bool:
    return isinstance(value, bool)


def _change(rule: Rule, old: Side, new: Side, detail: str, keyword: str | None = None) -> Change:
    if keyword is None:
        return Change(rule, old.pointer, new.pointer, detail)
    return Change(
        rule, pointer_join(old.pointer, keyword), pointer_join(new.pointer, keyword), detail
    )


def _split_nullable(side: Side) -> tuple[Side, bool]:
    """Separate "may be null" from the rest of the schema (anyOf/oneOf with null, type lists)."""
    schema = side.schema
    if schema.get("nullable") is True:
        rest = {k: v for k, v in schema.items() if k != "nullable"}
        return Side(rest, side.pointer), True
    types = schema.get("type")
    if isinstance(types, list) and "null" in types:
        remaining = [t for t in types if t != "null"]
        rest = dict(schema)
        rest["type"] = remaining[0] if len(remaining) == 1 else remaining
        return Side(rest, side.pointer), True
    for keyword in ("anyOf", "oneOf"):
        branches = schema.get(keyword)
        if not isinstance(branches, list):
            continue
        non_null = [(i, b) for i, b in enumerate(branches) if b != {"type": "null"}]
        if len(non_null) == len(branches):
            continue
        if len(non_null) == 1:
            index, branch = non_null[0]
            merged = {k: v for k, v in schema.items() if k != keyword}
            merged.update(branch)
            return Side(merged, pointer_join(side.pointer, keyword, index)), True
        rest = dict(schema)
        rest[keyword] = [b for _, b in non_null]
        return Side(rest, side.pointer), True
    if schema.get("type") == "null":
        return Side({}, side.pointer), True
    return side, False


def _types_of(schema: Schema) -> frozenset[str] | None:
    types = schema.get("type")
    if types is None:
        return None
    if isinstance(types, str):
        return frozenset({types})
    return frozenset(str(t) for t in types)


def _accepted(types: frozenset[str]) -> frozenset[str]:
    """Types as sets of accepted values: every integer is also a number."""
    return types | {"integer"} if "number" in types else types


def _fmt(types: frozenset[str] | None) -> str:
    return "any" if types is None else "|".join(sorted(types))
