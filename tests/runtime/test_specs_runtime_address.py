"""``ChannelSpec(topic=None)``: a channel whose address is given at runtime (AsyncAPI 3 channel
without ``address``). Publishing needs an explicit topic and subscribing an explicit filter,
both validated by the runtime's own topic rules; received payloads are decoded and validated
against the channel's models as on any channel."""

from __future__ import annotations

import orjson
import pytest
from pydantic import BaseModel

from mqttwire.codec import Codec
from mqttwire.errors import InvalidTopicError
from mqttwire.meta import MessageMeta
from mqttwire.observability.destinations import Destinations
from mqttwire.specs import ChannelSpec, InvalidPayload, MessageSpec
from mqttwire.topic_template import TopicTemplate


class Reading(BaseModel):
    sensor: str
    value: float


RUNTIME: ChannelSpec[Reading] = ChannelSpec(
    name="readings", topic=None, messages=(MessageSpec("reading", Reading),), publish_qos=1
)
FIXED: ChannelSpec[Reading] = ChannelSpec(
    name="fixed", topic=TopicTemplate("site/{room}/r"), messages=(MessageSpec("reading", Reading),)
)


def test_runtime_topic_is_required_and_validated() -> None:
    assert RUNTIME.topic_for({}, "site/a/readings") == "site/a/readings"
    assert RUNTIME.address is None and RUNTIME.label == "readings (address given at runtime)"
    with pytest.raises(InvalidTopicError, match="given at runtime"):
        RUNTIME.topic_for({})
    with pytest.raises(InvalidTopicError, match="given at runtime"):
        _ = RUNTIME.template
    for bad in ["", "a/+", "a/#", "a\x00b", "a/\ud800"]:
        with pytest.raises(InvalidTopicError) as info:
            RUNTIME.topic_for({}, bad)
        assert info.value.topic == bad


def test_runtime_filter_is_required_and_validated() -> None:
    assert RUNTIME.subscription_filter(None, None, "site/+/readings") == "site/+/readings"
    assert RUNTIME.subscription_filter(None, "g", "site/#") == "$share/g/site/#"
    with pytest.raises(InvalidTopicError, match="topic_filter="):
        RUNTIME.subscription_filter()
    for bad in ["", "a/#/b", "a+/b", "$share/g/a", "a\x00"]:
        with pytest.raises(InvalidTopicError) as info:
            RUNTIME.subscription_filter(None, None, bad)
        assert info.value.topic == bad


def test_a_channel_with_an_address_keeps_its_topic_rules() -> None:
    assert FIXED.topic_for({"room": "k"}) == "site/k/r"
    assert FIXED.address == FIXED.label == "site/{room}/r"
    assert FIXED.subscription_filter() == "site/+/r"
    with pytest.raises(TypeError, match="has an address"):
        FIXED.subscription_filter(topic_filter="x/#")


def test_received_payloads_are_validated_against_the_models() -> None:
    codec = Codec()
    payload = orjson.dumps({"sensor": "t", "value": 2})
    model, meta = codec.decode(RUNTIME, payload, MessageMeta(topic="any/topic"))
    assert model == Reading(sensor="t", value=2) and meta.params == {}
    with pytest.raises(InvalidPayload):
        codec.decode(RUNTIME, orjson.dumps({"sensor": "t"}), MessageMeta(topic="any/topic"))


def test_destinations_do_not_claim_topics_for_a_channel_without_address() -> None:
    destinations = Destinations()
    destinations.add_channels([RUNTIME, FIXED])
    assert destinations.published("site/k/r").channel == "fixed"
    assert destinations.published("site/k/readings").channel is None
