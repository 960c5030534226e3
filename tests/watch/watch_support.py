"""Shared bits of the watch tests: the TARS contract, loaded once, and envelope payloads."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

from mqttwire.envelope import encode_envelope
from mqttwire_codegen.api import load_contract
from mqttwire_codegen.ir import Contract

REPO = Path(__file__).resolve().parents[2]
TARS_CONTRACT = REPO / "contracts" / "mqtt_client_api.yaml"


@cache
def tars_contract() -> Contract:
    return load_contract(TARS_CONTRACT)[0]


def envelope(event_type: str, data: Any, source: str) -> bytes:
    return encode_envelope(event_type, data, source=source)[1]
