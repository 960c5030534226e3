"""The check behind the ``tars`` fixture (every payload a generated-client test publishes must
validate against the contract's JSON Schemas) does reject what breaks the contract."""

from __future__ import annotations

import orjson
from wire_contract import tars_wire


def envelope(data: object, type_: str = "tts.say") -> bytes:
    return orjson.dumps({"id": "1", "type": type_, "ts": 1.0, "source": "t", "data": data})


def test_a_valid_envelope_passes_and_broken_ones_are_named() -> None:
    wire = tars_wire()
    assert wire.errors("tts/say", envelope({"text": "hi"})) == []
    assert "'text' is a required property" in wire.errors("tts/say", envelope({}))[0]
    assert "None is not of type 'string'" in wire.errors("tts/say", envelope({"text": None}))[0]
    assert "cannot decode" in wire.errors("tts/say", b"not json")[0]
    assert "no channel" in wire.errors("not/a/topic", envelope({}))[0]


def test_replies_on_a_response_topic_are_checked_against_the_reply_messages() -> None:
    wire = tars_wire()
    reply = envelope({"id": "r1", "reply": "hello"}, "llm.response")
    assert wire.errors("mqttwire/reply/svc-1", reply) == []
    assert wire.errors("mqttwire/reply/svc-1", envelope({"reply": 3}, "llm.response")) != []
