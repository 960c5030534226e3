"""Channels without ``address`` (AsyncAPI 3: given at runtime), end to end: a client generated
from tests/codegen/data/runtime_address_v3.yaml publishes to and receives from topics given at
call time, on the in-memory broker (``mqttwire.testing``) and on a real Mosquitto (MQTT 3.1.1
and 5). Received payloads are validated against the channel's models as on any channel;
invalid topics and filters raise :class:`InvalidTopicError` carrying the topic before anything
is sent."""

from __future__ import annotations

import importlib
import itertools
import sys
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import jsonschema
import orjson
import pytest
import yaml
from generated_support import Inbox, MQTTVersion

from mqttwire import MQTTClient, MQTTClientConfig
from mqttwire.errors import InvalidTopicError, PayloadValidationError
from mqttwire.testing import for_testing, kit_of
from mqttwire.testing.broker import MosquittoBroker
from mqttwire_codegen.pipeline import generate_package
from mqttwire_codegen.writer import write_package

CONTRACT = Path(__file__).resolve().parents[1] / "codegen" / "data" / "runtime_address_v3.yaml"
PACKAGE = "runtime_address_fleet_e2e"
_ids = itertools.count()

BAD_TOPICS = [
    ("", "must not be empty"),
    ("site/+/readings", "wildcards"),
    ("site/#", "wildcards"),
    ("site/\x00/readings", "NUL"),
    ("site/\ud800", "UTF-8"),
]
BAD_FILTERS = [
    ("", "must not be empty"),
    ("site/#/readings", "# must be the whole last level"),
    ("site/a+/readings", "+ must occupy a whole level"),
    ("site/\x01", "control character"),
    ("$share/g/site/+", "share_group="),
]


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ModuleType]:
    out = tmp_path_factory.mktemp("runtime_address_e2e")
    write_package(generate_package(CONTRACT, PACKAGE).files, out / PACKAGE)
    sys.path.insert(0, str(out))
    try:
        yield importlib.import_module(PACKAGE)
    finally:
        sys.path.remove(str(out))
        for name in [n for n in sys.modules if n.split(".")[0] == PACKAGE]:
            del sys.modules[name]


# -- in memory -------------------------------------------------------------------------------
async def test_in_memory_publish_and_receive_on_runtime_topics(fleet: ModuleType) -> None:
    models = fleet.models
    async with for_testing(fleet.FleetClient) as client:
        kit = kit_of(client)
        inbox: Inbox[Any] = Inbox()
        await client.receive_reading(inbox, topic_filter="site/+/readings")
        await kit.deliver(
            "readings", models.Reading(sensor="t1", value=21.5), topic="site/a/readings"
        )
        await kit.deliver("readings", models.Reading(sensor="t2", value=3), topic="other/readings")
        [(reading, meta)] = inbox.items  # the second topic is outside the filter
        assert (reading.sensor, reading.value, meta.topic) == ("t1", 21.5, "site/a/readings")
        assert meta.params == {} and meta.qos == 1

        await client.send_reading(models.Reading(sensor="t3", value=1.0), topic="site/b/readings")
        await client.send_reading(models.Reading(sensor="t4", value=2.0), topic="elsewhere/x")
        await kit.settle()
        sent = kit.published("readings", models.Reading, topic="site/+/readings")
        assert [(p.model.sensor, p.meta.topic, p.meta.qos) for p in sent] == [
            ("t3", "site/b/readings", 1)
        ]
        everything = kit.published("readings", models.Reading, topic="#")
        assert [p.meta.topic for p in everything] == ["site/b/readings", "elsewhere/x"]
        # the form without a channel leaves channels without address out
        assert [p.channel for p in kit.published()] == []


async def test_in_memory_invalid_payload_on_a_runtime_topic_is_rejected(
    fleet: ModuleType,
) -> None:
    async with for_testing(fleet.FleetClient) as client:
        inbox: Inbox[Any] = Inbox()
        await client.receive_reading(inbox, topic_filter="site/#")
        with pytest.raises(PayloadValidationError) as info:
            await kit_of(client).deliver_raw("site/a", orjson.dumps({"sensor": "", "value": 1}))
        assert info.value.topic == "site/a"
        assert inbox.items == []


async def test_in_memory_retained_config_and_clear(fleet: ModuleType) -> None:
    models = fleet.models
    async with for_testing(fleet.FleetClient) as client:
        kit = kit_of(client)
        await client.send_config(models.DeviceConfig(interval=5), topic="dev/7/config")
        inbox: Inbox[Any] = Inbox()
        await client.receive_config(inbox, topic_filter="dev/+/config")
        await kit.settle()
        [(config, meta)] = inbox.items
        assert config.interval == 5 and meta.retain
        await client.clear_config(topic="dev/7/config")
        await kit.settle()
        later: Inbox[Any] = Inbox()
        await client.receive_config(later, topic_filter="dev/7/config")
        await kit.settle()
        assert later.items == []  # the retained message is gone
        assert client.stats.cleared["config"] >= 1
        with pytest.raises(InvalidTopicError) as info:
            await client.clear_config(topic="dev/+/config")
        assert info.value.topic == "dev/+/config"


@pytest.mark.parametrize(("topic", "reason"), BAD_TOPICS)
async def test_in_memory_invalid_topics_are_refused_with_the_topic(
    fleet: ModuleType, topic: str, reason: str
) -> None:
    async with for_testing(fleet.FleetClient) as client:
        kit = kit_of(client)
        with pytest.raises(InvalidTopicError) as info:
            await client.send_reading(fleet.models.Reading(sensor="t", value=1), topic=topic)
        assert info.value.topic == topic and reason in str(info.value)
        assert kit.broker.log == []  # nothing went out


@pytest.mark.parametrize(("topic_filter", "reason"), BAD_FILTERS)
async def test_in_memory_invalid_filters_are_refused_with_the_filter(
    fleet: ModuleType, topic_filter: str, reason: str
) -> None:
    async with for_testing(fleet.FleetClient) as client:
        inbox: Inbox[Any] = Inbox()
        with pytest.raises(InvalidTopicError) as info:
            await client.receive_reading(inbox, topic_filter=topic_filter)
        assert info.value.topic == topic_filter and reason in str(info.value)


async def test_the_runtime_refuses_a_missing_topic(fleet: ModuleType) -> None:
    """Generated methods require the topic (a type error without it); the runtime spec says so
    too when called without one."""
    channels = fleet.channels
    with pytest.raises(InvalidTopicError, match="given at runtime"):
        channels.CH_READINGS.topic_for({})
    with pytest.raises(InvalidTopicError, match="topic_filter="):
        channels.CH_READINGS.subscription_filter()
    with pytest.raises(TypeError, match="topic_filter"):
        for_testing(fleet.FleetClient)._on(channels.CH_READINGS)
    assert channels.CH_READINGS.subscription_filter(None, "g", "a/+") == "$share/g/a/+"
    with pytest.raises(TypeError, match="has an address"):
        channels.CH_STATUS.subscription_filter(topic_filter="fleet/+/status")


# -- real Mosquitto -----------------------------------------------------------------------------
@pytest.fixture
async def make(
    mqtt_broker: MosquittoBroker, fleet: ModuleType
) -> AsyncIterator[Callable[[str, MQTTVersion], Any]]:
    made: list[Any] = []

    def connect(name: str, protocol: MQTTVersion) -> Any:
        config = MQTTClientConfig(
            url=mqtt_broker.url,
            client_id=f"{name}-{next(_ids)}",
            protocol=protocol,
            shutdown_timeout=2.0,
        )
        client = fleet.FleetClient(client=MQTTClient(config))
        made.append(client)
        return client

    yield connect
    for client in made:
        await client.shutdown()


@pytest.mark.parametrize("protocol", ["3.1.1", "5"])
async def test_mosquitto_publish_and_receive_on_runtime_topics(
    fleet: ModuleType, make: Callable[[str, MQTTVersion], Any], protocol: MQTTVersion
) -> None:
    models = fleet.models
    sender, receiver = make("sensor", protocol), make("collector", protocol)
    await sender.connect()
    await receiver.connect()
    inbox: Inbox[Any] = Inbox()
    await receiver.receive_reading(inbox, topic_filter="plant/+/readings")
    elsewhere: Inbox[Any] = Inbox()
    await receiver.receive_reading(elsewhere, topic_filter="plant/hall/#")
    wire: Inbox[bytes] = Inbox()  # the bytes on the wire, checked against the contract's schema
    await receiver.client.subscribe("plant/#", wire, qos=1)
    await sender.send_reading(models.Reading(sensor="a", value=1.5), topic="plant/lab/readings")
    await sender.send_reading(models.Reading(sensor="b", value=2.5), topic="plant/hall/readings")
    first, second = await inbox.get(), await inbox.get()
    assert [(r.sensor, m.topic) for r, m in (first, second)] == [
        ("a", "plant/lab/readings"),
        ("b", "plant/hall/readings"),
    ]
    reading, meta = await elsewhere.get()
    assert (reading.sensor, meta.topic, meta.qos) == ("b", "plant/hall/readings", 1)
    if protocol == "5":
        assert meta.content_type is None  # JSON without a declared contentType
    schema = yaml.safe_load(CONTRACT.read_text())["components"]["schemas"]["Reading"]
    for _ in range(2):
        payload, _meta = await wire.get()
        jsonschema.validate(orjson.loads(payload), schema)
    # an invalid payload from another client on a subscribed runtime topic never reaches the
    # handler and is counted under the channel
    raw = make("raw", protocol)
    await raw.connect()
    await raw.client.publish("plant/lab/readings", orjson.dumps({"sensor": "x"}), qos=1)
    await sender.send_reading(models.Reading(sensor="c", value=3.0), topic="plant/lab/readings")
    reading, meta = await inbox.get()
    assert reading.sensor == "c"  # the invalid one before it was dropped
    assert receiver.stats.invalid["readings"] == 1


@pytest.mark.parametrize("protocol", ["3.1.1", "5"])
async def test_mosquitto_retained_config_on_a_runtime_topic(
    fleet: ModuleType, make: Callable[[str, MQTTVersion], Any], protocol: MQTTVersion
) -> None:
    models = fleet.models
    topic = f"cfg/{next(_ids)}/{protocol}"
    device, late = make("device", protocol), make("late", protocol)
    await device.connect()
    await device.send_config(models.DeviceConfig(interval=9), topic=topic)
    await late.connect()
    inbox: Inbox[Any] = Inbox()
    await late.receive_config(inbox, topic_filter=topic)
    config, meta = await inbox.get()
    assert config.interval == 9 and meta.retain and meta.topic == topic
    await device.clear_config(topic=topic)
    fresh = make("fresh", protocol)
    await fresh.connect()
    again: Inbox[Any] = Inbox()
    await fresh.receive_config(again, topic_filter=topic)
    await device.send_config(models.DeviceConfig(interval=10), topic=topic)
    config, meta = await again.get()
    assert config.interval == 10  # the first thing it sees: the old retained one was cleared


@pytest.mark.parametrize(("topic", "reason"), BAD_TOPICS)
async def test_mosquitto_invalid_topics_are_refused_with_the_topic(
    fleet: ModuleType, make: Callable[[str, MQTTVersion], Any], topic: str, reason: str
) -> None:
    client = make("bad", "5")
    await client.connect()
    with pytest.raises(InvalidTopicError) as info:
        await client.send_reading(fleet.models.Reading(sensor="t", value=1), topic=topic)
    assert info.value.topic == topic and reason in str(info.value)
    assert client.client.connected  # refused before the broker saw anything


@pytest.mark.parametrize(("topic_filter", "reason"), BAD_FILTERS)
async def test_mosquitto_invalid_filters_are_refused_with_the_filter(
    fleet: ModuleType, make: Callable[[str, MQTTVersion], Any], topic_filter: str, reason: str
) -> None:
    client = make("bad", "3.1.1")
    await client.connect()
    with pytest.raises(InvalidTopicError) as info:
        await client.receive_reading(Inbox(), topic_filter=topic_filter)
    assert info.value.topic == topic_filter and reason in str(info.value)
    assert client.client.connected
