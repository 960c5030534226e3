"""Structural validation by the official AsyncAPI JSON Schemas (shipped package data, offline):
readable findings at file + line + JSON pointer, stable rule ids, the parser's verdicts kept."""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Any

import pytest
from codegen_support import CORPUS, TARS_CONTRACT, corpus_rows

from mqttwire_codegen import spec_schema
from mqttwire_codegen.api import load_contract
from mqttwire_codegen.diagnostics import ContractError, Diagnostic
from mqttwire_codegen.loader import Resolver
from mqttwire_codegen.validate import validate_document

ROWS = corpus_rows() if CORPUS.is_dir() else {}
DOCUMENTS = sorted(r for r, c in ROWS.items() if not c[4].startswith("fragment"))
# the parser rejects zbos only because its examples do not match their payloads: not a JSON
# Schema rule (the generator accepts it, see test_validate_corpus.py)
EXAMPLES_ONLY = {"parser-js-v1-fixtures/good/zbos_mqtt-all-asyncapi.json"}

V3 = """asyncapi: 3.0.0
info: {title: Parking, version: '1'}
servers: {b: {host: localhost, protocol: mqtt}}
channels:
  gate:
    address: parking/gate
    messages:
      m: {payload: {type: object}}
operations:
  openGate:
    action: send
    channel: {$ref: '#/channels/gate'}
"""
V26 = """asyncapi: 2.6.0
info: {title: Parking, version: '1'}
servers: {b: {url: localhost, protocol: mqtt}}
channels:
  parking/gate:
    subscribe:
      operationId: openGate
      message: {payload: {type: object}}
"""


def _errors(tmp_path: Path, text: str) -> list[Diagnostic]:
    path = tmp_path / "contract.yaml"
    path.write_text(text)
    with pytest.raises(ContractError) as info:
        load_contract(path)
    return list(info.value.diagnostics)


def test_every_shipped_schema_has_its_licence_and_origin() -> None:
    folder = Path(spec_schema.__file__).parent / "asyncapi_schemas"
    assert {f"{v}.json" for v in spec_schema.SHIPPED} <= {p.name for p in folder.iterdir()}
    assert "Apache License" in (folder / "LICENSE").read_text()
    readme = (folder / "README.md").read_text()
    assert "@asyncapi/specs" in readme and "6.11.1" in readme


@pytest.mark.parametrize("rel", DOCUMENTS)
def test_the_parsers_verdict_is_kept(rel: str) -> None:
    """Accepted by @asyncapi/parser -> no error here; rejected -> at least one error (from the
    schema, the parser's ruleset rules or the loader), except the examples-only rejection."""
    try:
        diagnostics = validate_document(Resolver(CORPUS / rel))
    except ContractError as exc:  # unreadable file
        diagnostics = list(exc.diagnostics)
    # unsupported-schema-format is mqttwire's own limit (OpenAPI/YAML schema formats), not a
    # verdict on the document
    errors = [
        d.render()
        for d in diagnostics
        if d.severity == "error" and d.rule != "unsupported-schema-format"
    ]
    if ROWS[rel][4] == "VALID":
        assert errors == []
    elif rel not in EXAMPLES_ONLY:
        assert errors


def test_a_misspelt_keyword_in_3_0_has_pointer_line_and_hint(tmp_path: Path) -> None:
    errors = _errors(tmp_path, V3.replace("    address:", "    adress:"))
    assert [(d.rule, d.location.pointer, d.line, d.hint) for d in errors] == [
        ("asyncapi-document-resolved", "/channels/gate/adress", 6, "did you mean 'address'?")
    ]
    assert errors[0].message == "channel 'gate' has an unknown property 'adress'"


def test_a_misspelt_keyword_in_2_6_has_pointer_line_and_hint(tmp_path: Path) -> None:
    errors = _errors(tmp_path, V26.replace("operationId:", "operationID:"))
    assert [(d.rule, d.location.pointer, d.line, d.hint) for d in errors] == [
        (
            "asyncapi-document-resolved",
            "/channels/parking~1gate/subscribe/operationID",
            7,
            "did you mean 'operationId'?",
        )
    ]
    assert "unknown property 'operationID'" in errors[0].message


def test_an_unknown_root_key_is_an_error(tmp_path: Path) -> None:
    errors = _errors(tmp_path, V3 + "chanels: {}\n")
    assert [(d.rule, d.location.pointer, d.line, d.hint) for d in errors] == [
        ("asyncapi-document-resolved", "/chanels", 13, "did you mean 'channels'?")
    ]


def test_qos_as_a_string_in_a_binding_is_a_type_error(tmp_path: Path) -> None:
    text = V3 + "    bindings: {mqtt: {qos: '1', bindingVersion: 0.2.0}}\n"
    errors = _errors(tmp_path, text)
    assert [(d.rule, d.location.pointer, d.line) for d in errors] == [
        ("mqtt-binding-qos", "/operations/openGate/bindings/mqtt/qos", 13)
    ]
    assert "integer" in errors[0].message


def test_an_error_in_a_referenced_file_is_reported_in_that_file(tmp_path: Path) -> None:
    (tmp_path / "messages.yaml").write_text(
        "gate:\n  payload: {type: object}\n  contentTyp: application/json\n"
    )
    text = V3.replace("m: {payload: {type: object}}", "m: {$ref: 'messages.yaml#/gate'}")
    [error] = _errors(tmp_path, text)
    assert error.location.file == (tmp_path / "messages.yaml").resolve()
    assert (error.location.pointer, error.line, error.hint) == (
        "/gate/contentTyp",
        3,
        "did you mean 'contentType'?",
    )


def test_validation_works_offline(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No schema is fetched: every $id the official schemas use is in the local registry."""

    def no_network(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("validation tried to use the network")

    spec_schema._validator.cache_clear()
    spec_schema._json_schema_nodes.cache_clear()
    monkeypatch.setattr(socket, "socket", no_network)
    monkeypatch.setattr(socket, "create_connection", no_network)
    monkeypatch.setattr(socket, "getaddrinfo", no_network)
    for version in spec_schema.SHIPPED:
        text = V3 if version.startswith("3.") else V26
        path = tmp_path / f"{version}.yaml"
        path.write_text(
            text.replace("asyncapi: 3.0.0", f"asyncapi: {version}").replace(
                "asyncapi: 2.6.0", f"asyncapi: {version}"
            )
        )
        assert [d for d in validate_document(Resolver(path)) if d.severity == "error"] == []
    bad = tmp_path / "bad.yaml"
    bad.write_text(V3 + "    bindings: {mqtt: {qos: 3}}\n")
    assert {d.rule for d in validate_document(Resolver(bad))} == {"mqtt-binding-qos"}


def test_a_version_without_an_official_schema_is_refused(tmp_path: Path) -> None:
    errors = _errors(tmp_path, V3.replace("asyncapi: 3.0.0", "asyncapi: 3.9.0"))
    assert [(d.rule, d.location.pointer) for d in errors] == [("asyncapi-version", "/asyncapi")]
    assert "3.0.0" in errors[0].hint


def test_the_tars_contract_is_valid_and_the_validator_is_compiled_once() -> None:
    resolver = Resolver(TARS_CONTRACT)
    assert [d for d in validate_document(resolver) if d.severity == "error"] == []
    compiled = spec_schema._validator.cache_info().misses
    assert spec_schema.schema_diagnostics(resolver) == []
    assert spec_schema._validator.cache_info().misses == compiled


@pytest.mark.parametrize("version", ["2.0.0", "2.4.0", "2.6.0"])
def test_a_parameter_given_by_local_ref_is_valid(tmp_path: Path, version: str) -> None:
    """A 2.x Parameter Object may itself hold ``$ref``, so a kept local reference matches both
    alternatives of the schema's ``oneOf``; the parser resolves it first and accepts it."""
    path = tmp_path / "contract.yaml"
    path.write_text(
        f"""asyncapi: {version}
info: {{title: Gateway, version: '1'}}
channels:
  gw/{{mac}}/scan:
    parameters:
      mac: {{$ref: '#/components/parameters/mac'}}
    publish:
      message: {{payload: {{type: object}}}}
components:
  parameters:
    mac: {{schema: {{type: string}}}}
"""
    )
    contract, diagnostics = load_contract(path)
    assert [d for d in diagnostics if d.severity == "error"] == []
    assert [ch.topic.address for ch in contract.channels] == ["gw/{mac}/scan"]
