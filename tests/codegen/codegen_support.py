"""Paths and corpus index helpers shared by the generator tests."""

from __future__ import annotations

from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
CORPUS = REPO.parent / "shared" / "asyncapi-corpus"
TARS_INTERFACE = REPO.parent / "shared" / "tars-interface"
TARS_CONTRACT = REPO / "contracts" / "mqtt_client_api.yaml"


def corpus_rows() -> dict[str, list[str]]:
    """INDEX.md table rows: file -> cells (origin, licence, asyncapi, protocols, parser, note)."""
    rows: dict[str, list[str]] = {}
    for line in (CORPUS / "INDEX.md").read_text().splitlines():
        if line.startswith("| ") and not line.startswith(("| file", "|---")):
            cells = [c.strip() for c in line.strip().strip("|").split("|")]
            rows[cells[0]] = cells[1:]
    return rows
