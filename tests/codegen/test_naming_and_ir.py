"""Names are resolved once in the IR; collisions are errors with a fix, never silent renames."""

from __future__ import annotations

from pathlib import Path

import pytest

from mqttwire_codegen.api import load_contract
from mqttwire_codegen.diagnostics import ContractError
from mqttwire_codegen.naming import class_name_from, client_class_name, snake_case

BASE = """
asyncapi: 3.0.0
info: {{title: {title}, version: '1'}}
servers: {{b: {{host: 'localhost', protocol: mqtt}}}}
channels:
{channels}
"""


def doc(tmp_path: Path, channels: str, title: str = "Greenhouse") -> Path:
    path = tmp_path / "api.yaml"
    path.write_text(BASE.format(title=title, channels=channels))
    return path


@pytest.mark.parametrize(
    ("title", "expected"),
    [
        ("TARS", "TarsClient"),
        ("Greenhouse", "GreenhouseClient"),
        ("Streetlights MQTT API", "StreetlightsMqttApiClient"),
        ("home climate", "HomeClimateClient"),
        ("Door sensors client", "DoorSensorsClient"),
    ],
)
def test_client_class_name(title: str, expected: str) -> None:
    assert client_class_name(title) == expected


def test_snake_and_class_names() -> None:
    assert snake_case("lightTurnOn") == "light_turn_on"
    assert snake_case("system/health/{client_id}") == "system_health_client_id"
    assert class_name_from("LLMRequest") == "LLMRequest"
    assert class_name_from("lightMeasuredPayload") == "LightMeasuredPayload"
    assert class_name_from("turn on/off") == "TurnOnOff"


def test_channel_name_collision_is_an_error_with_a_fix(tmp_path: Path) -> None:
    channels = """
  lightOn: {address: a, messages: {m: {payload: {type: object}}}}
  light_on: {address: b, messages: {m: {payload: {type: object}}}}
"""
    with pytest.raises(ContractError) as info:
        load_contract(doc(tmp_path, channels))
    (d,) = info.value.diagnostics
    assert d.rule == "name-collision" and "x-python-name" in d.hint
    assert d.location.pointer == "/channels/light_on"


def test_x_python_name_resolves_a_collision(tmp_path: Path) -> None:
    channels = """
  lightOn: {address: a, messages: {m: {payload: {type: object}}}}
  light_on: {address: b, x-python-name: light_on_b, messages: {m: {payload: {type: object}}}}
"""
    contract, _ = load_contract(doc(tmp_path, channels))
    assert [c.py_name for c in contract.channels] == ["light_on", "light_on_b"]


def test_reserved_parameter_name_is_an_error(tmp_path: Path) -> None:
    channels = """
  c:
    address: a/{payload}
    parameters: {payload: {}}
    messages: {m: {payload: {type: object}}}
"""
    with pytest.raises(ContractError) as info:
        load_contract(doc(tmp_path, channels))
    assert info.value.rules == {"name-collision"}


def test_model_name_collision_is_an_error(tmp_path: Path) -> None:
    channels = """
  a: {address: a, messages: {m: {payload: {title: Thing, type: object, properties: {x: {type: string}}}}}}
  b: {address: b, messages: {m: {payload: {title: Thing, type: object, properties: {y: {type: string}}}}}}
"""
    with pytest.raises(ContractError) as info:
        load_contract(doc(tmp_path, channels))
    assert info.value.rules == {"model-name-collision"}


def test_ir_is_complete_for_diff(tmp_path: Path) -> None:
    channels = """
  room:
    address: home/{room}/t
    x-envelope: true
    parameters: {room: {enum: [a, b], default: a, description: Room.}}
    messages:
      r: {name: temp.reading, contentType: application/json, payload: {$ref: '#/components/schemas/R'},
          bindings: {mqtt: {payloadFormatIndicator: 1}}}
operations:
  pub:
    action: send
    channel: {$ref: '#/channels/room'}
    bindings: {mqtt: {qos: 2, retain: true, messageExpiryInterval: 30}}
components:
  schemas:
    R: {type: object, required: [c], properties: {c: {type: number}, s: {$ref: '#/components/schemas/S'}}}
    S: {type: object, properties: {x: {type: string}}}
"""
    contract, _ = load_contract(doc(tmp_path, channels))
    ch = contract.channel("room")
    (p,) = ch.topic.parameters
    assert (p.name, p.py_name, p.enum, p.default, p.description) == (
        "room",
        "room",
        ("a", "b"),
        "a",
        "Room.",
    )
    (m,) = ch.messages
    assert (m.name, m.class_name, m.envelope, m.content_type) == (
        "temp.reading",
        "R",
        True,
        "application/json",
    )
    assert m.bindings["mqtt"] == {"payloadFormatIndicator": 1}
    assert m.payload_schema["properties"]["s"] == {"$ref": "#/$defs/S"}
    assert set(contract.schema_defs) == {"R", "S"}
    pol = ch.publish_policy
    assert (pol.qos, pol.retain, pol.message_expiry_interval) == (2, True, 30)
    assert (
        pol.declared_at is not None and pol.declared_at.pointer == "/operations/pub/bindings/mqtt"
    )
    (op,) = contract.operations
    assert (op.id, op.action, op.channel_id, op.message_keys) == ("pub", "send", "room", ("r",))
