"""Span names and metric attributes stay low-cardinality whatever the topics."""

from __future__ import annotations

from mqttwire.observability.destinations import (
    MAX_UNDECLARED,
    OTHER,
    RESPONSE_TEMPLATE,
    Destination,
    Destinations,
)
from tars_mqtt import TarsClient


def test_topics_map_to_their_channel_template() -> None:
    destinations = Destinations()
    destinations.add_channels(TarsClient.CHANNELS.values())
    assert destinations.published("stt/final") == Destination("stt/final", "stt_final")
    health = destinations.published("system/health/tts")
    assert health.template == "system/health/{client_id}"
    assert destinations.published("system/health/router") == health
    assert destinations.received("system/health/x", "system/health/+") == health


def test_undeclared_topics_are_bounded() -> None:
    destinations = Destinations()
    names = {destinations.published(f"sensor/{n}").template for n in range(MAX_UNDECLARED * 3)}
    assert len(names) == MAX_UNDECLARED + 1
    assert OTHER in names
    assert destinations.published("sensor/0").template == "sensor/0"  # seen before: kept
    assert destinations.received("sensor/999", "sensor/+") == Destination("sensor/+")


def test_response_topics_are_one_temporary_destination() -> None:
    destinations = Destinations()
    for client_id in ("router-1", "router-2"):
        found = destinations.published(f"mqttwire/reply/{client_id}")
        assert found == Destination(RESPONSE_TEMPLATE, temporary=True)
    assert not destinations.published("mqttwire/reply/a/b").temporary
