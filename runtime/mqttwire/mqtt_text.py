"""MQTT's rules for UTF-8 strings (topics, filters, client ids; MQTT 3.1.1 section 1.5.3).

A string must be well-formed UTF-8 (no lone surrogates), must not contain U+0000 and should not
contain control characters (U+0001-U+001F, U+007F-U+009F) or Unicode non-characters; a broker
may close the connection when it sees one (Mosquitto does), so the client refuses them up front.
Encoded, a string takes at most 65,535 bytes.
"""

from __future__ import annotations

import re

__all__ = ["MAX_STRING_BYTES", "text_problem"]

MAX_STRING_BYTES = 65535

_NONCHARACTERS = "".join(
    f"{chr(plane * 0x10000 + 0xFFFE)}{chr(plane * 0x10000 + 0xFFFF)}" for plane in range(17)
)
_NOT_ALLOWED = re.compile(
    "[\x00-\x1f\x7f-\x9f\ud800-\udfff\ufdd0-\ufdef" + re.escape(_NONCHARACTERS) + "]"
)


def text_problem(value: str) -> str | None:
    """Why ``value`` may not be sent as an MQTT string, or ``None`` when it may."""
    bad = _NOT_ALLOWED.search(value)
    if bad is not None:
        char = bad.group()
        if char == "\x00":
            return "must not contain NUL"
        if "\ud800" <= char <= "\udfff":
            return f"must be well-formed UTF-8 (lone surrogate U+{ord(char):04X})"
        if ord(char) < 0xA0:
            return f"must not contain control character U+{ord(char):04X}"
        return f"must not contain Unicode non-character U+{ord(char):04X}"
    if len(value) * 4 > MAX_STRING_BYTES and len(value.encode()) > MAX_STRING_BYTES:
        return f"longer than {MAX_STRING_BYTES} bytes (UTF-8)"
    return None
