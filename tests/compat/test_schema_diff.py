"""Payload schema classification, one rule at a time, and in both directions."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mqttwire_codegen.compat.changes import Breaks
from mqttwire_codegen.compat.schema_diff import SchemaDiff

BASE: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "required": ["sensorId", "celsius"],
    "properties": {
        "sensorId": {"type": "string", "minLength": 1},
        "celsius": {"type": "number", "minimum": -50, "maximum": 100},
        "unit": {"type": "string", "enum": ["C", "F"]},
        "count": {"type": "integer"},
        "note": {"anyOf": [{"type": "string"}, {"type": "null"}], "default": None},
    },
}


def _no_refs(schema: Mapping[str, Any], pointer: str) -> tuple[Mapping[str, Any], str]:
    raise AssertionError(f"unexpected $ref at {pointer}")


def classify(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[tuple[str, Breaks]]:
    changes = SchemaDiff(_no_refs, _no_refs).compare(old, "#/old", new, "#/new")
    return sorted((c.rule.id, c.breaks) for c in changes)


def edit(**props: Any) -> dict[str, Any]:
    schema = {**BASE, "properties": {**BASE["properties"]}}
    for name, value in props.items():
        if value is None:
            del schema["properties"][name]
        else:
            schema["properties"][name] = value
    return schema


CASES = [
    (
        "optional added, closed",
        edit(extra={"type": "string"}),
        "property-added-optional-closed",
        Breaks.SUBSCRIBERS,
    ),
    (
        "enum value added",
        edit(unit={"type": "string", "enum": ["C", "F", "K"]}),
        "enum-value-added",
        Breaks.SUBSCRIBERS,
    ),
    (
        "enum value removed",
        edit(unit={"type": "string", "enum": ["C"]}),
        "enum-value-removed",
        Breaks.PUBLISHERS,
    ),
    ("integer -> number", edit(count={"type": "number"}), "type-widened", Breaks.SUBSCRIBERS),
    ("number -> string", edit(celsius={"type": "string"}), "type-changed", Breaks.BOTH),
    (
        "max tightened",
        edit(celsius={"type": "number", "minimum": -50, "maximum": 60}),
        "constraint-tightened",
        Breaks.PUBLISHERS,
    ),
    (
        "nullable removed",
        edit(note={"type": "string", "default": None}),
        "type-narrowed",
        Breaks.PUBLISHERS,
    ),
    (
        "default changed",
        edit(note={"anyOf": [{"type": "string"}, {"type": "null"}], "default": "x"}),
        "default-changed",
        Breaks.NOBODY,
    ),
    (
        "optional removed, closed",
        edit(unit=None),
        "property-removed-optional-closed",
        Breaks.PUBLISHERS,
    ),
]


@pytest.mark.parametrize(("label", "new", "rule", "breaks"), CASES, ids=[c[0] for c in CASES])
def test_single_change_is_classified(
    label: str, new: dict[str, Any], rule: str, breaks: Breaks
) -> None:
    assert classify(BASE, new) == [(rule, breaks)]


def test_required_added_to_closed_object_breaks_both() -> None:
    new = {**BASE, "required": [*BASE["required"], "count"]}
    assert classify(BASE, new) == [("property-became-required", Breaks.PUBLISHERS)]
    assert classify(new, BASE) == [("property-became-optional", Breaks.SUBSCRIBERS)]


def test_additional_properties_flip_is_symmetric() -> None:
    opened = {**BASE, "additionalProperties": True}
    assert classify(BASE, opened) == [("additional-properties-opened", Breaks.SUBSCRIBERS)]
    assert classify(opened, BASE) == [("additional-properties-closed", Breaks.PUBLISHERS)]


def test_ref_target_moved_without_shape_change_is_no_change() -> None:
    defs = {"Reading": BASE}

    def resolve(schema: Mapping[str, Any], pointer: str) -> tuple[Mapping[str, Any], str]:
        name = str(schema["$ref"]).rsplit("/", 1)[-1]
        return defs[name], f"#/$defs/{name}"

    old = {"$ref": "#/components/schemas/Reading"}
    new = {"$ref": "./schemas/other.json#/Reading"}
    assert SchemaDiff(resolve, resolve).compare(old, "#/a", new, "#/b") == []


_OPPOSITE = {Breaks.PUBLISHERS: Breaks.SUBSCRIBERS, Breaks.SUBSCRIBERS: Breaks.PUBLISHERS}


@pytest.mark.parametrize(("label", "new", "rule", "breaks"), CASES, ids=[c[0] for c in CASES])
def test_reverse_change_classifies_consistently(
    label: str, new: dict[str, Any], rule: str, breaks: Breaks
) -> None:
    """Undoing a narrowing is a widening and vice versa; symmetric rules stay symmetric."""
    reverse = classify(new, BASE)
    assert len(reverse) == 1
    assert reverse[0][1] == _OPPOSITE.get(breaks, breaks)


json_scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.text(max_size=5))
schemas = st.recursive(
    st.fixed_dictionaries(
        {"type": st.sampled_from(["string", "number", "integer", "boolean"])},
        optional={
            "enum": st.lists(json_scalars, max_size=3),
            "minimum": st.integers(),
            "default": json_scalars,
        },
    ),
    lambda children: st.fixed_dictionaries(
        {
            "type": st.just("object"),
            "properties": st.dictionaries(st.text(min_size=1, max_size=4), children, max_size=3),
        },
        optional={"additionalProperties": st.booleans()},
    ),
    max_leaves=8,
)


@given(schemas)
def test_identical_schemas_have_no_changes(schema: dict[str, Any]) -> None:
    assert classify(schema, schema) == []
