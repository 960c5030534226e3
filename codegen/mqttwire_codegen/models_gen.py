"""models.py from the bundled payload schemas, via datamodel-code-generator in-process."""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping
from typing import Any

from mqttwire_codegen.errors import GeneratorError

FACTORIES = {"uuid4": "new_uuid4_hex", "now": "now_timestamp", "now_datetime": "now_datetime"}
ALLOWED_FACTORIES = ("uuid4", "now")
_FACTORY_LINE = re.compile(
    r"^(?P<head>\s+\w+: Annotated\[.*)(?P<extra>json_schema_extra=\{'x-default-factory': '(?P<factory>\w+)'\})(?P<tail>.*\])$",
    re.MULTILINE,
)
_EMPTY_ANNOTATED = re.compile(r"Annotated\[(.*), Field\(\)\]$")
_OMIT_NONE = "x-mqttwire-omit-none"
_DEFAULT = "x-mqttwire-default"
_DEFAULT_LINE = re.compile(
    r"^(?P<head>\s+(?P<name>\w+): Annotated\[.*)(?P<extra>json_schema_extra=\{'x-mqttwire-default': (?P<index>\d+)\})(?P<tail>.*\])$",
    re.MULTILINE,
)
_OMIT_NONE_EXTRA = re.compile(r"json_schema_extra=\{'x-mqttwire-omit-none': True\}")


_PLAIN_STRING_FORMATS = frozenset({"email", "idn-email"})
_NULL = {"type": "null"}
_SIMPLE = frozenset({"string", "integer", "number", "boolean", "array"})


def _collapse_nullable(schema: dict[str, Any]) -> dict[str, Any]:
    """``anyOf: [{type: integer, minimum: 1}, {type: null}]`` (pydantic's Optional[conint]) ->
    ``{type: [integer, null], minimum: 1}`` so the field becomes ``int | None`` with constraints
    instead of a one-off RootModel class."""
    for key in ("anyOf", "oneOf"):
        branches = schema.get(key)
        if not (isinstance(branches, list) and len(branches) == 2 and _NULL in branches):
            continue
        other = branches[0] if branches[1] == _NULL else branches[1]
        if not isinstance(other, dict) or "$ref" in other or other.get("type") not in _SIMPLE:
            continue
        merged = {k: v for k, v in schema.items() if k != key}
        for k, v in other.items():
            merged.setdefault(k, v)
        merged["type"] = [other["type"], "null"]
        if isinstance(merged.get("enum"), list) and None not in merged["enum"]:
            merged["enum"] = [*merged["enum"], None]
        return merged
    return schema


_ANNOTATIONS = frozenset(
    {
        "title",
        "description",
        "examples",
        "default",
        "deprecated",
        "readOnly",
        "writeOnly",
        "$comment",
    }
)


def _lift_single_allof(schema: dict[str, Any]) -> dict[str, Any]:
    """``{allOf: [{oneOf: [...]}], description: ...}`` (a ``$ref`` to a union, annotated
    where it is used) -> ``{oneOf: [...], description: ...}``: the same schema, but
    datamodel-code-generator reads an ``allOf`` as inheritance and keeps only the object
    alternatives of the union (a plain string was rejected)."""
    parts = schema.get("allOf")
    if not (isinstance(parts, list) and len(parts) == 1 and isinstance(parts[0], dict)):
        return schema
    (inner,) = parts
    if "$ref" in inner or not any(isinstance(inner.get(k), list) for k in ("oneOf", "anyOf")):
        return schema
    siblings = {k: v for k, v in schema.items() if k != "allOf"}
    if (siblings.keys() & inner.keys()) - _ANNOTATIONS:
        return schema  # both constrain the same keyword: keep the conjunction
    return {**inner, **siblings}


def _admits_null(schema: dict[str, Any]) -> bool:
    """Whether ``null`` may be valid for ``schema`` (when unsure: yes)."""
    if schema.get("nullable") is True or schema.get("const", 0) is None:
        return True
    if isinstance(schema.get("enum"), list):
        return None in schema["enum"]
    for key in ("anyOf", "oneOf"):
        if isinstance(schema.get(key), list):
            return any(not isinstance(b, dict) or _admits_null(b) for b in schema[key])
    typ = schema.get("type")
    if typ is None:
        return "$ref" not in schema and "allOf" not in schema and "properties" not in schema
    return typ == "null" or (isinstance(typ, list) and "null" in typ)


def _declare_required(schema: dict[str, Any]) -> None:
    """A name in ``required`` that ``properties`` does not declare must be present with any
    value the additional properties allow: declare it, or the model would drop the key and
    nothing it serialises could be valid."""
    required = schema.get("required")
    extra = schema.get("additionalProperties", True)
    if not isinstance(required, list) or extra is False:
        return
    if "properties" not in schema and schema.get("type") != "object":
        return
    props = schema.setdefault("properties", {})
    if not isinstance(props, dict):
        return
    for name in required:
        if isinstance(name, str) and name not in props:
            props[name] = copy.deepcopy(extra) if isinstance(extra, dict) else {}


def _composite_default(schema: Any) -> bool:
    """A property whose default sits beside ``oneOf``/``anyOf``/``allOf``: its Python type is a
    class (or a union of classes) the raw JSON default is not an instance of."""
    return (
        isinstance(schema, dict)
        and schema.get("default") is not None
        and any(isinstance(schema.get(k), list) for k in ("oneOf", "anyOf", "allOf"))
    )


def _mark_factories(schema: Any, count: list[int], defaults: list[Any]) -> Any:
    """Fields with ``x-default-factory`` become required (so their type is not Optional); the
    template marker is rewritten into ``Field(default_factory=...)`` afterwards."""
    if isinstance(schema, list):
        return [_mark_factories(s, count, defaults) for s in schema]
    if not isinstance(schema, dict):
        return schema
    out = {k: _mark_factories(v, count, defaults) for k, v in schema.items()}
    out = _collapse_nullable(_lift_single_allof(out))
    if "default" in out and out["default"] is None and not _admits_null(out):
        del out["default"]  # ``{type: string, default: null}``: absent means "no value"
    if isinstance(out.get("format"), str) and out["format"] in _PLAIN_STRING_FORMATS:
        del out["format"]  # EmailStr needs the optional email-validator package at runtime
    _declare_required(out)
    props = out.get("properties")
    if isinstance(props, dict):
        required = list(out.get("required") or [])
        for name, prop in props.items():
            if isinstance(prop, dict) and prop.get("x-default-factory") is not None:
                factory = prop["x-default-factory"]
                if factory not in ALLOWED_FACTORIES:
                    raise GeneratorError(
                        f"x-default-factory {factory!r} on property {name!r} is not one of {ALLOWED_FACTORIES}"
                    )
                if factory == "now" and prop.get("format") == "date-time":
                    prop["x-default-factory"] = "now_datetime"
                count[0] += 1
                prop.pop("default", None)
                if name not in required:
                    required.append(name)
        for name, prop in props.items():
            if _composite_default(prop):
                # datamodel-code-generator copies such a default into every branch (``list``
                # branch ``= "#FFFFFF"``) and assigns it raw to a class-typed field: it is set
                # back afterwards as ``Field(default=..., validate_default=True)``
                default = prop.pop("default")
                if name not in required:
                    defaults.append(default)
                    prop[_DEFAULT] = len(defaults) - 1
                    required.append(name)
        for name, prop in props.items():
            if (
                name not in required
                and isinstance(prop, dict)
                and prop.get("default") is None  # a non-null default keeps the type non-Optional
                and not _admits_null(prop)
            ):
                # optional in Python (``x: T | None = None``) but null is not valid on the wire:
                # an unset field is left out of the payload instead of being sent as null
                prop[_OMIT_NONE] = True
                count[1] += 1
        if required:
            out["required"] = required
    return out


def _without_extra(match: re.Match[str]) -> str:
    head, tail = match.group("head"), match.group("tail")
    if head.endswith(", ") and tail.startswith(")"):
        head = head[:-2]
    elif tail.startswith(", "):
        tail = tail[2:]
    return _EMPTY_ANNOTATED.sub(r"\1", head + tail)


def _rewrite_factory(match: re.Match[str]) -> str:
    return f"{_without_extra(match)} = Field(default_factory={FACTORIES[match.group('factory')]})"


def _set_defaults(source: str, defaults: list[Any]) -> str:
    """The marked fields get their default back; the branch classes datamodel-code-generator
    copied the marker into (``root:`` of a RootModel) get none."""
    restored: set[int] = set()

    def rewrite(match: re.Match[str]) -> str:
        if match.group("name") == "root":
            return _without_extra(match)
        index = int(match.group("index"))
        restored.add(index)
        return (
            f"{_without_extra(match)} = Field(default={defaults[index]!r}, validate_default=True)"
        )

    source = _DEFAULT_LINE.sub(rewrite, source)
    if len(restored) != len(defaults):
        raise GeneratorError(
            f"defaults beside oneOf/anyOf/allOf: set {len(restored)} of {len(defaults)}"
        )
    return source


_CLASS = re.compile(r"^class (\w+)\(", re.MULTILINE)
_NUMBERED = re.compile(r"(?P<base>[A-Za-z]\w*?)(?P<n>[0-9]+)")


def _name_numbered_classes(source: str, requested: set[str]) -> str:
    """datamodel-code-generator names a second inline object under the same property name
    ``Color1``: call it after the class that holds it (``DoorColor``) instead."""
    classes = _CLASS.findall(source)
    known = set(classes)
    for name in classes:
        numbered = _NUMBERED.fullmatch(name)
        if name in requested or numbered is None or numbered["base"] not in known:
            continue
        holder = next(
            (
                owner
                for owner, body in _class_bodies(source)
                if owner != name and re.search(rf"\b{name}\b", body)
            ),
            None,
        )
        new = f"{holder}{numbered['base']}" if holder else None
        if new is None or new in known:
            continue
        source = re.sub(rf"(?<![\"'])\b{name}\b(?![\"'])", new, source)  # not in strings
        known.add(new)
    return source


def _class_bodies(source: str) -> list[tuple[str, str]]:
    starts = [(m.group(1), m.start()) for m in _CLASS.finditer(source)]
    ends = [start for _, start in starts[1:]] + [len(source)]
    return [(name, source[start:end]) for (name, start), end in zip(starts, ends, strict=True)]


def _inline_enums_as_literal(schema: Any, *, root: bool = True) -> Any:
    """Mark every enum below a definition's root as ``Literal`` (datamodel-code-generator's
    ``x-enum-field-as-literal``), so only named definitions become enum classes."""
    if isinstance(schema, list):
        return [_inline_enums_as_literal(s, root=False) for s in schema]
    if not isinstance(schema, dict):
        return schema
    out = {k: _inline_enums_as_literal(v, root=False) for k, v in schema.items()}
    if not root and isinstance(out.get("enum"), list):
        out["x-enum-field-as-literal"] = True
    return out


def generate_models(
    defs: Mapping[str, Mapping[str, Any]], *, enums: str = "literal", header: str | None = None
) -> str:
    """Python source (unformatted) of Pydantic v2 models, one class per definition.

    ``enums="str-enum"``: definitions that are string enums become ``enum.StrEnum`` classes
    with upper-case members (``Command.WAVE == "wave"``); enums inside models stay ``Literal``.
    """
    if not defs:
        return (f"{header}\n\n" if header else "") + "from __future__ import annotations\n"
    from datamodel_code_generator import InputFileType, LiteralType, generate
    from datamodel_code_generator.enums import CustomFileHeaderMode, DataModelType
    from datamodel_code_generator.format import DatetimeClassType, PythonVersion

    count = [0, 0]  # x-default-factory fields, fields left out when None (not checked)
    defaults: list[Any] = []  # defaults of union/allOf-typed fields, set back afterwards
    schema = {
        "$defs": {
            name: _mark_factories(copy.deepcopy(dict(body)), count, defaults)
            for name, body in defs.items()
        }
    }
    enum_options: dict[str, Any] = {"enum_field_as_literal": LiteralType.All}
    if enums == "str-enum":
        schema = {"$defs": {n: _inline_enums_as_literal(b) for n, b in schema["$defs"].items()}}
        enum_options = {
            "capitalise_enum_members": True,
            "use_specialized_enum": True,
            "set_default_enum_member": True,
        }
    try:
        out = generate(
            schema,
            input_file_type=InputFileType.JsonSchema,
            output_model_type=DataModelType.PydanticV2BaseModel,
            target_python_version=PythonVersion.PY_311,
            **enum_options,
            use_schema_description=True,
            use_field_description=True,
            field_constraints=True,
            use_annotated=True,
            use_standard_collections=True,
            use_union_operator=True,
            strict_nullable=True,
            disable_timestamp=True,
            skip_root_model=True,
            keep_model_order=True,
            use_double_quotes=True,
            # the deployed models use plain ``datetime`` (naive timestamps are on the wire)
            output_datetime_class=DatetimeClassType.Datetime,
            field_extra_keys={"x-default-factory", _OMIT_NONE, _DEFAULT},
            # the helpers the rewritten fields call (an unused one is dropped by the formatter)
            additional_imports=[
                *(f"mqttwire.typed.{name}" for name in FACTORIES.values() if count[0]),
                *(["mqttwire.typed.omit_none"] if count[1] else []),
            ],
            formatters=[],
            # ``header`` (the file's own) instead of datamodel-code-generator's
            custom_file_header=header,
            custom_file_header_mode=CustomFileHeaderMode.Replace,
        )
    except Exception as exc:  # datamodel-codegen raises many types; report them uniformly
        raise GeneratorError(f"datamodel-code-generator failed: {exc}") from exc
    if not isinstance(out, str):
        raise GeneratorError("datamodel-code-generator returned no single module")
    out = _name_numbered_classes(out, set(defs))
    out, replaced = _FACTORY_LINE.subn(_rewrite_factory, out)
    if replaced != count[0]:
        raise GeneratorError(f"x-default-factory: rewrote {replaced} of {count[0]} fields")
    out = _set_defaults(out, defaults)
    out = _OMIT_NONE_EXTRA.sub("exclude_if=omit_none", out)
    missing = [
        name for name in defs if not re.search(rf"^class {re.escape(name)}\(", out, re.MULTILINE)
    ]
    if missing:
        raise GeneratorError(f"datamodel-code-generator did not emit the models {missing}")
    return out
