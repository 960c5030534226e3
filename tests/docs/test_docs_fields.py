"""JSON Schema -> field rows: types, nullability, defaults, constraints, model links."""

from __future__ import annotations

from typing import Any

from docs_support import STREETLIGHTS_V3, corpus_contract

from mqttwire_codegen.docgen.fields import (
    constraints,
    field_rows,
    referenced_models,
    split_nullable,
    type_text,
)


def test_type_text_covers_the_common_shapes() -> None:
    assert type_text({"type": "string"}) == "string"
    assert type_text({"anyOf": [{"type": "integer"}, {"type": "null"}]}) == "integer | null"
    assert type_text({"type": ["string", "null"]}) == "string | null"
    assert type_text({"type": "array", "items": {"$ref": "#/$defs/Item"}}) == "array[Item]"
    assert type_text({"$ref": "#/$defs/Item"}, lambda n: f"<{n}>") == "<Item>"
    assert type_text({"allOf": [{"$ref": "#/$defs/Item"}], "default": None}) == "Item"
    assert type_text({"type": "object", "additionalProperties": {"type": "integer"}}) == (
        "map[string, integer]"
    )
    assert type_text({"anyOf": [{"type": "object"}, {"type": "string"}]}) == "object | string"
    assert type_text({}) == "any"
    assert type_text({"enum": ["a", "b"]}) == "string"


def test_split_nullable_keeps_outer_annotations() -> None:
    core, nullable = split_nullable(
        {"anyOf": [{"type": "number", "maximum": 1}, {"type": "null"}], "default": None}
    )
    assert nullable
    assert core == {"type": "number", "maximum": 1, "default": None}


def test_constraints_are_readable() -> None:
    assert constraints({"type": "integer", "minimum": 0, "maximum": 100}) == ["0..100"]
    assert constraints({"type": "string", "maxLength": 8, "pattern": "^a"}) == [
        "length ≤ 8",
        "pattern `^a`",
    ]
    assert constraints({"enum": ["on", "off"]}) == ['one of: `"on"`, `"off"`']
    assert constraints({"type": "string", "format": "date-time"}) == ["format: date-time"]
    nullable = {"anyOf": [{"type": "number", "exclusiveMinimum": 0}, {"type": "null"}]}
    assert constraints(nullable) == ["> 0"]
    assert constraints({"type": "array", "items": {"enum": [1]}, "minItems": 1}) == [
        "items ≥ 1",
        "each item: one of: `1`",
    ]
    assert constraints({"type": "object", "propertyNames": {"pattern": "^[0-9]+$"}}) == [
        "keys match `^[0-9]+$`"
    ]


def test_field_rows_follow_refs_required_and_defaults() -> None:
    defs = {
        "Base": {"type": "object", "properties": {"id": {"type": "string"}}, "required": ["id"]}
    }
    schema = {
        "allOf": [{"$ref": "#/$defs/Base"}],
        "properties": {
            "n": {"type": "integer", "default": 3, "description": "How  many.\n"},
            "stamp": {"type": "number", "x-default-factory": "now"},
        },
        "required": ["ghost"],
    }
    rows = {r.name: r for r in field_rows(schema, defs)}
    assert list(rows) == ["id", "n", "stamp", "ghost"]
    assert rows["id"].required and rows["id"].type == "string"
    assert rows["n"].default == "3" and rows["n"].description == "How many."
    assert rows["stamp"].auto == "current time" and rows["stamp"].default == ""
    assert rows["ghost"].constraints == ("not declared in properties",)


def test_streetlights_payload_fields() -> None:
    contract = corpus_contract(STREETLIGHTS_V3)
    dim = contract.channel("lightsDim").messages[0]
    rows = {r.name: r for r in field_rows(dim.payload_schema, contract.schema_defs)}
    assert rows["percentage"].type == "integer"
    assert rows["percentage"].constraints == ("0..100",)
    assert rows["sentAt"].constraints == ("format: date-time",)
    assert not rows["percentage"].required


def test_referenced_models_are_transitive_and_ordered() -> None:
    defs: dict[str, dict[str, Any]] = {
        "A": {"properties": {"b": {"$ref": "#/$defs/B"}}},
        "B": {"properties": {"c": {"items": {"$ref": "#/$defs/C"}}}},
        "C": {"type": "object"},
        "Unused": {"type": "object"},
    }
    assert referenced_models([{"$ref": "#/$defs/A"}], defs) == ["A", "B", "C"]
