"""MQTT reason codes (MQTT 5 section 2.4, plus the 3.1.1 SUBACK failure 0x80) and their names."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

__all__ = [
    "NOT_AUTHORIZED",
    "REASON_NAMES",
    "SHARED_SUBSCRIPTIONS_NOT_SUPPORTED",
    "UNSPECIFIED_ERROR",
    "reason_name",
]

UNSPECIFIED_ERROR = 0x80
NOT_AUTHORIZED = 0x87
SHARED_SUBSCRIPTIONS_NOT_SUPPORTED = 0x9E

REASON_NAMES: Mapping[int, str] = MappingProxyType(
    {
        0x00: "success",
        0x01: "granted QoS 1",
        0x02: "granted QoS 2",
        0x10: "no matching subscribers",
        0x80: "unspecified error",
        0x81: "malformed packet",
        0x82: "protocol error",
        0x83: "implementation specific error",
        0x87: "not authorized",
        0x8F: "topic filter invalid",
        0x90: "topic name invalid",
        0x91: "packet identifier in use",
        0x92: "packet identifier not found",
        0x97: "quota exceeded",
        0x99: "payload format invalid",
        0x9A: "retain not supported",
        0x9B: "QoS not supported",
        0x9E: "shared subscriptions not supported",
        0xA1: "subscription identifiers not supported",
        0xA2: "wildcard subscriptions not supported",
    }
)


def reason_name(code: int) -> str:
    """``"not authorized"`` for 0x87; ``"reason code 0xNN"`` for codes without a name here."""
    return REASON_NAMES.get(code, f"reason code {code:#04x}")
