"""The service graph as a standalone SVG for offline readers (no Graphviz, no fonts measured).

Publishers on the left, topics in the middle, subscribers on the right (a service that does both
appears on both sides). Text is monospace so widths can be computed from character counts; every
coordinate is rounded, so the same graph always gives the same bytes.
"""

from __future__ import annotations

from dataclasses import dataclass
from xml.sax.saxutils import escape, quoteattr

from mqttwire_codegen.docgen.graph import ServiceGraph, TopicNode, service_label
from mqttwire_codegen.docgen.layout import Layout, layered, spread

FONT = "DejaVu Sans Mono, Menlo, Consolas, monospace"
FONT_SIZE = 12
SMALL = 10
CHAR_W = 7.3  # advance of a 12px monospace glyph, a little generous
SMALL_W = 6.1
MARGIN = 24
ROW = 30
BOX_H = 22
SERVICE_H = 24
SERVICE_GAP = 30
EDGE_GAP = 190
REPLY_LANE = 56
HEADER = 92
INK = "#1f2933"
MUTED = "#616e7c"
PALETTE = (
    "#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf", "#8c564b", "#e377c2",
    "#7f7f00", "#1a3a7a", "#00897b", "#c2185b", "#5d4037", "#6a1b9a", "#ef6c00", "#558b2f",
)  # fmt: skip


def _n(value: float) -> str:
    return f"{value:.1f}".rstrip("0").rstrip(".")


def _text(x: float, y: float, body: str, *, size: int = FONT_SIZE, **attrs: str) -> str:
    extra = "".join(f" {k.replace('_', '-')}={quoteattr(v)}" for k, v in attrs.items())
    return f'<text x="{_n(x)}" y="{_n(y)}" font-size="{size}"{extra}>{escape(body)}</text>'


def caption(node: TopicNode) -> str:
    policy = node.channel.publish_policy
    return f"QoS {policy.qos}" + (" · R" if policy.retain else "")


def _is_bare(node: TopicNode) -> bool:
    messages = node.channel.messages
    return not any(m.envelope for m in messages) if messages else not node.channel.envelope


@dataclass(frozen=True, slots=True)
class _Geometry:
    service_w: float
    topic_w: float
    left_x: float
    topic_x: float
    right_x: float
    top: float
    width: float
    height: float


def _geometry(graph: ServiceGraph, layout: Layout, title: str) -> _Geometry:
    labels = [service_label(s) for s in graph.services] or [""]
    service_w = max(len(label) for label in labels) * CHAR_W + 24
    address_w = max((len(t.channel.address_text) for t in graph.topics), default=0) * CHAR_W
    caption_w = max((len(caption(t)) for t in graph.topics), default=0) * SMALL_W
    topic_w = address_w + caption_w + 32
    lane = REPLY_LANE if graph.replies else 0
    left_x = MARGIN
    topic_x = left_x + service_w + EDGE_GAP
    right_x = topic_x + topic_w + lane + EDGE_GAP
    rows = max(len(layout.topics), 1)
    services = max(len(layout.publishers), len(layout.subscribers))
    body = max(rows * ROW, services * SERVICE_GAP)
    top = MARGIN + HEADER
    title_w = len(_heading(title)) * 9.8 + 2 * MARGIN
    width = max(right_x + service_w + MARGIN, title_w, 560.0)
    return _Geometry(service_w, topic_w, left_x, topic_x, right_x, top, width, top + body + 84)


def _heading(title: str) -> str:
    return f"{title}: services and MQTT topics"


def _curve(x1: float, y1: float, x2: float, y2: float) -> str:
    mid = (x1 + x2) / 2
    return f"M{_n(x1)} {_n(y1)} C{_n(mid)} {_n(y1)} {_n(mid)} {_n(y2)} {_n(x2)} {_n(y2)}"


def _arrow(x: float, y: float, direction: int) -> str:
    back = x - 7 * direction
    return f"M{_n(x)} {_n(y)} L{_n(back)} {_n(y - 3.5)} L{_n(back)} {_n(y + 3.5)} Z"


def render_svg(graph: ServiceGraph, title: str) -> str:
    layout = layered(graph)
    geo = _geometry(graph, layout, title)
    colours = {name: PALETTE[i % len(PALETTE)] for i, name in enumerate(graph.services)}
    topic_y = {cid: geo.top + i * ROW + ROW / 2 for i, cid in enumerate(layout.topics)}
    bottom = geo.top + max(len(layout.topics), 1) * ROW - SERVICE_H / 2

    def column(names: tuple[str, ...], edges: list[tuple[str, str]]) -> dict[str, float]:
        wanted = []
        for name in names:
            ys = [topic_y[t] for s, t in edges if s == name]
            wanted.append(sum(ys) / len(ys))
        ys = spread(wanted, SERVICE_GAP, geo.top + SERVICE_H / 2, bottom)
        return dict(zip(names, ys, strict=True))

    left_y = column(layout.publishers, list(layout.pub_edges))
    right_y = column(layout.subscribers, [(s, t) for t, s in layout.sub_edges])

    out = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{_n(geo.width)}" '
        f'height="{_n(geo.height)}" viewBox="0 0 {_n(geo.width)} {_n(geo.height)}" '
        f"font-family={quoteattr(FONT)}>",
        f"<title>{escape(_heading(title))}</title>",
        "<desc>Publishers (left) send to topics (middle); subscribers (right) receive from them."
        "</desc>",
        f'<rect x="0" y="0" width="{_n(geo.width)}" height="{_n(geo.height)}" fill="#ffffff"/>',
        _text(MARGIN, MARGIN + 14, _heading(title), size=16, fill=INK, font_weight="bold"),
        _text(
            MARGIN,
            MARGIN + 36,
            f"{len(graph.topics)} topics, {len(graph.services)} services",
            size=SMALL,
            fill=MUTED,
        ),
    ]
    heading_y = geo.top - 18
    out += [
        _text(geo.left_x, heading_y, "publishers", fill=MUTED, font_weight="bold"),
        _text(geo.topic_x, heading_y, "topics", fill=MUTED, font_weight="bold"),
        _text(geo.right_x, heading_y, "subscribers", fill=MUTED, font_weight="bold"),
        '<g fill="none" stroke-width="1.4" stroke-opacity="0.6">',
    ]
    x_out = geo.left_x + geo.service_w
    x_topic_out = geo.topic_x + geo.topic_w
    for service, cid in layout.pub_edges:
        y1, y2 = left_y[service], topic_y[cid]
        out.append(
            f'<path d="{_curve(x_out, y1, geo.topic_x - 1, y2)}" stroke="{colours[service]}"/>'
        )
    for cid, service in layout.sub_edges:
        y1, y2 = topic_y[cid], right_y[service]
        out.append(
            f'<path d="{_curve(x_topic_out, y1, geo.right_x - 1, y2)}" stroke="{colours[service]}"/>'
        )
    out.append("</g>")
    out += _reply_arcs(graph, topic_y, x_topic_out)
    for service, cid in layout.pub_edges:
        out.append(
            f'<path d="{_arrow(geo.topic_x - 1, topic_y[cid], 1)}" fill="{colours[service]}"/>'
        )
    for _, service in layout.sub_edges:
        out.append(
            f'<path d="{_arrow(geo.right_x - 1, right_y[service], 1)}" fill="{colours[service]}"/>'
        )
    out += _services(layout.publishers, left_y, geo.left_x, geo.service_w, colours)
    out += _services(layout.subscribers, right_y, geo.right_x, geo.service_w, colours)
    out += _topics(graph, layout, topic_y, geo)
    out += _legend(geo)
    out.append("</svg>")
    return "\n".join(out) + "\n"


def _reply_arcs(graph: ServiceGraph, topic_y: dict[str, float], x: float) -> list[str]:
    out: list[str] = []
    for link in graph.replies:
        y1, y2 = topic_y[link.request] + 4, topic_y[link.reply] - 4
        bulge = x + min(REPLY_LANE - 8, 14 + abs(y2 - y1) * 0.12)
        dash = "5 3" if link.kind == "reply" else "1.5 2.5"
        out.append(
            f'<path d="M{_n(x)} {_n(y1)} C{_n(bulge)} {_n(y1)} {_n(bulge)} {_n(y2)} {_n(x)} {_n(y2)}" '
            f'fill="none" stroke="{MUTED}" stroke-width="1.3" stroke-dasharray="{dash}"/>'
        )
        out.append(f'<path d="{_arrow(x + 1, y2, -1)}" fill="{MUTED}"/>')
    return out


def _services(
    names: tuple[str, ...], ys: dict[str, float], x: float, w: float, colours: dict[str, str]
) -> list[str]:
    out: list[str] = []
    for name in names:
        y = ys[name] - SERVICE_H / 2
        out.append(
            f'<rect x="{_n(x)}" y="{_n(y)}" width="{_n(w)}" height="{SERVICE_H}" rx="12" '
            f'fill="#f5f8ff" stroke="{colours[name]}" stroke-width="1.6"/>'
        )
        out.append(_text(x + 12, ys[name] + 4, service_label(name), fill=INK))
    return out


def _topics(
    graph: ServiceGraph, layout: Layout, topic_y: dict[str, float], geo: _Geometry
) -> list[str]:
    out: list[str] = []
    for cid in layout.topics:
        node = graph.topic(cid)
        y = topic_y[cid]
        dash = ' stroke-dasharray="4 3"' if _is_bare(node) else ""
        out.append(
            f'<rect x="{_n(geo.topic_x)}" y="{_n(y - BOX_H / 2)}" width="{_n(geo.topic_w)}" '
            f'height="{BOX_H}" rx="3" fill="#fff6e0" stroke="#b7791f" stroke-width="1.2"{dash}/>'
        )
        out.append(_text(geo.topic_x + 8, y + 4, node.channel.address_text, fill=INK))
        out.append(
            _text(
                geo.topic_x + geo.topic_w - 8,
                y + 4,
                caption(node),
                size=SMALL,
                fill=MUTED,
                text_anchor="end",
            )
        )
    return out


def _legend(geo: _Geometry) -> list[str]:
    y = geo.height - 56
    lines = (
        "Arrows run publisher -> topic -> subscriber; edge colour = service.",
        "QoS = publish QoS, R = retained; dashed box = bare JSON (no envelope).",
        "Grey dashed arc = reply topic of a request, dotted arc = stream of partial replies.",
    )
    return [_text(MARGIN, y + i * 16, line, size=SMALL, fill=MUTED) for i, line in enumerate(lines)]
