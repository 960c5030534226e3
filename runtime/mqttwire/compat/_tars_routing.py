"""The seed's dispatch rule: exactly one handler per message.

One handler per topic string (registering it again replaces it, keeping its place). A message
goes to the handler of its exact topic if there is one, otherwise to the first wildcard filter,
in registration order, that matches it under MQTT rules (``events/#`` matches ``events`` and
``events/x``, never ``eventsX/y``: the seed's plain prefix test did).
"""

from __future__ import annotations

from mqttwire.compat._tars_models import SubscriptionHandler
from mqttwire.topic_filter import TopicFilter

__all__ = ["HandlerTable"]


class HandlerTable:
    __slots__ = ("_handlers", "_wildcards")

    def __init__(self) -> None:
        self._handlers: dict[str, SubscriptionHandler] = {}
        self._wildcards: dict[str, TopicFilter] = {}

    def __len__(self) -> int:
        return len(self._handlers)

    def __contains__(self, topic_filter: str) -> bool:
        return topic_filter in self._handlers

    def set(self, topic_filter: str, handler: SubscriptionHandler) -> None:
        """Register or replace; raises ``InvalidTopicError`` for a malformed filter."""
        matcher = TopicFilter(topic_filter)
        if matcher.has_wildcards:
            self._wildcards.setdefault(topic_filter, matcher)
        self._handlers[topic_filter] = handler

    def get(self, topic_filter: str) -> SubscriptionHandler | None:
        return self._handlers.get(topic_filter)

    def remove(self, topic_filter: str) -> None:
        self._handlers.pop(topic_filter, None)
        self._wildcards.pop(topic_filter, None)

    def clear(self) -> None:
        self._handlers.clear()
        self._wildcards.clear()

    def select(self, topic: str) -> str | None:
        """The filter whose handler gets a message on ``topic`` (``None``: no handler)."""
        if topic in self._handlers:
            return topic
        for topic_filter, matcher in self._wildcards.items():
            if matcher.matches(topic):
                return topic_filter
        return None
