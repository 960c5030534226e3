"""A 2.x document is upgraded to the 3.0 shape once (adapter.py): the same API written in 2.6 and
in 3.0 gives the same IR, and what the builder reports about the upgraded document names the
2.x file and JSON pointer where the problem is written."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from mqttwire_codegen.api import load_contract
from mqttwire_codegen.diagnostics import ContractError
from mqttwire_codegen.ir import Contract

V26 = """
asyncapi: 2.6.0
info: {title: Lamps, version: '1'}
servers: {b: {url: 'mqtt://localhost', protocol: mqtt}}
channels:
  lamps/{room}/set:
    parameters:
      room: {schema: {type: string, enum: [hall, attic], default: hall}}
    subscribe:
      operationId: setLamp
      bindings: {mqtt: {qos: 1, retain: true}}
      traits: [{$ref: '#/components/operationTraits/described'}]
      message: {$ref: '#/components/messages/lampSet'}
  lamps/{room}/state:
    parameters:
      room: {schema: {type: string, pattern: '^[a-z]+$'}}
    publish:
      operationId: lampState
      bindings: {mqtt: {qos: 2}}
      message:
        oneOf:
          - {$ref: '#/components/messages/lampOn'}
          - {$ref: '#/components/messages/lampOff'}
components:
  operationTraits:
    described: {description: switch a lamp}
  messageTraits:
    json: {contentType: application/json}
  messages:
    lampSet:
      name: lampSet
      traits: [{$ref: '#/components/messageTraits/json'}]
      payload: {$ref: '#/components/schemas/LampSet'}
    lampOn:
      name: lampOn
      payload: {title: LampOn, type: object, properties: {watts: {type: integer}}}
    lampOff:
      name: lampOff
      payload: {title: LampOff, type: object, properties: {at: {type: string}}}
  schemas:
    LampSet:
      type: object
      required: [on]
      properties: {on: {type: boolean}, level: {type: integer, minimum: 0, maximum: 100}}
"""

V30 = """
asyncapi: 3.0.0
info: {title: Lamps, version: '1'}
servers: {b: {host: localhost, protocol: mqtt}}
channels:
  lamps/{room}/set:
    address: lamps/{room}/set
    parameters:
      room: {enum: [hall, attic], default: hall}
    messages:
      lampSet: {$ref: '#/components/messages/lampSet'}
  lamps/{room}/state:
    address: lamps/{room}/state
    parameters:
      room: {$ref: '#/components/parameters/lowercase'}
    messages:
      lampOn: {$ref: '#/components/messages/lampOn'}
      lampOff: {$ref: '#/components/messages/lampOff'}
operations:
  setLamp:
    action: send
    channel: {$ref: '#/channels/lamps~1{room}~1set'}
    bindings: {mqtt: {qos: 1, retain: true}}
    traits: [{$ref: '#/components/operationTraits/described'}]
  lampState:
    action: receive
    channel: {$ref: '#/channels/lamps~1{room}~1state'}
    bindings: {mqtt: {qos: 2}}
components:
  parameters:
    lowercase: {x-note: pattern is an mqttwire addition on 3.0 parameters}
  operationTraits:
    described: {description: switch a lamp}
  messageTraits:
    json: {contentType: application/json}
  messages:
    lampSet:
      name: lampSet
      traits: [{$ref: '#/components/messageTraits/json'}]
      payload: {$ref: '#/components/schemas/LampSet'}
    lampOn:
      name: lampOn
      payload: {title: LampOn, type: object, properties: {watts: {type: integer}}}
    lampOff:
      name: lampOff
      payload: {title: LampOff, type: object, properties: {at: {type: string}}}
  schemas:
    LampSet:
      type: object
      required: [on]
      properties: {on: {type: boolean}, level: {type: integer, minimum: 0, maximum: 100}}
"""


def _meaning(contract: Contract) -> dict[str, Any]:
    """What the contract means, without where it is written."""
    return {
        "channels": [
            (
                ch.id,
                ch.py_name,
                ch.topic.address,
                [(p.name, p.py_name, p.enum, p.default) for p in ch.topic.parameters],
                [(m.key, m.name, m.class_name, m.content_type) for m in ch.messages],
                (ch.publish_policy.qos, ch.publish_policy.retain),
                (ch.subscribe_policy.qos, ch.subscribe_policy.retain),
                ch.publish_name,
                ch.subscribe_name,
            )
            for ch in contract.channels
        ],
        "operations": [
            (op.id, op.action, op.channel_id, op.message_keys, op.description)
            for op in contract.operations
        ],
        "models": {name: dict(body) for name, body in contract.schema_defs.items()},
    }


def test_the_same_api_in_2_6_and_3_0_gives_the_same_ir(tmp_path: Path) -> None:
    (tmp_path / "v26.yaml").write_text(V26)
    (tmp_path / "v30.yaml").write_text(V30)
    v26, _ = load_contract(tmp_path / "v26.yaml")
    v30, _ = load_contract(tmp_path / "v30.yaml")
    assert _meaning(v26) == _meaning(v30)
    set_lamp = v26.channel("lamps/{room}/set")
    assert set_lamp.topic.parameters[0].enum == ("hall", "attic")
    assert (set_lamp.publish_policy.qos, set_lamp.publish_policy.retain) == (1, True)
    assert [m.name for m in v26.channel("lamps/{room}/state").messages] == ["lampOn", "lampOff"]
    assert v26.operations[0].description == "switch a lamp"  # operation traits merged
    assert set_lamp.messages[0].content_type == "application/json"  # message traits merged


def test_the_pattern_of_a_2_x_parameter_schema_reaches_the_ir(tmp_path: Path) -> None:
    (tmp_path / "v26.yaml").write_text(V26)
    v26, _ = load_contract(tmp_path / "v26.yaml")
    (room,) = v26.channel("lamps/{room}/state").topic.parameters
    assert room.pattern == "^[a-z]+$"


def test_a_problem_in_an_upgraded_document_is_reported_where_2_x_writes_it(
    tmp_path: Path,
) -> None:
    """The 2.x parameter ``self`` would be a reserved keyword argument: the error names the
    2.x file and the pointer of the parameter under the channel's address."""
    path = tmp_path / "v26.yaml"
    path.write_text(
        V26.replace("lamps/{room}/set:", "lamps/{self}/set:").replace(
            "      room: {schema: {type: string, enum: [hall, attic], default: hall}}",
            "      self: {schema: {type: string}}",
        )
    )
    with pytest.raises(ContractError) as caught:
        load_contract(path)
    (error,) = [d for d in caught.value.diagnostics if d.rule == "name-collision"]
    assert error.location.file == path.resolve()
    assert error.location.pointer == "/channels/lamps~1{self}~1set/parameters/self"
