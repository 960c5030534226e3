"""The part of the integration suite that applies to every broker, run on each of them.

A broker lacking a feature is not a failure when the test asserts what the broker is documented
to do instead, and that the client says so with a typed error rather than delivering less
(``matrix.limited``). Results feed docs/brokers.md (see conftest.py).
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import textwrap
from collections.abc import Callable

import orjson
import pytest
from interop_support import BrokerTarget, Inbox, Matrix

from mqttwire import (
    ClientState,
    MQTTClient,
    ProtocolNotSupportedError,
    QoSNotGrantedError,
    QoSNotSupportedError,
)

pytestmark = [pytest.mark.integration, pytest.mark.timeout(90)]

Clients = Callable[..., MQTTClient]
BACKLOG = 500


async def wait_connected_again(client: MQTTClient, links: int, within: float = 30.0) -> None:
    """Wait until ``client`` made ``links`` connections and is connected."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while not (client.metrics.connects >= links and client.connected):
        if loop.time() > deadline:
            raise AssertionError(
                f"{client.client_id} not reconnected within {within}s "
                f"(state {client.state.value}, {client.metrics.snapshot()})"
            )
        await asyncio.sleep(0.02)


async def nothing_arrives(inbox: Inbox, within: float) -> bool:
    """True when no message reached ``inbox`` during ``within`` seconds."""
    try:
        await inbox.wait_for(1, within=within)
    except TimeoutError:
        return True
    return False


@pytest.mark.matrix("connect", "Connect with the column's protocol")
async def test_connect(any_broker: BrokerTarget, clients: Clients, matrix: Matrix) -> None:
    client = clients(any_broker, "connect")
    await client.connect()
    assert client.connected and client.broker.port == any_broker.port
    matrix.note(f"MQTT {any_broker.expect.protocol}")


@pytest.mark.matrix("mqtt5", "MQTT 5 (else: typed error at connect)")
async def test_mqtt5_connects_or_fails_fast_with_a_typed_error(
    any_broker: BrokerTarget, clients: Clients, matrix: Matrix
) -> None:
    client = clients(any_broker, "v5", protocol="5", connect_retry=True)
    if any_broker.expect.mqtt5:
        await client.connect()
        inbox = Inbox()
        await client.subscribe("v5/echo", inbox.handler, qos=1)
        await client.publish_event("v5/echo", "v5.echo", {"n": 1}, qos=1)
        (payload,) = await inbox.wait_for(1)
        assert orjson.loads(payload)["data"] == {"n": 1}
        return
    loop = asyncio.get_running_loop()
    started = loop.time()
    # connect_retry=True: a transient failure would be retried forever; this one must not be.
    with pytest.raises(ProtocolNotSupportedError) as info:
        await asyncio.wait_for(client.connect(), 10)
    took = loop.time() - started
    assert took < 3.0, f"not fail-fast: {took:.1f}s"
    error = info.value
    assert error.protocol == "5" and error.fatal and "MQTT_PROTOCOL=3.1.1" in str(error)
    assert (error.host, error.port) == (any_broker.host, any_broker.port)
    assert client.metrics.connect_failures == 1 and client.state is ClientState.DISCONNECTED
    matrix.limited(f"ProtocolNotSupportedError at connect in {took:.2f}s: {error.reason}")


@pytest.mark.parametrize("qos", [0, 1])
@pytest.mark.matrix("pubsub", "Publish/subscribe QoS 0 and 1, in order")
async def test_publish_subscribe(
    any_broker: BrokerTarget, clients: Clients, ns: str, qos: int
) -> None:
    receiver = clients(any_broker, f"rx{qos}")
    inbox = Inbox()
    await receiver.subscribe(f"{ns}/q", inbox.handler, qos=qos)
    await receiver.connect()
    sender = clients(any_broker, f"tx{qos}")
    await sender.connect()
    expected = [f"m{i}".encode() for i in range(50)]
    for payload in expected:
        await sender.publish(f"{ns}/q", payload, qos=qos)
    assert await inbox.wait_for(50) == expected
    assert {meta.qos for _, meta in inbox.items} == {qos}
    assert all(meta.topic == f"{ns}/q" and not meta.retain for _, meta in inbox.items)


@pytest.mark.matrix("qos2", "QoS 2 (else: typed error at subscribe/publish)")
async def test_qos2_works_or_is_refused_with_a_typed_error(
    any_broker: BrokerTarget, clients: Clients, ns: str, matrix: Matrix
) -> None:
    receiver = clients(any_broker, "rx2")
    sender = clients(any_broker, "tx2")
    await receiver.connect()
    await sender.connect()
    inbox = Inbox()
    if any_broker.expect.max_qos >= 2:
        await receiver.subscribe(f"{ns}/exact", inbox.handler, qos=2)
        for i in range(10):
            await sender.publish(f"{ns}/exact", str(i).encode(), qos=2)
        assert await inbox.wait_for(10) == [str(i).encode() for i in range(10)]
        assert {meta.qos for _, meta in inbox.items} == {2}
        return
    with pytest.raises(QoSNotGrantedError) as sub_info:
        await receiver.subscribe(f"{ns}/exact", inbox.handler, qos=2)
    assert (sub_info.value.requested_qos, sub_info.value.granted_qos) == (2, 1)
    with pytest.raises(QoSNotSupportedError) as pub_info:
        await sender.publish(f"{ns}/exact", b"x", qos=2)
    assert pub_info.value.max_qos == 1
    # The refusals cost nothing else: both links are up and QoS 1 still works end to end.
    await receiver.subscribe(f"{ns}/exact", inbox.handler, qos=1)
    await sender.publish(f"{ns}/exact", b"at-least-once", qos=1)
    assert await inbox.wait_for(1) == [b"at-least-once"]
    assert receiver.connected and sender.connected and sender.metrics.reconnects == 0
    matrix.limited(
        "max QoS 1: subscribe(qos=2) raises QoSNotGrantedError (SUBACK granted 1), "
        "publish(qos=2) raises QoSNotSupportedError; nothing is sent at QoS 2"
    )


@pytest.mark.matrix("wildcards", "Wildcard filters + and #")
async def test_wildcards(any_broker: BrokerTarget, clients: Clients, ns: str) -> None:
    plus, hash_ = Inbox(), Inbox()
    one, other = clients(any_broker, "plus"), clients(any_broker, "hash")
    await one.subscribe(f"{ns}/+/temp", plus.handler, qos=1)
    await other.subscribe(f"{ns}/#", hash_.handler, qos=1)
    await one.connect()
    await other.connect()
    topics = [f"{ns}/a/temp", f"{ns}/b/hum", f"{ns}/c/temp", f"{ns}/d/e/temp"]
    for topic in topics:
        await one.publish(topic, topic.encode(), qos=1)
    assert sorted(await hash_.wait_for(4)) == sorted(t.encode() for t in topics)
    await plus.wait_for(2)
    await asyncio.sleep(0.2)  # no extra copies may follow
    assert sorted(plus.payloads) == [f"{ns}/a/temp".encode(), f"{ns}/c/temp".encode()]
    assert len(hash_.items) == 4


@pytest.mark.matrix("overlap", "Overlapping subscriptions of one client: each handler once")
async def test_overlapping_subscriptions_reach_each_handler_once(
    any_broker: BrokerTarget, clients: Clients, ns: str, matrix: Matrix
) -> None:
    client = clients(any_broker, "overlap", dedupe_ttl=60, dedupe_max_entries=1000)
    plus, hash_ = Inbox(), Inbox()
    await client.subscribe(f"{ns}/+/temp", plus.handler, qos=1)
    await client.subscribe(f"{ns}/#", hash_.handler, qos=1)
    await client.connect()
    sender = clients(any_broker, "overlap-tx")
    await sender.connect()
    await sender.publish_event(f"{ns}/a/temp", "t", {"n": 1}, qos=1)
    await sender.publish_event(f"{ns}/b/hum", "h", {"n": 2}, qos=1)
    await sender.publish_event(f"{ns}/end", "end", {"n": 3}, qos=1)
    await hash_.wait_for(3)
    await asyncio.sleep(0.3)  # time for any extra copy to arrive (and be dropped)
    assert [orjson.loads(p)["data"]["n"] for p in plus.payloads] == [1]
    assert [orjson.loads(p)["data"]["n"] for p in hash_.payloads] == [1, 2, 3]
    copies = client.metrics.messages_received
    if copies > 3 and any_broker.expect.protocol == "5":
        matrix.note(
            f"{copies} PUBLISH for 3 messages (one per matching subscription), routed to their "
            "handlers by MQTT 5 subscription identifier"
        )
    elif copies > 3:
        assert client.metrics.duplicates == copies - 3
        matrix.partial(
            f"the broker sends one copy per matching subscription ({copies} PUBLISH for 3 "
            "messages); each handler still sees each message once thanks to dedupe "
            "(MQTT_DEDUPE_TTL > 0) - without it, handlers of overlapping filters see repeats"
        )
    else:
        matrix.note("one copy per message, whatever the number of matching subscriptions")


@pytest.mark.matrix("retained", "Retained messages (exact topic and wildcard subscribers)")
async def test_retained(
    any_broker: BrokerTarget, clients: Clients, ns: str, matrix: Matrix
) -> None:
    publisher = clients(any_broker, "retainer")
    await publisher.connect()
    topic = f"{ns}/dev/1/state"
    await publisher.publish_event(topic, "dev.state", {"on": True}, qos=1, retain=True)
    dedupe = {"dedupe_ttl": 60, "dedupe_max_entries": 100}
    copies: dict[str, int] = {}
    try:
        exact = clients(any_broker, "late-exact", **dedupe)
        exact_inbox = Inbox()
        await exact.subscribe(topic, exact_inbox.handler, qos=1)
        await exact.connect()
        await exact_inbox.wait_for(1)
        assert exact_inbox.items[0][1].retain is True

        wild = clients(any_broker, "late-wild", **dedupe)
        wild_inbox = Inbox()
        await wild.subscribe(f"{ns}/dev/+/state", wild_inbox.handler, qos=1)
        await wild.connect()
        if any_broker.expect.retained_to_wildcards:
            await wild_inbox.wait_for(1)
            assert wild_inbox.items[0][1].retain is True
        else:
            assert await nothing_arrives(wild_inbox, 1.5)
            # ...but live messages do reach the wildcard subscription.
            await publisher.publish_event(topic, "dev.state", {"on": False}, qos=1, retain=True)
            await wild_inbox.wait_for(1)
            assert orjson.loads(wild_inbox.payloads[0])["data"] == {"on": False}
            matrix.partial(
                "retained messages reach exact-topic subscriptions only; a wildcard "
                "subscription gets none (documented RabbitMQ behaviour, asserted)"
            )
        await asyncio.sleep(0.3)  # let any extra copy arrive
        # once per handler (the exact subscriber also got the live update in the else branch)
        expected_exact = 1 if any_broker.expect.retained_to_wildcards else 2
        assert len(exact_inbox.items) == expected_exact and len(wild_inbox.items) == 1
        copies = {
            "exact": exact.metrics.messages_received - (expected_exact - 1),
            "wildcard": wild.metrics.messages_received,
        }
    finally:
        await publisher.publish(topic, b"", qos=1, retain=True)  # clear it
    if max(copies.values()) > 1:
        matrix.partial(
            f"the broker delivered one retained message {max(copies.values())} times to a new "
            "subscriber; dedupe (MQTT_DEDUPE_TTL > 0) let each handler see it once"
        )


WILL_SERVICE = textwrap.dedent(
    """
    import asyncio, sys
    from mqttwire import MQTTClient, MQTTClientConfig

    async def main() -> None:
        config = MQTTClientConfig(url=sys.argv[1], client_id=sys.argv[2], enable_health=True,
                                  keepalive=60, protocol=sys.argv[3])
        client = MQTTClient(config)
        await client.connect()
        print("ready", client.broker.port, flush=True)
        await asyncio.Event().wait()

    asyncio.run(main())
    """
)


async def start_service(url: str, client_id: str, protocol: str) -> asyncio.subprocess.Process:
    """A service process (health + will) on ``url``; returns once it is connected."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        WILL_SERVICE,
        url,
        client_id,
        protocol,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    assert process.stdout is not None
    line = await asyncio.wait_for(process.stdout.readline(), 30)
    if not line.startswith(b"ready"):
        process.kill()
        stderr = await process.stderr.read() if process.stderr else b""
        pytest.fail(f"service did not start: {stderr.decode(errors='replace')[-2000:]}")
    return process


@pytest.mark.matrix("will", "Last will on SIGKILL of a client process")
async def test_will_on_sigkill(any_broker: BrokerTarget, clients: Clients, ns: str) -> None:
    service_id = f"doomed-{ns.rsplit('/', 1)[-1]}"
    monitor = clients(any_broker, "will-monitor")
    inbox = Inbox()
    await monitor.subscribe(f"system/health/{service_id}", inbox.handler, qos=1)
    await monitor.connect()
    process = await start_service(any_broker.url, service_id, any_broker.expect.protocol)
    try:
        (ready,) = await inbox.wait_for(1, within=10)
        assert orjson.loads(ready)["data"]["event"] == "ready"
        os.kill(process.pid, signal.SIGKILL)
        await asyncio.wait_for(process.wait(), 10)
        payloads = await inbox.wait_for(2, within=20)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    will = orjson.loads(payloads[1])
    assert will["type"] == "health.status" and will["source"] == service_id
    assert will["data"]["ok"] is False and will["data"]["err"] == "unexpected disconnect"
    await monitor.publish(f"system/health/{service_id}", b"", qos=1, retain=True)


@pytest.mark.matrix("restart", "Reconnect and resubscribe after a broker restart")
async def test_reconnect_and_resubscribe_after_broker_restart(
    any_broker: BrokerTarget, clients: Clients, ns: str, matrix: Matrix
) -> None:
    client = clients(any_broker, "restart-rx", enable_health=True)
    inbox = Inbox()
    await client.subscribe(f"{ns}/+/temp", inbox.handler, qos=1)
    await client.connect()
    publisher = clients(any_broker, "restart-tx")
    await publisher.connect()
    await publisher.publish(f"{ns}/a/temp", b"1", qos=1)
    await inbox.wait_for(1)

    loop = asyncio.get_running_loop()
    started = loop.time()
    await asyncio.to_thread(any_broker.broker.restart)
    await wait_connected_again(client, 2)
    await wait_connected_again(publisher, 2)
    took = loop.time() - started
    await publisher.publish(f"{ns}/b/temp", b"2", qos=1)
    assert (await inbox.wait_for(2, within=15))[1] == b"2"
    assert client.metrics.reconnects >= 1
    matrix.note(f"restart + reconnect {took:.1f}s")


@pytest.mark.matrix("session", "Persistent session keeps QoS 1 messages while away")
async def test_persistent_session(
    any_broker: BrokerTarget, clients: Clients, ns: str, matrix: Matrix
) -> None:
    away = clients(any_broker, "persistent", clean_session=False)
    inbox = Inbox()
    await away.subscribe(f"{ns}/mail/+", inbox.handler, qos=1)
    await away.connect()
    await away.disconnect()
    sender = clients(any_broker, "postman")
    await sender.connect()
    # A backlog big enough to arrive as a burst before the client has even resubscribed.
    for i in range(BACKLOG):
        await sender.publish(f"{ns}/mail/{i}", str(i).encode(), qos=1)
    await away.connect()
    if any_broker.expect.queues_for_offline_sessions:
        payloads = await inbox.wait_for(BACKLOG, within=20)
        assert sorted(payloads, key=int) == [str(i).encode() for i in range(BACKLOG)]
        assert away.metrics.reconnects == 0  # the burst did not cost the link
        return
    assert await nothing_arrives(inbox, 1.5)
    await sender.publish(f"{ns}/mail/live", b"live", qos=1)  # the subscription itself is back
    assert await inbox.wait_for(1) == [b"live"]
    matrix.limited(
        "QoS 1 messages published while a clean_session=False client was away are not "
        "delivered when it returns (asserted); live messages flow again after reconnect"
    )


@pytest.mark.matrix("health", "Health: retained ready, shutdown on graceful exit")
async def test_health(any_broker: BrokerTarget, clients: Clients, ns: str) -> None:
    service = clients(any_broker, "svc", enable_health=True)
    await service.connect()
    topic = f"system/health/{service.client_id}"
    late = clients(any_broker, "health-monitor")
    inbox = Inbox()
    await late.subscribe(topic, inbox.handler, qos=1)
    await late.connect()
    (ready,) = await inbox.wait_for(1)
    assert orjson.loads(ready)["data"]["event"] == "ready" and inbox.items[0][1].retain
    await service.shutdown()
    payloads = await inbox.wait_for(2)
    assert orjson.loads(payloads[1])["data"] == {
        **orjson.loads(payloads[1])["data"],
        "ok": False,
        "event": "shutdown",
    }
    await late.publish(topic, b"", qos=1, retain=True)


@pytest.mark.matrix("typed", "Typed TarsClient round trip (contract QoS/retain)")
async def test_typed_tars_client_round_trip(any_broker: BrokerTarget, clients: Clients) -> None:
    from tars_mqtt import TarsClient
    from tars_mqtt.models import TtsSay

    received: asyncio.Queue[tuple[TtsSay, object]] = asyncio.Queue()

    async def heard(msg: TtsSay, meta: object) -> None:
        await received.put((msg, meta))

    worker = TarsClient(client=clients(any_broker, "tts-worker"))
    router = TarsClient(client=clients(any_broker, "router", source_name="router"))
    await worker.connect()
    await worker.subscribe_tts_say(heard)
    await router.connect()
    envelope_id = await router.publish_tts_say(TtsSay(text="hello from the matrix"))
    msg, meta = await asyncio.wait_for(received.get(), 10)
    assert isinstance(msg, TtsSay) and msg.text == "hello from the matrix"
    assert getattr(meta, "envelope_id", None) == envelope_id
    assert getattr(meta, "source", None) == "router"
