"""Several brokers in MQTT_URL (failover) and broker limits (typed errors, never a downgrade).

Runs on the scripted fake transport: a subclass knows which broker (host:port) is "down" and
what QoS each broker grants, so the supervisor's choices can be checked without real brokers.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import orjson
import pytest
from fake_transport import FakeTransport

from mqttwire import (
    BrokerLimitError,
    ClientState,
    ConfigError,
    ConnectError,
    MQTTClient,
    MQTTClientConfig,
    ProtocolNotSupportedError,
    QoSNotGrantedError,
    QoSNotSupportedError,
    SubscribeError,
)
from mqttwire.transport import ConnectOptions, TransportConnectError
from mqttwire.url import parse_urls, redact_url, split_urls

URLS = "mqtt://u:pw@a:1883,mqtt://u:pw@b:1884,mqtt://u:pw@c:1885"


class ClusterTransport(FakeTransport):
    """A fake link to whichever broker ``connect`` names; brokers can be down or limited."""

    def __init__(self) -> None:
        super().__init__()
        self.down: set[int] = set()  # ports that refuse connections
        self.refusals: dict[int, TransportConnectError] = {}
        self.max_qos: dict[int, int] = {}  # port -> highest QoS granted in SUBACK
        self.port: int | None = None
        self.unsubscribed: list[str] = []
        self.stamps: list[float] = []  # loop time of every connect attempt

    @property
    def ports(self) -> list[int]:
        return [options.port for options in self.connects]

    async def connect(self, options: ConnectOptions) -> None:
        self.stamps.append(asyncio.get_running_loop().time())
        if options.port in self.refusals:
            self.connects.append(options)
            raise self.refusals[options.port]
        if options.port in self.down:
            self.connects.append(options)
            raise TransportConnectError(f"[Errno 111] Connection refused ({options.port})")
        await super().connect(options)
        self.port = options.port

    async def subscribe(
        self,
        filters: Sequence[tuple[str, int]],
        ack_timeout: float,
        *,
        subscription_id: int | None = None,
    ) -> list[int]:
        granted = await super().subscribe(filters, ack_timeout, subscription_id=subscription_id)
        limit = self.max_qos.get(self.port or 0, 2)
        return [min(qos, limit) for qos in granted]

    async def unsubscribe(self, filters: Sequence[str], ack_timeout: float) -> None:
        self.unsubscribed.extend(filters)
        await super().unsubscribe(filters, ack_timeout)


def make(transport: FakeTransport, url: str = URLS, **settings: object) -> MQTTClient:
    settings.setdefault("reconnect_min_delay", 0.1)
    settings.setdefault("reconnect_max_delay", 0.5)
    return MQTTClient(MQTTClientConfig(url=url, client_id="svc", **settings), transport=transport)


async def wait_state(client: MQTTClient, state: ClientState, within: float = 5.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while client.state is not state:
        if loop.time() > deadline:
            raise AssertionError(f"state {client.state} != {state} after {within}s")
        await asyncio.sleep(0.005)


async def wait_relinked(client: MQTTClient, links: int = 2, within: float = 5.0) -> None:
    """Wait until the client has made ``links`` connections and is connected now."""
    await wait_until(lambda: client.metrics.connects >= links and client.connected, within)


async def wait_until(predicate: object, within: float = 5.0) -> None:
    assert callable(predicate)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while not predicate():
        if loop.time() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.005)


# --------------------------------------------------------------------------- configuration


def test_url_list_parses_in_order_and_keeps_connection_as_the_first() -> None:
    config = MQTTClientConfig(url=URLS, client_id="svc")
    assert [(c.host, c.port) for c in config.connections] == [("a", 1883), ("b", 1884), ("c", 1885)]
    assert config.connection == config.connections[0]
    assert all(c.password == "pw" for c in config.connections)
    single = MQTTClientConfig(url="mqtt://h:1", client_id="svc")
    assert single.connections == (single.connection,)


def test_url_list_from_env_with_spaces_and_mixed_tls() -> None:
    config = MQTTClientConfig.from_env(
        {"MQTT_URL": "mqtt://a:1883 , mqtts://b", "MQTT_CLIENT_ID": "svc"}
    )
    a, b = config.connections
    assert (a.port, a.tls, b.port, b.tls) == (1883, False, 8883, True)
    assert not config.uses_tls(a) and config.uses_tls(b)


def test_passwords_of_every_url_are_redacted() -> None:
    url = "mqtt://u:secret1@a:1,mqtts://v:secret2@b:2"
    assert split_urls(url) == ["mqtt://u:secret1@a:1", "mqtts://v:secret2@b:2"]
    assert redact_url(url) == "mqtt://u:***@a:1,mqtts://v:***@b:2"
    config = MQTTClientConfig(url=url, client_id="svc")
    text = (
        repr(config) + str(config.connections) + repr(MQTTClient(config, transport=FakeTransport()))
    )
    assert "secret1" not in text and "secret2" not in text
    # A comma inside a password does not split the list (only ",scheme://" does).
    (params,) = parse_urls("mqtt://u:pa,ss@h:1")
    assert params.password == "pa,ss"


@pytest.mark.parametrize(
    ("url", "needle"),
    [
        ("mqtt://a:1,", "single commas"),
        ("mqtt://a:1,,mqtt://b:2", "single commas"),
        ("mqtt://a:1,mqtt://a:1", "more than once"),
        ("mqtt://a:1,http://b:2", "scheme"),
        ("mqtt://a:1,mqtt://u:hunter2@b:bad", "valid URL"),
    ],
)
def test_invalid_url_lists_name_the_variable_and_hide_passwords(url: str, needle: str) -> None:
    with pytest.raises(ConfigError) as info:
        MQTTClientConfig(url=url, client_id="svc")
    assert info.value.variable == "MQTT_URL"
    assert needle in str(info.value)
    assert "hunter2" not in str(info.value)


# --------------------------------------------------------------------------------- failover


async def test_link_loss_fails_over_to_the_next_broker_and_restores_everything() -> None:
    transport = ClusterTransport()
    client = make(transport, enable_health=True)

    async def handler(payload: bytes) -> None: ...

    await client.subscribe("sensors/+/temp", handler, qos=1)
    await client.subscribe("cmd/#", handler)
    await client.connect()
    assert transport.port == 1883 and client.broker.port == 1883
    assert [b.port for b in client.brokers] == [1883, 1884, 1885]

    transport.down.add(1883)
    transport.drop()
    await wait_relinked(client)
    assert transport.port == 1884 and client.broker.port == 1884
    assert transport.ports == [1883, 1884]  # straight to the next broker
    assert client.metrics.failovers == 1
    # subscriptions restored on the new broker
    assert sorted(transport.subscribe_calls[-1]) == [("cmd/#", 0), ("sensors/+/temp", 1)]
    # the will is registered with the new broker, and health says "reconnected" there
    options = transport.connects[-1]
    assert options.will is not None and options.will.topic == "system/health/svc"
    assert (options.username, options.password) == ("u", "pw")
    health = [orjson.loads(p[1]) for p in transport.published if p[0] == "system/health/svc"]
    assert [h["data"]["event"] for h in health] == ["ready", "reconnected"]
    await client.shutdown()


async def test_round_robin_wraps_and_skips_dead_brokers_without_waiting() -> None:
    transport = ClusterTransport()
    # A long backoff: if the client slept between brokers of one round, this test would time out.
    client = make(transport, reconnect_min_delay=5.0, reconnect_max_delay=5.0)
    await client.connect()
    transport.down.update({1884, 1885})
    loop = asyncio.get_running_loop()
    started = loop.time()
    transport.drop()
    await wait_relinked(client, within=2.0)
    assert loop.time() - started < 1.0
    assert transport.ports == [1883, 1884, 1885, 1883]
    assert client.metrics.connect_failures == 2
    assert client.metrics.failovers == 0  # back on the same broker
    await client.shutdown()


async def test_first_connect_tries_each_broker_once_then_raises() -> None:
    transport = ClusterTransport()
    transport.down.update({1883, 1884, 1885})
    client = make(transport)
    with pytest.raises(ConnectError) as info:
        await client.connect()
    assert transport.ports == [1883, 1884, 1885]
    assert (info.value.host, info.value.port) == ("a", 1883)
    assert client.state is ClientState.DISCONNECTED
    assert client.metrics.connect_failures == 3


async def test_first_connect_uses_a_later_broker_when_the_first_is_down() -> None:
    transport = ClusterTransport()
    transport.down.add(1883)
    client = make(transport)
    await client.connect()
    assert client.connected and client.broker.port == 1884
    await client.shutdown()


async def test_connect_retry_cycles_the_list_with_backoff_between_rounds() -> None:
    transport = ClusterTransport()
    transport.down.update({1883, 1884, 1885})
    client = make(transport, connect_retry=True, reconnect_min_delay=0.5, reconnect_max_delay=0.5)
    connecting = asyncio.create_task(client.connect())
    await wait_until(lambda: len(transport.connects) >= 7)
    assert not connecting.done() and client.state is ClientState.CONNECTING
    transport.down.discard(1885)
    await asyncio.wait_for(connecting, 5)
    assert client.broker.port == 1885
    assert transport.ports[:7] == [1883, 1884, 1885, 1883, 1884, 1885, 1883]
    stamps = transport.stamps
    within_round = [stamps[i + 1] - stamps[i] for i in (0, 1, 3, 4)]
    between_rounds = [stamps[3] - stamps[2], stamps[6] - stamps[5]]
    assert max(within_round) < 0.2, within_round  # the next broker at once
    assert min(between_rounds) >= 0.45, between_rounds  # backoff after a full round
    await client.shutdown()


async def test_fatal_refusal_on_one_broker_does_not_stop_failover_to_the_others() -> None:
    transport = ClusterTransport()
    client = make(transport)
    await client.connect()
    transport.refusals[1884] = TransportConnectError(
        "Bad user name or password", code=0x86, authentication=True
    )
    transport.drop()
    await wait_relinked(client)
    assert transport.ports == [1883, 1884, 1885]
    assert client.broker.port == 1885
    await client.shutdown()


async def test_messages_queued_during_failover_go_to_the_new_broker_in_order() -> None:
    transport = ClusterTransport()
    client = make(transport, reconnect_min_delay=0.5, reconnect_max_delay=0.5)
    await client.connect()
    transport.down.update({1883, 1884, 1885})
    transport.drop()
    await wait_state(client, ClientState.RECONNECTING)
    for i in range(5):
        await client.publish("q", str(i).encode(), qos=1)
    assert client.offline_queue_length == 5
    transport.down.discard(1885)
    await wait_state(client, ClientState.CONNECTED)
    # Wait for what matters (sent), not for the queue to empty: it is empty while in flight.
    await wait_until(lambda: sum(1 for p in transport.published if p[0] == "q") >= 5)
    assert transport.port == 1885
    assert [p[1] for p in transport.published if p[0] == "q"] == [b"0", b"1", b"2", b"3", b"4"]
    await client.shutdown()


# ------------------------------------------------------------------------------ broker limits


async def test_mqtt5_refused_by_connack_is_a_typed_protocol_error() -> None:
    transport = ClusterTransport()
    transport.refusals[1] = TransportConnectError(
        "Unsupported protocol version", fatal=True, code=0x84
    )
    client = make(transport, url="mqtt://nats:1", protocol="5", connect_retry=True)
    with pytest.raises(ProtocolNotSupportedError) as info:
        await client.connect()
    error = info.value
    assert isinstance(error, ConnectError) and isinstance(error, BrokerLimitError)
    assert error.protocol == "5" and error.fatal
    assert "MQTT 5" in error.limit and "MQTT_PROTOCOL=3.1.1" in str(error)
    assert client.metrics.connect_failures == 1  # fail fast, no retry storm


async def test_mqtt5_connection_closed_before_connack_is_a_typed_protocol_error() -> None:
    transport = ClusterTransport()
    transport.refusals[1] = TransportConnectError(
        "broker closed the connection before CONNACK", closed_before_connack=True
    )
    client = make(transport, url="mqtt://rabbit:1", protocol="5", connect_retry=True)
    with pytest.raises(ProtocolNotSupportedError) as info:
        await client.connect()
    assert "does not support MQTT 5" in str(info.value)
    # on 3.1.1 the same event is an ordinary, retryable connect failure
    plain = make(transport, url="mqtt://rabbit:1")
    with pytest.raises(ConnectError) as info2:
        await plain.connect()
    assert not isinstance(info2.value, BrokerLimitError) and not info2.value.fatal


async def test_downgraded_suback_raises_instead_of_delivering_less() -> None:
    transport = ClusterTransport()
    transport.max_qos[1] = 1
    client = make(transport, url="mqtt://nats:1")
    await client.connect()

    async def handler(payload: bytes) -> None: ...

    with pytest.raises(QoSNotGrantedError) as info:
        await client.subscribe("orders/#", handler, qos=2)
    error = info.value
    assert isinstance(error, SubscribeError) and isinstance(error, BrokerLimitError)
    assert (error.requested_qos, error.granted_qos) == (2, 1)
    assert "nats:1" in str(error) and "QoS 2" in error.limit
    assert client.subscriptions == ()  # not registered...
    assert "orders/#" in transport.unsubscribed  # ...and not left subscribed at the broker
    await client.subscribe("orders/#", handler, qos=1)  # what the broker can do works
    await client.shutdown()


async def test_handler_registered_before_connect_makes_connect_fail_on_a_downgrade() -> None:
    transport = ClusterTransport()
    transport.max_qos[1] = 1
    client = make(transport, url="mqtt://nats:1")

    async def handler(payload: bytes) -> None: ...

    await client.subscribe("orders/#", handler, qos=2)
    with pytest.raises(QoSNotGrantedError) as info:
        await client.connect()
    assert info.value.granted_qos == 1
    assert client.state is ClientState.DISCONNECTED and not transport.up


async def test_qos2_publish_on_a_qos1_broker_fails_fast_with_one_probe_per_link() -> None:
    transport = ClusterTransport()
    transport.max_qos[1] = 1
    client = make(transport, url="mqtt://nats:1")
    await client.connect()
    with pytest.raises(QoSNotSupportedError) as info:
        await client.publish("orders/1", b"x", qos=2)
    assert (info.value.qos, info.value.max_qos) == (2, 1)
    assert isinstance(info.value, BrokerLimitError)
    with pytest.raises(QoSNotSupportedError):
        await client.publish("orders/1", b"x", qos=2)
    probes = [c for c in transport.subscribe_calls if c[0][0].startswith("mqttwire/qos-probe/")]
    assert probes == [[("mqttwire/qos-probe/svc", 2)]]  # learned once
    assert transport.unsubscribed == ["mqttwire/qos-probe/svc"]
    assert not any(p[0] == "orders/1" for p in transport.published)  # nothing sent at QoS 2
    await client.publish("orders/1", b"x", qos=1)
    assert ("orders/1", b"x", 1, False) in transport.published
    await client.shutdown()


async def test_qos2_publish_on_a_qos2_broker_passes_after_one_probe() -> None:
    transport = ClusterTransport()
    client = make(transport, url="mqtt://mosquitto:1")
    await client.connect()
    for _ in range(3):
        await client.publish("exact", b"once", qos=2)
    assert sum(1 for c in transport.subscribe_calls if "qos-probe" in c[0][0]) == 1
    assert [p for p in transport.published if p[0] == "exact"] == [("exact", b"once", 2, False)] * 3
    await client.shutdown()


async def test_failover_to_a_broker_without_qos2_drops_queued_qos2_loudly() -> None:
    transport = ClusterTransport()
    transport.max_qos[1884] = 1
    client = make(transport, reconnect_min_delay=0.5, reconnect_max_delay=0.5)
    await client.connect()
    await client.publish("exact", b"first", qos=2)  # QoS 2 available on broker a
    transport.down.update({1883, 1884, 1885})
    transport.drop()
    await wait_state(client, ClientState.RECONNECTING)
    await client.publish("exact", b"queued", qos=2)
    await client.publish("plain", b"queued", qos=1)
    transport.down.discard(1884)  # only b is back, and b has no QoS 2
    await wait_state(client, ClientState.CONNECTED)
    await wait_until(lambda: ("plain", b"queued", 1, False) in transport.published)
    assert client.broker.port == 1884
    assert ("plain", b"queued", 1, False) in transport.published
    assert ("exact", b"queued", 2, False) not in transport.published
    assert client.metrics.qos_unsupported == 1
    assert isinstance(client.last_error, QoSNotSupportedError)
    await client.shutdown()


class StuckAcks(ClusterTransport):
    """PUBACKs that never come while ``stuck`` (a broker stalled on its store), until the link
    drops: then the client cancels the link's tasks, including a flush waiting for them."""

    def __init__(self) -> None:
        super().__init__()
        self.stuck = False

    async def publish(
        self,
        topic: str,
        payload: bytes,
        qos: int,
        retain: bool,
        ack_timeout: float,
        *,
        properties: object = None,
    ) -> None:
        if self.stuck and qos > 0 and self.up:
            self.published.append((topic, payload, qos, retain))
            await asyncio.Event().wait()
        await super().publish(topic, payload, qos, retain, ack_timeout, properties=properties)


async def test_a_flush_window_cut_by_failover_is_requeued_not_lost() -> None:
    transport = StuckAcks()
    client = make(transport, reconnect_min_delay=0.5, reconnect_max_delay=0.5)
    await client.connect()
    transport.down.update({1883, 1884, 1885})
    transport.drop()
    await wait_state(client, ClientState.RECONNECTING)
    for i in range(100):
        await client.publish("q", str(i).encode(), qos=1)
    transport.stuck = True  # the next broker takes the window but never acknowledges it
    transport.down.discard(1884)
    await wait_until(lambda: sum(1 for p in transport.published if p[0] == "q") >= 64)
    assert client.offline_queue_length == 36  # one window of 64 in flight
    transport.stuck = False
    transport.down = {1884}
    transport.drop()  # ...and the link dies: the window's tasks are cancelled
    # Wait until all 100 were sent again on the new link: an empty queue only means "taken",
    # and the last window may still be in flight then.
    await wait_until(lambda: sum(1 for p in transport.published if p[0] == "q") >= 164)
    assert client.broker.port == 1885 and client.offline_queue_length == 0
    delivered = [p[1] for p in transport.published if p[0] == "q"][64:]
    assert delivered == [str(i).encode() for i in range(100)]  # all of them, in order
    assert client.metrics.publish_retries == 64
    await client.shutdown()
