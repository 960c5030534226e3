"""Health/heartbeat wire format, backoff, offline queue."""

from __future__ import annotations

import json
import random
from pathlib import Path

import jsonschema
import orjson
import pytest

from mqttwire import (
    HealthStatus,
    HeartbeatPayload,
    OfflineQueueFullError,
    health_topic,
    keepalive_topic,
)
from mqttwire.backoff import Backoff
from mqttwire.health import encode_health, encode_heartbeat
from mqttwire.offline_queue import OfflineQueue, OutgoingMessage


def _schema(path: Path, name: str) -> dict[str, object]:
    return json.loads((path / f"{name}.json").read_text())  # type: ignore[no-any-return]


def test_health_payload_matches_deployed_format(tars_schemas: Path) -> None:
    envelope = orjson.loads(encode_health(True, source="tars-stt", event="ready"))
    jsonschema.validate(envelope, _schema(tars_schemas, "Envelope"))
    jsonschema.validate(envelope["data"], _schema(tars_schemas, "HealthPing"))
    assert envelope["type"] == "health.status" and envelope["source"] == "tars-stt"
    assert list(envelope["data"]) == ["message_id", "ok", "event", "timestamp"]
    failed = orjson.loads(encode_health(False, source="s", error="broker lost"))["data"]
    assert failed["ok"] is False and failed["err"] == "broker lost" and "event" not in failed


def test_heartbeat_is_bare(tars_schemas: Path) -> None:
    beat = orjson.loads(encode_heartbeat(123.5))
    assert beat == {"ok": True, "event": "heartbeat", "timestamp": 123.5}
    jsonschema.validate(beat, _schema(tars_schemas, "HeartbeatPayload"))
    assert HeartbeatPayload.model_validate(beat).timestamp == 123.5


def test_models_accept_the_tars_samples(tars_examples: Path) -> None:
    for model, name in ((HealthStatus, "HealthPing"), (HeartbeatPayload, "HeartbeatPayload")):
        for sample in json.loads((tars_examples / f"{name}.valid.json").read_text()):
            model.model_validate_json(json.dumps(sample))
        for sample in json.loads((tars_examples / f"{name}.invalid.json").read_text()):
            with pytest.raises(ValueError):
                model.model_validate_json(json.dumps(sample))


def test_topics() -> None:
    assert health_topic("tars-tts") == "system/health/tars-tts"
    assert keepalive_topic("tars-tts") == "system/keepalive/tars-tts"


def test_backoff_grows_with_jitter_caps_and_resets() -> None:
    backoff = Backoff(0.5, 5.0, rng=random.Random(1))
    delays = [backoff.next_delay() for _ in range(10)]
    assert delays[0] == 0.0
    bases = [0.5, 1.0, 2.0, 4.0, 5.0, 5.0, 5.0, 5.0, 5.0]
    for delay, base in zip(delays[1:], bases, strict=True):
        assert base * 0.5 <= delay <= base
    assert len(set(delays[5:])) > 1  # jittered
    backoff.reset()
    assert backoff.next_delay() == 0.0


def test_offline_queue_bound_and_order() -> None:
    queue = OfflineQueue(2)
    a, b, c = (OutgoingMessage(t, b"", 1, False) for t in "abc")
    queue.put(a)
    queue.put(b)
    with pytest.raises(OfflineQueueFullError) as info:
        queue.put(c)
    assert info.value.capacity == 2 and info.value.topic == "c"
    taken = queue.take(5)
    assert taken == [a, b] and not queue
    queue.put(c)
    queue.put_front(taken)  # interrupted messages go back to the head, even beyond capacity
    assert queue.take(10) == [a, b, c]
