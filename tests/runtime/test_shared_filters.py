"""``$share/<group>/<filter>``: validation, matching against the inner filter, building."""

from __future__ import annotations

import pytest

from mqttwire import InvalidTopicError, TopicFilter
from mqttwire.dispatch import Dispatcher
from mqttwire.metrics import ClientMetrics
from mqttwire.topic_filter import share_filter, split_shared


def test_shared_filter_matches_topics_like_its_inner_filter() -> None:
    shared = TopicFilter("$share/workers/jobs/+/run")
    assert (shared.share_group, shared.match_filter) == ("workers", "jobs/+/run")
    assert shared.matches("jobs/a/run")
    assert not shared.matches("jobs/a/stop")
    assert not shared.matches("$share/workers/jobs/a/run")
    assert TopicFilter("$share/g/#").matches("anything/at/all")
    assert not TopicFilter("$share/g/#").matches("$SYS/broker")


@pytest.mark.parametrize(
    "bad", ["$share/g", "$share/g/", "$share//a", "$share/g+/a", "$share/g#/a", "$share/g/a/#/b"]
)
def test_bad_shared_filters_are_rejected_naming_the_whole_filter(bad: str) -> None:
    with pytest.raises(InvalidTopicError):
        TopicFilter(bad)


def test_building_and_splitting() -> None:
    assert share_filter("g", "a/+") == "$share/g/a/+"
    assert share_filter(None, "a/+") == "a/+"
    assert split_shared("$share/g/a/+") == ("g", "a/+")
    assert split_shared("a/+") == (None, "a/+")
    with pytest.raises(InvalidTopicError):
        share_filter("a/b", "x")


async def test_dispatcher_routes_shared_and_plain_subscriptions() -> None:
    dispatcher = Dispatcher(ClientMetrics(), 10)
    seen: list[str] = []

    async def handler(payload: bytes) -> None:
        seen.append(payload.decode())

    dispatcher.add("$share/g/jobs/#", handler, 1)
    dispatcher.add("jobs/a", handler, 1)
    assert dispatcher.dispatch("jobs/a", b"both", 1, False) == 2
    assert dispatcher.dispatch("jobs/a", b"only-plain", 1, False, only=["jobs/a"]) == 1
    assert dispatcher.dispatch("other", b"none", 1, False) == 0
    await dispatcher.drain(1.0)
    assert sorted(seen) == ["both", "both", "only-plain"]
    await dispatcher.close()
