"""Low-cardinality names for topics: the contract's channel and topic template when known.

Span names and metric attributes must not carry raw topics with parameters
(``system/health/tts``, ``system/health/router``, ...), or a metrics backend gets one series per
parameter value. A topic maps to its channel's template (``system/health/{client_id}``); a
received topic that no channel declares maps to the subscription filter it arrived on, and a
published one to itself, but only for the first :data:`MAX_UNDECLARED` such topics (then
``(other)``). Default MQTT 5 response topics (``mqttwire/reply/<client id>``) are temporary
destinations named ``mqttwire/reply/{client_id}``.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, NamedTuple

from mqttwire.requests import RESPONSE_TOPIC_PREFIX
from mqttwire.specs import ChannelSpec

__all__ = ["MAX_UNDECLARED", "OTHER", "RESPONSE_TEMPLATE", "Destination", "Destinations"]

MAX_UNDECLARED = 100
OTHER = "(other)"
RESPONSE_TEMPLATE = RESPONSE_TOPIC_PREFIX + "/{client_id}"
_RESPONSE_PREFIX = RESPONSE_TOPIC_PREFIX + "/"
_CACHE_MAX = 1024


def _is_response_topic(topic: str) -> bool:
    return topic.startswith(_RESPONSE_PREFIX) and "/" not in topic[len(_RESPONSE_PREFIX) :]


class Destination(NamedTuple):
    template: str
    channel: str | None = None
    temporary: bool = False


class Destinations:
    """Topic -> :class:`Destination`, cached (bounded)."""

    def __init__(self) -> None:
        self._channels: list[ChannelSpec[Any]] = []
        self._cache: dict[str, Destination | None] = {}
        self._undeclared: set[str] = set()

    def add_channels(self, channels: Iterable[ChannelSpec[Any]]) -> None:
        known = {c.name for c in self._channels}
        self._channels.extend(c for c in channels if c.name not in known)
        self._cache.clear()

    def _declared(self, topic: str) -> Destination | None:
        cache = self._cache
        if topic in cache:
            return cache[topic]
        found = next(
            (
                Destination(c.topic.address, c.name)
                for c in self._channels
                if c.topic is not None and c.topic.match(topic) is not None
            ),
            None,
        )
        if found is None and _is_response_topic(topic):
            found = Destination(RESPONSE_TEMPLATE, temporary=True)
        if len(cache) >= _CACHE_MAX:
            cache.clear()
        cache[topic] = found
        return found

    def published(self, topic: str) -> Destination:
        found = self._declared(topic)
        if found is not None:
            return found
        if topic in self._undeclared or len(self._undeclared) < MAX_UNDECLARED:
            self._undeclared.add(topic)
            return Destination(topic)
        return Destination(OTHER)

    def received(self, topic: str, topic_filter: str) -> Destination:
        return self._declared(topic) or Destination(topic_filter)
