"""Example payloads: the contract's own message ``examples`` when it has some, else synthesised.

Synthesis is deterministic: a field's ``default``, ``const``, schema ``examples``, the first
``enum`` value, fixed placeholders for ids and timestamps, and the smallest value the
constraints allow. The IR keeps no message ``examples``, so :class:`ContractExamples` reads them
from the contract file at the message's recorded location.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from mqttwire_codegen.diagnostics import ContractError, Location
from mqttwire_codegen.docgen.fields import Schema, object_parts, ref_name, split_nullable
from mqttwire_codegen.ir import Message
from mqttwire_codegen.loader import Resolver

PLACEHOLDER_ID = "5f0c3a9e1b7d4e2a8c6f0b1d3e5a7c9f"  # shape of a uuid4 hex
PLACEHOLDER_TS = 1700000000.0
PLACEHOLDER_DATETIME = "2023-11-14T22:13:20Z"

_FORMATS: dict[str, str] = {
    "date-time": PLACEHOLDER_DATETIME,
    "date": "2023-11-14",
    "time": "22:13:20Z",
    "uuid": "5f0c3a9e-1b7d-4e2a-8c6f-0b1d3e5a7c9f",
    "email": "someone@example.com",
    "hostname": "host.example.com",
    "ipv4": "192.0.2.10",
    "ipv6": "2001:db8::10",
    "uri": "https://example.com/resource",
    "uri-reference": "/resource",
    "byte": "aGVsbG8=",
}
_PATTERN_CANDIDATES = ("example", "abc", "a", "A", "0", "1", "abc123", "a-b", "example.com")


def _placeholder(schema: Schema, name: str) -> str:
    fmt = schema.get("format")
    if isinstance(fmt, str) and fmt in _FORMATS:
        return _FORMATS[fmt]
    text = f"<{name}>"
    pattern = schema.get("pattern")
    if isinstance(pattern, str):
        try:
            regex = re.compile(pattern)
        except re.error:
            regex = None
        if regex is not None and not regex.search(text):
            text = next((c for c in _PATTERN_CANDIDATES if regex.search(c)), text)
    low, high = schema.get("minLength"), schema.get("maxLength")
    if isinstance(high, int) and len(text) > high:
        text = text[:high]
    if isinstance(low, int) and len(text) < low:
        text += "x" * (low - len(text))
    return text


def _number(schema: Schema, integer: bool) -> int | float:
    value: float = 0
    low, high = schema.get("minimum"), schema.get("maximum")
    xlow, xhigh = schema.get("exclusiveMinimum"), schema.get("exclusiveMaximum")
    step = 1 if integer else 0.5
    if isinstance(low, int | float) and value < low:
        value = low
    if isinstance(xlow, int | float) and not isinstance(xlow, bool) and value <= xlow:
        value = xlow + step
    if isinstance(high, int | float) and value > high:
        value = high
    if isinstance(xhigh, int | float) and not isinstance(xhigh, bool) and value >= xhigh:
        value = xhigh - step
    return int(value) if integer else float(value)


class _Synth:
    def __init__(self, defs: Mapping[str, Schema]) -> None:
        self.defs = defs

    def value(self, schema: Any, name: str, stack: tuple[str, ...]) -> Any:
        if not isinstance(schema, Mapping):
            return None
        for key in ("default", "const"):
            if key in schema:
                return copy.deepcopy(schema[key])
        examples = schema.get("examples")
        if isinstance(examples, list) and examples:
            return copy.deepcopy(examples[0])
        if "example" in schema:
            return copy.deepcopy(schema["example"])
        factory = schema.get("x-default-factory")
        if factory == "uuid4":
            return PLACEHOLDER_ID
        if factory == "now":
            return PLACEHOLDER_DATETIME if schema.get("type") == "string" else PLACEHOLDER_TS
        model = ref_name(schema)
        if model is not None:
            if model in stack or model not in self.defs:
                return {}
            return self.value(self.defs[model], name, (*stack, model))
        core, nullable = split_nullable(schema)
        if nullable:
            return self.value(core, name, stack)
        return self._structural(schema, name, stack)

    def _structural(self, schema: Schema, name: str, stack: tuple[str, ...]) -> Any:
        for key in ("anyOf", "oneOf"):
            branches = schema.get(key)
            if isinstance(branches, list) and branches:
                return self.value(branches[0], name, stack)
        if isinstance(schema.get("enum"), list) and schema["enum"]:
            return copy.deepcopy(schema["enum"][0])
        typ = schema.get("type")
        if isinstance(typ, list):
            typ = next((t for t in typ if t != "null"), "null")
        if typ == "object" or "properties" in schema or "allOf" in schema:
            props, _ = object_parts(schema, self.defs)
            return {key: self.value(sub, key, stack) for key, sub in props.items()}
        if typ == "array" or "items" in schema:
            return self._array(schema, name, stack)
        if typ == "string":
            return _placeholder(schema, name)
        if typ in ("integer", "number"):
            return _number(schema, typ == "integer")
        if typ == "boolean":
            return False
        return None

    def _array(self, schema: Schema, name: str, stack: tuple[str, ...]) -> list[Any]:
        prefix = schema.get("prefixItems")
        if isinstance(prefix, list):
            return [self.value(s, name, stack) for s in prefix]
        items = schema.get("items")
        if schema.get("maxItems") == 0 or not isinstance(items, Mapping):
            return []
        count = schema.get("minItems")
        count = count if isinstance(count, int) and count > 1 else 1
        return [self.value(items, name, stack) for _ in range(count)]


def synthesize(schema: Schema, defs: Mapping[str, Schema], name: str = "value") -> Any:
    """A deterministic example value for ``schema`` (refs resolved through ``defs``)."""
    return _Synth(defs).value(schema, name, ())


def wire_example(message: Message, payload: Any, source: str) -> Any:
    """What travels on the topic: the payload, wrapped in the envelope when the message uses it."""
    if not message.envelope:
        return payload
    return {
        "id": PLACEHOLDER_ID,
        "type": message.name,
        "ts": PLACEHOLDER_TS,
        "source": source,
        "data": payload,
    }


class ContractExamples:
    """Message ``examples`` (AsyncAPI 2.x and 3.0) read back from the contract files."""

    def __init__(self, root_file: Path) -> None:
        self._root_file = root_file
        self._resolver: Resolver | None = None

    def _resolver_for(self) -> Resolver:
        if self._resolver is None:
            self._resolver = Resolver(self._root_file)
        return self._resolver

    def _sources(self, loc: Location) -> list[Mapping[str, Any]]:
        resolver = self._resolver_for()
        doc = resolver.load(loc.file, loc)
        node, mloc = resolver.deref(resolver.pointer_get(doc, loc.pointer, loc.file, loc), loc)
        if not isinstance(node, Mapping):
            return []
        sources: list[Mapping[str, Any]] = [node]
        for i, trait in enumerate(node.get("traits") or ()):
            resolved, _ = resolver.deref(trait, mloc.child("traits", i))
            if isinstance(resolved, Mapping):
                sources.append(resolved)
        return sources

    def payloads(self, message: Message) -> list[Any]:
        """The ``payload`` of every example the message (or one of its traits) declares."""
        if message.location is None:
            return []
        try:
            sources = self._sources(message.location)
        except ContractError:
            return []
        found: list[Any] = []
        for source in sources:
            examples = source.get("examples")
            if isinstance(examples, list):
                found += [
                    copy.deepcopy(ex["payload"])
                    for ex in examples
                    if isinstance(ex, Mapping) and "payload" in ex
                ]
        return found


def example_payload(
    message: Message, defs: Mapping[str, Schema], contract_examples: ContractExamples | None
) -> tuple[Any, str]:
    """The payload to show and where it came from (``contract`` or ``schema``)."""
    if contract_examples is not None:
        declared = contract_examples.payloads(message)
        if declared:
            return declared[0], "contract"
    return synthesize(message.payload_schema, defs, message.class_name), "schema"
