"""Health and heartbeat on the wire (items 16, 19, 30-34, 44; section 4 items 7-8)."""

from __future__ import annotations

import itertools

import orjson
import pytest
from compat_support import MakeCompat, MakeObserver

pytestmark = pytest.mark.integration


async def test_health_ready_and_shutdown_retained_at_qos1(
    compat: MakeCompat, observe: MakeObserver
) -> None:
    live = await observe("system/health/tars-tts")
    client = compat("tars-tts", source_name="tts", enable_health=True)
    await client.connect()
    ((payload, meta),) = await live.wait_for(1)
    envelope = orjson.loads(payload)
    assert set(envelope) == {"id", "type", "ts", "source", "data"}
    assert envelope["type"] == "health.status"
    assert envelope["source"] == "tts"  # topic uses the client id, source the source name
    assert meta.qos == 1
    assert set(envelope["data"]) == {"message_id", "ok", "event", "timestamp"}  # no nulls
    assert (envelope["data"]["ok"], envelope["data"]["event"]) == (True, "ready")
    late = await observe("system/health/tars-tts")
    ((_, retained),) = await late.wait_for(1)
    assert retained.retain is True

    await client.shutdown()
    await live.wait_for(2)
    data = live.json()[1]["data"]
    assert (data["ok"], data["event"]) == (False, "shutdown")
    assert live.items[1][1].qos == 1
    after = await observe("system/health/tars-tts")
    ((payload, retained),) = await after.wait_for(1)
    assert retained.retain is True
    assert orjson.loads(payload)["data"]["event"] == "shutdown"


async def test_publish_health_with_err(compat: MakeCompat, observe: MakeObserver) -> None:
    live = await observe("system/health/svc")
    client = compat("svc", enable_health=True)
    await client.connect()
    await live.wait_for(1)
    await client.publish_health(False, event="error", err="camera unplugged")
    await live.wait_for(2)
    data = live.json()[1]["data"]
    assert set(data) == {"message_id", "ok", "event", "err", "timestamp"}
    assert (data["ok"], data["event"], data["err"]) == (False, "error", "camera unplugged")
    await client.publish_health(True)
    await live.wait_for(3)
    assert set(live.json()[2]["data"]) == {"message_id", "ok", "timestamp"}


async def test_publish_health_is_a_no_op_when_disabled(
    compat: MakeCompat, observe: MakeObserver
) -> None:
    live = await observe("system/health/quiet")
    client = compat("quiet")
    await client.connect()
    await client.publish_health(True, event="ready")
    await client.shutdown()
    # Mosquitto forwards in the order it received: this marker comes after anything above.
    marker = compat("marker")
    await marker.connect()
    await marker.publish_event("system/health/quiet", "marker", {}, qos=1)
    await live.wait_for(1)
    assert [item["type"] for item in live.json()] == ["marker"]  # no ready, no shutdown


async def test_heartbeat_payload_topic_and_cadence(
    compat: MakeCompat, observe: MakeObserver
) -> None:
    beats = await observe("system/keepalive/tars-stt")
    client = compat("tars-stt", source_name="stt", enable_heartbeat=True, heartbeat_interval=1.0)
    await client.connect()
    items = await beats.wait_for(3)
    stamps = []
    for payload, meta in items[:3]:
        beat = orjson.loads(payload)
        assert set(beat) == {"ok", "event", "timestamp"}  # bare, not enveloped
        assert (beat["ok"], beat["event"]) == (True, "heartbeat")
        assert (meta.qos, meta.retain) == (0, False)
        stamps.append(beat["timestamp"])
    # one beat per interval: consecutive beats are at least an interval apart (lower bound only)
    assert all(b - a >= 0.9 for a, b in itertools.pairwise(stamps))


async def test_first_heartbeat_is_sent_right_after_connect(
    compat: MakeCompat, observe: MakeObserver
) -> None:
    """With an hour between beats, a beat can only arrive if the first one is immediate."""
    beats = await observe("system/keepalive/slow")
    client = compat("slow", enable_heartbeat=True, heartbeat_interval=3600)
    await client.connect()
    ((payload, _),) = await beats.wait_for(1)
    assert orjson.loads(payload)["event"] == "heartbeat"


async def test_no_heartbeat_unless_enabled(compat: MakeCompat, observe: MakeObserver) -> None:
    beats = await observe("system/keepalive/#")
    client = compat("plain")
    await client.connect()
    await client.publish_event("system/keepalive/plain", "marker", {}, qos=1)
    await beats.wait_for(1)
    assert [item.get("type") for item in beats.json()] == ["marker"]
