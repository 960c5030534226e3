"""A contract written the way real teams write theirs (tests/golden/smart_home_v26): standard
AsyncAPI 2.6, no ``x-`` extension. What the generated client puts on the wire is checked
against the contract's own JSON Schemas (``jsonschema``), in memory and on a real Mosquitto
(MQTT 3.1.1 and 5); receiving honours contentType and topic-parameter enum/pattern."""

from __future__ import annotations

import asyncio
import importlib
import itertools
import sys
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType
from typing import Any

import orjson
import pytest
from wire_contract import CapturingTransport, ContractWire, default_transport

from mqttwire import MessageMeta, MQTTClient, MQTTClientConfig
from mqttwire.errors import PayloadValidationError
from mqttwire.testing import for_testing, kit_of
from mqttwire.testing.broker import MosquittoBroker

CASE = Path(__file__).resolve().parents[1] / "golden" / "smart_home_v26"
_ids = itertools.count()


@pytest.fixture(scope="module")
def smart() -> Iterator[ModuleType]:
    sys.path.insert(0, str(CASE / "expected"))
    try:
        yield importlib.import_module("smart_home_v26_client")
    finally:
        sys.path.remove(str(CASE / "expected"))


@pytest.fixture(scope="module")
def wire() -> ContractWire:
    return ContractWire(CASE / "contract.yaml")


def light_shapes(models: Any) -> list[Any]:
    """Optional, nullable, defaults, aliases, date-time, nested objects and arrays."""
    light = models.HomeRoomLightMessage
    color = models.Color
    step = models.LightStep
    now = datetime(2026, 12, 3, 9, 30, tzinfo=UTC)
    return [
        light(on=True),
        light(on=False, note="dim", level=None),
        light(on=True, level=40, brightness=80),
        light(on=True, sentAt=now, tags=["a", "b"], tags_extra_ignored=1),
        light.model_validate({"on": True, "device-id": "d1"}),
        light(on=True, device_id="d2", color=color(r=1, g=2, b=3)),
        light(on=True, color=color(r=1, g=2, b=3, name="teal"), tags=[]),
        light(on=True, history=[step(at=now), step(at=now, level=3)]),
        light(on=True, history=[]),
    ]


async def publish_everything(client: Any, models: Any) -> int:
    """Publish every shape on every channel; returns how many messages went out."""
    count = 0
    for shape in light_shapes(models):
        await client.set_light(shape, room="kitchen")
        count += 1
    for door in (models.HomeDoorMessage(), models.HomeDoorMessage(open=True, reason="wind")):
        await client.publish_home_door(door)
        count += 1
    alarms = (
        models.AlarmState(armed=True),
        models.AlarmState(armed=False, zone="z1", since=datetime(2026, 1, 1, tzinfo=UTC)),
    )
    for alarm in alarms:
        await client.publish_home_room_alarm(alarm, room="hall")
        count += 1
    await client.publish_home_display_text("clear")
    await client.publish_home_camera_snapshot(b"\x00\xff\x10")
    await client.publish_home_sensor_sensor_id_temperature(
        models.TemperatureReading(celsius=21.5), sensor_id="room1"
    )
    return count + 3


async def test_every_payload_published_in_memory_validates_against_the_contract(
    smart: ModuleType, wire: ContractWire
) -> None:
    async with for_testing(smart.SmartHomeClient) as client:
        sent = await publish_everything(client, smart.models)
        log = [m for m in kit_of(client).broker.log if m.sender == "test-client"]
    assert len(log) == sent
    for message in log:
        assert wire.errors(message.topic, message.payload) == [], message.payload


async def test_unset_optional_fields_are_left_out_not_sent_as_null(smart: ModuleType) -> None:
    models = smart.models
    async with for_testing(smart.SmartHomeClient) as client:
        await client.set_light(models.HomeRoomLightMessage(on=True, level=None), room="hall")
        await client.publish_home_door(models.HomeDoorMessage())
        [light, door] = [m.payload for m in kit_of(client).broker.log]
    # `level` allows null (type [integer, null]) and was set: it stays; the default stays
    assert orjson.loads(light) == {"on": True, "level": None, "brightness": 50}
    assert orjson.loads(door) == {}


async def test_leading_slash_is_part_of_the_topic(smart: ModuleType) -> None:
    async with for_testing(smart.SmartHomeClient) as client:
        await client.publish_home_door(smart.models.HomeDoorMessage(open=True))
        [message] = kit_of(client).broker.log
    assert message.topic == "/home/door"
    assert smart.channels.TOPIC_HOME_ROOM_LIGHT == "/home/{room}/light"


async def test_text_plain_and_octet_stream_travel_as_themselves(smart: ModuleType) -> None:
    """``text/plain`` is published from and delivered as ``str``, ``application/octet-stream``
    (``format: binary``) as ``bytes``: no RootModel wrapper in the generated methods."""
    got: asyncio.Queue[tuple[Any, MessageMeta]] = asyncio.Queue()

    async def keep(msg: Any, meta: MessageMeta) -> None:
        await got.put((msg, meta))

    async with for_testing(smart.SmartHomeClient) as client:
        await client.subscribe_home_display_text(keep)
        await client.subscribe_home_camera_snapshot(keep)
        await client.publish_home_display_text("hello")
        await client.publish_home_camera_snapshot(b"\xff\x00")
        assert [m.payload for m in kit_of(client).broker.log] == [b"hello", b"\xff\x00"]
        # a device that publishes plain text (not JSON) is understood
        await kit_of(client).deliver_raw("home/display/text", b"clear")
        await kit_of(client).deliver_raw("home/camera/snapshot", b"\x89PNG")
        await kit_of(client).deliver("home_display_text", "from the kit")
        received = [got.get_nowait()[0] for _ in range(5)]
        published = [p.model for p in kit_of(client).published()]
    assert received == ["hello", b"\xff\x00", "clear", b"\x89PNG", "from the kit"]
    assert [type(r) for r in received] == [str, bytes, str, bytes, str]
    assert published == ["hello", b"\xff\x00"]
    assert client.stats.invalid_total == 0


async def test_text_and_bytes_payloads_are_checked_on_publish(smart: ModuleType) -> None:
    async with for_testing(smart.SmartHomeClient) as client:
        with pytest.raises(PayloadValidationError, match="at most 64"):
            await client.publish_home_display_text("x" * 65)  # the schema's maxLength
        with pytest.raises(TypeError, match="carries str, not bytes"):
            await client.publish_home_display_text(b"not text")
        # the RootModel of an earlier generated client is still understood at runtime
        await client.publish_home_display_text(smart.models.HomeDisplayTextMessage("old"))
        assert [m.payload for m in kit_of(client).broker.log] == [b"old"]


@pytest.mark.parametrize(
    ("topic", "reason"),
    [
        ("/home/garage/alarm", "topic parameter room='garage': must be one of kitchen, hall"),
        ("home/sensor/Room-1/temperature", "topic parameter sensorId='Room-1': must match"),
    ],
)
async def test_topic_parameters_outside_enum_or_pattern_are_dropped_on_receive(
    smart: ModuleType, topic: str, reason: str
) -> None:
    handled: list[Any] = []

    async def keep(msg: Any, meta: MessageMeta) -> None:
        handled.append(msg)

    payload = b'{"armed": true}' if "alarm" in topic else b'{"celsius": 20}'
    async with for_testing(smart.SmartHomeClient) as client:
        await client.subscribe_home_room_alarm(keep)
        await client.subscribe_home_sensor_sensor_id_temperature(keep)
        with pytest.raises(PayloadValidationError) as info:
            await kit_of(client).deliver_raw(topic, payload)
    assert handled == [] and client.stats.invalid_total == 1
    assert reason in str(info.value)


def test_topic_parameters_outside_enum_or_pattern_are_refused_on_publish(
    smart: ModuleType,
) -> None:
    from mqttwire.errors import TopicParameterError

    spec = smart.channels.CH_HOME_SENSOR_SENSOR_ID_TEMPERATURE
    with pytest.raises(TopicParameterError, match="must match the pattern"):
        spec.topic.format({"sensorId": "Room-1"})
    assert spec.topic.format({"sensorId": "room1"}) == "home/sensor/room1/temperature"


async def test_an_empty_retained_payload_clears_and_is_not_invalid(smart: ModuleType) -> None:
    """``/home/door`` is retained: an empty payload there clears it (brokers forward it live
    with the retain flag cleared), it is not an invalid message."""
    handled: list[Any] = []

    async def keep(msg: Any, meta: MessageMeta) -> None:
        handled.append(msg)

    async with for_testing(smart.SmartHomeClient) as client:
        await client.subscribe_home_door(keep)
        await kit_of(client).deliver_raw("/home/door", b"", retain=True)
        await kit_of(client).deliver_raw("/home/door", b"")
        await kit_of(client).deliver_raw("/home/door", b"{}")
        await client.subscribe_home_display_text(keep)  # not retained: empty text is a message
        await kit_of(client).deliver_raw("home/display/text", b"")
    assert [type(h).__name__ for h in handled] == ["HomeDoorMessage", "str"]
    assert client.stats.cleared["home_door"] == 2
    assert client.stats.invalid_total == 0


@pytest.fixture
async def on_broker(
    smart: ModuleType, mqtt_broker: MosquittoBroker
) -> AsyncIterator[tuple[Any, CapturingTransport, MQTTClient]]:
    """A generated client whose publishes are captured at the transport, and a raw listener."""

    async def make(protocol: str) -> tuple[Any, CapturingTransport, MQTTClient]:
        capture = CapturingTransport(default_transport())
        config = MQTTClientConfig(
            url=mqtt_broker.url,
            client_id=f"smart-{next(_ids)}",
            protocol=protocol,
            shutdown_timeout=2.0,
        )
        client = smart.SmartHomeClient(client=MQTTClient(config, transport=capture))
        listener = MQTTClient(
            MQTTClientConfig(
                url=mqtt_broker.url,
                client_id=f"listener-{next(_ids)}",
                protocol=protocol,
                shutdown_timeout=2.0,
            )
        )
        made.extend([client, listener])
        return client, capture, listener

    made: list[Any] = []
    yield make  # type: ignore[misc]
    for item in made:
        await item.shutdown()


@pytest.mark.parametrize("protocol", ["3.1.1", "5"])
async def test_every_payload_published_to_mosquitto_validates_against_the_contract(
    smart: ModuleType, wire: ContractWire, on_broker: Any, protocol: str
) -> None:
    client, capture, listener = await on_broker(protocol)
    seen: asyncio.Queue[tuple[str, bytes]] = asyncio.Queue()

    async def listen(payload: bytes, meta: MessageMeta) -> None:
        await seen.put((meta.topic, payload))

    await listener.connect()
    await listener.subscribe("#", listen, qos=1)
    await client.connect()
    sent = await publish_everything(client, smart.models)
    received = [await asyncio.wait_for(seen.get(), 10.0) for _ in range(sent)]
    assert len(capture.published) == sent
    assert sorted(received) == sorted(capture.published)
    for topic, payload in received:
        assert wire.errors(topic, payload) == [], (topic, payload)
    assert any(topic.startswith("/home/") for topic, _ in received)


async def test_clear_removes_the_retained_message_of_a_retained_channel(smart: ModuleType) -> None:
    async with for_testing(smart.SmartHomeClient) as client:
        await client.publish_home_door(smart.models.HomeDoorMessage(open=True))
        assert "/home/door" in kit_of(client).broker.retained
        await client.clear_home_door()
        assert "/home/door" not in kit_of(client).broker.retained
    assert not hasattr(client, "clear_home_display_text")  # not a retained channel


async def test_a_synchronous_handler_is_refused_when_subscribing(smart: ModuleType) -> None:
    def not_async(msg: Any, meta: MessageMeta) -> None:
        return None

    async with for_testing(smart.SmartHomeClient) as client:
        with pytest.raises(TypeError, match="not_async for channel home_door must be an async"):
            await client.subscribe_home_door(not_async)
        with pytest.raises(TypeError, match="must be an async function"):
            client.on_home_door(not_async)


async def test_handler_errors_are_logged_under_the_users_function(
    smart: ModuleType, caplog: pytest.LogCaptureFixture
) -> None:
    async def door_watcher(msg: Any, meta: MessageMeta) -> None:
        raise RuntimeError("boom")

    async with for_testing(smart.SmartHomeClient) as client:
        await client.subscribe_home_door(door_watcher)
        with pytest.raises(RuntimeError, match="boom"):
            await kit_of(client).deliver_raw("/home/door", b"{}")
    failures = [r.getMessage() for r in caplog.records if "failed on topic" in r.getMessage()]
    assert failures and "door_watcher" in failures[0] and "on_raw" not in failures[0]


def test_handlers_on_a_client_that_never_connects_are_reported(
    smart: ModuleType, caplog: pytest.LogCaptureFixture
) -> None:
    import gc

    client = for_testing(smart.SmartHomeClient)

    @client.on_home_door  # no running loop: deferred to connect(), which never comes
    async def door_watcher(msg: Any, meta: MessageMeta) -> None:
        return None

    del client
    gc.collect()
    [record] = [r for r in caplog.records if "never connected" in r.getMessage()]
    assert "door_watcher (home_door)" in record.getMessage()


async def test_handlers_subscribed_in_a_running_loop_are_reported_when_connect_never_comes(
    smart: ModuleType, caplog: pytest.LogCaptureFixture
) -> None:
    """``on_*`` and ``subscribe_*`` inside ``async def main`` on a client whose ``connect`` is
    forgotten: ``shutdown`` names both handlers; a client that connected reports nothing."""
    forgotten = for_testing(smart.SmartHomeClient)

    @forgotten.on_home_door
    async def door_watcher(msg: Any, meta: MessageMeta) -> None:
        return None

    async def alarm_watcher(msg: Any, meta: MessageMeta) -> None:
        return None

    await forgotten.subscribe_home_room_alarm(alarm_watcher)
    await forgotten.shutdown()
    [record] = [r for r in caplog.records if "never connected" in r.getMessage()]
    assert "door_watcher (home_door)" in record.getMessage()
    assert "alarm_watcher (home_room_alarm)" in record.getMessage()
    assert "2 handler(s)" in record.getMessage()
    caplog.clear()
    async with for_testing(smart.SmartHomeClient) as connected:
        await connected.subscribe_home_room_alarm(alarm_watcher)
    assert not [r for r in caplog.records if "never connected" in r.getMessage()]


def test_tars_health_is_refused_where_the_contract_does_not_declare_it(smart: ModuleType) -> None:
    from mqttwire.errors import ConfigError
    from tars_mqtt import TarsClient

    config = MQTTClientConfig(url="mqtt://127.0.0.1:9", client_id="smart", enable_health=True)
    with pytest.raises(ConfigError, match="MQTT_ENABLE_HEALTH publishes on system/health/"):
        smart.SmartHomeClient(config)
    heartbeat = MQTTClientConfig(url="mqtt://127.0.0.1:9", client_id="s", enable_heartbeat=True)
    with pytest.raises(ConfigError, match="MQTT_ENABLE_HEARTBEAT"):
        smart.SmartHomeClient(heartbeat)
    assert TarsClient(config).client is not None  # the TARS contract declares both channels


async def test_correlation_id_is_offered_only_where_the_envelope_carries_it(
    smart: ModuleType,
) -> None:
    """A bare channel's ``publish_*`` has no ``correlation_id=`` (its options are
    ``PublishOptions``); an enveloped channel's has (TARS); an untyped caller passing it to a
    bare channel gets a ``TypeError`` instead of the id silently going nowhere."""
    import typing

    from mqttwire.typed import EnvelopePublishOptions, PublishOptions
    from tars_mqtt import TarsClient

    def options_of(method: Any) -> Any:
        (options,) = typing.get_args(typing.get_type_hints(method)["options"])
        return options

    publishers = [n for n in dir(smart.SmartHomeClient) if n.startswith(("publish_", "set_"))]
    assert len(publishers) >= 5
    for name in publishers:
        assert options_of(getattr(smart.SmartHomeClient, name)) is PublishOptions, name
    assert "correlation_id" not in PublishOptions.__optional_keys__
    assert options_of(TarsClient.publish_llm_stream) is EnvelopePublishOptions
    assert "correlation_id" in EnvelopePublishOptions.__optional_keys__

    async with for_testing(smart.SmartHomeClient) as client:
        with pytest.raises(TypeError, match="correlation_id= on channel home_door"):
            await client.publish_home_door(smart.models.HomeDoorMessage(), correlation_id="c1")
        assert [m for m in kit_of(client).broker.log if m.sender == "test-client"] == []
