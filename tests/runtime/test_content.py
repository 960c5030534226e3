"""contentType on the wire: JSON by default, text as text, binary as bytes."""

from __future__ import annotations

import pytest
from pydantic import BaseModel, RootModel

from mqttwire.content import decode_body, encode_body, wire_format


@pytest.mark.parametrize(
    ("content_type", "expected"),
    [
        (None, "json"),
        ("application/json", "json"),
        ("application/cloudevents+json; charset=utf-8", "json"),
        ("text/plain", "text"),
        ("TEXT/PLAIN; charset=utf-8", "text"),
        ("application/xml", "text"),
        ("application/octet-stream", "bytes"),
        ("image/jpeg", "bytes"),
    ],
)
def test_wire_format(content_type: str | None, expected: str) -> None:
    assert wire_format(content_type) == expected


class Reading(BaseModel):
    celsius: float


def test_encode_and_decode_each_format() -> None:
    assert encode_body(RootModel[str]("clear"), "text") == b"clear"
    assert encode_body(RootModel[bytes](b"\x00\xff"), "bytes") == b"\x00\xff"
    assert encode_body(RootModel[float](21.5), "text") == b"21.5"  # a number in its JSON spelling
    assert encode_body(Reading(celsius=1), "text") == b'{"celsius":1.0}'  # objects stay JSON
    assert encode_body(Reading(celsius=1), "json") == b'{"celsius":1.0}'
    assert decode_body(b"clear", "text") == "clear"
    assert decode_body(b"\xff", "bytes") == b"\xff"
    assert decode_body(b'{"a": 1}', "json") == {"a": 1}
    with pytest.raises(ValueError):
        decode_body(b"\xff", "text")
    with pytest.raises(ValueError):
        decode_body(b"clear", "json")
