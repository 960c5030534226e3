"""Every MQTT document the official parser accepts generates a package that imports and passes
``mypy --strict`` (one mypy run over all of them, with a real FastStream export); non-MQTT
documents get a clear message, and a genuinely unsupported construct a precise diagnostic."""

from __future__ import annotations

import importlib
import re
import sys
from pathlib import Path

import pytest
from codegen_support import CORPUS, REPO, corpus_rows, mypy_strict

from mqttwire_codegen.api import load_contract
from mqttwire_codegen.cli import main
from mqttwire_codegen.diagnostics import ContractError, NotMQTTError
from mqttwire_codegen.pipeline import generate_package
from mqttwire_codegen.writer import write_package

ROWS = corpus_rows() if CORPUS.is_dir() else {}
# valid documents with a construct mqttwire does not support: file -> (rule, JSON pointer)
UNSUPPORTED = {
    # payloads are JSON Schema / AsyncAPI schema; an OpenAPI 3.0 schemaFormat is refused
    "parser-js/openapi-schema-parser/test/documents/valid-asyncapi.yaml": (
        "unsupported-schema-format",
        "/components/messages/testMessage/schemaFormat",
    ),
}
VALID_MQTT = sorted(r for r, c in ROWS.items() if c[4] == "VALID" and "mqtt" in c[3])
# protocol-neutral documents (no servers, no bindings) are generated too, as MQTT topics
VALID_NEUTRAL = sorted(
    r for r, c in ROWS.items() if c[4] == "VALID" and c[3] == "-" and r not in UNSUPPORTED
)
# MQTT by its title only (no servers): generated like the neutral ones
BY_TITLE = sorted(r for r, c in ROWS.items() if c[4] == "VALID" and "MQTT per" in c[3])
# documents kept outside the shared corpus, generated and type-checked in the same run
EXTRA = {"faststream_export": REPO / "tests/codegen/data/faststream_export/asyncapi.json"}
NOT_MQTT = sorted(
    r
    for r, c in ROWS.items()
    if c[4] == "VALID" and "mqtt" not in c[3] and c[3] not in ("-",) and "MQTT per" not in c[3]
)


def package_name(rel: str) -> str:
    return "corpus_" + re.sub(r"\W", "_", rel).lower()


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("corpus")
    for rel in [*VALID_MQTT, *VALID_NEUTRAL, *BY_TITLE]:
        pkg = package_name(rel)
        write_package(generate_package(CORPUS / rel, pkg).files, out / pkg)
    for pkg, path in EXTRA.items():
        write_package(generate_package(path, pkg).files, out / pkg)
    return out


def test_lists_are_not_empty() -> None:
    assert len(VALID_MQTT) >= 30 and NOT_MQTT and BY_TITLE


def test_every_document_the_parser_accepts_is_covered_here() -> None:
    """Each parser-valid document is generated, refused as not MQTT, or refused for a named
    unsupported construct: none is left out of this file."""
    valid = {r for r, c in ROWS.items() if c[4] == "VALID"}
    lists = [VALID_MQTT, VALID_NEUTRAL, BY_TITLE, NOT_MQTT, sorted(UNSUPPORTED)]
    assert sum(len(rows) for rows in lists) == len(valid)  # no document in two lists
    assert set().union(*lists) == valid


@pytest.mark.parametrize("rel", sorted(UNSUPPORTED))
def test_an_unsupported_construct_gets_a_precise_diagnostic(
    corpus: Path, rel: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rule, pointer = UNSUPPORTED[rel]
    with pytest.raises(ContractError) as info:
        load_contract(corpus / rel)
    assert not isinstance(info.value, NotMQTTError)
    assert [(d.rule, d.location.pointer) for d in info.value.diagnostics] == [(rule, pointer)]
    assert main(["generate", str(corpus / rel), "--package", "x", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert f"[{rule}]" in err and "Traceback" not in err and list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("rel", VALID_MQTT + VALID_NEUTRAL + BY_TITLE)
def test_generated_package_imports(generated: Path, rel: str) -> None:
    sys.path.insert(0, str(generated))
    try:
        module = importlib.import_module(package_name(rel))
        client = getattr(module, module.__all__[3])
        assert client.__name__.endswith("Client")
        assert len(module.channels.CHANNELS) >= 1
    finally:
        sys.path.remove(str(generated))


def test_all_generated_packages_pass_mypy_strict(generated: Path, tmp_path: Path) -> None:
    proc = mypy_strict(generated, tmp_path)
    assert proc.returncode == 0, proc.stdout[-5000:] + proc.stderr[-2000:]


@pytest.mark.parametrize("rel", NOT_MQTT)
def test_non_mqtt_documents_are_refused_clearly(corpus: Path, rel: str) -> None:
    with pytest.raises(NotMQTTError) as info:
        load_contract(corpus / rel)
    assert info.value.rules == {"not-mqtt"}
    assert "not MQTT" in str(info.value)


def test_non_mqtt_cli_exit_2_without_traceback(
    corpus: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(
        [
            "generate",
            str(corpus / "spec-v3.0.0/streetlights-kafka-asyncapi.yml"),
            "--package",
            "x",
            "--out",
            str(tmp_path),
        ]
    )
    err = capsys.readouterr().err
    assert code == 2
    assert "[not-mqtt]" in err and "kafka" in err and "Traceback" not in err
    assert list(tmp_path.iterdir()) == []


def test_v26_publish_subscribe_semantics(corpus: Path) -> None:
    """2.x ``subscribe`` = the application sends; ``publish`` = it receives."""
    contract, _ = load_contract(corpus / "spec-v2.6.0/streetlights-mqtt.yml")
    actions = {op.id: op.action for op in contract.operations}
    assert actions["receiveLightMeasurement"] == "receive"  # a 2.x `publish`
    assert actions["turnOn"] == "send"  # a 2.x `subscribe`
    v3, _ = load_contract(corpus / "spec-v3.0.0/streetlights-mqtt-asyncapi.yml")
    assert {op.id: op.action for op in v3.operations}["turnOn"] == "send"
    # qos comes from operation traits in 3.0 and from the operation binding in 2.6
    assert {ch.publish_policy.qos for ch in v3.channels} == {1}
    assert {ch.publish_policy.qos for ch in contract.channels} == {1}


def test_the_faststream_export_imports_and_its_models_validate(generated: Path) -> None:
    """The real ``faststream docs gen`` export (tests/codegen/data/faststream_export) is in the
    mypy run above; its package imports and its models take what the FastStream service sends."""
    sys.path.insert(0, str(generated))
    try:
        module = importlib.import_module("faststream_export")
        models = module.models
        state = models.GateState.model_validate({"gate_id": "g1", "state": "moving", "battery": 90})
        assert state.state == "moving"
        assert models.GateCommand(open=True).model_dump(mode="json", exclude_none=True) == {
            "open": True
        }
        assert module.channels.CHANNELS.keys() == {
            "gate_gate_id_command_on_gate_command",
            "parking_levels_on_level",
            "gate_gate_id_state_publisher",
        }
    finally:
        sys.path.remove(str(generated))
