"""Who publishes and who subscribes to each topic: the graph the Markdown, Mermaid and SVG share.

Services come from the channels' ``x-publishers``/``x-subscribers``. A contract that declares
neither anywhere describes one application: the graph then has a single node named after the
contract, publishing where it has a ``send`` operation and subscribing where it has ``receive``.
"""

from __future__ import annotations

from dataclasses import dataclass

from mqttwire_codegen.ir import Channel, Contract, Operation, Reply

ALL_SERVICES = "*"


@dataclass(frozen=True, slots=True)
class TopicNode:
    channel: Channel
    publishers: tuple[str, ...]
    subscribers: tuple[str, ...]
    operations: tuple[Operation, ...]


@dataclass(frozen=True, slots=True)
class ReplyLink:
    """A request topic and the topic its reply (or its stream of partial replies) comes back on."""

    request: str  # channel id
    reply: str  # channel id
    kind: str  # "reply" | "stream"
    correlation: str
    operation: Operation


@dataclass(frozen=True, slots=True)
class ServiceGraph:
    topics: tuple[TopicNode, ...]
    replies: tuple[ReplyLink, ...]
    declared: bool  # True when the contract names its services (x-publishers/x-subscribers)

    @property
    def services(self) -> tuple[str, ...]:
        """Every service, in order of first appearance (publishers before subscribers)."""
        seen: dict[str, None] = {}
        for topic in self.topics:
            for name in (*topic.publishers, *topic.subscribers):
                seen.setdefault(name, None)
        return tuple(seen)

    def topic(self, channel_id: str) -> TopicNode:
        for node in self.topics:
            if node.channel.id == channel_id:
                return node
        raise KeyError(channel_id)


def service_label(name: str) -> str:
    return "every service (*)" if name == ALL_SERVICES else name


def _reply_links(contract: Contract) -> list[ReplyLink]:
    known = {ch.id for ch in contract.channels}
    links: list[ReplyLink] = []
    for op in contract.operations:
        reply: Reply | None = op.reply
        if reply is None:
            continue
        if reply.channel_id in known:
            links.append(ReplyLink(op.channel_id, reply.channel_id, "reply", reply.correlation, op))
        stream = op.reply_stream_channel_id
        if stream is not None and stream in known:
            links.append(ReplyLink(op.channel_id, stream, "stream", reply.correlation, op))
    return links


def build_graph(contract: Contract) -> ServiceGraph:
    declared = any(ch.publishers or ch.subscribers for ch in contract.channels)
    app = contract.title
    nodes: list[TopicNode] = []
    for ch in contract.channels:
        ops = tuple(op for op in contract.operations if op.channel_id == ch.id)
        if declared:
            pubs, subs = ch.publishers, ch.subscribers
        else:
            actions = {op.action for op in ops}
            pubs = (app,) if "send" in actions else ()
            subs = (app,) if "receive" in actions else ()
        nodes.append(TopicNode(ch, pubs, subs, ops))
    return ServiceGraph(tuple(nodes), tuple(_reply_links(contract)), declared)
