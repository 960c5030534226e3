"""Hand-written shortcuts of the hot paths stay equivalent to what they replace."""

from __future__ import annotations

import dataclasses

from mqttwire.codec import _with_envelope
from mqttwire.envelope import EnvelopeFields
from mqttwire.meta import MessageMeta


def test_with_envelope_equals_dataclasses_replace_for_every_field() -> None:
    values: dict[str, object] = {
        "topic": "a/b",
        "qos": 1,
        "retain": True,
        "params": {"old": "1"},
        "envelope_id": "old-id",
        "event_type": "old.type",
        "source": "old-source",
        "ts": 1.0,
        "correlation_id": "old-correlation",
        "user_properties": {"k": "v"},
        "response_topic": "reply/to",
        "correlation_data": b"\x01",
        "content_type": "application/json",
        "message_expiry_interval": 30,
    }
    names = {f.name for f in dataclasses.fields(MessageMeta)}
    assert names == set(values), "MessageMeta changed: update mqttwire.codec._with_envelope"
    meta = MessageMeta(**values)  # type: ignore[arg-type]
    envelope = EnvelopeFields("new-id", "new.type", 2.0, "new-source", {})
    params = {"client_id": "x"}
    expected = dataclasses.replace(
        meta,
        params=params,
        envelope_id="new-id",
        event_type="new.type",
        source="new-source",
        ts=2.0,
        correlation_id="new-id",
    )
    assert _with_envelope(meta, params, envelope) == expected
