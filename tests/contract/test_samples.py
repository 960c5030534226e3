"""Every sample payload of ../shared/tars-interface/examples against the contract's schemas.

`<Model>.valid.json` samples were accepted and `<Model>.invalid.json` samples rejected by the
deployed pydantic models (`model_validate_json`). The contract schema of the same model must agree,
except for pydantic lax-mode coercions that strict JSON Schema rejects by design (numeric strings
or booleans for numbers, "yes"/"off"/0/1 for booleans, numbers for date-times): those are collected
counted in one line of the terminal summary and listed in .cache/contract-lax-samples.json
instead of failing.
Samples are mapped to contract schemas by the original python model path (`x-python-model`), so
the renamed collision variants (`llm.*`, `wake_activation.*`) find their schema.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from jsonschema import ValidationError

from .conftest import INTERFACE, LAX_REPORT, REPORT_FILE, load_json

# Sample sets that have no contract schema, and why.
EXCLUDED = {
    "MQTTClientConfig": "client configuration (environment settings), never an MQTT payload",
    "ConnectionParams": "parsed broker URL of the client, never an MQTT payload",
    "BaseCameraMessage": "abstract base class; its fields are checked through every subclass",
    "BaseLLMMessage": "abstract base class; its fields are checked through every subclass",
    "BaseMemoryMessage": "abstract base class; its fields are checked through every subclass",
    "BaseMovementMessage": "abstract base class; its fields are checked through every subclass",
}

PYDANTIC_BOOL_STRINGS = {"0", "off", "f", "false", "n", "no", "1", "on", "t", "true", "y", "yes"}


def _sample_models() -> list[str]:
    index = INTERFACE / "examples" / "INDEX.json"
    if not index.is_file():
        return ["<missing ../shared/tars-interface>"]
    return sorted(json.loads(index.read_text(encoding="utf-8"))["models"])


def _is_number_string(value: Any, integer: bool) -> bool:
    if not isinstance(value, str):
        return False
    try:
        number = float(value)
    except ValueError:
        return False
    return number.is_integer() if integer else True


def _lax_type_error(error: ValidationError) -> bool:
    """True when pydantic's lax mode accepts what this strict `type` error rejects."""
    if error.validator != "type":
        return False
    expected = error.validator_value
    types = set(expected if isinstance(expected, list) else [expected])
    value = error.instance
    schema = error.schema if isinstance(error.schema, dict) else {}
    if types & {"number", "integer"}:
        integer = "number" not in types
        if isinstance(value, bool) or _is_number_string(value, integer):
            return True
        if integer and isinstance(value, float) and value.is_integer():
            return True
    if "boolean" in types:
        if isinstance(value, int) and not isinstance(value, bool) and value in (0, 1):
            return True
        if isinstance(value, float) and value in (0.0, 1.0):
            return True
        if isinstance(value, str) and value.strip().lower() in PYDANTIC_BOOL_STRINGS:
            return True
    if "string" in types and schema.get("format") == "date-time":
        # pydantic parses int/float as Unix time for datetime fields
        return isinstance(value, int | float) and not isinstance(value, bool)
    return False


def _is_lax(error: ValidationError) -> bool:
    if error.validator in ("anyOf", "oneOf"):
        # lax if some branch fails only by lax type errors
        by_branch: dict[int, list[ValidationError]] = {}
        for sub in error.context or []:
            by_branch.setdefault(sub.relative_schema_path[0], []).append(sub)
        return any(all(_is_lax(e) for e in errs) for errs in by_branch.values())
    return _lax_type_error(error)


def _describe(error: ValidationError) -> str:
    where = "/".join(str(p) for p in error.absolute_path) or "<root>"
    return f"{where}: {error.message[:160]}"


@pytest.mark.parametrize("model", [m for m in _sample_models() if m not in EXCLUDED])
def test_samples_agree_with_contract_schema(
    model: str,
    interface: Path,
    model_index: dict[str, Any],
    schema_by_python: dict[str, str],
    validator_for: Any,
) -> None:
    python_path = model_index[model]["python"]
    assert python_path in schema_by_python, (
        f"no contract schema has x-python-model: {python_path} (samples of {model})"
    )
    stem = schema_by_python[python_path]
    validator = validator_for(stem)
    valid = load_json(interface / "examples" / f"{model}.valid.json")
    invalid = load_json(interface / "examples" / f"{model}.invalid.json")
    problems: list[str] = []
    for i, sample in enumerate(valid):
        errors = list(validator.iter_errors(sample))
        if not errors:
            continue
        if all(_is_lax(e) for e in errors):
            LAX_REPORT.append(
                f"{model}.valid[{i}] -> {stem}.json: " + "; ".join(_describe(e) for e in errors)
            )
        else:
            problems.append(
                f"{model}.valid[{i}] rejected by {stem}.json: "
                + "; ".join(_describe(e) for e in errors)
                + f"\n    sample: {json.dumps(sample)[:300]}"
            )
    for i, sample in enumerate(invalid):
        if validator.is_valid(sample):
            problems.append(
                f"{model}.invalid[{i}] accepted by {stem}.json although the deployed model "
                f"rejects it\n    sample: {json.dumps(sample)[:300]}"
            )
    assert not problems, "\n".join(problems)


def test_every_sample_set_is_mapped_or_excluded(
    interface: Path, model_index: dict[str, Any], schema_by_python: dict[str, str]
) -> None:
    samples = load_json(interface / "examples" / "INDEX.json")["models"]
    unmapped = [
        m for m in samples if m not in EXCLUDED and model_index[m]["python"] not in schema_by_python
    ]
    assert not unmapped, f"sample sets without a contract schema: {unmapped}"
    stale = [m for m in EXCLUDED if m not in samples]
    assert not stale, f"exclusions for models that have no samples any more: {stale}"


def test_generated_models_agree_with_deployed_models(
    interface: Path,
    model_index: dict[str, Any],
    schema_by_python: dict[str, str],
    contract_schemas: dict[str, dict[str, Any]],
    payload_stems: set[str],
) -> None:
    """Once generated/tars_mqtt exists: its models must accept/reject exactly like the originals.

    Both are pydantic, so lax-mode coercions must agree too; any difference is a generator bug.
    Every message payload model (and the models nested in it) must exist; schemas that are only
    `components/schemas` (Envelope - the runtime's own class - and the collision alternates) are
    checked when the generator emits them.
    """
    from pydantic import ValidationError as PydanticValidationError

    import tars_mqtt.models as models

    samples = load_json(interface / "examples" / "INDEX.json")["models"]
    problems: list[str] = []
    for model in sorted(samples):
        if model in EXCLUDED:
            continue
        stem = schema_by_python[model_index[model]["python"]]
        title = contract_schemas[stem]["title"]
        cls = getattr(models, title, None)
        if cls is None:
            if stem in payload_stems:
                problems.append(f"tars_mqtt.models has no class {title} (samples of {model})")
            continue
        for kind in ("valid", "invalid"):
            for i, sample in enumerate(load_json(interface / "examples" / f"{model}.{kind}.json")):
                try:
                    cls.model_validate_json(json.dumps(sample))
                    accepted = True
                except PydanticValidationError:
                    accepted = False
                if accepted != (kind == "valid"):
                    problems.append(
                        f"{model}.{kind}[{i}]: generated {title} "
                        f"{'accepts' if accepted else 'rejects'} it, the deployed model does not"
                    )
    assert not problems, "\n".join(problems)


def test_write_lax_report() -> None:
    """Runs last in this module: persist the lax-mode list next to the summary."""
    REPORT_FILE.parent.mkdir(parents=True, exist_ok=True)
    REPORT_FILE.write_text(json.dumps(sorted(LAX_REPORT), indent=1) + "\n", encoding="utf-8")
