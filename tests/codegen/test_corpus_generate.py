"""Every MQTT document the official parser accepts generates a package that imports and passes
``mypy --strict`` (one mypy run over all of them); non-MQTT documents get a clear message."""

from __future__ import annotations

import importlib
import re
import sys
from pathlib import Path

import pytest
from codegen_support import CORPUS, corpus_rows, mypy_strict

from mqttwire_codegen.api import load_contract
from mqttwire_codegen.cli import main
from mqttwire_codegen.diagnostics import NotMQTTError
from mqttwire_codegen.pipeline import generate_package
from mqttwire_codegen.writer import write_package

ROWS = corpus_rows() if CORPUS.is_dir() else {}
VALID_MQTT = sorted(r for r, c in ROWS.items() if c[4] == "VALID" and "mqtt" in c[3])
# protocol-neutral documents (no servers, no bindings) are generated too, as MQTT topics
# (except the OpenAPI-schemaFormat one: only JSON Schema / AsyncAPI schema payloads are supported)
VALID_NEUTRAL = sorted(
    r
    for r, c in ROWS.items()
    if c[4] == "VALID" and c[3] == "-" and "openapi-schema-parser" not in r
)
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
    for rel in [
        *VALID_MQTT,
        *VALID_NEUTRAL,
        "community/bellflight-AVR-Python-Libraries/asyncapi.yml",
    ]:
        pkg = package_name(rel)
        write_package(generate_package(CORPUS / rel, pkg).files, out / pkg)
    return out


def test_lists_are_not_empty() -> None:
    assert len(VALID_MQTT) >= 30 and NOT_MQTT


@pytest.mark.parametrize("rel", VALID_MQTT + VALID_NEUTRAL)
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
