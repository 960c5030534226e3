"""Bundle payload schemas (spread over files and ``$ref``s) into one JSON Schema ``$defs`` map.

Object-like schemas reached by ``$ref`` become named definitions (one Python model each, reused
wherever referenced); primitive/enum/array schemas are inlined so fields stay plain types, except
titled string enums when the contract asks for enum classes (``x-mqttwire: {enums: str-enum}``).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from mqttwire_codegen import pointer
from mqttwire_codegen.diagnostics import ContractError, Diagnostic, Location
from mqttwire_codegen.loader import Resolver
from mqttwire_codegen.naming import class_name_from

RESERVED_MODEL_NAMES = frozenset(
    {
        "Any", "Annotated", "Literal", "Optional", "Union", "BaseModel", "ConfigDict", "Field",
        "RootModel", "AwareDatetime", "NaiveDatetime", "StringConstraints", "AnyUrl", "EmailStr",
        "UUID", "Decimal", "date", "datetime", "time", "timedelta", "constr", "conint", "confloat",
        "new_uuid4_hex", "now_datetime", "now_timestamp", "annotations", "Enum", "Model",
    }
)  # fmt: skip
_DROP = frozenset(
    {"$id", "$schema", "definitions", "$defs", "discriminator", "externalDocs", "$comment"}
)


def _same(a: Any, b: Any) -> bool:
    return json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True)


def named_string_enum(schema: Any) -> bool:
    """A schema of its own that is a titled enum of strings (a ``StrEnum`` candidate)."""
    if not isinstance(schema, dict) or not isinstance(schema.get("title"), str):
        return False
    values = schema.get("enum")
    return (
        isinstance(values, list)
        and bool(values)
        and all(isinstance(v, str) for v in values)
        and schema.get("type", "string") == "string"
    )


def _object_like(schema: Any) -> bool:
    if not isinstance(schema, dict):
        return False
    typ = schema.get("type")
    return (
        typ == "object"
        or "properties" in schema
        or "allOf" in schema
        or (isinstance(typ, list) and "object" in typ)
    )


class SchemaBundle:
    """Accumulates named definitions; deterministic given the order of ``add_payload`` calls."""

    def __init__(self, resolver: Resolver, *, named_enums: bool = False) -> None:
        self.r = resolver
        # True: a $ref to a named string enum becomes a definition (a StrEnum class) as well.
        self.named_enums = named_enums
        self.defs: dict[str, dict[str, Any]] = {}
        self._by_location: dict[Location, str] = {}
        self._origin: dict[str, Location] = {}
        self._active: set[Location] = set()

    def add_payload(self, schema: Any, loc: Location, fallback_names: Sequence[str]) -> str:
        """Register a message payload; returns its model class name. An untitled inline payload
        takes the first of ``fallback_names`` that no other schema took (the last one is
        reported if all are taken)."""
        if schema is None:
            schema, loc = {}, loc
        if isinstance(schema, dict) and "$ref" in schema:
            target, tloc = self.r.deref(schema, loc)
            return self._define(target, tloc, self._name_for(target, tloc))
        if isinstance(schema, dict) and isinstance(schema.get("title"), str):
            return self._define(schema, loc, class_name_from(schema["title"]))
        names = list(dict.fromkeys(fallback_names))
        if loc in self._by_location:
            return self._by_location[loc]
        self._by_location[loc] = names[0]
        try:
            body = self._walk(schema, loc)
        finally:
            del self._by_location[loc]
        # several untitled payloads of one channel (``oneOf``): the channel's name, numbered
        names += [f"{names[0]}{n}" for n in range(2, 100)]
        same = [n for n in names if n in self.defs and _same(self.defs[n], body)]
        free = [n for n in names if n not in self.defs and n not in RESERVED_MODEL_NAMES]
        return self._define(schema, loc, (same or free or names)[0])

    def _name_for(self, schema: Any, loc: Location) -> str:
        if isinstance(schema, dict):
            override = schema.get("x-python-name")
            if isinstance(override, str):
                return override
            if isinstance(schema.get("title"), str):
                return class_name_from(schema["title"])
        token = pointer.last(loc.pointer) if loc.pointer else loc.file.stem.split(".")[0]
        return class_name_from(token)

    def _define(self, schema: Any, loc: Location, name: str) -> str:
        if loc in self._by_location:
            return self._by_location[loc]
        self._by_location[loc] = name
        self._active.add(loc)
        try:
            body = self._walk(schema, loc)
        finally:
            self._active.discard(loc)
        if isinstance(body, bool):
            body = {} if body else {"not": {}}
        if name in RESERVED_MODEL_NAMES or not name.isidentifier():
            raise ContractError(
                [
                    Diagnostic(
                        loc,
                        "model-name-collision",
                        f"the schema would become the Python model {name!r}, which clashes with a "
                        "name models.py imports (typing/pydantic) or is not an identifier",
                        hint="give the schema another 'title' or an 'x-python-name'",
                    )
                ]
            )
        if name in self.defs:
            if _same(self.defs[name], body):
                self._by_location[loc] = name
                return name
            first = self._origin[name]
            raise ContractError(
                [
                    Diagnostic(
                        loc,
                        "model-name-collision",
                        f"two different schemas map to the Python model {name!r} (the other is at {first})",
                        hint="give one of them a distinct 'title' or an 'x-python-name'",
                    )
                ]
            )
        self.defs[name] = body
        self._origin[name] = loc
        return name

    def _walk(self, node: Any, loc: Location) -> Any:
        if not isinstance(node, dict):
            return node
        if "$ref" in node:
            target, tloc = self.r.deref(node, loc)
            # keywords beside a $ref (description, default, ...) refine the target: keep them
            siblings = self._walk({k: v for k, v in node.items() if k != "$ref"}, loc)
            named = _object_like(target) or (self.named_enums and named_string_enum(target))
            if tloc in self._by_location or tloc in self._active or named:
                name = self._by_location.get(tloc) or self._define(
                    target, tloc, self._name_for(target, tloc)
                )
                return {"$ref": f"#/$defs/{name}", **siblings}
            self._active.add(tloc)
            try:
                inlined = self._walk(target, tloc)
            finally:
                self._active.discard(tloc)
            return {**inlined, **siblings} if isinstance(inlined, dict) else inlined
        out: dict[str, Any] = {}
        for key, value in node.items():
            if key in _DROP:
                continue
            kind = pointer.SUBSCHEMA_KEYWORDS.get(key)
            if kind == "map" and isinstance(value, dict):
                out[key] = {k: self._walk(v, loc.child(key, k)) for k, v in value.items()}
            elif kind is not None and kind != "map" and isinstance(value, list):
                out[key] = [self._walk(v, loc.child(key, i)) for i, v in enumerate(value)]
            elif kind == "one":
                out[key] = self._walk(value, loc.child(key))
            else:
                out[key] = value
        return out
