"""MQTTClient on the in-memory broker and on a real Mosquitto, MQTT 3.1.1 and 5: one suite.

Every test runs on both transports (and both protocol versions unless it is about one of
them), so ``mqttwire.testing.memory`` cannot drift from what a real broker does.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Literal

import orjson
import pytest
from both_backends import Backend, Collector, Kind

from mqttwire import PublishError, SubscribeError
from mqttwire.transport import MessageProperties

KINDS = [pytest.param("memory"), pytest.param("mosquitto", marks=pytest.mark.integration)]


@pytest.fixture(params=KINDS)
def kind(request: pytest.FixtureRequest) -> Kind:
    return request.param  # type: ignore[no-any-return]


@pytest.fixture(params=["3.1.1", "5"])
def protocol(request: pytest.FixtureRequest) -> Literal["3.1.1", "5"]:
    return request.param  # type: ignore[no-any-return]


@pytest.fixture
def denied() -> Sequence[str]:
    return ()


@pytest.fixture
async def backend(
    kind: Kind, protocol: Literal["3.1.1", "5"], denied: Sequence[str], tmp_path: Path
) -> AsyncIterator[Backend]:
    started = Backend.start(kind, protocol, tmp_path, denied)
    try:
        yield started
    finally:
        await started.close()


async def test_publish_subscribe_at_each_qos(backend: Backend) -> None:
    sub, pub = backend.client("sub"), backend.client("pub")
    inbox = Collector()
    await sub.subscribe("q/test", inbox, qos=1)
    await sub.connect()
    await pub.connect()
    for qos in (0, 1, 2):
        await pub.publish("q/test", f"qos{qos}".encode(), qos=qos)
    await inbox.wait_for(3)
    assert inbox.payloads == [b"qos0", b"qos1", b"qos2"]
    assert [meta.qos for _, meta in inbox.items] == [0, 1, 1]  # min(publish, subscription)
    assert not any(meta.retain for _, meta in inbox.items)


async def test_wildcards_and_overlapping_filters_reach_each_handler_once(
    backend: Backend,
) -> None:
    client = backend.client("wild")
    plus, hash_, exact, root = Collector(), Collector(), Collector(), Collector()
    await client.subscribe("w/+/c", plus, qos=1)
    await client.subscribe("w/#", hash_, qos=1)
    await client.subscribe("w/b/c", exact, qos=0)
    await client.subscribe("+/b/#", root, qos=2)
    await client.connect()
    for topic in ("w/b/c", "w/x/c", "w", "w/b", "w/b/c/d", "x/b", "x/y"):
        await client.publish(topic, topic.encode(), qos=1)
    await client.publish("w/end", b"end", qos=1)
    await hash_.wait_for_payload(b"end")
    await plus.wait_for(2)
    assert plus.payloads == [b"w/b/c", b"w/x/c"]
    assert hash_.payloads == [b"w/b/c", b"w/x/c", b"w", b"w/b", b"w/b/c/d", b"end"]
    assert exact.payloads == [b"w/b/c"]
    assert root.payloads == [b"w/b/c", b"w/b", b"w/b/c/d", b"x/b"]


async def test_retained_messages(backend: Backend) -> None:
    pub = backend.client("retainer")
    await pub.connect()
    await pub.publish("r/one", b"1", qos=1, retain=True)
    await pub.publish("r/two", b"2", qos=0, retain=True)
    await pub.publish("r/none", b"x", qos=1)  # not retained

    late = backend.client("late")
    inbox = Collector()
    await late.subscribe("r/#", inbox, qos=1)
    await late.connect()
    await inbox.wait_for(2)
    got = {payload: (meta.retain, meta.qos) for payload, meta in inbox.items}
    assert got == {b"1": (True, 1), b"2": (True, 0)}

    await pub.publish("r/one", b"live", qos=1, retain=True)
    await inbox.wait_for(3)
    assert inbox.items[2][0] == b"live" and inbox.items[2][1].retain is False

    await pub.publish("r/two", b"", qos=1, retain=True)  # clears the retained message
    await inbox.wait_for(4)
    later = backend.client("later")
    second = Collector()
    await later.subscribe("r/#", second, qos=1)
    await later.connect()
    await second.wait_for(1)
    await pub.publish("r/marker", b"marker", qos=1)
    await second.wait_for_payload(b"marker")
    assert second.payloads == [b"live", b"marker"]
    assert second.items[0][1].retain is True


async def test_persistent_session_gets_qos1_messages_sent_while_away(backend: Backend) -> None:
    away = backend.client("away", clean_session=False)
    inbox = Collector()
    await away.subscribe("mail/+", inbox, qos=1)
    await away.connect()
    await away.disconnect()
    sender = backend.client("postman")
    await sender.connect()
    for i in range(5):
        await sender.publish(f"mail/{i}", str(i).encode(), qos=1)
    await sender.publish("mail/lost", b"qos0", qos=0)  # QoS 0 is not kept for offline sessions
    await away.connect()
    await sender.publish("mail/marker", b"marker", qos=1)
    await inbox.wait_for_payload(b"marker")
    assert inbox.payloads == [*(str(i).encode() for i in range(5)), b"marker"]


async def test_will_is_sent_on_a_crash_and_not_on_a_clean_shutdown(backend: Backend) -> None:
    monitor = backend.client("monitor")
    health = Collector()
    await monitor.subscribe("system/health/+", health, qos=1)
    await monitor.connect()
    doomed = backend.client("doomed", enable_health=True)
    await doomed.connect()
    await health.wait_for(1)
    backend.crash("doomed")
    await health.wait_for(2)
    will = orjson.loads(health.payloads[1])
    assert will["data"]["ok"] is False and will["data"]["event"] == "offline"
    assert health.items[1][1].topic == "system/health/doomed"

    polite = backend.client("polite", enable_health=True)
    await polite.connect()
    await health.wait_for(3)
    await polite.shutdown()
    await monitor.publish("system/health/marker", b"{}", qos=1)
    await health.wait_for_payload(b"{}")
    events = [
        orjson.loads(payload)["data"].get("event")
        for payload, meta in health.items
        if meta.topic == "system/health/polite"
    ]
    assert events == ["ready", "shutdown"]  # no "offline" will from the clean shutdown


async def test_resubscribe_after_broker_restart(backend: Backend) -> None:
    sub, pub = backend.client("resub"), backend.client("resub-pub")
    inbox = Collector()
    await sub.subscribe("sensors/+/temp", inbox, qos=1)
    await sub.connect()
    await pub.connect()
    await pub.publish("sensors/a/temp", b"1", qos=1)
    await inbox.wait_for(1)
    await backend.restart()
    await pub.publish("sensors/b/temp", b"2", qos=1)
    assert await inbox.wait_for(2) == [b"1", b"2"]
    assert sub.metrics.reconnects >= 1


async def test_shared_subscription_splits_a_stream_without_loss_or_doubles(
    backend: Backend,
) -> None:
    workers = [backend.client("worker-a"), backend.client("worker-b")]
    inboxes = [Collector(), Collector()]
    for worker, inbox in zip(workers, inboxes, strict=True):
        await worker.subscribe("$share/workers/jobs/+", inbox, qos=1)
        await worker.subscribe("jobs-done", inbox, qos=1)
        await worker.connect()
    producer = backend.client("producer")
    await producer.connect()
    jobs = [f"job-{i}".encode() for i in range(60)]
    for i, job in enumerate(jobs):
        await producer.publish(f"jobs/{i % 3}", job, qos=1)
    await producer.publish("jobs-done", b"done", qos=1)
    for inbox in inboxes:
        await inbox.wait_for_payload(b"done")
    done_jobs = [[p for p in inbox.payloads if p != b"done"] for inbox in inboxes]
    assert sorted(done_jobs[0] + done_jobs[1]) == sorted(jobs)
    assert not set(done_jobs[0]) & set(done_jobs[1])
    assert done_jobs[0] and done_jobs[1]
    for inbox in inboxes:
        for payload, meta in inbox.items:
            if payload != b"done":
                assert meta.topic.startswith("jobs/")


async def test_mqtt5_properties_travel_and_3_1_1_drops_them(backend: Backend) -> None:
    sub, pub = backend.client("props-sub"), backend.client("props-pub")
    inbox = Collector()
    await sub.subscribe("props/t", inbox, qos=1)
    await sub.connect()
    await pub.connect()
    props = MessageProperties(
        content_type="application/json",
        payload_format_indicator=1,
        message_expiry_interval=60,
        response_topic="props/reply",
        correlation_data=b"\x00corr",
        user_properties=(("k", "v"), ("trace", "1")),
    )
    await pub.publish("props/t", b"{}", qos=1, properties=props)
    await pub.publish_event("props/t", "props.event", {"n": 1}, qos=1)
    await inbox.wait_for(2)
    (_, first), (_, second) = inbox.items
    if backend.protocol == "5":
        assert first.content_type == "application/json"
        assert first.response_topic == "props/reply"
        assert first.correlation_data == b"\x00corr"
        assert dict(first.user_properties) == {"k": "v", "trace": "1"}
        assert first.message_expiry_interval is not None
        assert 58 <= first.message_expiry_interval <= 60
        envelope = orjson.loads(inbox.payloads[1])
        assert dict(second.user_properties) == {
            "type": "props.event",
            "id": envelope["id"],
            "source": "props-pub",
        }
    else:
        for meta in (first, second):
            assert meta.user_properties == {} and meta.response_topic is None
            assert meta.correlation_data is None and meta.content_type is None


@pytest.mark.parametrize("denied", [("forbidden/#",)])
async def test_refusals_carry_reason_codes(backend: Backend) -> None:
    client = backend.client("refused")
    await client.connect()
    with pytest.raises(SubscribeError) as sub_info:
        await client.subscribe("forbidden/#", Collector(), qos=1)
    assert sub_info.value.reason_code == (0x87 if backend.protocol == "5" else 0x80)
    assert client.subscriptions == ()
    if backend.protocol == "5":
        with pytest.raises(PublishError) as pub_info:
            await client.publish("forbidden/x", b"1", qos=1)
        assert pub_info.value.reason_code == 0x87
        assert "not authorized" in str(pub_info.value)
        assert client.metrics.publish_refused == 1
    else:
        await client.publish("forbidden/x", b"1", qos=1)  # 3.1.1: dropped without a word
    await client.publish("forbidden/x", b"0", qos=0)  # QoS 0 has no acknowledgement
    inbox = Collector()
    await client.subscribe("allowed/#", inbox, qos=1)
    await client.publish("allowed/x", b"ok", qos=1)
    assert await inbox.wait_for(1) == [b"ok"]


@pytest.mark.parametrize("protocol", ["5"])
async def test_mqtt5_message_expiry_drops_stale_messages_for_offline_sessions(
    backend: Backend,
) -> None:
    away = backend.client("expiry-away", clean_session=False)
    inbox = Collector()
    await away.subscribe("exp/+", inbox, qos=1)
    await away.connect()
    await away.disconnect()
    sender = backend.client("expiry-sender")
    await sender.connect()
    short = MessageProperties(message_expiry_interval=1)
    await sender.publish("exp/short", b"short", qos=1, properties=short)
    await sender.publish(
        "exp/long", b"long", qos=1, properties=MessageProperties(message_expiry_interval=60)
    )
    await asyncio.sleep(2.2)  # the time under test: the short expiry passes while away
    await away.connect()
    await sender.publish("exp/marker", b"marker", qos=1)
    await inbox.wait_for_payload(b"marker")
    assert inbox.payloads == [b"long", b"marker"]


@pytest.mark.parametrize("protocol", ["5"])
async def test_mqtt5_session_expiry_zero_ends_the_session_with_the_connection(
    backend: Backend,
) -> None:
    kept = backend.client("kept", clean_session=False, session_expiry=60)
    gone = backend.client("gone", clean_session=False, session_expiry=0)
    inboxes = {"kept": Collector(), "gone": Collector()}
    for name, client in (("kept", kept), ("gone", gone)):
        await client.subscribe("se/+", inboxes[name], qos=1)
        await client.connect()
        await client.disconnect()
    sender = backend.client("se-sender")
    await sender.connect()
    await sender.publish("se/away", b"away", qos=1)
    for client in (kept, gone):
        await client.connect()
    await sender.publish("se/marker", b"marker", qos=1)
    for inbox in inboxes.values():
        await inbox.wait_for_payload(b"marker")
    assert inboxes["kept"].payloads == [b"away", b"marker"]
    assert inboxes["gone"].payloads == [b"marker"]
