"""The Markdown page: one section per topic with its facts, parameters, fields and example."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from docs_support import LAB, STREETLIGHTS_V3, STREETLIGHTS_V26, TARS_CONTRACT, corpus_contract

from mqttwire_codegen.api import load_contract
from mqttwire_codegen.docgen import render_docs
from mqttwire_codegen.docgen.examples import ContractExamples
from mqttwire_codegen.docgen.graph import build_graph
from mqttwire_codegen.docgen.markdown import render_markdown
from mqttwire_codegen.ir import Contract


def _render(contract: Contract, source: Path) -> str:
    return render_markdown(
        contract,
        build_graph(contract),
        contract_ref="contract.yaml",
        svg_ref="topics.svg",
        examples=ContractExamples(source),
    )


def _section(text: str, anchor: str) -> str:
    start = text.index(f'<a id="{anchor}"></a>')
    end = text.find('<a id="', start + 1)
    return text[start : end if end != -1 else len(text)]


def _check_links(text: str) -> None:
    anchors = set(re.findall(r'<a id="([^"]+)"></a>', text))
    links = set(re.findall(r"\]\(#([^)]+)\)", text))
    assert links <= anchors, f"dangling links: {sorted(links - anchors)}"


def _json_blocks(text: str) -> list[object]:
    return [json.loads(b) for b in re.findall(r"```json\n(.*?)\n```", text, re.S)]


@pytest.fixture(scope="module")
def lab_md() -> str:
    return _render(load_contract(LAB)[0], LAB)


def test_lab_topic_section_has_every_fact(lab_md: str) -> None:
    section = _section(lab_md, "topic-sensor-reading")
    assert "### `lab/{room}/sensor/{kind}`" in section
    assert "| Publishers → subscribers | sensor-node → dashboard, recorder |" in section
    assert "| Publish | QoS 0, not retained |" in section
    assert "| Envelope | yes; event type `sensor.reading` |" in section
    assert "| `room` | Room the sensor is in. | `kitchen`, `hall` | `kitchen` |  |" in section
    assert '| `unit` | string | yes |  | one of: `"C"`, `"F"` |  |' in section
    assert "[Sample](#model-sample)" in section and "[Calibration](#model-calibration)" in section
    assert "from the contract" in section
    (wire,) = _json_blocks(section)
    assert isinstance(wire, dict) and wire["data"]["value"] == 21.5


def test_lab_bare_topic_and_constraints(lab_md: str) -> None:
    section = _section(lab_md, "topic-lamp-set")
    assert "| Envelope | no (bare JSON payload) |" in section
    assert "| `brightness` | integer | no | `80` | 0..100 |  |" in section
    assert "| `note` | string \\| null | no | `null` | length ≤ 40 |  |" in section
    (example,) = _json_blocks(section)
    assert example == {"state": "on", "brightness": 80, "note": None, "tag": "abc"}


def test_lab_reply_relations_both_ways(lab_md: str) -> None:
    query = _section(lab_md, "topic-lamp-query")
    assert "reply on [`lab/lamp/state`](#topic-lamp-state)" in query
    assert "partial replies on [`lab/lamp/progress`](#topic-lamp-progress)" in query
    assert "`request_lamp_query`" in query
    assert "reply to [`lab/lamp/query`](#topic-lamp-query)" in _section(lab_md, "topic-lamp-state")
    state = _section(lab_md, "topic-lamp-state")
    assert "| Publish | QoS 1, retained |" in state and "| Subscribe | QoS 1, retained |" in state


def test_lab_page_structure(lab_md: str) -> None:
    for heading in ("## Overview", "## Services and topics", "## Services", "## Topics"):
        assert f"\n{heading}\n" in lab_md
    assert "```mermaid\nflowchart LR\n" in lab_md
    assert "![Services and topics](topics.svg)" in lab_md
    assert "\n## Models\n" in lab_md
    _check_links(lab_md)
    assert lab_md.endswith("\n") and not lab_md.endswith("\n\n")


@pytest.mark.parametrize("path", [STREETLIGHTS_V3, STREETLIGHTS_V26], ids=lambda p: p.name)
def test_streetlights_pages(path: Path) -> None:
    contract = corpus_contract(path)
    text = _render(contract, path)
    assert text.count("\n### `smartylighting/streetlights/1/0/") == 4
    assert "names no services" in text
    assert "| Publish | QoS 1, not retained |" in text
    assert "| `streetlightId` | The ID of the streetlight. |" in text
    assert "| `percentage` | integer | no |  | 0..100 | Percentage to which" in text
    assert "| Envelope | no (bare JSON payload) |" in text
    _check_links(text)
    for block in _json_blocks(text):
        assert isinstance(block, dict)


def test_tars_page_covers_every_channel_and_links_resolve() -> None:
    contract, _ = load_contract(TARS_CONTRACT)
    text = _render(contract, TARS_CONTRACT)
    for ch in contract.channels:
        assert f"\n### `{ch.topic.address}`\n" in text
    health = _section(text, "topic-system-health")
    assert "| Envelope | per message:" in health and "`Esp32HealthPing`" in health
    assert "every service (*)" in health
    _check_links(text)
    assert len(_json_blocks(text)) >= len(contract.channels)


def test_render_docs_paths_are_relative_and_output_stable(tmp_path: Path) -> None:
    contract, _ = load_contract(LAB)
    md, svg = tmp_path / "out" / "topics.md", tmp_path / "img" / "graph.svg"
    files = render_docs(contract, md, svg)
    assert set(files) == {md, svg}
    assert "![Services and topics](../img/graph.svg)" in files[md]
    assert str(tmp_path) not in files[md] and str(tmp_path) not in files[svg]
    assert render_docs(load_contract(LAB)[0], md, svg) == files
