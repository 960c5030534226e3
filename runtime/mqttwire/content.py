"""A message's ``contentType`` on the wire: JSON (the default), plain text or raw bytes.

``text/plain`` payloads go out as the text itself (a device publishing ``clear`` is not sending
JSON), ``application/octet-stream`` (and other binary types) as the bytes themselves.
"""

from __future__ import annotations

import functools
from typing import Any, Literal

import orjson
from pydantic import BaseModel

__all__ = ["WireFormat", "decode_body", "encode_body", "wire_format"]

WireFormat = Literal["json", "text", "bytes"]

_TEXT_TYPES = ("text/", "application/xml", "application/yaml", "application/x-yaml")


@functools.lru_cache(maxsize=256)
def wire_format(content_type: str | None) -> WireFormat:
    """``json`` without a content type or for any JSON type (``application/json``,
    ``application/*+json``), ``text`` for ``text/*`` and XML/YAML, ``bytes`` for the rest."""
    if content_type is None:
        return "json"
    base = content_type.split(";", 1)[0].strip().lower()
    if base.endswith("json"):
        return "json"
    if base.startswith(_TEXT_TYPES):
        return "text"
    return "bytes"


def encode_body(payload: BaseModel, fmt: WireFormat) -> bytes:
    """The bytes of ``payload``: JSON, or for text/bytes the model's value itself (a string
    as UTF-8, bytes as they are; a number or boolean in its JSON spelling; objects as JSON)."""
    if fmt != "json":
        value = payload.model_dump(by_alias=True)
        if isinstance(value, bytes):
            return value
        if isinstance(value, str):
            return value.encode("utf-8")
    return orjson.dumps(payload.model_dump(mode="json", by_alias=True))


def decode_body(raw: bytes, fmt: WireFormat) -> Any:
    """What the model validates: parsed JSON, the UTF-8 text or the raw bytes. Raises
    ``ValueError`` for malformed JSON or text that is not UTF-8."""
    if fmt == "json":
        return orjson.loads(raw)
    if fmt == "text":
        return raw.decode("utf-8")
    return raw
