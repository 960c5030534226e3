"""Envelope: the TARS samples, our output against the JSON schema, and the fast helpers."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import jsonschema
import orjson
import pytest
from pydantic import BaseModel, ValidationError

from mqttwire import Envelope, decode_envelope, encode_envelope, new_message_id
from mqttwire.envelope import decode_envelope_fields


def _samples(examples: Path, kind: str) -> list[object]:
    return json.loads((examples / f"Envelope.{kind}.json").read_text())  # type: ignore[no-any-return]


def test_every_valid_sample_is_accepted(tars_examples: Path) -> None:
    samples = _samples(tars_examples, "valid")
    assert len(samples) >= 50
    for sample in samples:
        Envelope.model_validate(sample)
        assert decode_envelope(json.dumps(sample).encode()) is not None


def test_every_invalid_sample_is_rejected(tars_examples: Path) -> None:
    samples = _samples(tars_examples, "invalid")
    assert len(samples) >= 20
    for sample in samples:
        with pytest.raises(ValidationError):
            Envelope.model_validate(sample)
        assert decode_envelope(json.dumps(sample).encode()) is None


class Say(BaseModel):
    text: str
    voice: str | None = None
    rate: float = 1.0


def test_encode_envelope_wire_shape_validates_against_schema(tars_schemas: Path) -> None:
    schema = json.loads((tars_schemas / "Envelope.json").read_text())
    before = time.time()
    message_id, payload = encode_envelope("tts.say", Say(text="hi"), source="router")
    obj = orjson.loads(payload)
    jsonschema.validate(obj, schema)
    assert list(obj) == ["id", "type", "ts", "source", "data"]
    assert re.fullmatch(r"[0-9a-f]{32}", message_id) and obj["id"] == message_id
    assert obj["type"] == "tts.say" and obj["source"] == "router"
    assert before <= obj["ts"] <= time.time()
    # model_dump(mode="json"): every field, defaults and None included
    assert obj["data"] == {"text": "hi", "voice": None, "rate": 1.0}
    assert b" " not in payload.replace(b'"hi"', b"")


def test_correlation_id_becomes_the_id() -> None:
    message_id, payload = encode_envelope(
        "llm.response", {"a": 1}, source="llm", correlation_id="req-9"
    )
    assert message_id == "req-9" and orjson.loads(payload)["id"] == "req-9"


def test_new_ids_are_uuid4_hex_and_unique() -> None:
    ids = {new_message_id() for _ in range(1000)}
    assert len(ids) == 1000
    for value in ids:
        assert re.fullmatch(r"[0-9a-f]{12}4[0-9a-f]{3}[89ab][0-9a-f]{15}", value)


def test_model_round_trip_and_to_bytes(tars_schemas: Path) -> None:
    schema = json.loads((tars_schemas / "Envelope.json").read_text())
    envelope = Envelope.new("stt.final", {"text": "hello"}, source="stt", correlation_id="c1")
    assert envelope.id == "c1"
    raw = envelope.to_bytes()
    jsonschema.validate(orjson.loads(raw), schema)
    assert decode_envelope(raw) == envelope


def test_extra_keys_are_forbidden() -> None:
    with pytest.raises(ValidationError):
        Envelope(type="x", data={}, correlate="y")  # type: ignore[call-arg]


@pytest.mark.parametrize(
    "payload",
    [b"", b"not json", b"[]", b"42", b'{"type": "x"}', b'{"data": {}}', b"\xff\xfe", b"[" * 5000],
)
def test_decode_rejects_non_envelopes(payload: bytes) -> None:
    assert decode_envelope(payload) is None


def test_default_source_is_router_like_the_deployed_model() -> None:
    assert Envelope(type="x", data={}).source == "router"


_EDGE_CASES: list[object] = [
    {"type": "x", "data": {}},
    {"id": "a", "type": "x", "ts": 1, "source": "s", "data": {"k": [1]}},
    {"id": "a", "type": "x", "ts": "1.5", "source": "s", "data": {}},
    {"id": "a", "type": "x", "ts": True, "data": {}},
    {"id": None, "type": "x", "data": {}},
    {"id": 5, "type": "x", "data": {}},
    {"type": "x", "ts": None, "data": {}},
    {"type": "x", "source": None, "data": {}},
    {"type": 1, "data": {}},
    {"type": "x", "data": []},
    {"type": "x", "data": {}, "extra": 1},
    {"type": "x", "ts": 2**60, "data": {}},
    {"type": "x", "ts": 1e308, "data": {}},
]


def _decoded_both_ways(sample: object) -> tuple[object, object]:
    raw = json.dumps(sample).encode()
    model = decode_envelope(raw)
    fields = decode_envelope_fields(raw)
    expected = None if model is None else (model.type, model.source, model.data)
    got = None if fields is None else (fields.type, fields.source, fields.data)
    if model is not None and fields is not None:
        assert type(fields.ts) is float and type(fields.id) is str
        if isinstance(sample, dict) and "id" in sample:
            assert fields.id == model.id
        if isinstance(sample, dict) and "ts" in sample:
            assert fields.ts == model.ts
    return expected, got


def test_fast_field_decoding_agrees_with_the_model(tars_examples: Path) -> None:
    samples = _samples(tars_examples, "valid") + _samples(tars_examples, "invalid") + _EDGE_CASES
    for sample in samples:
        expected, got = _decoded_both_ways(sample)
        assert got == expected, sample
