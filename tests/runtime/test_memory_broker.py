"""MemoryBroker details that need a controllable clock or are awkward on a real broker.

The behaviour shared with Mosquitto is checked on both in test_both_transports.py.
"""

from __future__ import annotations

import asyncio

import pytest

from mqttwire.testing.memory import MemoryBroker, MemoryTransport
from mqttwire.transport import (
    ConnectOptions,
    IncomingMessage,
    MessageProperties,
    TransportConnectError,
    TransportDisconnectedError,
    WillMessage,
)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def options(client_id: str, **kw: object) -> ConnectOptions:
    return ConnectOptions(host="in-memory", port=1883, client_id=client_id, **kw)  # type: ignore[arg-type]


async def drain(transport: MemoryTransport, count: int) -> list[IncomingMessage]:
    got: list[IncomingMessage] = []

    async def read() -> None:
        async for message in transport.messages():
            got.append(message)
            if len(got) == count:
                return

    await asyncio.wait_for(read(), 2)
    return got


async def connected(broker: MemoryBroker, client_id: str, **kw: object) -> MemoryTransport:
    transport = broker.transport()
    await transport.connect(options(client_id, **kw))
    return transport


async def test_session_takeover_cuts_the_old_link_and_sends_its_will() -> None:
    broker = MemoryBroker()
    monitor = await connected(broker, "monitor")
    await monitor.subscribe([("will/#", 1)], 1)
    will = WillMessage("will/dup", b"gone", qos=1, retain=False)
    first = await connected(broker, "dup", will=will)
    await connected(broker, "dup")
    assert first.native is None
    with pytest.raises(TransportDisconnectedError):
        await first.publish("x", b"", 0, False, 1)
    [message] = await drain(monitor, 1)
    assert (message.topic, message.payload) == ("will/dup", b"gone")


async def test_a_stopped_broker_refuses_connections_and_forgets_without_persistence() -> None:
    for persistence in (False, True):
        broker = MemoryBroker(persistence=persistence)
        client = await connected(broker, "c", clean_session=False)
        await client.subscribe([("t", 1)], 1)
        await client.publish("kept", b"r", 1, True, 1)
        broker.stop()
        assert client.native is None
        with pytest.raises(TransportConnectError):
            await client.connect(options("c", clean_session=False))
        broker.start()
        await client.connect(options("c", clean_session=False))
        assert bool(broker.retained) is persistence
        assert broker.subscriptions("c") == ({"t": 1} if persistence else {})


async def test_retained_and_queued_messages_expire_on_the_brokers_clock() -> None:
    clock = Clock()
    broker = MemoryBroker(clock=clock)
    v5 = {"protocol": "5"}
    away = await connected(broker, "away", clean_session=False, session_expiry=60, **v5)
    await away.subscribe([("exp/#", 1)], 1)
    await away.disconnect(1)
    sender = await connected(broker, "sender", **v5)
    for name, expiry in (("short", 5), ("long", 50)):
        props = MessageProperties(message_expiry_interval=expiry)
        await sender.publish(f"exp/{name}", name.encode(), 1, True, 1, properties=props)
    clock.now += 10
    assert set(broker.retained) == {"exp/long"}
    await away.connect(options("away", clean_session=False, session_expiry=60, **v5))
    [queued] = await drain(away, 1)
    assert queued.payload == b"long"
    assert queued.properties is not None and queued.properties.message_expiry_interval == 40


async def test_mqtt5_session_expiry_and_clean_start() -> None:
    clock = Clock()
    broker = MemoryBroker(clock=clock)
    kw = {"protocol": "5", "clean_session": False, "session_expiry": 30}
    client = await connected(broker, "s", **kw)
    await client.subscribe([("a", 1)], 1)
    await client.disconnect(1)
    clock.now += 10
    await client.connect(options("s", **kw))
    assert broker.subscriptions("s") == {"a": 1}
    await client.disconnect(1)
    clock.now += 31
    await client.connect(options("s", **kw))
    assert broker.subscriptions("s") == {}
    await client.subscribe([("a", 1)], 1)
    await client.connect(options("s", protocol="5", clean_session=True))
    assert broker.subscriptions("s") == {}


async def test_properties_reach_mqtt5_subscribers_only() -> None:
    broker = MemoryBroker()
    old = await connected(broker, "old")
    new = await connected(broker, "new", protocol="5")
    for transport in (old, new):
        await transport.subscribe([("p", 0)], 1, subscription_id=7)
    props = MessageProperties(user_properties=(("k", "v"),))
    broker.publish("p", b"x", properties=props)
    [to_old] = await drain(old, 1)
    [to_new] = await drain(new, 1)
    assert to_old.properties is None and to_old.subscription_ids == ()
    assert to_new.properties == props and to_new.subscription_ids == (7,)
    assert broker.log[0].sender is None


async def test_denied_publish_is_silent_on_3_1_1_and_a_bad_topic_closes_the_link() -> None:
    broker = MemoryBroker()
    broker.deny("secret/#", subscribe=False)
    client = await connected(broker, "c")
    await client.publish("secret/x", b"1", 1, False, 1)  # 3.1.1: no way to say no
    assert broker.log == []
    assert await client.subscribe([("secret/#", 1)], 1) == [1]
    with pytest.raises(TransportDisconnectedError):
        await client.publish("a/+", b"", 0, False, 1)
    assert not broker.connected("c")
