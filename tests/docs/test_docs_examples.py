"""Examples: the contract's own when declared, else synthesised, valid and deterministic."""

from __future__ import annotations

from pathlib import Path

import jsonschema
import pytest
from docs_support import LAB, STREETLIGHTS_V3, STREETLIGHTS_V26, TARS_CONTRACT, corpus_contract

from mqttwire_codegen.api import load_contract
from mqttwire_codegen.docgen.examples import (
    PLACEHOLDER_ID,
    ContractExamples,
    example_payload,
    synthesize,
    wire_example,
)
from mqttwire_codegen.ir import Contract


def _check_all_valid(contract: Contract) -> None:
    for ch in contract.channels:
        for m in ch.messages:
            value = synthesize(m.payload_schema, contract.schema_defs, m.class_name)
            schema = {**m.payload_schema, "$defs": dict(contract.schema_defs)}
            errors = [e.message for e in jsonschema.Draft202012Validator(schema).iter_errors(value)]
            assert not errors, f"{ch.id}/{m.key}: {errors}"


def test_synthesised_examples_validate_for_the_tars_contract() -> None:
    contract, _ = load_contract(TARS_CONTRACT)
    _check_all_valid(contract)


@pytest.mark.parametrize("path", [STREETLIGHTS_V3, STREETLIGHTS_V26, LAB], ids=lambda p: p.name)
def test_synthesised_examples_validate_for_small_contracts(path: Path) -> None:
    contract = load_contract(path)[0] if path == LAB else corpus_contract(path)
    _check_all_valid(contract)


def test_synthesis_prefers_default_enum_and_placeholders() -> None:
    schema = {
        "type": "object",
        "properties": {
            "mode": {"enum": ["auto", "manual"]},
            "level": {"type": "integer", "minimum": 3, "default": 7},
            "low": {"type": "integer", "minimum": 3},
            "when": {"type": "string", "format": "date-time"},
            "id": {"type": "string", "x-default-factory": "uuid4"},
            "name": {"type": "string", "minLength": 10},
            "maybe": {"anyOf": [{"type": "boolean"}, {"type": "null"}]},
            "loop": {"$ref": "#/$defs/Loop"},
        },
    }
    defs = {"Loop": {"type": "object", "properties": {"again": {"$ref": "#/$defs/Loop"}}}}
    value = synthesize(schema, defs)
    assert value == {
        "mode": "auto",
        "level": 7,
        "low": 3,
        "when": "2023-11-14T22:13:20Z",
        "id": PLACEHOLDER_ID,
        "name": "<name>xxxx",
        "maybe": False,
        "loop": {"again": {}},
    }
    assert synthesize(schema, defs) == value


def test_contract_examples_win_and_envelope_wraps_them() -> None:
    contract, _ = load_contract(LAB)
    reading = contract.channel("sensor_reading").messages[0]
    payload, origin = example_payload(reading, contract.schema_defs, ContractExamples(LAB))
    assert origin == "contract"
    assert payload["value"] == 21.5
    wire = wire_example(reading, payload, "sensor-node")
    assert set(wire) == {"id", "type", "ts", "source", "data"}
    assert wire["type"] == "sensor.reading" and wire["data"] is payload
    bare = contract.channel("lamp_set").messages[0]
    payload, origin = example_payload(bare, contract.schema_defs, ContractExamples(LAB))
    assert origin == "schema"
    assert wire_example(bare, payload, "dashboard") is payload
