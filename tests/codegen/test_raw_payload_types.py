"""Which messages the generated client takes and gives as ``str`` / ``bytes`` instead of a
``RootModel`` (a bare ``text/*`` message with a plain string schema, a bare binary one with
``format: binary``), and which keep their model."""

from __future__ import annotations

from typing import Any

import pytest

from mqttwire_codegen.ir import Message
from mqttwire_codegen.render import raw_type


def message(content_type: str | None, schema: dict[str, Any], *, envelope: bool = False) -> Message:
    return Message(
        key="m",
        name="m",
        class_name="M",
        payload_schema=schema,
        content_type=content_type,
        envelope=envelope,
    )


@pytest.mark.parametrize(
    ("content_type", "schema", "expected"),
    [
        ("text/plain", {"type": "string"}, "str"),
        ("text/plain; charset=utf-8", {"type": "string", "maxLength": 64}, "str"),
        ("application/xml", {"type": "string"}, "str"),
        ("application/octet-stream", {"type": "string", "format": "binary"}, "bytes"),
        ("image/png", {"type": "string", "format": "binary"}, "bytes"),
        # keep the model: JSON, no content type, not a plain string, a format or an enum
        ("application/json", {"type": "string"}, None),
        (None, {"type": "string"}, None),
        ("text/plain", {"type": "object"}, None),
        ("text/plain", {"type": "string", "format": "date-time"}, None),
        ("text/plain", {"type": "string", "enum": ["on", "off"]}, None),
        ("application/octet-stream", {"type": "string"}, None),
    ],
)
def test_raw_payload_type(
    content_type: str | None, schema: dict[str, Any], expected: str | None
) -> None:
    assert raw_type(message(content_type, schema)) == expected


def test_an_enveloped_text_message_keeps_its_model() -> None:
    assert raw_type(message("text/plain", {"type": "string"}, envelope=True)) is None
