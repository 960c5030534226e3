"""Envelope, HealthPing, HeartbeatPayload and the deduplicator (items 10, 24, 32, 44, 47-50, 57-58)."""

from __future__ import annotations

import orjson
import pytest
from pydantic import BaseModel, ValidationError

from mqttwire.compat.tars import Envelope, HealthPing, HeartbeatPayload, MessageDeduplicator


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Say(BaseModel):
    text: str
    seq: int | None = None


def _payload(event_type: str, data: dict[str, object], *, correlate: str = "cid") -> bytes:
    return orjson.dumps(Envelope.new(event_type, data, correlate=correlate).model_dump())


# ---------------------------------------------------------------- Envelope


def test_envelope_new_uses_the_correlation_id_as_id() -> None:
    assert Envelope.new("tts.say", {"text": "hi"}, correlate="abc").id == "abc"
    assert Envelope.new("tts.say", {"text": "hi"}, correlation_id="abc").id == "abc"


def test_envelope_new_defaults() -> None:
    envelope = Envelope.new("tts.say", Say(text="hi"))
    assert len(envelope.id) == 32
    int(envelope.id, 16)
    assert envelope.source == "router"
    assert envelope.data == {"text": "hi", "seq": None}
    assert set(envelope.model_dump()) == {"id", "type", "ts", "source", "data"}
    assert Envelope.new("x", {}, source="tts").source == "tts"


def test_envelope_forbids_extra_keys_and_needs_object_data() -> None:
    with pytest.raises(ValidationError):
        Envelope.model_validate({"type": "x", "data": {}, "correlate": "c"})
    with pytest.raises(ValidationError):
        Envelope.model_validate({"type": "x", "data": [1, 2]})
    with pytest.raises(ValidationError):
        Envelope.model_validate({"data": {}})


# ---------------------------------------------------------------- health and heartbeat models


def test_health_ping_without_nulls_and_forbids_extras() -> None:
    dumped = HealthPing(ok=True, event="ready").model_dump(exclude_none=True)
    assert set(dumped) == {"message_id", "ok", "event", "timestamp"}
    with pytest.raises(ValidationError):
        HealthPing(ok=True, error="typo")  # type: ignore[call-arg]
    with pytest.raises(ValidationError):
        HealthPing()  # type: ignore[call-arg]


def test_heartbeat_payload() -> None:
    beat = HeartbeatPayload(timestamp=12.5)
    assert beat.model_dump() == {"ok": True, "event": "heartbeat", "timestamp": 12.5}
    with pytest.raises(ValidationError):
        HeartbeatPayload()  # type: ignore[call-arg]


# ---------------------------------------------------------------- deduplicator


def test_same_envelope_twice_is_a_duplicate() -> None:
    dedupe = MessageDeduplicator(ttl=30, max_entries=10)
    payload = _payload("tts.say", {"text": "hi"})
    assert dedupe.is_duplicate(payload) is False
    assert dedupe.is_duplicate(payload) is True


def test_key_is_type_id_and_data() -> None:
    dedupe = MessageDeduplicator(30, 10)
    assert not dedupe.is_duplicate(_payload("tts.say", {"text": "hi"}))
    assert not dedupe.is_duplicate(_payload("tts.status", {"text": "hi"}))  # other type
    assert not dedupe.is_duplicate(_payload("tts.say", {"text": "hi"}, correlate="other"))
    assert not dedupe.is_duplicate(_payload("tts.say", {"text": "bye"}))  # other data
    # same data, other key order and timestamps: still the same message
    again = orjson.dumps({"type": "tts.say", "id": "cid", "ts": 1.0, "data": {"text": "hi"}})
    assert dedupe.is_duplicate(again)


def test_stream_chunks_sharing_an_id_stay_apart_by_seq() -> None:
    dedupe = MessageDeduplicator(30, 10)
    first = _payload("llm.stream", {"seq": 1, "delta": "a"})
    assert not dedupe.is_duplicate(first)
    assert not dedupe.is_duplicate(_payload("llm.stream", {"seq": 2, "delta": "b"}))
    # seq decides, not the rest of the data
    assert dedupe.is_duplicate(_payload("llm.stream", {"seq": 1, "delta": "changed"}))


@pytest.mark.parametrize(
    "payload",
    [b"not json", b'{"ok": true}', b"[1, 2]", b'{"type": "x", "data": {}, "extra": 1}', b""],
)
def test_non_envelopes_are_never_duplicates(payload: bytes) -> None:
    dedupe = MessageDeduplicator(30, 10)
    assert not dedupe.is_duplicate(payload)
    assert not dedupe.is_duplicate(payload)


def test_envelope_without_id_is_never_a_duplicate() -> None:
    dedupe = MessageDeduplicator(30, 10)
    payload = b'{"type": "x", "data": {}}'
    assert not dedupe.is_duplicate(payload)
    assert not dedupe.is_duplicate(payload)


def test_entries_expire_after_the_ttl() -> None:
    clock = Clock()
    dedupe = MessageDeduplicator(10, 100, clock=clock)
    payload = _payload("x", {})
    assert not dedupe.is_duplicate(payload)
    clock.now += 10.5
    assert not dedupe.is_duplicate(payload)


def test_a_repeat_restarts_the_ttl() -> None:
    clock = Clock()
    dedupe = MessageDeduplicator(10, 100, clock=clock)
    payload = _payload("x", {})
    assert not dedupe.is_duplicate(payload)
    for _ in range(5):
        clock.now += 8  # 40 s in all, each repeat within the TTL of the previous one
        assert dedupe.is_duplicate(payload)


def test_oldest_entry_is_evicted_at_the_bound() -> None:
    dedupe = MessageDeduplicator(30, 2)
    one, two, three = (_payload("x", {"n": n}) for n in (1, 2, 3))
    for payload in (one, two, three):
        assert not dedupe.is_duplicate(payload)
    assert len(dedupe) == 2
    assert dedupe.is_duplicate(three)
    assert not dedupe.is_duplicate(one)  # evicted


def test_a_repeat_makes_the_entry_newest() -> None:
    dedupe = MessageDeduplicator(30, 2)
    one, two, three = (_payload("x", {"n": n}) for n in (1, 2, 3))
    dedupe.is_duplicate(one)
    dedupe.is_duplicate(two)
    assert dedupe.is_duplicate(one)  # one is now the newest
    dedupe.is_duplicate(three)  # evicts two
    assert dedupe.is_duplicate(one)
    assert not dedupe.is_duplicate(two)


def test_str_payloads_are_accepted() -> None:
    dedupe = MessageDeduplicator(30, 10)
    text = _payload("x", {}).decode()
    assert not dedupe.is_duplicate(text)
    assert dedupe.is_duplicate(text)
