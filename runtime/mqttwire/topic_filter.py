"""MQTT topic names and filters: validation and matching (MQTT 3.1.1 section 4.7)."""

from __future__ import annotations

from mqttwire.errors import InvalidTopicError

__all__ = ["TopicFilter", "topic_matches", "validate_topic_filter", "validate_topic_name"]

_MAX_TOPIC_BYTES = 65535


def _check_common(topic: str) -> None:
    if not topic:
        raise InvalidTopicError(topic, "must not be empty")
    if "\x00" in topic:
        raise InvalidTopicError(topic, "must not contain NUL")
    if len(topic) * 4 > _MAX_TOPIC_BYTES and len(topic.encode()) > _MAX_TOPIC_BYTES:
        raise InvalidTopicError(topic, f"longer than {_MAX_TOPIC_BYTES} bytes (UTF-8)")


def validate_topic_name(topic: str) -> None:
    """Raise :class:`InvalidTopicError` unless ``topic`` may be published to."""
    _check_common(topic)
    if "+" in topic or "#" in topic:
        raise InvalidTopicError(topic, "wildcards + and # are not allowed in a topic name")


def validate_topic_filter(topic_filter: str) -> None:
    """Raise :class:`InvalidTopicError` unless ``topic_filter`` is a valid subscription filter."""
    _check_common(topic_filter)
    levels = topic_filter.split("/")
    last = len(levels) - 1
    for index, level in enumerate(levels):
        if "#" in level and (level != "#" or index != last):
            raise InvalidTopicError(topic_filter, "# must be the whole last level")
        if "+" in level and level != "+":
            raise InvalidTopicError(topic_filter, "+ must occupy a whole level")


class TopicFilter:
    """A validated filter, split once, that matches topic names quickly."""

    __slots__ = ("_exact", "_levels", "filter")

    def __init__(self, topic_filter: str) -> None:
        validate_topic_filter(topic_filter)
        self.filter = topic_filter
        self._levels = tuple(topic_filter.split("/"))
        self._exact = "+" not in topic_filter and "#" not in topic_filter

    def __repr__(self) -> str:
        return f"TopicFilter({self.filter!r})"

    @property
    def has_wildcards(self) -> bool:
        return not self._exact

    def matches(self, topic: str) -> bool:
        """Does a message published on ``topic`` match this filter?"""
        if self._exact:
            return topic == self.filter
        levels = self._levels
        # Topics starting with $ are not matched by a filter starting with a wildcard.
        if topic[:1] == "$" and levels[0] in ("+", "#"):
            return False
        parts = topic.split("/")
        count = len(parts)
        for index, level in enumerate(levels):
            if level == "#":
                # "a/#" also matches "a" itself (the parent level).
                return True
            if index >= count:
                return False
            if level != "+" and level != parts[index]:
                return False
        return count == len(levels)


def topic_matches(topic_filter: str, topic: str) -> bool:
    """Convenience form of :meth:`TopicFilter.matches` (validates the filter every call)."""
    return TopicFilter(topic_filter).matches(topic)
