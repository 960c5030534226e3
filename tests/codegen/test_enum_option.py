"""Root ``x-mqttwire: {enums: str-enum}``: named string enums become ``enum.StrEnum`` classes.

Default (no option, or ``enums: literal``): today's ``Literal[...]`` fields. With the option,
a ``$ref`` to a titled string enum is one ``StrEnum`` class (upper-case members) shared by every
field that references it; enums written inline in a model stay ``Literal``. The TARS contract
enables it, so movement and wake domain code can use ``Command.WAVE`` and ``command.value``.
"""

from __future__ import annotations

import json
import sys
import types
from enum import StrEnum
from pathlib import Path
from typing import Any

import orjson
import pytest
from pydantic import BaseModel, ValidationError

from mqttwire import MessageMeta
from mqttwire.testing import for_testing, kit_of
from mqttwire_codegen.diagnostics import ContractError
from mqttwire_codegen.pipeline import generate_package

CONTRACT = """
asyncapi: 3.0.0
info: {{title: Robot, version: '1'}}
{option}
servers: {{b: {{host: 'localhost', protocol: mqtt}}}}
channels:
  arm:
    address: robot/arm
    messages:
      Move: {{$ref: '#/components/messages/Move'}}
operations:
  publish_arm:
    action: send
    channel: {{$ref: '#/channels/arm'}}
components:
  messages:
    Move:
      name: arm.move
      payload: {{$ref: './Move.json'}}
"""

MOVE = {
    "title": "Move",
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "command": {"$ref": "./Command.json"},
        "fallback": {"$ref": "./Command.json", "default": "bow"},
        "previous": {"anyOf": [{"$ref": "./Command.json"}, {"type": "null"}], "default": None},
        "speed": {"type": "string", "enum": ["slow", "fast"], "default": "slow"},
    },
    "required": ["command"],
}
COMMAND = {"title": "Command", "type": "string", "enum": ["wave", "step_forward", "bow"]}


def _models(tmp_path: Path, option: str) -> tuple[str, types.ModuleType]:
    (tmp_path / "Move.json").write_text(json.dumps(MOVE))
    (tmp_path / "Command.json").write_text(json.dumps(COMMAND))
    path = tmp_path / "api.yaml"
    path.write_text(CONTRACT.format(option=option))
    source = generate_package(path, "robot_enum_test").files["models.py"]
    module = types.ModuleType(f"robot_enum_models_{abs(hash(option))}")
    sys.modules[module.__name__] = module
    exec(compile(source, "models.py", "exec"), module.__dict__)
    return source, module


@pytest.mark.parametrize("option", ["", "x-mqttwire: {enums: literal}"])
def test_default_is_literal(tmp_path: Path, option: str) -> None:
    source, module = _models(tmp_path, option)
    assert "StrEnum" not in source and "class Command" not in source
    assert 'Literal["wave", "step_forward", "bow"]' in source
    move = module.Move(command="wave")
    assert move.command == "wave" and type(move.command) is str


def test_str_enum_option_generates_one_enum_class(tmp_path: Path) -> None:
    source, module = _models(tmp_path, "x-mqttwire: {enums: str-enum}")
    command: Any = module.Command
    assert issubclass(command, StrEnum)
    assert [m.name for m in command] == ["WAVE", "STEP_FORWARD", "BOW"]
    assert source.count("class Command(StrEnum)") == 1
    assert 'speed: Literal["slow", "fast"]' in source  # inline enums stay Literal

    move: BaseModel = module.Move(command="wave")
    assert move.command is command.WAVE  # type: ignore[attr-defined]
    assert move.command.value == "wave"  # type: ignore[attr-defined]
    assert move.fallback is command.BOW and move.previous is None  # type: ignore[attr-defined]
    assert module.Move(command=command.STEP_FORWARD).command == "step_forward"
    assert move.model_dump(mode="json") == {
        "command": "wave",
        "fallback": "bow",
        "previous": None,
        "speed": "slow",
    }
    assert orjson.loads(orjson.dumps(move.model_dump())) == move.model_dump(mode="json")
    with pytest.raises(ValidationError):
        module.Move(command="fly")


@pytest.mark.parametrize(
    ("option", "message"),
    [
        ("x-mqttwire: {enums: python-enum}", "x-mqttwire.enums is 'python-enum'"),
        ("x-mqttwire: {enum: str-enum}", "unknown options ['enum']"),
        ("x-mqttwire: str-enum", "x-mqttwire must be a mapping"),
        ("x-mqttwire: {whole-system: 'yes'}", "x-mqttwire.whole-system is 'yes'"),
    ],
)
def test_bad_option_is_a_diagnostic(tmp_path: Path, option: str, message: str) -> None:
    with pytest.raises(ContractError) as info:
        _models(tmp_path, option)
    assert message in str(info.value)
    assert "bad-extension" in str(info.value)


async def test_tars_movement_and_wake_enums_are_str_enums() -> None:
    from tars_mqtt import TarsClient
    from tars_mqtt.models import (
        MovementAction,
        TestMovementCommand,
        TestMovementRequest,
        WakeEvent,
        WakeEventType,
    )

    for enum in (MovementAction, TestMovementCommand, WakeEventType):
        assert issubclass(enum, StrEnum)
    request = TestMovementRequest(command=TestMovementCommand.WAVE)
    assert request.command.value == "wave" and request.command == "wave"

    got: list[TestMovementRequest] = []
    async with for_testing(TarsClient) as tars:

        async def on_test(msg: TestMovementRequest, _: MessageMeta) -> None:
            got.append(msg)

        await tars.subscribe_movement_test(on_test)
        await tars.publish_movement_test(request)
        await kit_of(tars).deliver_raw("movement/test", b'{"command": "bow"}')
        (sent,) = kit_of(tars).published("movement_test")
    assert orjson.loads(sent.payload)["command"] == "wave"  # the wire is unchanged
    assert [m.command for m in got] == [TestMovementCommand.WAVE, TestMovementCommand.BOW]
    assert WakeEvent.model_validate({"type": "wake", "ts": 1.0}).type is WakeEventType.WAKE
