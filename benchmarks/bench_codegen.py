"""Time the generator: the TARS contract and synthetic 50/500/2000-channel contracts.

A script, not a test: ``python benchmarks/bench_codegen.py [--repeat N] [--sizes 50,500,2000]``
prints one JSON document (wall seconds per phase: load+validate+IR, models, render+format).
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from mqttwire_codegen import __version__
from mqttwire_codegen.api import load_contract
from mqttwire_codegen.formatting import format_python
from mqttwire_codegen.models_gen import generate_models
from mqttwire_codegen.pipeline import generate_package
from mqttwire_codegen.render import render_templates, template_context

REPO = Path(__file__).resolve().parents[1]
TARS = REPO / "contracts" / "mqtt_client_api.yaml"


def synthetic_contract(channels: int) -> dict[str, Any]:
    """``channels`` channels, each with a parameter, an enveloped message and a send operation;
    every tenth has a reply. Schemas: one object per channel plus a shared nested one."""
    doc: dict[str, Any] = {
        "asyncapi": "3.0.0",
        "info": {"title": f"Synthetic {channels}", "version": "1.0.0"},
        "x-envelope": True,
        "servers": {"b": {"host": "localhost:1883", "protocol": "mqtt"}},
        "channels": {},
        "operations": {},
        "components": {
            "schemas": {
                "Meta": {
                    "type": "object",
                    "title": "Meta",
                    "properties": {"source": {"type": "string"}, "seq": {"type": "integer"}},
                }
            }
        },
    }
    for i in range(channels):
        name = f"Payload{i}"
        doc["components"]["schemas"][name] = {
            "type": "object",
            "title": name,
            "additionalProperties": False,
            "required": ["value"],
            "properties": {
                "id": {"type": "string", "x-default-factory": "uuid4"},
                "value": {"type": "number", "minimum": 0},
                "unit": {"type": "string", "enum": ["a", "b", "c"]},
                "meta": {"$ref": "#/components/schemas/Meta"},
            },
        }
        doc["channels"][f"ch{i}"] = {
            "address": f"synthetic/{i}/{{device}}/state",
            "parameters": {"device": {"description": "Device id."}},
            "messages": {
                "m": {"name": f"ch{i}.state", "payload": {"$ref": f"#/components/schemas/{name}"}}
            },
        }
        op: dict[str, Any] = {
            "action": "send",
            "channel": {"$ref": f"#/channels/ch{i}"},
            "bindings": {"mqtt": {"qos": i % 3, "retain": i % 2 == 0}},
        }
        if i % 10 == 9:
            op["reply"] = {"channel": {"$ref": f"#/channels/ch{i - 1}"}}
        doc["operations"][f"send{i}"] = op
    return doc


def timed(fn: Callable[[], object], repeat: int) -> list[float]:
    out = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        out.append(time.perf_counter() - start)
    return out


def phases(contract: Path, package: str, client_name: str | None) -> dict[str, float]:
    t0 = time.perf_counter()
    ir, _ = load_contract(contract, client_name=client_name)
    t1 = time.perf_counter()
    models = generate_models(ir.schema_defs)
    t2 = time.perf_counter()
    sources = render_templates(template_context(ir, package, contract.name))
    sources["models.py"] = models
    t3 = time.perf_counter()
    for name, src in sources.items():
        format_python(src, name)
    t4 = time.perf_counter()
    return {"load_validate_ir": t1 - t0, "models": t2 - t1, "render": t3 - t2, "ruff": t4 - t3}


def bench(
    label: str, contract: Path, package: str, client_name: str | None, repeat: int
) -> dict[str, Any]:
    generate_package(contract, package, client_name=client_name)  # warm imports
    totals = timed(lambda: generate_package(contract, package, client_name=client_name), repeat)
    ir, _ = load_contract(contract, client_name=client_name)
    return {
        "contract": label,
        "channels": len(ir.channels),
        "models": len(ir.schema_defs),
        "wall_s": {"min": min(totals), "median": statistics.median(totals), "max": max(totals)},
        "phases_s": phases(contract, package, client_name),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--sizes", default="50,500,2000")
    args = parser.parse_args()
    results: list[dict[str, Any]] = []
    start = time.perf_counter()
    if TARS.exists():
        results.append(
            bench("contracts/mqtt_client_api.yaml", TARS, "tars_mqtt", "TarsClient", args.repeat)
        )
    with tempfile.TemporaryDirectory() as tmp:
        for size in (int(s) for s in args.sizes.split(",") if s):
            path = Path(tmp) / f"synthetic_{size}.yaml"
            path.write_text(yaml.safe_dump(synthetic_contract(size), sort_keys=False))
            results.append(
                bench(
                    f"synthetic-{size}", path, "synthetic", None, 1 if size >= 2000 else args.repeat
                )
            )
    per_channel = {r["contract"]: r["wall_s"]["median"] / r["channels"] for r in results}
    # cold start: a fresh interpreter running the CLI (imports included)
    cold = None
    if TARS.exists():
        import subprocess

        with tempfile.TemporaryDirectory() as out:
            t = time.perf_counter()
            subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "mqttwire_codegen.cli",
                    "generate",
                    str(TARS),
                    "--package",
                    "tars_mqtt",
                    "--out",
                    out,
                    "--client-name",
                    "TarsClient",
                    "-q",
                ],
                check=True,
                capture_output=True,
            )
            cold = time.perf_counter() - t
    print(
        json.dumps(
            {
                "generator": __version__,
                "python": platform.python_version(),
                "machine": platform.machine(),
                "tars_cold_cli_wall_s": cold,
                "results": results,
                "median_s_per_channel": per_channel,
                "bench_wall_s": time.perf_counter() - start,
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
