"""Paths and corpus index helpers shared by the generator tests."""

from __future__ import annotations

from pathlib import Path

from shared_data import CORPUS as SHARED_CORPUS
from shared_data import TARS_INTERFACE as SHARED_TARS

REPO = Path(__file__).resolve().parents[2]
CORPUS = SHARED_CORPUS
TARS_INTERFACE = SHARED_TARS
TARS_CONTRACT = REPO / "contracts" / "mqtt_client_api.yaml"


def corpus_rows() -> dict[str, list[str]]:
    """INDEX.md table rows: file -> cells (origin, licence, asyncapi, protocols, parser, note)."""
    rows: dict[str, list[str]] = {}
    for line in (CORPUS / "INDEX.md").read_text().splitlines():
        if line.startswith("| ") and not line.startswith(("| file", "|---")):
            cells = [c.strip() for c in line.strip().strip("|").split("|")]
            rows[cells[0]] = cells[1:]
    return rows
