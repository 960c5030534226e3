"""Issue 15 defects on the scripted transport: hostile topics, poison messages, bad entries,
handlers raising CancelledError, resend order, bounded log lines and byte-bounded queues."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

import pytest
from fake_transport import FakeTransport

from mqttwire import (
    ClientState,
    ConfigError,
    InvalidTopicError,
    MessageMeta,
    MQTTClient,
    MQTTClientConfig,
    TopicParameterError,
)
from mqttwire.dispatch import Dispatcher
from mqttwire.metrics import ClientMetrics
from mqttwire.safe_log import RateLimitedLog, shown
from mqttwire.testing import for_testing
from mqttwire.topic_filter import validate_topic_filter, validate_topic_name
from mqttwire.topic_template import ParamSpec, TopicTemplate, validate_param_value
from mqttwire.transport import TransportConnectError, TransportDisconnectedError

HOSTILE = ["a\nb", "a\x01", "a\x7f", "a\x85", "a\uffff", "a\ufdd0", "a\U0010fffe", "a\ud800"]
TOO_LONG = "x" * 70_000


def make(transport: FakeTransport, **settings: object) -> MQTTClient:
    settings.setdefault("reconnect_min_delay", 0.05)
    settings.setdefault("reconnect_max_delay", 0.5)
    config = MQTTClientConfig(url="mqtt://broker:1883", client_id="svc", **settings)
    return MQTTClient(config, transport=transport)


async def wait_for(condition: Callable[[], bool], within: float = 10.0) -> None:
    """Poll ``condition`` (state of a scripted transport, no event to wait on); the timeout
    only catches hangs."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while not condition():
        assert loop.time() < deadline, "timed out"
        await asyncio.sleep(0.005)


async def go_offline(client: MQTTClient, transport: FakeTransport) -> None:
    """Drop the link and keep it down until ``come_back``."""
    transport.refuse = TransportConnectError("broker away")
    transport.drop()
    await wait_for(lambda: client.state is ClientState.RECONNECTING)


def come_back(transport: FakeTransport) -> None:
    transport.refuse = None


# ---------------------------------------------------------------- defect 1: MQTT string rules


@pytest.mark.parametrize("value", [*HOSTILE, "é" * 40_000])
def test_topic_parameters_follow_mqtt_string_rules(value: str) -> None:
    with pytest.raises(TopicParameterError):
        validate_param_value("client_id", value)
    with pytest.raises(TopicParameterError):
        TopicTemplate("system/health/{client_id}", [ParamSpec("client_id")]).filter(
            {"client_id": value}
        )


@pytest.mark.parametrize("value", [*HOSTILE, TOO_LONG])
def test_topic_names_and_filters_follow_mqtt_string_rules(value: str) -> None:
    with pytest.raises(InvalidTopicError):
        validate_topic_name(value)
    with pytest.raises(InvalidTopicError):
        validate_topic_filter(value + "/#")


@pytest.mark.parametrize("value", [*HOSTILE, TOO_LONG])
def test_client_id_follows_mqtt_string_rules(value: str) -> None:
    with pytest.raises(ConfigError) as info:
        MQTTClientConfig(client_id=value)
    assert info.value.variable == "MQTT_CLIENT_ID"
    with pytest.raises(ConfigError):
        MQTTClientConfig.from_env({"MQTT_CLIENT_ID": value})


def test_printable_unicode_stays_allowed() -> None:
    validate_topic_name("küche/温度/😀 ok")
    validate_param_value("room", "küche 😀")
    MQTTClientConfig(client_id="svc-é")


@pytest.mark.parametrize("topic", [*HOSTILE, TOO_LONG])
async def test_publish_and_subscribe_refuse_bad_topics_before_queueing(topic: str) -> None:
    transport = FakeTransport()
    client = make(transport)
    with pytest.raises(InvalidTopicError):
        await client.subscribe(topic, _ignore)
    await client.connect()
    await go_offline(client, transport)
    with pytest.raises(InvalidTopicError):
        await client.publish(topic, b"x", qos=1)
    assert client.offline_queue_length == 0
    await client.shutdown()


async def _ignore(payload: bytes) -> None:
    return None


async def test_generated_publish_refuses_a_control_character_parameter() -> None:
    from tars_mqtt import TarsClient
    from tars_mqtt.models import HealthPing

    tars = for_testing(TarsClient)
    async with tars:
        for value in ("a\nb", "\x85", "\uffff"):
            with pytest.raises(TopicParameterError):
                await tars.publish_system_health(HealthPing(ok=True), client_id=value)
            with pytest.raises(TopicParameterError):
                await tars.subscribe_system_health(_typed_ignore, client_id=value)


async def _typed_ignore(msg: object, meta: MessageMeta) -> None:
    return None


class PoisonTransport(FakeTransport):
    """Drops the link whenever a message with payload ``b"poison"`` is sent (as a broker that
    refuses a packet by closing the connection does)."""

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
        if payload == b"poison" and self.up:
            self.drop()
            raise TransportDisconnectedError("broker closed the connection")
        await super().publish(topic, payload, qos, retain, ack_timeout, properties=properties)


async def test_a_message_the_broker_refuses_does_not_block_the_queue(
    caplog: pytest.LogCaptureFixture,
) -> None:
    transport = PoisonTransport()
    client = make(transport, reconnect_max_delay=0.5)
    await client.connect()
    await go_offline(client, transport)
    await client.publish("t", b"before", qos=1)
    await client.publish("t", b"poison", qos=1)
    for i in range(10):
        await client.publish("t", f"after-{i}".encode(), qos=1)
    come_back(transport)

    def sent() -> list[bytes]:
        return [p for topic, p, _, _ in transport.published if topic == "t"]

    await wait_for(lambda: len(sent()) >= 11 and client.offline_queue_length == 0, 30)
    assert sent() == [b"before"] + [f"after-{i}".encode() for i in range(10)]
    assert client.metrics.publish_poisoned == 1
    assert "poison" in caplog.text or "dropped" in caplog.text
    assert client.last_error is not None and "t" in str(client.last_error)
    await client.shutdown()


# ---------------------------------------------------------------- defect 2: one bad entry


class RaisingTransport(FakeTransport):
    """The MQTT library raises something unexpected for one message (paho's ValueError)."""

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
        if payload == b"bad" and self.up:
            raise ValueError("Publish topic too long")
        await super().publish(topic, payload, qos, retain, ack_timeout, properties=properties)


async def test_flush_and_shutdown_survive_one_bad_entry() -> None:
    transport = RaisingTransport()
    client = make(transport, offline_queue_size=2000, shutdown_timeout=10)
    await client.connect()
    await go_offline(client, transport)
    with pytest.raises(InvalidTopicError):
        await client.publish(TOO_LONG, b"x", qos=1)
    await client.publish("t", b"bad", qos=1)
    for i in range(1100):
        await client.publish("t", str(i).encode(), qos=1)
    come_back(transport)
    await wait_for(lambda: client.offline_queue_length == 0 and len(transport.published) >= 1100)
    good = [p for topic, p, _, _ in transport.published if topic == "t"]
    assert good == [str(i).encode() for i in range(1100)]
    assert client.metrics.publish_failed == 1
    await client.shutdown()
    assert client.state is ClientState.DISCONNECTED


async def test_shutdown_never_raises_on_an_unsendable_queue_entry() -> None:
    transport = RaisingTransport()
    client = make(transport, shutdown_timeout=2)
    await client.connect()
    await go_offline(client, transport)
    await client.publish("t", b"bad", qos=1)
    await client.publish("t", b"good", qos=1)
    come_back(transport)
    await client.shutdown()
    await client.shutdown()  # idempotent
    assert client.state is ClientState.DISCONNECTED


async def test_a_live_publish_the_library_rejects_raises_a_publish_error() -> None:
    from mqttwire import PublishError

    transport = RaisingTransport()
    client = make(transport)
    await client.connect()
    with pytest.raises(PublishError):
        await client.publish("t", b"bad", qos=1)
    await client.publish("t", b"ok", qos=1)
    await client.shutdown()


# ---------------------------------------------------------------- defect 3: CancelledError


async def test_a_handler_raising_cancelled_error_does_not_end_its_worker(
    caplog: pytest.LogCaptureFixture,
) -> None:
    transport = FakeTransport()
    client = make(transport)
    seen: list[bytes] = []
    done = asyncio.Event()

    async def handler(payload: bytes) -> None:
        if payload == b"cancel":
            inner = asyncio.create_task(asyncio.sleep(10))
            inner.cancel()
            await inner  # raises CancelledError, not from the client
        seen.append(payload)
        if payload == b"last":
            done.set()

    await client.subscribe("t", handler)
    await client.connect()
    transport.inject("t", b"cancel")
    transport.inject("t", b"next")
    transport.inject("t", b"last")
    await asyncio.wait_for(done.wait(), 10)
    assert seen == [b"next", b"last"]
    assert client.metrics.handler_errors == 1
    assert "CancelledError" in caplog.text
    sub = client.subscriptions[0]
    assert sub.active
    await client.shutdown()
    assert not sub.active


# ---------------------------------------------------------------- defect 5: resend order


async def test_concurrent_publishes_in_flight_are_resent_in_order() -> None:
    transport = FakeTransport()
    client = make(transport)
    await client.connect()
    transport.hold_acks = True
    tasks = [asyncio.create_task(client.publish("t", str(i).encode(), qos=1)) for i in range(10)]
    await wait_for(lambda: len(transport.published) == 10)
    transport.hold_acks = False
    transport.drop()
    await asyncio.gather(*tasks)
    await wait_for(lambda: len(transport.published) >= 20 and client.offline_queue_length == 0)
    resent = [p for _, p, _, _ in transport.published[10:]]
    assert resent == [str(i).encode() for i in range(10)]
    await client.shutdown()


# ---------------------------------------------------------------- defect 7: safe logs


def test_shown_escapes_and_bounds() -> None:
    assert "\n" not in shown("a\nFORGED LINE")
    assert shown("a\nb") == "'a\\nb'"
    big = shown("k" * 1_000_000)
    assert len(big) < 300 and "1000000" in big
    assert "\r" not in shown(b"x\r\ny")
    assert len(shown(b"\xff" * 10_000)) < 1000


def test_rate_limited_log_summarises(caplog: pytest.LogCaptureFixture) -> None:
    now = [0.0]
    limited = RateLimitedLog(logging.getLogger("t"), burst=3, period=60, clock=lambda: now[0])
    with caplog.at_level(logging.WARNING):
        logged = [limited.warning("k", "bad %d", i) for i in range(100)]
    assert logged.count(True) == 3
    assert limited.suppressed("k") == 97
    now[0] = 61.0
    with caplog.at_level(logging.WARNING):
        limited.warning("k", "bad again")
    assert "97 similar message(s) suppressed" in caplog.text
    assert "bad again" in caplog.text


# ---------------------------------------------------------------- defect 8: bytes bound


async def test_handler_queues_are_bounded_by_bytes(caplog: pytest.LogCaptureFixture) -> None:
    metrics = ClientMetrics()
    dispatcher = Dispatcher(metrics, 1000, queue_bytes=3000)
    release = asyncio.Event()
    got: list[bytes] = []

    async def slow(payload: bytes) -> None:
        await release.wait()
        got.append(payload)

    sub = dispatcher.add("t", slow, 1)
    for i in range(20):
        dispatcher.dispatch("t", bytes([i]) * 1000, 1, False)
        await asyncio.sleep(0)
    assert sub.queued_bytes <= 3000
    assert metrics.queue_overflow >= 16
    assert metrics.queue_overflow_bytes >= 16_000
    assert "dropped" in caplog.text
    release.set()
    await wait_for(lambda: sub.pending == 0)
    assert got[-1] == bytes([19]) * 1000
    assert len(got) + metrics.queue_overflow == 20
    await dispatcher.close()


def test_handler_queue_bytes_is_configurable() -> None:
    config = MQTTClientConfig.from_env({"MQTT_CLIENT_ID": "s", "MQTT_HANDLER_QUEUE_BYTES": "1000"})
    assert config.handler_queue_bytes == 1000
    assert MQTTClientConfig(client_id="s").handler_queue_bytes == 64 * 1024 * 1024
    with pytest.raises(ConfigError) as info:
        MQTTClientConfig(client_id="s", handler_queue_bytes=0)
    assert info.value.variable == "MQTT_HANDLER_QUEUE_BYTES"


# ---------------------------------------------------------------- defect 10: raw errors


def test_tls_insecure_with_plain_mqtt_is_rejected() -> None:
    with pytest.raises(ConfigError) as info:
        MQTTClientConfig(url="mqtt://broker:1883", client_id="s", tls_insecure=True)
    assert info.value.variable == "MQTT_TLS_INSECURE"
    MQTTClientConfig(url="mqtts://broker:8883", client_id="s", tls_insecure=True)


# ---------------------------------------------------------------- defect 4: watchdog


class SelectiveEchoTransport(FakeTransport):
    """Echoes everything except our heartbeats (once ``drop_heartbeats`` is set)."""

    drop_heartbeats = False

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
        self.echo = not (self.drop_heartbeats and topic.startswith("system/keepalive/"))
        await super().publish(topic, payload, qos, retain, ack_timeout, properties=properties)


async def test_watchdog_fires_when_only_the_heartbeat_echo_stops() -> None:
    transport = SelectiveEchoTransport()
    client = make(transport, enable_heartbeat=True, heartbeat_interval=1.0)
    seen: list[bytes] = []

    async def other(payload: bytes) -> None:
        seen.append(payload)

    await client.subscribe("traffic", other)
    await client.connect()
    transport.drop_heartbeats = True
    fired = asyncio.Event()
    client.add_state_listener(lambda s: fired.set() if s is ClientState.RECONNECTING else None)

    async def keep_traffic_flowing() -> None:
        while not fired.is_set():
            await client.publish("traffic", b"x")
            await asyncio.sleep(0.05)

    feeder = asyncio.create_task(keep_traffic_flowing())
    await asyncio.wait_for(fired.wait(), 15)
    await feeder
    assert client.metrics.watchdog_reconnects == 1
    assert len(seen) > 20  # other traffic did arrive all along
    await client.shutdown()


async def test_a_stalled_event_loop_is_a_stall_not_a_dead_link(
    caplog: pytest.LogCaptureFixture,
) -> None:
    import time

    transport = FakeTransport()
    client = make(transport, enable_heartbeat=True, heartbeat_interval=1.0)
    handled = asyncio.Event()

    async def blocking(payload: bytes) -> None:
        time.sleep(3.5)  # noqa: ASYNC251 - the fault under test: the event loop blocked
        handled.set()

    await client.subscribe("block", blocking)
    await client.connect()
    beats = client.metrics.heartbeats_sent
    await wait_for(lambda: client.metrics.heartbeats_sent > beats)
    transport.inject("block", b"x")
    await asyncio.wait_for(handled.wait(), 10)
    beats = client.metrics.heartbeats_sent
    await wait_for(lambda: client.metrics.heartbeats_sent >= beats + 3)
    assert client.metrics.watchdog_reconnects == 0
    assert client.metrics.loop_stalls >= 1
    assert "stalled" in caplog.text
    await client.shutdown()


# ---------------------------------------------------------------- signals and shutdown


async def test_sigterm_shuts_down_like_ctrl_c_and_logs_what_is_dropped(
    caplog: pytest.LogCaptureFixture,
) -> None:
    import os
    import signal

    transport = FakeTransport()
    client = make(transport, shutdown_timeout=0.5, enable_health=True)
    served = asyncio.create_task(client.run_until_signal())
    await wait_for(lambda: client.state is ClientState.CONNECTED)
    await go_offline(client, transport)
    for i in range(3):
        await client.publish("t", str(i).encode(), qos=1)  # never sendable: broker away

    def again(state: ClientState) -> None:
        if state is ClientState.DISCONNECTING:  # mid-shutdown, handlers still installed
            os.kill(os.getpid(), signal.SIGTERM)  # a second one cannot cut the shutdown short

    client.add_state_listener(again)
    previous = signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT)
    try:
        with caplog.at_level(logging.INFO, logger="mqttwire"):
            os.kill(os.getpid(), signal.SIGTERM)
            assert await asyncio.wait_for(served, 10) == signal.SIGTERM
        os.kill(os.getpid(), signal.SIGTERM)  # after: ignored while the process exits
    finally:
        signal.signal(signal.SIGTERM, previous[0])
        signal.signal(signal.SIGINT, previous[1])
    assert client.state is ClientState.DISCONNECTED
    assert "3 queued message(s) not sent" in caplog.text
    assert "SIGTERM received again" in caplog.text
    await client.shutdown()  # idempotent


# ---------------------------------------------------------------- ordering across channels


async def test_order_group_handles_several_filters_in_arrival_order() -> None:
    transport = FakeTransport()
    client = make(transport)
    order: list[str] = []
    release = asyncio.Event()

    async def slow_a(payload: bytes) -> None:
        if payload == b"a0":
            await release.wait()  # the group waits: b1 arrived later and must wait too
        order.append(payload.decode())

    async def quick_b(payload: bytes) -> None:
        order.append(payload.decode())

    await client.subscribe("a", slow_a, order_group="parking")
    await client.subscribe("b", quick_b, order_group="parking")
    await client.connect()
    for topic, payload in [("a", b"a0"), ("b", b"b1"), ("a", b"a2"), ("b", b"b3")]:
        transport.inject(topic, payload)
    await wait_for(lambda: client.metrics.messages_received == 4)
    assert order == []
    release.set()
    await wait_for(lambda: len(order) == 4)
    assert order == ["a0", "b1", "a2", "b3"]
    await client.shutdown()


async def test_without_an_order_group_subscriptions_are_independent() -> None:
    transport = FakeTransport()
    client = make(transport)
    order: list[str] = []
    release = asyncio.Event()

    async def slow_a(payload: bytes) -> None:
        await release.wait()
        order.append(payload.decode())

    async def quick_b(payload: bytes) -> None:
        order.append(payload.decode())

    await client.subscribe("a", slow_a)
    await client.subscribe("b", quick_b)
    await client.connect()
    transport.inject("a", b"a0")
    transport.inject("b", b"b1")
    await wait_for(lambda: order == ["b1"])  # answered before the earlier message on "a"
    release.set()
    await wait_for(lambda: order == ["b1", "a0"])
    await client.shutdown()


async def test_leaving_an_order_group_keeps_the_others_running() -> None:
    transport = FakeTransport()
    client = make(transport)
    got: list[bytes] = []

    async def keep(payload: bytes) -> None:
        got.append(payload)

    sub_a = await client.subscribe("a", keep, order_group="g")
    sub_b = await client.subscribe("b", keep, order_group="g")
    await client.connect()
    await client.unsubscribe(sub_a)
    assert not sub_a.active and sub_b.active
    transport.inject("b", b"still")
    await wait_for(lambda: got == [b"still"])
    await client.shutdown()
    assert not sub_b.active


async def test_typed_layer_order_group() -> None:
    from tars_mqtt import TarsClient
    from tars_mqtt.models import FinalTranscript, TtsSay

    tars = for_testing(TarsClient)
    order: list[str] = []
    release = asyncio.Event()

    async def heard(msg: FinalTranscript, meta: MessageMeta) -> None:
        await release.wait()
        order.append("heard")

    async def said(msg: TtsSay, meta: MessageMeta) -> None:
        order.append("said")

    with tars.ordered("conversation"):
        await tars.subscribe_stt_final(heard)
        await tars.subscribe_tts_say(said)
    async with tars:
        await tars.publish_stt_final(FinalTranscript(text="hi", utt_id="u1"))
        await tars.publish_tts_say(TtsSay(text="hello"))
        await wait_for(lambda: tars.client.metrics.messages_received >= 2)
        assert order == []
        release.set()
        await wait_for(lambda: len(order) == 2)
    assert order == ["heard", "said"]


@pytest.mark.parametrize(
    "url",
    [
        "mqtt://a%0Ab:pw@broker:1883",
        f"mqtt://{'u' * 70_000}@broker:1883",
        f"mqtt://u:{'p' * 70_000}@broker:1883",
    ],
)
def test_user_name_and_password_follow_mqtt_limits(url: str) -> None:
    with pytest.raises(ConfigError) as info:
        MQTTClientConfig(url=url, client_id="s")
    assert info.value.variable == "MQTT_URL"
    assert "p" * 100 not in str(info.value)  # the password never shows


def test_error_messages_show_bad_topics_escaped_and_bounded() -> None:
    with pytest.raises(InvalidTopicError) as info:
        validate_topic_name(TOO_LONG)
    assert len(str(info.value)) < 400 and info.value.topic == TOO_LONG  # data kept whole
    with pytest.raises(TopicParameterError) as param:
        validate_param_value("client_id", "a\nb")
    assert "\n" not in str(param.value)
