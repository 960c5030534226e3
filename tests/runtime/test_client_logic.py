"""MQTTClient behaviour on a scripted transport: queueing, retries, states, watchdog, errors."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence

import orjson
import pytest
from fake_transport import FakeTransport

from mqttwire import (
    AuthenticationError,
    ClientState,
    ConnectError,
    MessageMeta,
    MQTTClient,
    MQTTClientConfig,
    NotConnectedError,
    PublishTimeoutError,
    SubscribeError,
)
from mqttwire.transport import ConnectOptions, TransportConnectError


def make(transport: FakeTransport, **settings: object) -> MQTTClient:
    settings.setdefault("reconnect_min_delay", 0.1)
    settings.setdefault("reconnect_max_delay", 0.5)
    config = MQTTClientConfig(url="mqtt://u:pw@broker:1883", client_id="svc", **settings)
    return MQTTClient(config, transport=transport)


async def wait_state(client: MQTTClient, state: ClientState, within: float = 5.0) -> None:
    if client.state is state:
        return
    reached = asyncio.Event()

    def listener(new: ClientState) -> None:
        if new is state:
            reached.set()

    client.add_state_listener(listener)
    try:
        await asyncio.wait_for(reached.wait(), within)
    finally:
        client.remove_state_listener(listener)


async def test_connect_options_carry_will_and_settings() -> None:
    transport = FakeTransport()
    client = make(transport, enable_health=True, keepalive=17, clean_session=False, protocol="5")
    await client.connect()
    options = transport.connects[0]
    assert (options.host, options.port, options.username, options.password) == (
        "broker",
        1883,
        "u",
        "pw",
    )
    assert options.keepalive == 17 and options.clean_session is False and options.protocol == "5"
    assert "pw" not in repr(options)
    assert options.will is not None
    assert (
        options.will.topic == "system/health/svc" and options.will.qos == 1 and options.will.retain
    )
    will = orjson.loads(options.will.payload)
    assert will["type"] == "health.status" and will["data"]["ok"] is False
    ready = [p for p in transport.published if p[0] == "system/health/svc"]
    assert orjson.loads(ready[0][1])["data"]["event"] == "ready" and ready[0][2:] == (1, True)
    await client.shutdown()
    shutdown = orjson.loads(transport.published[-1][1])
    assert shutdown["data"] == {**shutdown["data"], "ok": False, "event": "shutdown"}
    assert transport.clean_disconnects == 1


async def test_publish_before_connect_raises_not_connected() -> None:
    client = make(FakeTransport())
    with pytest.raises(NotConnectedError):
        await client.publish("a", b"x", qos=1)


async def test_states_and_listeners_through_a_reconnect() -> None:
    transport = FakeTransport()
    client = make(transport)
    states: list[ClientState] = []
    client.add_state_listener(states.append)
    client.add_state_listener(lambda s: 1 / 0)  # a broken listener must not break the client
    await client.connect()
    transport.drop()
    await wait_state(client, ClientState.RECONNECTING)
    await wait_state(client, ClientState.CONNECTED)
    await client.shutdown()
    assert states == [
        ClientState.CONNECTING,
        ClientState.CONNECTED,
        ClientState.RECONNECTING,
        ClientState.CONNECTED,
        ClientState.DISCONNECTING,
        ClientState.DISCONNECTED,
    ]


async def test_every_filter_is_resubscribed_once_per_connect() -> None:
    transport = FakeTransport()
    client = make(transport)

    async def h(payload: bytes) -> None: ...

    await client.subscribe("a/+", h, qos=1)
    await client.subscribe("a/+", h, qos=0)
    await client.subscribe("b/#", h)
    await client.connect()
    await client.subscribe("c", h, qos=2)
    transport.drop()
    await wait_state(client, ClientState.RECONNECTING)
    await wait_state(client, ClientState.CONNECTED)
    assert transport.subscribe_calls[0] == [("a/+", 1), ("b/#", 0)]
    assert transport.subscribe_calls[1] == [("c", 2)]
    assert sorted(transport.subscribe_calls[2]) == [("a/+", 1), ("b/#", 0), ("c", 2)]
    await client.shutdown()


async def test_ambiguous_publish_is_resent_with_the_same_bytes() -> None:
    transport = FakeTransport()
    client = make(transport)
    await client.connect()
    transport.hold_acks = True
    message_id = None

    async def send() -> None:
        nonlocal message_id
        message_id = await client.publish_event("t", "e.t", {"n": 1}, qos=1)

    task = asyncio.create_task(send())
    for _ in range(500):  # until the PUBLISH is written (scripted transport: no event)
        if transport.published:
            break
        await asyncio.sleep(0.01)
    first_bytes = transport.published[-1][1]
    transport.hold_acks = False
    transport.drop()
    await asyncio.wait_for(task, 5)  # accepted, not lost, not raised
    await wait_state(client, ClientState.CONNECTED)
    for _ in range(200):
        if len([p for p in transport.published if p[0] == "t"]) == 2:
            break
        await asyncio.sleep(0.01)
    sent = [p[1] for p in transport.published if p[0] == "t"]
    assert sent == [first_bytes, first_bytes]
    assert orjson.loads(sent[1])["id"] == message_id
    assert client.metrics.publish_retries == 1
    await client.shutdown()


async def test_publish_timeout_is_typed_and_bounded() -> None:
    transport = FakeTransport()
    client = make(transport, publish_timeout=0.2)
    await client.connect()
    transport.hold_acks = True
    loop = asyncio.get_running_loop()
    started = loop.time()
    with pytest.raises(PublishTimeoutError) as info:
        await client.publish("slow", b"x", qos=1)
    assert loop.time() - started < 1.0
    assert info.value.timeout == 0.2 and info.value.topic == "slow"
    transport.hold_acks = False
    await client.shutdown()


async def test_qos0_offline_dropped_or_queued_when_configured() -> None:
    transport = FakeTransport()
    client = make(
        transport, offline_queue_qos0=True, reconnect_min_delay=0.5, reconnect_max_delay=0.5
    )
    await client.connect()
    transport.refuse = TransportConnectError("down")
    transport.drop()
    await wait_state(client, ClientState.RECONNECTING)
    await client.publish("q0", b"kept", qos=0)
    assert client.offline_queue_length == 1
    transport.refuse = None
    await wait_state(client, ClientState.CONNECTED)
    for _ in range(200):
        if ("q0", b"kept", 0, False) in transport.published:
            break
        await asyncio.sleep(0.01)
    assert ("q0", b"kept", 0, False) in transport.published
    await client.shutdown()


async def test_first_connect_failure_and_auth_failure() -> None:
    transport = FakeTransport()
    transport.refuse = TransportConnectError("Connection refused")
    client = make(transport)
    with pytest.raises(ConnectError) as info:
        await client.connect()
    assert not isinstance(info.value, AuthenticationError)
    assert (info.value.host, info.value.port) == ("broker", 1883)
    assert client.state is ClientState.DISCONNECTED

    transport.refuse = TransportConnectError(
        "Bad user name or password", code=134, authentication=True
    )
    client = make(transport, connect_retry=True)
    with pytest.raises(AuthenticationError):
        await client.connect()

    transport.refuse = TransportConnectError("Client identifier not valid", fatal=True, code=133)
    client = make(transport, connect_retry=True)
    with pytest.raises(ConnectError) as info:
        await client.connect()
    assert info.value.fatal and not isinstance(info.value, AuthenticationError)
    assert len(transport.connects) == 3  # one attempt each, no retries


async def test_auth_refusal_after_connect_is_logged_once_without_storm(
    caplog: pytest.LogCaptureFixture,
) -> None:
    transport = FakeTransport()
    client = make(transport, reconnect_min_delay=0.1, reconnect_max_delay=0.5)
    await client.connect()
    transport.refuse = TransportConnectError("Not authorized", code=135, authentication=True)
    with caplog.at_level(logging.ERROR, logger="mqttwire.client"):
        transport.drop()
        await asyncio.sleep(1.3)
    attempts = len(transport.connects) - 1
    assert 1 <= attempts <= 4  # paced at reconnect_max_delay, not a tight loop
    assert caplog.text.count("Not authorized") == 1
    assert isinstance(client.last_error, AuthenticationError)
    await client.shutdown()


async def test_watchdog_reconnects_when_heartbeats_stop_coming_back() -> None:
    transport = FakeTransport()
    client = make(transport, enable_heartbeat=True, heartbeat_interval=1.0)
    await client.connect()
    assert ("system/keepalive/svc", 0) in transport.subscribe_calls[0]
    await asyncio.sleep(1.2)
    beats = [p for p in transport.published if p[0] == "system/keepalive/svc"]
    assert len(beats) >= 2 and orjson.loads(beats[0][1])["event"] == "heartbeat"
    assert client.metrics.watchdog_reconnects == 0
    transport.echo = False  # half-open: writes succeed, nothing comes back
    loop = asyncio.get_running_loop()
    started = loop.time()
    await wait_state(client, ClientState.RECONNECTING, within=5)
    assert loop.time() - started <= 3.0
    assert client.metrics.watchdog_reconnects == 1
    transport.echo = True
    await wait_state(client, ClientState.CONNECTED)
    await client.shutdown()


async def test_handlers_get_meta_and_subscribe_refusal_is_typed() -> None:
    transport = FakeTransport()
    client = make(transport)
    got: list[MessageMeta] = []

    async def h(payload: bytes, meta: MessageMeta) -> None:
        got.append(meta)

    await client.connect()
    await client.subscribe("s/+", h, qos=1)
    transport.inject("s/1", b"x", 1, True)
    for _ in range(100):
        if got:
            break
        await asyncio.sleep(0.01)
    assert got[0] == MessageMeta(topic="s/1", qos=1, retain=True)

    async def refuse(filters: object, ack_timeout: float) -> list[int]:
        return [0x80]

    transport.subscribe = refuse  # type: ignore[method-assign]
    with pytest.raises(SubscribeError):
        await client.subscribe("denied", h)
    assert [s.topic_filter for s in client.subscriptions] == ["s/+"]
    await client.shutdown()


async def test_shutdown_drains_offline_queue_and_is_idempotent() -> None:
    transport = FakeTransport()
    client = make(transport)
    await client.connect()
    await client.shutdown()
    await client.shutdown()
    assert client.state is ClientState.DISCONNECTED
    with pytest.raises(NotConnectedError):
        await client.connect()


class _SetupFails(FakeTransport):
    """The first ``failures`` links drop while the client subscribes (before they are up)."""

    def __init__(self, failures: int) -> None:
        super().__init__()
        self.failures = failures

    async def subscribe(
        self,
        filters: Sequence[tuple[str, int]],
        ack_timeout: float,
        *,
        subscription_id: int | None = None,
    ) -> list[int]:
        if self.failures:
            self.failures -= 1
            self.drop()
        return await super().subscribe(filters, ack_timeout, subscription_id=subscription_id)


async def test_a_first_link_lost_before_it_is_up_leaves_the_client_connecting() -> None:
    """The state alone says whether a link was up since ``connect()``: a link lost during its
    setup does not make the first connect a reconnect (health says ``ready``, not
    ``reconnected``; the state never shows ``reconnecting``)."""
    transport = _SetupFails(1)
    client = make(transport, enable_health=True)
    states: list[ClientState] = []
    client.add_state_listener(states.append)

    async def handler(payload: bytes) -> None: ...

    await client.subscribe("a/b", handler, qos=1)
    await client.connect()
    assert len(transport.connects) == 2 and client.metrics.reconnects == 1
    assert states == [ClientState.CONNECTING, ClientState.CONNECTED]
    health = [orjson.loads(p[1]) for p in transport.published if p[0] == "system/health/svc"]
    assert [h["data"]["event"] for h in health] == ["ready"]
    await client.shutdown()


class _GatedRefusal(FakeTransport):
    """``connect`` waits for ``gate``, then is refused."""

    def __init__(self) -> None:
        super().__init__()
        self.gate = asyncio.Event()
        self.attempts = asyncio.Event()

    async def connect(self, options: ConnectOptions) -> None:
        self.connects.append(options)
        self.attempts.set()
        await self.gate.wait()
        raise TransportConnectError("connection refused")


async def test_disconnect_during_a_connect_attempt_keeps_its_states() -> None:
    transport = _GatedRefusal()
    client = make(transport, connect_retry=True)
    states: list[ClientState] = []
    client.add_state_listener(states.append)
    connecting = asyncio.create_task(client.connect())
    await asyncio.wait_for(transport.attempts.wait(), 5)
    disconnecting = asyncio.create_task(client.disconnect())
    await asyncio.sleep(0)
    transport.gate.set()  # the attempt fails while disconnect() is under way
    await asyncio.wait_for(disconnecting, 5)
    with pytest.raises(ConnectError, match="connect cancelled"):
        await connecting
    assert states == [ClientState.CONNECTING, ClientState.DISCONNECTING, ClientState.DISCONNECTED]
    assert client.metrics.connect_failures == 1
