"""What a watch saw: counts per finding class and per topic, and one bounded example per class.

Memory is bounded whatever the bus sends: at most ``max_topics`` topics are tracked one by one
(later topics share one ``(other topics)`` row), topic strings and error details are truncated,
and each finding class keeps only its first example, cut to ``example_bytes`` of payload with
secret-looking JSON values replaced and control characters escaped.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from mqttwire_codegen.watch.findings import FindingClass, Verdict

__all__ = ["OTHER_TOPICS", "Example", "TopicStats", "WatchReport", "escape"]

OTHER_TOPICS = "(other topics)"
"""The row that collects messages of topics beyond ``max_topics``."""

TOPIC_MAX_CHARS = 200
DETAIL_MAX_CHARS = 300
_SECRET_KEY = re.compile(r"pass(word|wd)?|secret|token|api[_-]?key|authorization|credential", re.I)
_REDACT_DEPTH = 32


def escape(text: str, limit: int | None = None) -> str:
    """``text`` safe for a terminal or a log line: non-printable characters as escapes."""
    if limit is not None and len(text) > limit:
        text = text[: limit - 3] + "..."
    if text.isprintable():
        return text
    return "".join(ch if ch.isprintable() else ascii(ch)[1:-1] for ch in text)


def _redact(node: Any, depth: int = 0) -> Any:
    if depth > _REDACT_DEPTH:
        return "..."
    if isinstance(node, dict):
        return {
            k: "***" if _SECRET_KEY.search(str(k)) else _redact(v, depth + 1)
            for k, v in node.items()
        }
    if isinstance(node, list):
        return [_redact(v, depth + 1) for v in node]
    return node


def _example_text(payload: bytes, limit: int) -> tuple[str, bool]:
    """The payload as bounded, escaped text with secret-looking JSON values replaced."""
    body = payload  # not JSON: shown as it came (bounded, escaped)
    with contextlib.suppress(orjson.JSONDecodeError, orjson.JSONEncodeError):
        body = orjson.dumps(_redact(orjson.loads(payload)))
    truncated = len(body) > limit
    text = body[:limit].decode("utf-8", errors="backslashreplace")
    return escape(text), truncated


@dataclass(frozen=True, slots=True)
class Example:
    """The first message of a finding class, as the report shows it."""

    topic: str
    channel: str | None
    detail: str
    qos: int
    retain: bool
    payload: str
    payload_bytes: int
    truncated: bool

    def to_json(self) -> dict[str, Any]:
        return {
            "topic": self.topic,
            "channel": self.channel,
            "detail": self.detail,
            "qos": self.qos,
            "retain": self.retain,
            "payload": self.payload,
            "payload_bytes": self.payload_bytes,
            "payload_truncated": self.truncated,
        }


class TopicStats:
    """Counters of one topic (or of the ``(other topics)`` row)."""

    __slots__ = ("channel", "invalid", "last_error", "messages")

    def __init__(self, channel: str | None) -> None:
        self.channel = channel
        self.messages = 0
        self.invalid = 0  # messages with at least one finding
        self.last_error: str | None = None

    def to_json(self, topic: str) -> dict[str, Any]:
        return {
            "topic": topic,
            "channel": self.channel,
            "messages": self.messages,
            "with_findings": self.invalid,
            "last_error": self.last_error,
        }


class WatchReport:
    def __init__(self, *, max_topics: int = 500, example_bytes: int = 512) -> None:
        if max_topics < 1 or example_bytes < 16:
            raise ValueError("max_topics must be >= 1 and example_bytes >= 16")
        self.max_topics = max_topics
        self.example_bytes = example_bytes
        self.messages = 0
        self.payload_bytes = 0
        self.counts: dict[FindingClass, int] = dict.fromkeys(FindingClass, 0)
        self.by_channel: dict[FindingClass, dict[str, int]] = {c: {} for c in FindingClass}
        self.examples: dict[FindingClass, Example] = {}
        self.topics: dict[str, TopicStats] = {}
        self.other = TopicStats(None)

    # -- recording ---------------------------------------------------------------------------
    def record(
        self, topic: str, payload: bytes, *, qos: int, retain: bool, verdict: Verdict
    ) -> None:
        self.messages += 1
        self.payload_bytes += len(payload)
        stats = self._stats_for(topic, verdict.channel)
        stats.messages += 1
        if verdict.ok:
            return
        stats.invalid += 1
        first = verdict.findings[0]
        stats.last_error = escape(f"{first.kind.value}: {first.detail}", DETAIL_MAX_CHARS)
        channel_key = verdict.channel or "(none)"
        for finding in verdict.findings:
            self.counts[finding.kind] += 1
            per_channel = self.by_channel[finding.kind]
            per_channel[channel_key] = per_channel.get(channel_key, 0) + 1
            if finding.kind not in self.examples:
                text, truncated = _example_text(payload, self.example_bytes)
                self.examples[finding.kind] = Example(
                    topic=escape(topic, TOPIC_MAX_CHARS),
                    channel=verdict.channel,
                    detail=escape(finding.detail, DETAIL_MAX_CHARS),
                    qos=qos,
                    retain=retain,
                    payload=text,
                    payload_bytes=len(payload),
                    truncated=truncated,
                )

    def _stats_for(self, topic: str, channel: str | None) -> TopicStats:
        key = escape(topic, TOPIC_MAX_CHARS)
        stats = self.topics.get(key)
        if stats is None:
            if len(self.topics) >= self.max_topics:
                return self.other
            stats = self.topics[key] = TopicStats(channel)
        return stats

    # -- reading -----------------------------------------------------------------------------
    @property
    def messages_with_findings(self) -> int:
        return sum(s.invalid for s in self.topics.values()) + self.other.invalid

    def seen(self, classes: frozenset[FindingClass]) -> list[FindingClass]:
        """The classes among ``classes`` that occurred, in report order."""
        return [c for c in FindingClass if c in classes and self.counts[c]]

    def footprint(self) -> tuple[int, int]:
        """(tracked topic rows, payload characters held in examples): both bounded."""
        return len(self.topics), sum(len(e.payload) for e in self.examples.values())

    def rows(self) -> list[tuple[str, TopicStats]]:
        """Topic rows sorted by topic, the ``(other topics)`` row last when it has messages."""
        rows = sorted(self.topics.items())
        if self.other.messages:
            rows.append((OTHER_TOPICS, self.other))
        return rows

    def to_json(self, meta: Mapping[str, Any] | None = None) -> dict[str, Any]:
        findings = {
            c.value: {
                "count": self.counts[c],
                "channels": dict(sorted(self.by_channel[c].items())),
                "first": self.examples[c].to_json() if c in self.examples else None,
            }
            for c in FindingClass
        }
        return {
            **(meta or {}),
            "messages": self.messages,
            "payload_bytes": self.payload_bytes,
            "messages_with_findings": self.messages_with_findings,
            "clean": self.messages_with_findings == 0,
            "findings": findings,
            "topics": [stats.to_json(topic) for topic, stats in self.rows()],
            "topics_tracked_max": self.max_topics,
        }
