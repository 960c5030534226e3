"""Shared fixtures for the contract checks (contracts/ against ../shared/tars-interface)."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from jsonschema import Draft7Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT7
from shared_data import TARS_INTERFACE as SHARED_TARS

REPO = Path(__file__).resolve().parents[2]
CONTRACT = REPO / "contracts" / "mqtt_client_api.yaml"
SCHEMAS = REPO / "contracts" / "schemas"
# The facts live next to the checkout (CI: ../shared); TARS_INTERFACE_DIR overrides.
INTERFACE = Path(os.environ.get("TARS_INTERFACE_DIR", SHARED_TARS)).resolve()

# Samples where strict JSON Schema and lax pydantic disagree: counted in one line of the
# terminal summary, listed in REPORT_FILE.
LAX_REPORT: list[str] = []
REPORT_FILE = REPO / ".cache" / "contract-lax-samples.json"


def interface_dir() -> Path:
    if not (INTERFACE / "catalog.json").is_file():
        pytest.fail(
            f"TARS interface data not found at {INTERFACE} (expected catalog.json, schemas/, "
            "examples/). Check out the shared data next to the repository (../shared/"
            "tars-interface) or set TARS_INTERFACE_DIR.",
            pytrace=False,
        )
    return INTERFACE


def load_json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


@pytest.fixture(scope="session")
def interface() -> Path:
    return interface_dir()


@pytest.fixture(scope="session")
def catalog(interface: Path) -> dict[str, Any]:
    return load_json(interface / "catalog.json")


@pytest.fixture(scope="session")
def model_index(interface: Path) -> dict[str, Any]:
    """schemas/INDEX.json: original model name -> python path, extra policy, topics."""
    return load_json(interface / "schemas" / "INDEX.json")["models"]


@pytest.fixture(scope="session")
def contract() -> dict[str, Any]:
    return yaml.safe_load(CONTRACT.read_text(encoding="utf-8"))


@pytest.fixture(scope="session")
def contract_schemas() -> dict[str, dict[str, Any]]:
    """File stem -> schema of every contracts/schemas/*.json."""
    return {p.stem: load_json(p) for p in sorted(SCHEMAS.glob("*.json"))}


@pytest.fixture(scope="session")
def schema_by_python(contract_schemas: dict[str, dict[str, Any]]) -> dict[str, str]:
    """Original python model path (x-python-model) -> contract schema file stem."""
    out: dict[str, str] = {}
    for stem, schema in contract_schemas.items():
        origin = schema.get("x-python-model")
        if origin:
            assert origin not in out, f"two contract schemas claim {origin}: {out[origin]}, {stem}"
            out[origin] = stem
    return out


@pytest.fixture(scope="session")
def validator_for(contract_schemas: dict[str, dict[str, Any]]) -> Any:
    """Factory: schema file stem -> Draft 7 validator resolving the ./X.json file $refs."""
    registry: Registry = Registry().with_resources(
        (
            (SCHEMAS / f"{stem}.json").as_uri(),
            Resource.from_contents(s, default_specification=DRAFT7),
        )
        for stem, s in contract_schemas.items()
    )
    cache: dict[str, Draft7Validator] = {}

    def make(stem: str) -> Draft7Validator:
        if stem not in cache:
            uri = (SCHEMAS / f"{stem}.json").as_uri()
            cache[stem] = Draft7Validator({"$ref": uri}, registry=registry)
        return cache[stem]

    return make


def _refs(node: Any) -> set[str]:
    if isinstance(node, dict):
        out = {node["$ref"]} if isinstance(node.get("$ref"), str) else set()
        for value in node.values():
            out |= _refs(value)
        return out
    if isinstance(node, list):
        return set().union(set(), *(_refs(v) for v in node))
    return set()


def _stem(ref: str) -> str:
    return ref.rsplit("/", 1)[-1].removesuffix(".json")


@pytest.fixture(scope="session")
def payload_stems(
    contract: dict[str, Any], contract_schemas: dict[str, dict[str, Any]]
) -> set[str]:
    """Schema files reachable from a message payload (the models a generator must emit)."""
    todo = [_stem(m["payload"]["$ref"]) for m in contract["components"]["messages"].values()]
    seen: set[str] = set()
    while todo:
        stem = todo.pop()
        if stem not in seen and stem in contract_schemas:
            seen.add(stem)
            todo += [_stem(r) for r in _refs(contract_schemas[stem]) if r.endswith(".json")]
    return seen


@pytest.fixture(scope="session")
def lax_report() -> Iterator[list[str]]:
    yield LAX_REPORT


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """One line, not a section: these samples are documented, expected disagreements."""
    if not LAX_REPORT:
        return
    path = REPORT_FILE.relative_to(REPO)
    terminalreporter.write_line(
        f"contract: {len(LAX_REPORT)} lax-mode samples (pydantic accepts, strict JSON Schema "
        f"rejects; expected, not failures), listed in {path}"
    )
