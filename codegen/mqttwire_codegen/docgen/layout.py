"""A three-column layered layout: publishers | topics | subscribers.

Rows are ordered with a few rounds of the barycenter heuristic (each node moves towards the
mean position of its neighbours), which keeps edges short and crossings few; then each reply
topic is moved right below its request topic. Ties keep the previous order, so the result
depends only on the graph.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from mqttwire_codegen.docgen.graph import ServiceGraph

ROUNDS = 8


@dataclass(frozen=True, slots=True)
class Layout:
    publishers: tuple[str, ...]  # left column, top to bottom
    topics: tuple[str, ...]  # channel ids, middle column
    subscribers: tuple[str, ...]  # right column
    pub_edges: tuple[tuple[str, str], ...]  # (service, channel id)
    sub_edges: tuple[tuple[str, str], ...]  # (channel id, service)


def _positions(order: Sequence[str]) -> dict[str, float]:
    span = max(len(order) - 1, 1)
    return {name: i / span for i, name in enumerate(order)}


def _reorder(
    order: list[str], neighbours: dict[str, list[str]], pos: dict[str, float]
) -> list[str]:
    current = _positions(order)

    def key(item: tuple[int, str]) -> tuple[float, int]:
        index, name = item
        near = [pos[n] for n in neighbours.get(name, ()) if n in pos]
        return (sum(near) / len(near) if near else current[name], index)

    return [name for _, name in sorted(enumerate(order), key=key)]


def layered(graph: ServiceGraph) -> Layout:
    pub_edges = [(p, t.channel.id) for t in graph.topics for p in t.publishers]
    sub_edges = [(t.channel.id, s) for t in graph.topics for s in t.subscribers]
    left = list(dict.fromkeys(p for p, _ in pub_edges))
    right = list(dict.fromkeys(s for _, s in sub_edges))
    middle = [t.channel.id for t in graph.topics]
    topic_pubs: dict[str, list[str]] = {}
    topic_subs: dict[str, list[str]] = {}
    pub_topics: dict[str, list[str]] = {}
    sub_topics: dict[str, list[str]] = {}
    for p, t in pub_edges:
        topic_pubs.setdefault(t, []).append(p)
        pub_topics.setdefault(p, []).append(t)
    for t, s in sub_edges:
        topic_subs.setdefault(t, []).append(s)
        sub_topics.setdefault(s, []).append(t)
    partners: dict[str, list[str]] = {}
    for link in graph.replies:  # a request and its reply topic attract each other (twice as much)
        partners.setdefault(link.request, []).extend([f"M:{link.reply}"] * 2)
        partners.setdefault(link.reply, []).extend([f"M:{link.request}"] * 2)
    for _ in range(ROUNDS):
        sides = {f"L:{k}": v for k, v in _positions(left).items()}
        sides.update({f"R:{k}": v for k, v in _positions(right).items()})
        sides.update({f"M:{k}": v for k, v in _positions(middle).items()})
        both = {
            t: [f"L:{p}" for p in topic_pubs.get(t, [])]
            + [f"R:{s}" for s in topic_subs.get(t, [])]
            + partners.get(t, [])
            for t in middle
        }
        middle = _reorder(middle, both, sides)
        mid_pos = _positions(middle)
        left = _reorder(left, pub_topics, mid_pos)
        right = _reorder(right, sub_topics, mid_pos)
    middle = _pair_replies(middle, [(link.request, link.reply) for link in graph.replies])
    mid_pos = _positions(middle)
    left = _reorder(left, pub_topics, mid_pos)
    right = _reorder(right, sub_topics, mid_pos)
    return Layout(tuple(left), tuple(middle), tuple(right), tuple(pub_edges), tuple(sub_edges))


def _pair_replies(order: list[str], pairs: list[tuple[str, str]]) -> list[str]:
    """Move each reply (and stream) topic right below its request topic."""
    followers: dict[str, list[str]] = {}
    attached: set[str] = set()
    for request, reply in pairs:
        if reply not in attached and reply != request:
            followers.setdefault(request, []).append(reply)
            attached.add(reply)
    result: list[str] = []
    placed: set[str] = set()

    def put(topic: str) -> None:
        if topic in placed:
            return
        placed.add(topic)
        result.append(topic)
        for follower in followers.get(topic, ()):
            put(follower)

    for topic in order:
        if topic not in attached:
            put(topic)
    for topic in order:  # replies whose requests form a cycle
        put(topic)
    return result


def spread(wanted: Sequence[float], gap: float, top: float, bottom: float) -> list[float]:
    """Keep rows near their wanted y, at least ``gap`` apart, within [top, bottom] when possible."""
    ys = list(wanted)
    for i in range(len(ys)):
        ys[i] = max(ys[i], top if i == 0 else ys[i - 1] + gap)
    for i in range(len(ys) - 1, -1, -1):
        limit = bottom if i == len(ys) - 1 else ys[i + 1] - gap
        ys[i] = min(ys[i], limit)
    for i in range(len(ys)):
        ys[i] = max(ys[i], top if i == 0 else ys[i - 1] + gap)
    return ys
