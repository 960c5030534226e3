"""MessageDeduplicator: deployed keys, TTL, bound, and raw-payload handling."""

from __future__ import annotations

import orjson

from mqttwire import Envelope, MessageDeduplicator, dedupe_key, encode_envelope


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_key_uses_seq_when_it_is_an_int() -> None:
    envelope = Envelope(id="abc", type="llm.stream", data={"seq": 3, "delta": "x"})
    assert dedupe_key(envelope) == "llm.stream|abc|seq=3"


def test_key_hashes_sorted_data_otherwise() -> None:
    a = dedupe_key({"type": "t", "id": "i", "data": {"x": 1, "y": 2}})
    b = dedupe_key({"type": "t", "id": "i", "data": {"y": 2, "x": 1}})
    c = dedupe_key({"type": "t", "id": "i", "data": {"x": 1, "y": 3}})
    assert a == b != c
    assert a.startswith("t|i|hash=")
    assert dedupe_key({"type": "t", "id": "i", "data": {"seq": "3"}}).startswith("t|i|hash=")


def test_ttl_expiry() -> None:
    clock = Clock()
    dedupe = MessageDeduplicator(10, 100, clock=clock)
    assert not dedupe.seen("k")
    clock.now += 9.9
    assert dedupe.seen("k")
    clock.now += 0.2
    assert not dedupe.seen("k")  # expired, recorded again
    assert len(dedupe) == 1


def test_sliding_ttl_restarts_on_a_repeat_and_makes_the_key_newest() -> None:
    clock = Clock()
    dedupe = MessageDeduplicator(10, 2, clock=clock, sliding=True)
    assert not dedupe.seen("a")
    for _ in range(3):
        clock.now += 8  # beyond the first TTL, but each repeat restarts it
        assert dedupe.seen("a")
    assert not dedupe.seen("b")
    assert dedupe.seen("a")  # "a" newest again: "c" evicts "b"
    assert not dedupe.seen("c")
    assert dedupe.seen("a")
    assert not dedupe.seen("b")
    fixed = MessageDeduplicator(10, 2, clock=clock)
    assert not fixed.seen("a")
    clock.now += 8
    assert fixed.seen("a")
    clock.now += 8
    assert not fixed.seen("a")  # fixed TTL: the repeat did not extend it


def test_bounded_by_max_entries_oldest_first() -> None:
    dedupe = MessageDeduplicator(3600, 3, clock=Clock())
    for key in "abcd":
        assert not dedupe.seen(key)
    assert len(dedupe) == 3
    assert not dedupe.seen("a")  # evicted, so new again
    assert dedupe.seen("d")


def test_memory_stays_bounded_under_a_flood() -> None:
    clock = Clock()
    dedupe = MessageDeduplicator(1.0, 500, clock=clock)
    for i in range(20_000):
        clock.now += 0.001
        dedupe.seen(str(i))
        assert len(dedupe) <= 500


def test_raw_payloads() -> None:
    dedupe = MessageDeduplicator(60, 100)
    _, first = encode_envelope("tts.say", {"text": "hi"}, source="s", correlation_id="x")
    _, same_id_other_data = encode_envelope(
        "tts.say", {"text": "ho"}, source="s", correlation_id="x"
    )
    assert not dedupe.is_duplicate_payload(first)
    assert dedupe.is_duplicate_payload(first)
    assert not dedupe.is_duplicate_payload(same_id_other_data)
    for raw in (b"", b"x", b"{", b'{"ok": true}', orjson.dumps({"type": "t", "data": {}}), b"[1]"):
        assert not dedupe.is_duplicate_payload(raw)
        assert not dedupe.is_duplicate_payload(raw)  # non-envelopes are never deduplicated
    extra = orjson.dumps({"id": "1", "type": "t", "data": {}, "extra": 1})
    assert not dedupe.is_duplicate_payload(extra) and not dedupe.is_duplicate_payload(extra)
