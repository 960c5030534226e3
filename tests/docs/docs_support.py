"""Paths shared by the docs tests."""

from __future__ import annotations

from pathlib import Path

import pytest
from shared_data import CORPUS as SHARED_CORPUS

from mqttwire_codegen.api import load_contract
from mqttwire_codegen.ir import Contract

REPO = Path(__file__).resolve().parents[2]
CORPUS = SHARED_CORPUS
TARS_CONTRACT = REPO / "contracts" / "mqtt_client_api.yaml"
LAB = Path(__file__).resolve().parent / "fixtures" / "lab.yaml"
STREETLIGHTS_V3 = CORPUS / "spec-v3.0.0" / "streetlights-mqtt-asyncapi.yml"
STREETLIGHTS_V26 = CORPUS / "spec-v2.6.0" / "streetlights-mqtt.yml"


def corpus_contract(path: Path) -> Contract:
    """Load a contract from the shared AsyncAPI corpus, skipping when it is not there."""
    if not path.is_file():
        pytest.fail(
            f"asyncapi corpus file not available: {path} (expected next to the repo in ../shared)"
        )
    contract, _ = load_contract(path)
    return contract
