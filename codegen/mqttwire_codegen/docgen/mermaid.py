"""A Mermaid ``flowchart LR`` of the service graph (code hosts render it inline in Markdown)."""

from __future__ import annotations

from mqttwire_codegen.docgen.graph import ServiceGraph, service_label


def _escape(text: str) -> str:
    for char, code in (("#", "#35;"), ('"', "#quot;"), ("<", "#lt;"), (">", "#gt;")):
        text = text.replace(char, code)
    return text


def _label(*lines: str) -> str:
    """A quoted Mermaid label; quotes and markup characters become entity codes."""
    return '"' + "<br/>".join(_escape(line) for line in lines) + '"'


def topic_caption(qos: int, retain: bool, envelope: bool) -> str:
    parts = [f"QoS {qos}"]
    if retain:
        parts.append("retained")
    if not envelope:
        parts.append("bare")
    return " · ".join(parts)


def render_mermaid(graph: ServiceGraph) -> str:
    """The diagram source, without the surrounding code fence."""
    services = {name: f"s{i}" for i, name in enumerate(graph.services)}
    topics = {node.channel.id: f"t{i}" for i, node in enumerate(graph.topics)}
    lines = ["flowchart LR"]
    for name, node_id in services.items():
        lines.append(f"  {node_id}([{_label(service_label(name))}])")
    for node in graph.topics:
        ch = node.channel
        enveloped = any(m.envelope for m in ch.messages) if ch.messages else ch.envelope
        caption = topic_caption(ch.publish_policy.qos, ch.publish_policy.retain, enveloped)
        lines.append(f"  {topics[ch.id]}[{_label(ch.address_text, caption)}]")
    for node in graph.topics:
        tid = topics[node.channel.id]
        lines += [f"  {services[p]} --> {tid}" for p in node.publishers]
        lines += [f"  {tid} --> {services[s]}" for s in node.subscribers]
    for link in graph.replies:
        lines.append(f"  {topics[link.request]} -. {link.kind} .-> {topics[link.reply]}")
    lines.append("  classDef service fill:#e8f0fe,stroke:#3b5b92,color:#14213d")
    lines.append("  classDef topic fill:#fff6e0,stroke:#b7791f,color:#3d2c00")
    if services:
        lines.append(f"  class {','.join(services.values())} service")
    if topics:
        lines.append(f"  class {','.join(topics.values())} topic")
    return "\n".join(lines) + "\n"
