"""Generated models: constraints, extra=forbid, x-default-factory, and the deployed services'
accepted/rejected samples (../shared/tars-interface/examples) against the TARS models."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from codegen_support import REPO, TARS_INTERFACE
from pydantic import BaseModel, ValidationError

from mqttwire_codegen.models_gen import generate_models


def load_models(tmp_path: Path, defs: dict[str, object]) -> dict[str, object]:
    source = generate_models(defs)  # type: ignore[arg-type]
    path = tmp_path / "m.py"
    path.write_text(source)
    namespace: dict[str, object] = {"__name__": "m_test"}
    import sys
    import types

    module = types.ModuleType("m_test")
    sys.modules["m_test"] = module
    exec(compile(source, str(path), "exec"), module.__dict__)
    namespace.update(module.__dict__)
    return namespace


def test_default_factories_and_constraints(tmp_path: Path) -> None:
    ns = load_models(
        tmp_path,
        {
            "Ping": {
                "type": "object",
                "additionalProperties": False,
                "required": ["ok"],
                "properties": {
                    "id": {"type": "string", "x-default-factory": "uuid4"},
                    "ts": {"type": "number", "x-default-factory": "now"},
                    "at": {"type": "string", "format": "date-time", "x-default-factory": "now"},
                    "ok": {"type": "boolean"},
                    "level": {
                        "anyOf": [{"type": "integer", "minimum": 1}, {"type": "null"}],
                        "default": None,
                    },
                },
            }
        },
    )
    Ping = ns["Ping"]
    assert isinstance(Ping, type) and issubclass(Ping, BaseModel)
    a, b = Ping(ok=True), Ping(ok=False)
    assert len(a.id) == 32 and a.id != b.id  # type: ignore[attr-defined]
    assert abs(a.ts - time.time()) < 5  # type: ignore[attr-defined]
    assert a.at.tzinfo is not None  # type: ignore[attr-defined]
    with pytest.raises(ValidationError):
        Ping(ok=True, extra=1)
    with pytest.raises(ValidationError):
        Ping(ok=True, level=0)
    assert Ping(ok=True, level=None).level is None  # type: ignore[attr-defined]


def _samples() -> list[tuple[str, str, int]]:
    out: list[tuple[str, str, int]] = []
    if not TARS_INTERFACE.is_dir():
        return out
    from tars_mqtt import models

    for path in sorted((TARS_INTERFACE / "examples").glob("*.valid.json")):
        name = path.name.split(".")[0]
        if not hasattr(models, name) or not _same_fields(name):
            continue
        for kind in ("valid", "invalid"):
            file = path.with_name(f"{name}.{kind}.json")
            if file.exists():
                out.extend((name, kind, i) for i in range(len(json.loads(file.read_text()))))
    return out


def _same_fields(name: str) -> bool:
    """Only models whose contract schema has the deployed model's fields (the contract picks
    the wire variant in a few places, e.g. WakeEvent as wake-activation publishes it)."""
    ours = REPO / "contracts" / "schemas" / f"{name}.json"
    theirs = TARS_INTERFACE / "schemas" / f"{name}.json"
    if not (ours.exists() and theirs.exists()):
        return False
    props = [set(json.loads(p.read_text()).get("properties", {})) for p in (ours, theirs)]
    return props[0] == props[1]


SAMPLES = _samples()


def test_most_tars_models_have_samples() -> None:
    assert len({name for name, _, _ in SAMPLES}) >= 30


@pytest.mark.parametrize(("name", "kind", "index"), SAMPLES)
def test_tars_samples(name: str, kind: str, index: int) -> None:
    from tars_mqtt import models

    model = getattr(models, name)
    sample = json.loads((TARS_INTERFACE / "examples" / f"{name}.{kind}.json").read_text())[index]
    if kind == "valid":
        dumped = model.model_validate(sample).model_dump(mode="json", by_alias=True)
        assert model.model_validate(dumped) is not None
    else:
        with pytest.raises(ValidationError):
            model.model_validate(sample)


def test_an_annotated_ref_to_a_union_accepts_every_alternative(tmp_path: Path) -> None:
    """``{allOf: [<oneOf string | object | array>], description: ...}`` (how a ``$ref`` to a
    union is annotated where it is used): a plain string, an object and a list all validate,
    and what the model dumps is what it read."""
    union = {
        "oneOf": [
            {"type": "string", "maxLength": 5},
            {
                "type": "object",
                "required": ["text"],
                "properties": {"text": {"type": "string"}},
            },
            {"type": "array", "items": {"type": "string"}, "minItems": 1},
        ]
    }
    ns = load_models(
        tmp_path,
        {
            "Screen": {
                "type": "object",
                "properties": {"label": {"allOf": [union], "description": "shown at the bottom"}},
            }
        },
    )
    Screen = ns["Screen"]
    assert isinstance(Screen, type) and issubclass(Screen, BaseModel)
    for value in ("hi", {"text": "hi"}, ["a", "b"]):
        screen = Screen.model_validate({"label": value})
        assert screen.model_dump(mode="json", exclude_none=True) == {"label": value}
    for bad in ("toolong", [], 3):
        with pytest.raises(ValidationError):
            Screen.model_validate({"label": bad})
