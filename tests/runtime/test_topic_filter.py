"""Topic filter matching against a reference definition, plus validation."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mqttwire import (
    InvalidTopicError,
    TopicFilter,
    topic_matches,
    validate_topic_filter,
    validate_topic_name,
)


def reference_match(topic_filter: str, topic: str) -> bool:
    """MQTT 3.1.1 4.7, written recursively over levels (independent of the implementation)."""
    if topic.startswith("$") and topic_filter[:1] in ("+", "#"):
        return False

    def walk(f: list[str], t: list[str]) -> bool:
        if not f:
            return not t
        head, rest = f[0], f[1:]
        if head == "#":
            return True  # matches the parent level and any number of children
        if not t:
            return False
        return (head == "+" or head == t[0]) and walk(rest, t[1:])

    return walk(topic_filter.split("/"), topic.split("/"))


LEVEL_WORDS = st.sampled_from(["a", "b", "sport", "", "$SYS", "x y", "ü"])
topics = st.lists(LEVEL_WORDS, min_size=1, max_size=5).map("/".join).filter(bool)


@st.composite
def filters(draw: st.DrawFn) -> str:
    levels = draw(st.lists(st.one_of(LEVEL_WORDS, st.just("+")), min_size=1, max_size=5))
    if draw(st.booleans()):
        levels.append("#")
    value = "/".join(levels)
    return value if value else "+"


@settings(max_examples=3000)
@given(filters(), topics)
def test_matches_reference_definition(topic_filter: str, topic: str) -> None:
    assert TopicFilter(topic_filter).matches(topic) == reference_match(topic_filter, topic)


@given(topics)
def test_a_topic_matches_itself_and_hash(topic: str) -> None:
    assert topic_matches(topic, topic)
    assert topic_matches("#", topic) == (not topic.startswith("$"))


@pytest.mark.parametrize(
    ("topic_filter", "topic", "expected"),
    [
        ("sport/tennis/player1/#", "sport/tennis/player1", True),
        ("sport/tennis/player1/#", "sport/tennis/player1/ranking", True),
        ("sport/tennis/player1/#", "sport/tennis/player1/score/wimbledon", True),
        ("sport/#", "sport", True),
        ("sport/#", "sports", False),
        ("sport/tennis/#", "sport", False),
        ("sport/tennis/+", "sport/tennis/player1", True),
        ("sport/tennis/+", "sport/tennis/player1/ranking", False),
        ("sport/+", "sport", False),
        ("sport/+", "sport/", True),
        ("+/+", "/finance", True),
        ("/+", "/finance", True),
        ("+", "/finance", False),
        ("#", "$SYS/broker", False),
        ("+/monitor/Clients", "$SYS/monitor/Clients", False),
        ("$SYS/#", "$SYS/monitor/Clients", True),
        ("$SYS/monitor/+", "$SYS/monitor/Clients", True),
        ("system/health/+", "system/health/tars-stt", True),
        ("a/b", "a/b/", False),
    ],
)
def test_spec_examples(topic_filter: str, topic: str, expected: bool) -> None:
    assert topic_matches(topic_filter, topic) is expected


@pytest.mark.parametrize("bad", ["", "a/#/b", "a#", "a/b#", "a+/b", "a/+b", "#/", "a\x00b"])
def test_invalid_filters(bad: str) -> None:
    with pytest.raises(InvalidTopicError):
        validate_topic_filter(bad)


@pytest.mark.parametrize("good", ["#", "+", "a/+/#", "/", "+/+", "$SYS/#", "a//b"])
def test_valid_filters(good: str) -> None:
    validate_topic_filter(good)


@pytest.mark.parametrize("bad", ["", "a/+", "a/#", "a\x00", "x" * 70000])
def test_invalid_topic_names(bad: str) -> None:
    with pytest.raises(InvalidTopicError):
        validate_topic_name(bad)
