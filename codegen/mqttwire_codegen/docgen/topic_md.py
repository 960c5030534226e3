"""One topic's Markdown section: facts table, parameters, payloads with fields and examples."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from mqttwire_codegen.docgen.examples import ContractExamples, example_payload, wire_example
from mqttwire_codegen.docgen.fields import (
    Schema,
    constraints,
    field_rows,
    is_object_schema,
    type_text,
)
from mqttwire_codegen.docgen.graph import ALL_SERVICES, ServiceGraph, TopicNode, service_label
from mqttwire_codegen.docgen.md import Anchors, code, one_line, paragraph, table
from mqttwire_codegen.ir import Channel, Contract, DeliveryPolicy, Message

FIELD_HEADERS = ("Field", "Type", "Required", "Default", "Constraints", "Description")


@dataclass(frozen=True, slots=True)
class DocContext:
    contract: Contract
    graph: ServiceGraph
    anchors: Anchors
    examples: ContractExamples | None
    nested: frozenset[str]  # models documented in the Models section

    @property
    def defs(self) -> Mapping[str, Schema]:
        return self.contract.schema_defs

    def model_link(self, name: str) -> str:
        if name not in self.nested:
            return name
        return self.anchors.link("model", name, name)

    def topic_link(self, channel_id: str) -> str:
        address = self.contract.channel(channel_id).address_text
        return self.anchors.link("topic", channel_id, code(address))


def policy_text(policy: DeliveryPolicy) -> str:
    text = f"QoS {policy.qos}, " + ("retained" if policy.retain else "not retained")
    if policy.message_expiry_interval is not None:
        text += f", expires after {policy.message_expiry_interval} s"
    return text


def direction_text(node: TopicNode) -> str:
    actions = {op.action for op in node.operations}
    if actions == {"send", "receive"}:
        return "publish and subscribe"
    if actions == {"send"}:
        return "publish (send)"
    if actions == {"receive"}:
        return "subscribe (receive)"
    return "none declared"


def names(items: tuple[str, ...]) -> str:
    return ", ".join(service_label(s) for s in items) if items else "—"


def envelope_text(channel: Channel) -> str:
    wrapped = [m for m in channel.messages if m.envelope]
    bare = [m for m in channel.messages if not m.envelope]
    types = ", ".join(dict.fromkeys(code(m.name) for m in wrapped))
    if wrapped and not bare:
        return f"yes; event type {types}"
    if bare and not wrapped:
        return "no (bare JSON payload)"
    if not channel.messages:
        return "yes" if channel.envelope else "no"
    bare_keys = ", ".join(code(m.key) for m in bare)
    return f"per message: yes for event types {types}; no for {bare_keys}"


def correlation_text(correlation: str) -> str:
    if correlation == "envelope-id":
        return "the reply's envelope `id` equals the request's"
    return f"by {code(correlation)}"


def reply_text(ctx: DocContext, channel: Channel) -> list[str]:
    parts: list[str] = []
    for link in ctx.graph.replies:
        if link.request == channel.id:
            what = "reply on" if link.kind == "reply" else "partial replies on"
            text = f"{what} {ctx.topic_link(link.reply)}"
            if link.kind == "reply":
                text += f", correlated: {correlation_text(link.correlation)}"
                address = link.operation.reply.address if link.operation.reply else None
                if address:
                    text += f" (reply address {code(address)})"
            parts.append(text)
        if link.reply == channel.id:
            what = "reply to" if link.kind == "reply" else "partial replies to"
            parts.append(f"{what} {ctx.topic_link(link.request)}")
    return parts


def python_methods(ctx: DocContext, node: TopicNode) -> str:
    ch = node.channel
    methods = [] if ch.topic.has_wildcards else [ch.publish_name]
    methods += [ch.subscribe_name, f"@on_{ch.py_name}"]
    if any(op.reply is not None for op in node.operations):
        methods.append(f"request_{ch.py_name}")
    return f"{ctx.contract.client_name}: " + ", ".join(code(m) for m in methods)


def facts(ctx: DocContext, node: TopicNode) -> list[str]:
    ch = node.channel
    rows = [
        ("Address", code(ch.address_text)),
        ("Channel", code(ch.id)),
        ("Direction", direction_text(node)),
        ("Publishers → subscribers", f"{names(node.publishers)} → {names(node.subscribers)}"),
        ("Publish", policy_text(ch.publish_policy)),
        ("Subscribe", policy_text(ch.subscribe_policy)),
        ("Envelope", envelope_text(ch)),
    ]
    content_types = dict.fromkeys(m.content_type for m in ch.messages if m.content_type)
    if content_types:
        rows.append(("Content type", ", ".join(code(c) for c in content_types)))
    replies = reply_text(ctx, ch)
    if replies:
        rows.append(("Request / reply", "; ".join(replies)))
    rows.append(("Python", python_methods(ctx, node)))
    return table(("Property", "Value"), rows)


def parameters(channel: Channel) -> list[str]:
    if not channel.topic.parameters:
        return []
    rows = []
    for p in channel.topic.parameters:
        rows.append(
            (
                code(p.name),
                one_line(p.description),
                ", ".join(code(v) for v in p.enum) if p.enum else "any (no `/`, `+`, `#`)",
                code(p.default) if p.default is not None else "—",
                ", ".join(code(v) for v in p.examples),
            )
        )
    headers = ("Parameter", "Description", "Allowed values", "Default", "Examples")
    return ["**Topic parameters**", "", *table(headers, rows), ""]


def field_table(ctx: DocContext, schema: Schema) -> list[str]:
    if not is_object_schema(schema, ctx.defs):
        text = type_text(schema, ctx.model_link)
        extra = constraints(schema)
        return [f"Payload: {text}" + (f" ({'; '.join(extra)})" if extra else ""), ""]
    rows = [
        (
            code(f.name),
            f.type,
            "yes" if f.required else "no",
            code(f.default) if f.default else (f"auto: {f.auto}" if f.auto else ""),
            "; ".join(f.constraints),
            f.description,
        )
        for f in field_rows(schema, ctx.defs, ctx.model_link)
    ]
    if not rows:
        return ["Payload: an object without declared fields.", ""]
    return [*table(FIELD_HEADERS, rows), ""]


def example_block(ctx: DocContext, node: TopicNode, message: Message) -> list[str]:
    payload, origin = example_payload(message, ctx.defs, ctx.examples)
    concrete = [p for p in node.publishers if p != ALL_SERVICES]
    source = concrete[0] if concrete and ALL_SERVICES not in node.publishers else "<service>"
    value: Any = wire_example(message, payload, source)
    where = "from the contract" if origin == "contract" else "synthesised from the schema"
    shape = "on the wire, in the envelope" if message.envelope else "on the wire"
    body = json.dumps(value, indent=2, ensure_ascii=False)
    return [f"Example ({shape}; {where}):", "", "```json", body, "```", ""]


def message_groups(channel: Channel) -> list[list[Message]]:
    """Messages that share a payload model and envelope flag are documented together."""
    groups: dict[tuple[str, bool], list[Message]] = {}
    for m in channel.messages:
        groups.setdefault((m.class_name, m.envelope), []).append(m)
    return list(groups.values())


def message_section(ctx: DocContext, node: TopicNode, group: list[Message]) -> list[str]:
    first = group[0]
    wire = "enveloped" if first.envelope else "bare JSON"
    out = [f"#### Payload {code(first.class_name)} ({wire})", ""]
    for m in group:
        label = f"event type {code(m.name)}" if m.envelope else f"message {code(m.key)}"
        text = " ".join(t for t in (one_line(m.summary), one_line(m.description)) if t)
        out.append(f"- {label}" + (f": {text}" if text else ""))
    out.append("")
    schema_doc = one_line(first.payload_schema.get("description"))
    if schema_doc:
        out += [schema_doc, ""]
    out += field_table(ctx, first.payload_schema)
    if first.headers_schema:
        out += ["Headers:", "", *field_table(ctx, first.headers_schema)]
    out += example_block(ctx, node, first)
    return out


def operations_details(node: TopicNode) -> list[str]:
    items = []
    for op in node.operations:
        text = " ".join(t for t in (one_line(op.summary), one_line(op.description)) if t)
        items.append(f"- {code(op.id)} ({op.action})" + (f": {text}" if text else ""))
    if not items:
        return []
    return ["<details><summary>Operations</summary>", "", *items, "", "</details>", ""]


def topic_section(ctx: DocContext, node: TopicNode) -> list[str]:
    ch = node.channel
    out = [ctx.anchors.tag("topic", ch.id), "", f"### {code(ch.address_text)}", ""]
    description = paragraph(ch.description)
    if description:
        out += [description, ""]
    out += [*facts(ctx, node), ""]
    out += parameters(ch)
    for group in message_groups(ch):
        out += message_section(ctx, node, group)
    out += operations_details(node)
    return out
