"""`mqttwire diff` on the constructed corpus pairs: each pair's classification is written down."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from shared_data import CORPUS as SHARED_CORPUS

from mqttwire_codegen.api import load_contract
from mqttwire_codegen.compat.changes import Breaks
from mqttwire_codegen.compat.contract_diff import ContractDiff
from mqttwire_codegen.diagnostics import ContractError
from mqttwire_codegen.ir import Contract

REPO = Path(__file__).resolve().parents[2]
CORPUS = SHARED_CORPUS
PAIRS = CORPUS / "constructed" / "diff"
STREETLIGHTS_26 = CORPUS / "spec-v2.6.0" / "streetlights-mqtt.yml"

P, S, B, N = Breaks.PUBLISHERS, Breaks.SUBSCRIBERS, Breaks.BOTH, Breaks.NOBODY

# variant -> (forward [(rule, breaks)], reverse [(rule, breaks)])
EXPECTED: dict[str, tuple[list[tuple[str, Breaks]], list[tuple[str, Breaks]]]] = {
    "01-remove-required-field": (
        [("property-removed-required-closed", B)],
        [("property-added-required-closed", B)],
    ),
    "02-add-optional-field": (
        [("property-added-optional-closed", S)],
        [("property-removed-optional-closed", P)],
    ),
    "03-add-required-field": (
        [("property-added-required-closed", B)],
        [("property-removed-required-closed", B)],
    ),
    "04-change-address": ([("address-changed", B)], [("address-changed", B)]),
    "05-change-qos": ([("qos-lowered", S)], [("qos-raised", N)]),
    "06-change-retain": ([("retain-disabled", S)], [("retain-enabled", S)]),
    "07-remove-enum-value": ([("enum-value-removed", P)], [("enum-value-added", S)]),
    "08-add-enum-value": ([("enum-value-added", S)], [("enum-value-removed", P)]),
    "09-change-field-type": ([("type-changed", B)], [("type-changed", B)]),
    "10-remove-operation": ([("receive-operation-removed", P)], [("operation-added", N)]),
    "11-change-action": ([("action-changed", B)], [("action-changed", B)]),
    "12-remove-parameter-enum-value": (
        [("parameter-enum-narrowed", P)],
        [("parameter-enum-widened", S)],
    ),
    "13-optional-to-required": (
        [("property-became-required", P)],
        [("property-became-optional", S)],
    ),
    "14-rename-message-name": ([("message-renamed", B)], [("message-renamed", B)]),
    "15-info-version-bump": ([("info-version-changed", N)], [("info-version-changed", N)]),
    "16-change-content-type": ([("content-type-changed", B)], [("content-type-changed", B)]),
    "17-additional-properties-true": (
        [("additional-properties-opened", S)],
        [("additional-properties-closed", P)],
    ),
    "v2-01-streetlights-rename-topic": (
        [("channel-added", N), ("channel-removed", B)],
        [("channel-added", N), ("channel-removed", B)],
    ),
    "v2-02-streetlights-qos-1-to-0": ([("qos-lowered", S)] * 4, [("qos-raised", N)] * 4),
}


def _load(path: Path) -> Contract:
    return load_contract(path)[0]


def _old_side(variant: str) -> Path:
    return STREETLIGHTS_26 if variant.startswith("v2-") else PAIRS / "base.yaml"


def _classify(old: Contract, new: Contract) -> list[tuple[str, Breaks]]:
    return sorted((c.rule.id, c.breaks) for c in ContractDiff(old, new).changes())


def test_every_constructed_pair_has_an_expectation() -> None:
    variants = {p.stem for p in PAIRS.glob("*.yaml")} - {"base"}
    assert variants == set(EXPECTED)


@pytest.mark.parametrize("variant", sorted(EXPECTED))
def test_pair_is_classified(variant: str) -> None:
    forward, reverse = EXPECTED[variant]
    old, new = _load(_old_side(variant)), _load(PAIRS / f"{variant}.yaml")
    assert _classify(old, new) == sorted(forward)
    assert _classify(new, old) == sorted(reverse)


@pytest.mark.parametrize("variant", sorted(EXPECTED))
def test_changes_carry_pointers_and_explanations(variant: str) -> None:
    old, new = _load(_old_side(variant)), _load(PAIRS / f"{variant}.yaml")
    for change in ContractDiff(old, new).changes():
        assert change.old_pointer or change.new_pointer
        for pointer in (change.old_pointer, change.new_pointer):
            assert pointer is None or "#/" in pointer
        assert change.rule.why and change.detail


def _corpus_documents() -> list[Path]:
    found = []
    for path in sorted(CORPUS.rglob("*.y*ml")) + sorted(CORPUS.rglob("*.json")):
        try:
            load_contract(path)
        except ContractError:
            continue
        found.append(path)
    return found


def test_a_document_compared_with_itself_has_no_changes() -> None:
    documents = _corpus_documents()
    assert len(documents) >= 20
    for path in documents:
        contract = _load(path)
        assert ContractDiff(contract, contract).changes() == [], path


def test_the_same_api_in_26_and_30_has_no_wire_changes() -> None:
    old = _load(STREETLIGHTS_26)
    new = _load(CORPUS / "spec-v3.0.0" / "streetlights-mqtt-asyncapi.yml")
    assert [c for c in ContractDiff(old, new).changes() if c.breaking] == []


def _cli(*args: str, cwd: Path = REPO) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "mqttwire_codegen.cli", "diff", *args]
    return subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=120)


def test_cli_exit_codes_and_formats() -> None:
    base = str(PAIRS / "base.yaml")
    compatible = _cli(base, str(PAIRS / "15-info-version-bump.yaml"))
    assert compatible.returncode == 0, compatible.stderr
    assert "info-version-changed" in compatible.stdout

    breaking = _cli(base, str(PAIRS / "03-add-required-field.yaml"), "--format", "json")
    assert breaking.returncode == 1
    report = json.loads(breaking.stdout)
    assert report["breaking"] is True
    assert report["changes"][0]["rule"] == "property-added-required-closed"
    assert report["changes"][0]["new"].endswith("/properties/ts")

    markdown = _cli(base, str(PAIRS / "05-change-qos.yaml"), "--format", "markdown")
    assert markdown.returncode == 1
    assert "| ❌ | `qos-lowered` |" in markdown.stdout

    missing = _cli(base, str(PAIRS / "does-not-exist.yaml"))
    assert missing.returncode == 2
    assert "Traceback" not in missing.stderr


def _git(repo: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True)


def test_git_sources_and_the_gate(tmp_path: Path) -> None:
    """git:REV:path reads a revision (with its schema files); the gate honours a major bump."""
    repo = tmp_path / "repo"
    (repo / "api").mkdir(parents=True)
    _git(repo, "init", "-q")
    _git(repo, "config", "user.email", "t@example.invalid")
    _git(repo, "config", "user.name", "t")
    text = (PAIRS / "base.yaml").read_text()
    (repo / "api" / "contract.yaml").write_text(text)
    _git(repo, "add", ".")
    _git(repo, "commit", "-qm", "v1")

    narrowed = (PAIRS / "07-remove-enum-value.yaml").read_text()
    (repo / "api" / "contract.yaml").write_text(narrowed)
    result = _cli("git:HEAD:api/contract.yaml", "api/contract.yaml", "--gate", cwd=repo)
    assert result.returncode == 1
    assert "enum-value-removed" in result.stdout

    allow = repo / "allow.yaml"
    allow.write_text(
        "- rule: enum-value-removed\n"
        "  pointer: '#/components/messages/TemperatureReading/payload/properties/unit/enum'\n"
        "  reason: no publisher ever sent K\n"
    )
    allowed = _cli(
        "git:HEAD:api/contract.yaml", "api/contract.yaml", "--gate", "--allow", str(allow), cwd=repo
    )
    assert allowed.returncode == 0, allowed.stdout + allowed.stderr
    assert "no publisher ever sent K" in allowed.stderr

    (repo / "api" / "contract.yaml").write_text(
        narrowed.replace("version: 1.0.0", "version: 2.0.0")
    )
    bumped = _cli("git:HEAD:api/contract.yaml", "api/contract.yaml", "--gate", cwd=repo)
    assert bumped.returncode == 0, bumped.stdout + bumped.stderr
    assert "major version bumped" in bumped.stderr

    bad_rev = _cli("git:no-such-rev:api/contract.yaml", "api/contract.yaml", cwd=repo)
    assert bad_rev.returncode == 2


def test_every_rule_is_documented() -> None:
    from mqttwire_codegen.compat.rules import ALL_RULES

    doc = (REPO / "docs" / "contract-evolution.md").read_text()
    missing = [rule.id for rule in ALL_RULES if f"| `{rule.id}` | {rule.breaks.value} |" not in doc]
    assert missing == []
