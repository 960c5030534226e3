"""MQTT topic names and filters: validation and matching (MQTT 3.1.1 section 4.7).

Shared subscriptions (MQTT 5 section 4.8.2, also served to 3.1.1 clients by Mosquitto) are
filters of the form ``$share/<group>/<filter>``: the broker hands each message to one member of
the group, and the message's topic is matched against ``<filter>``.
"""

from __future__ import annotations

from mqttwire.errors import InvalidTopicError
from mqttwire.mqtt_text import MAX_STRING_BYTES, text_problem

__all__ = [
    "SHARE_PREFIX",
    "TopicFilter",
    "share_filter",
    "split_shared",
    "topic_matches",
    "validate_share_group",
    "validate_topic_filter",
    "validate_topic_name",
]

_MAX_TOPIC_BYTES = MAX_STRING_BYTES
SHARE_PREFIX = "$share/"


def _check_common(topic: str) -> None:
    if not topic:
        raise InvalidTopicError(topic, "must not be empty")
    problem = text_problem(topic)
    if problem is not None:
        raise InvalidTopicError(topic, problem)


def validate_topic_name(topic: str) -> None:
    """Raise :class:`InvalidTopicError` unless ``topic`` may be published to."""
    _check_common(topic)
    if "+" in topic or "#" in topic:
        raise InvalidTopicError(topic, "wildcards + and # are not allowed in a topic name")


def validate_share_group(group: str) -> None:
    """Raise :class:`InvalidTopicError` unless ``group`` may name a shared subscription group."""
    if not group or any(c in group for c in "/+#\x00"):
        raise InvalidTopicError(
            f"{SHARE_PREFIX}{group}/...", "a share group must be non-empty, without / + # or NUL"
        )


def split_shared(topic_filter: str) -> tuple[str | None, str]:
    """``("g", "a/+")`` for ``"$share/g/a/+"``; ``(None, topic_filter)`` for other filters."""
    if not topic_filter.startswith(SHARE_PREFIX):
        return None, topic_filter
    group, _, rest = topic_filter[len(SHARE_PREFIX) :].partition("/")
    if not rest:
        raise InvalidTopicError(topic_filter, "a shared subscription is $share/<group>/<filter>")
    validate_share_group(group)
    return group, rest


def share_filter(group: str | None, topic_filter: str) -> str:
    """``$share/<group>/<topic_filter>`` (validated), or ``topic_filter`` when ``group`` is None."""
    if group is None:
        return topic_filter
    validate_share_group(group)
    return f"{SHARE_PREFIX}{group}/{topic_filter}"


def validate_topic_filter(topic_filter: str) -> None:
    """Raise :class:`InvalidTopicError` unless ``topic_filter`` is a valid subscription filter."""
    _check_common(topic_filter)
    _group, match = split_shared(topic_filter)
    levels = match.split("/")
    last = len(levels) - 1
    for index, level in enumerate(levels):
        if "#" in level and (level != "#" or index != last):
            raise InvalidTopicError(topic_filter, "# must be the whole last level")
        if "+" in level and level != "+":
            raise InvalidTopicError(topic_filter, "+ must occupy a whole level")


class TopicFilter:
    """A validated filter, split once, that matches topic names quickly.

    ``filter`` is what is subscribed; for ``$share/<group>/<f>`` topics are matched against
    ``match_filter`` (``<f>``) and ``share_group`` names the group (else ``None``).
    """

    __slots__ = ("_exact", "_levels", "filter", "match_filter", "share_group")

    def __init__(self, topic_filter: str) -> None:
        validate_topic_filter(topic_filter)
        self.filter = topic_filter
        self.share_group, match = split_shared(topic_filter)
        self.match_filter = match
        self._levels = tuple(match.split("/"))
        self._exact = "+" not in match and "#" not in match

    def __repr__(self) -> str:
        return f"TopicFilter({self.filter!r})"

    @property
    def has_wildcards(self) -> bool:
        return not self._exact

    def matches(self, topic: str) -> bool:
        """Does a message published on ``topic`` match this filter?"""
        if self._exact:
            return topic == self.match_filter
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
