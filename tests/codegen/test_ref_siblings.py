"""Keywords written next to a ``$ref`` (description, default) survive bundling."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import yaml

from mqttwire_codegen.api import load_contract
from mqttwire_codegen.models_gen import generate_models

CONTRACT = {
    "asyncapi": "3.0.0",
    "info": {"title": "Siblings", "version": "1.0.0"},
    "servers": {"local": {"host": "localhost:1883", "protocol": "mqtt"}},
    "channels": {
        "lamp": {
            "address": "lamp",
            "messages": {
                "set": {"name": "lamp.set", "payload": {"$ref": "#/components/schemas/LampSet"}}
            },
        }
    },
    "operations": {
        "setLamp": {"action": "send", "channel": {"$ref": "#/channels/lamp"}},
    },
    "components": {
        "schemas": {
            "Mode": {"type": "string", "enum": ["on", "off", "blink"]},
            "Colour": {
                "type": "object",
                "title": "Colour",
                "properties": {"r": {"type": "integer"}},
            },
            "LampSet": {
                "type": "object",
                "title": "LampSet",
                "additionalProperties": False,
                "properties": {
                    "mode": {
                        "$ref": "#/components/schemas/Mode",
                        "default": "off",
                        "description": "Lamp mode.",
                    },
                    "colour": {
                        "$ref": "#/components/schemas/Colour",
                        "description": "Light colour.",
                    },
                },
            },
        }
    },
}


def test_default_and_description_next_to_refs_reach_the_models(tmp_path: Path) -> None:
    path = tmp_path / "contract.yaml"
    path.write_text(yaml.safe_dump(CONTRACT))
    contract, _ = load_contract(path)
    mode = contract.schema_defs["LampSet"]["properties"]["mode"]
    assert mode["default"] == "off" and mode["enum"] == ["on", "off", "blink"]
    assert contract.schema_defs["LampSet"]["properties"]["colour"]["description"] == "Light colour."

    module_path = tmp_path / "sibling_models.py"
    source = generate_models(contract.schema_defs)
    assert '"""\n    Lamp mode.\n    """' in source  # descriptions become attribute docstrings
    assert '"""\n    Light colour.\n    """' in source
    module_path.write_text(source)
    spec = importlib.util.spec_from_file_location("sibling_models", module_path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["sibling_models"] = module
    try:
        spec.loader.exec_module(module)
        assert module.LampSet.model_validate({}).mode == "off"
    finally:
        del sys.modules["sibling_models"]
