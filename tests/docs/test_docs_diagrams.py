"""The service graph, its Mermaid source, its layered layout and its SVG."""

from __future__ import annotations

import itertools
import re
import xml.etree.ElementTree as ET

from docs_support import LAB, STREETLIGHTS_V3, STREETLIGHTS_V26, TARS_CONTRACT, corpus_contract

from mqttwire_codegen.api import load_contract
from mqttwire_codegen.docgen.graph import build_graph
from mqttwire_codegen.docgen.layout import layered, spread
from mqttwire_codegen.docgen.mermaid import render_mermaid
from mqttwire_codegen.docgen.svg import render_svg

SVG = "{http://www.w3.org/2000/svg}"


def test_graph_uses_declared_services_and_replies() -> None:
    graph = build_graph(load_contract(LAB)[0])
    assert graph.declared
    assert graph.services == ("sensor-node", "dashboard", "recorder", "lamp")
    assert graph.topic("lamp_set").publishers == ("dashboard",)
    links = {(r.request, r.reply, r.kind) for r in graph.replies}
    assert links == {
        ("lamp_query", "lamp_state", "reply"),
        ("lamp_query", "lamp_progress", "stream"),
    }


def test_graph_without_declared_services_uses_the_application() -> None:
    contract = corpus_contract(STREETLIGHTS_V3)
    graph = build_graph(contract)
    assert not graph.declared
    assert graph.services == (contract.title,)
    measured = graph.topic("lightingMeasured")
    assert measured.publishers == () and measured.subscribers == (contract.title,)
    assert graph.topic("lightsDim").publishers == (contract.title,)


def test_mermaid_flowchart() -> None:
    text = render_mermaid(build_graph(load_contract(LAB)[0]))
    lines = text.splitlines()
    assert lines[0] == "flowchart LR"
    assert '  s0(["sensor-node"])' in lines
    assert '  t0["lab/{room}/sensor/{kind}<br/>QoS 0"]' in lines
    assert '  t1["lab/lamp/set<br/>QoS 1 · bare"]' in lines
    assert "  s0 --> t0" in lines and "  t0 --> s1" in lines
    assert "  t2 -. reply .-> t3" in lines and "  t2 -. stream .-> t4" in lines
    assert len([line for line in lines if "-->" in line]) == 11


def test_mermaid_escapes_quotes_and_wildcards() -> None:
    from mqttwire_codegen.docgen.mermaid import _label

    assert _label('a "b" <c> #', "x") == '"a #quot;b#quot; #lt;c#gt; #35;<br/>x"'


def test_layout_is_deterministic_and_complete() -> None:
    graph = build_graph(load_contract(TARS_CONTRACT)[0])
    first, second = layered(graph), layered(graph)
    assert first == second
    assert sorted(first.topics) == sorted(t.channel.id for t in graph.topics)
    assert set(first.publishers) == {p for t in graph.topics for p in t.publishers}
    assert set(first.subscribers) == {s for t in graph.topics for s in t.subscribers}


def test_spread_keeps_gaps_and_bounds() -> None:
    ys = spread([10, 10, 10, 95], gap=10, top=0, bottom=100)
    assert ys == [10, 20, 30, 95]
    crowded = spread([50, 50, 50], gap=30, top=0, bottom=70)
    assert crowded == [10, 40, 70]
    assert all(b - a >= 30 for a, b in itertools.pairwise(crowded))


def _parse(svg: str) -> ET.Element:
    root = ET.fromstring(svg.encode())
    assert root.tag == f"{SVG}svg"
    return root


def test_svg_is_well_formed_and_shows_every_topic_and_service() -> None:
    contract = load_contract(LAB)[0]
    graph = build_graph(contract)
    svg = render_svg(graph, "Lab 2.1.0")
    root = _parse(svg)
    texts = [t.text for t in root.iter(f"{SVG}text")]
    for node in graph.topics:
        assert node.channel.topic.address in texts
    assert texts.count("dashboard") == 2  # publisher on the left, subscriber on the right
    assert "lamp" in texts and "recorder" in texts
    assert float(root.get("width", "0")) > 0 and root.get("viewBox", "").startswith("0 0 ")
    # one edge per (publisher, topic) and (topic, subscriber) pair, plus 2 reply arcs
    curves = [p for p in root.iter(f"{SVG}path") if " C" in p.get("d", "")]
    assert len(curves) == 11 + 2


def test_svg_is_deterministic_without_clock_or_paths() -> None:
    graph = build_graph(load_contract(TARS_CONTRACT)[0])
    a, b = render_svg(graph, "TARS 1.0.0"), render_svg(graph, "TARS 1.0.0")
    assert a == b
    _parse(a)
    assert not re.search(r"20\d\d-\d\d-\d\d", a)
    assert "/work/" not in a and "\\" not in a


def test_svg_for_a_2_6_contract() -> None:
    contract = corpus_contract(STREETLIGHTS_V26)
    root = _parse(render_svg(build_graph(contract), contract.title))
    texts = [t.text for t in root.iter(f"{SVG}text")]
    assert contract.title in texts  # the one application, on both sides
    assert any(t and t.startswith("smartylighting/streetlights/1/0/event/") for t in texts)
