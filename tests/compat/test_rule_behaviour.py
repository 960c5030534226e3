"""The open/closed rule pairs, by behaviour: each pair of payload schemas gives exactly the
expected rule, severity and ``mqttwire diff`` exit code (not only the docs table)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from mqttwire_codegen.api import load_contract
from mqttwire_codegen.cli import main
from mqttwire_codegen.compat.changes import Breaks
from mqttwire_codegen.compat.contract_diff import ContractDiff

OPEN = {"type": "object", "required": ["id", "note"], "properties": {"id": {}, "note": {}}}
CLOSED = {**OPEN, "additionalProperties": False}


def without_note(schema: dict[str, Any]) -> dict[str, Any]:
    return {**schema, "required": ["id"], "properties": {"id": {}}}


def contract(path: Path, payload: dict[str, Any]) -> Path:
    path.write_text(
        json.dumps(
            {
                "asyncapi": "3.0.0",
                "info": {"title": "T", "version": "1.0.0"},
                "servers": {"b": {"host": "localhost", "protocol": "mqtt"}},
                "channels": {"c": {"address": "c", "messages": {"m": {"payload": payload}}}},
                "operations": {
                    "send": {"action": "send", "channel": {"$ref": "#/channels/c"}},
                    "receive": {"action": "receive", "channel": {"$ref": "#/channels/c"}},
                },
            }
        )
    )
    return path


@pytest.mark.parametrize(
    ("old", "new", "rule", "breaks", "exit_code"),
    [
        (OPEN, without_note(OPEN), "property-removed-required", Breaks.SUBSCRIBERS, 1),
        (CLOSED, without_note(CLOSED), "property-removed-required-closed", Breaks.BOTH, 1),
        (OPEN, CLOSED, "additional-properties-closed", Breaks.PUBLISHERS, 1),
        (CLOSED, OPEN, "additional-properties-opened", Breaks.SUBSCRIBERS, 1),
        (
            {**OPEN, "required": ["id"]},
            {**without_note(OPEN)},
            "property-removed-optional",
            Breaks.NOBODY,
            0,
        ),
        (
            {**CLOSED, "required": ["id"]},
            {**without_note(CLOSED)},
            "property-removed-optional-closed",
            Breaks.PUBLISHERS,
            1,
        ),
    ],
)
def test_open_and_closed_rule_pairs(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    old: dict[str, Any],
    new: dict[str, Any],
    rule: str,
    breaks: Breaks,
    exit_code: int,
) -> None:
    before = contract(tmp_path / "old.json", old)
    after = contract(tmp_path / "new.json", new)
    changes = ContractDiff(load_contract(before)[0], load_contract(after)[0]).changes()
    assert [(c.rule.id, c.rule.breaks) for c in changes] == [(rule, breaks)]
    assert main(["diff", str(before), str(after)]) == exit_code
    assert f"[{rule}]" in capsys.readouterr().out


def test_bounds_replaced_by_an_enum_inside_them_is_a_tightening(tmp_path: Path) -> None:
    ranged = {
        "type": "object",
        "properties": {"n": {"type": "integer", "minimum": 0, "maximum": 9}},
    }
    enum = {"type": "object", "properties": {"n": {"type": "integer", "enum": [1, 2, 3]}}}
    before, after = contract(tmp_path / "a.json", ranged), contract(tmp_path / "b.json", enum)
    changes = ContractDiff(load_contract(before)[0], load_contract(after)[0]).changes()
    assert [(c.rule.id, c.rule.breaks) for c in changes] == [("enum-added", Breaks.PUBLISHERS)]
    wider = {"type": "object", "properties": {"n": {"type": "integer", "enum": [1, 20]}}}
    outside = contract(tmp_path / "c.json", wider)
    changes = ContractDiff(load_contract(before)[0], load_contract(outside)[0]).changes()
    assert {c.rule.id for c in changes} == {"enum-added", "constraint-loosened"}
    assert main(["diff", str(before), str(after)]) == 1  # breaking: publishers


@pytest.mark.parametrize(
    ("bounds", "expected"),
    [
        # every old enum value is inside the new range: only a loosening (breaks subscribers)
        ({"minimum": 0, "maximum": 9}, {("enum-removed", Breaks.SUBSCRIBERS)}),
        ({"minimum": 1, "maximum": 3}, {("enum-removed", Breaks.SUBSCRIBERS)}),
        # 1 was allowed and no longer is: a tightening too
        (
            {"minimum": 2, "maximum": 9},
            {("enum-removed", Breaks.SUBSCRIBERS), ("constraint-tightened", Breaks.PUBLISHERS)},
        ),
    ],
)
def test_an_enum_replaced_by_bounds_around_it_is_a_loosening(
    tmp_path: Path, bounds: dict[str, int], expected: set[tuple[str, Breaks]]
) -> None:
    enum = {"type": "object", "properties": {"n": {"type": "integer", "enum": [1, 2, 3]}}}
    ranged = {"type": "object", "properties": {"n": {"type": "integer", **bounds}}}
    before, after = contract(tmp_path / "a.json", enum), contract(tmp_path / "b.json", ranged)
    changes = ContractDiff(load_contract(before)[0], load_contract(after)[0]).changes()
    assert {(c.rule.id, c.rule.breaks) for c in changes} == expected
    # a bound added next to an enum whose values all satisfy it changes nothing
    both = {"type": "object", "properties": {"n": {"type": "integer", "enum": [1, 2, 3], **bounds}}}
    if len(expected) == 1:
        same = contract(tmp_path / "c.json", both)
        assert ContractDiff(load_contract(before)[0], load_contract(same)[0]).changes() == []


@pytest.mark.parametrize("roles", [("send", "send"), ("send", "receive")])
def test_a_message_shared_by_two_channels_is_reported_once_naming_both(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], roles: tuple[str, str]
) -> None:
    def shared(maximum: int) -> dict[str, Any]:
        payload = {"type": "object", "properties": {"n": {"type": "integer", "maximum": maximum}}}
        return {
            "asyncapi": "3.0.0",
            "info": {"title": "T", "version": "1.0.0"},
            "servers": {"b": {"host": "localhost", "protocol": "mqtt"}},
            "channels": {
                ch: {"address": ch, "messages": {"m": {"$ref": "#/components/messages/M"}}}
                for ch in ("a", "b")
            },
            "operations": {
                f"{action}_{ch}": {"action": action, "channel": {"$ref": f"#/channels/{ch}"}}
                for ch, action in zip(("a", "b"), roles, strict=True)
            },
            "components": {"messages": {"M": {"payload": payload}}},
        }

    (tmp_path / "old.json").write_text(json.dumps(shared(10)))
    (tmp_path / "new.json").write_text(json.dumps(shared(5)))
    old, new = load_contract(tmp_path / "old.json")[0], load_contract(tmp_path / "new.json")[0]
    [change] = ContractDiff(old, new).changes()
    assert change.rule.id == "constraint-tightened" and change.detail.endswith("(on a, b)")
    assert change.rule.breaks is Breaks.PUBLISHERS
    # what a user reads: one entry, the breaking exit code
    capsys.readouterr()
    args = ["diff", str(tmp_path / "old.json"), str(tmp_path / "new.json")]
    assert main([*args, "--format", "json"]) == 1
    report = json.loads(capsys.readouterr().out)
    assert [(c["rule"], c["breaks"]) for c in report["changes"]] == [
        ("constraint-tightened", "publishers")
    ]
    assert main(args) == 1
    assert capsys.readouterr().out.count("[constraint-tightened]") == 1
