"""Loading and $ref resolution, with file + JSON pointer tracking."""

from __future__ import annotations

from pathlib import Path

import pytest

from mqttwire_codegen.diagnostics import ContractError, Location
from mqttwire_codegen.loader import Resolver


def write(tmp: Path, name: str, text: str) -> Path:
    path = tmp / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_local_relative_and_pointer_in_file(tmp_path: Path) -> None:
    root = write(
        tmp_path,
        "api.yaml",
        "a: {$ref: '#/b'}\nb: {x: 1}\nc: {$ref: 'sub/other.yaml'}\nd: {$ref: 'sub/other.yaml#/inner/y'}\n",
    )
    write(tmp_path, "sub/other.yaml", "inner: {y: {z: 2}, w: {$ref: '#/inner/y'}}\n")
    r = Resolver(root)
    node, loc = r.deref(r.root["a"], Location(r.root_file, "/a"))
    assert node == {"x": 1} and loc == Location(r.root_file, "/b")
    node, loc = r.deref(r.root["d"], Location(r.root_file, "/d"))
    assert node == {"z": 2}
    assert loc.file == (tmp_path / "sub/other.yaml").resolve() and loc.pointer == "/inner/y"
    # a local ref inside the other file resolves against that file
    other, oloc = r.deref(r.root["c"], Location(r.root_file, "/c"))
    w, wloc = r.deref(other["inner"]["w"], oloc.child("inner", "w"))
    assert w == {"z": 2} and wloc.file == oloc.file
    assert r.check_all_refs() == []


def test_json_documents_and_escaped_pointers(tmp_path: Path) -> None:
    root = write(
        tmp_path, "api.json", '{"channels": {"a/b": {"x": 1}}, "r": {"$ref": "#/channels/a~1b"}}'
    )
    r = Resolver(root)
    assert r.deref(r.root["r"], Location(r.root_file, "/r"))[0] == {"x": 1}


def test_missing_file_and_pointer_are_reported_with_location(tmp_path: Path) -> None:
    root = write(tmp_path, "api.yaml", "a: {$ref: 'nope.yaml'}\nb: {$ref: '#/missing/x'}\n")
    diags = Resolver(root).check_all_refs()
    by_ptr = {d.location.pointer: d for d in diags}
    assert set(by_ptr) == {"/a/$ref", "/b/$ref"}
    assert all(d.rule == "invalid-ref" for d in diags)
    assert "does not exist" in by_ptr["/b/$ref"].message


def test_remote_refs_are_rejected(tmp_path: Path) -> None:
    root = write(tmp_path, "api.yaml", "a: {$ref: 'https://example.com/x.yaml'}\n")
    with pytest.raises(ContractError) as info:
        r = Resolver(root)
        r.deref(r.root["a"], Location(r.root_file, "/a"))
    assert info.value.rules == {"remote-ref"}


def test_circular_ref_chain_is_an_error(tmp_path: Path) -> None:
    root = write(tmp_path, "api.yaml", "a: {$ref: '#/b'}\nb: {$ref: '#/a'}\n")
    r = Resolver(root)
    with pytest.raises(ContractError, match="circular"):
        r.deref(r.root["a"], Location(r.root_file, "/a"))


def test_yaml_12_booleans_and_string_keys(tmp_path: Path) -> None:
    """``on``/``off`` stay strings (YAML 1.2, like the official parser); keys are strings."""
    root = write(tmp_path, "api.yaml", "on: [on, off, yes, true]\n200: ok\n")
    assert Resolver(root).root == {"on": ["on", "off", "yes", True], "200": "ok"}


def test_parse_error_is_a_diagnostic(tmp_path: Path) -> None:
    root = write(tmp_path, "api.yaml", "a: [1, 2\n")
    with pytest.raises(ContractError) as info:
        Resolver(root)
    assert info.value.rules == {"parse-error"}
    [diag] = info.value.diagnostics
    # in our words: the line and column in the document, PyYAML's problem, not its internals
    assert diag.line == 2 and diag.message.startswith("api.yaml is not valid YAML/JSON: line 2,")
    assert "<byte string>" not in diag.message
    binary = write(tmp_path, "api.json", "")
    binary.write_bytes(b'{"a": "\xff"}')
    with pytest.raises(ContractError) as info:
        Resolver(binary)
    assert [d.message for d in info.value.diagnostics] == [
        "api.json: not a YAML/JSON document (binary content at byte 7, not UTF-8 text)"
    ]
