"""MQTTClient's MQTT 5 details on the in-memory broker: the offline queue honours message
expiry, refused queued messages are dropped, properties stay off 3.1.1 links."""

from __future__ import annotations

import asyncio

from mqttwire import MessageProperties, MQTTClient, MQTTClientConfig
from mqttwire.metrics import ClientMetrics
from mqttwire.offline_queue import OutgoingMessage
from mqttwire.outbox import Outbox
from mqttwire.state import ClientState
from mqttwire.testing.memory import MEMORY_URL, MemoryBroker


def client(broker: MemoryBroker, protocol: str = "5") -> MQTTClient:
    config = MQTTClientConfig(
        url=MEMORY_URL,
        client_id="c",
        protocol=protocol,
        reconnect_min_delay=0.1,
        reconnect_max_delay=0.5,
        shutdown_timeout=1.0,
    )
    return MQTTClient(config, transport=broker.transport())


async def test_queued_messages_lose_expiry_while_offline_and_expired_ones_are_dropped() -> None:
    broker = MemoryBroker()
    c = client(broker)
    metrics = ClientMetrics()
    outbox = Outbox(c.config, metrics, lambda error: None)
    now = asyncio.get_running_loop().time()
    expiring = MessageProperties(message_expiry_interval=10)
    kept = outbox.unexpired(
        [
            OutgoingMessage("a", b"old", 1, False, expiring, now - 11),  # expired
            OutgoingMessage("a", b"aged", 1, False, expiring, now - 4),
            OutgoingMessage("a", b"plain", 1, False, None, now - 100),
        ]
    )
    assert [m.payload for m in kept] == [b"aged", b"plain"]
    assert kept[0].properties is not None and kept[0].properties.message_expiry_interval == 6
    assert metrics.offline_expired == 1
    outbox.close()


async def test_offline_queue_keeps_properties_and_drops_refused_messages() -> None:
    broker = MemoryBroker()
    broker.deny("denied/#")
    c = client(broker)
    await c.connect()
    down = asyncio.Event()
    up = asyncio.Event()
    c.add_state_listener(lambda s: down.set() if s is ClientState.RECONNECTING else None)
    broker.stop()
    await asyncio.wait_for(down.wait(), 5)
    props = MessageProperties(user_properties=(("k", "v"),))
    await c.publish("denied/x", b"refused later", qos=1, properties=props)
    await c.publish("ok/x", b"sent later", qos=1, properties=props)
    assert c.offline_queue_length == 2
    c.add_state_listener(lambda s: up.set() if s is ClientState.CONNECTED else None)
    broker.start()
    await asyncio.wait_for(up.wait(), 5)
    metrics = c.metrics

    async def flushed() -> None:
        while metrics.offline_flushed + metrics.publish_refused < 2:  # noqa: ASYNC110 - counters
            await asyncio.sleep(0.005)

    await asyncio.wait_for(flushed(), 5)
    assert [(m.topic, m.properties) for m in broker.log] == [("ok/x", props)]
    assert c.metrics.publish_refused == 1
    await c.shutdown()


async def test_properties_and_envelope_mirroring_stay_off_3_1_1_links() -> None:
    broker = MemoryBroker()
    c = client(broker, protocol="3.1.1")
    await c.connect()
    await c.publish_event("t", "x.y", {"a": 1}, qos=1)
    await c.publish("t", b"{}", qos=1, properties=MessageProperties(content_type="text/plain"))
    assert [m.properties for m in broker.log] == [None, None]
    await c.shutdown()
