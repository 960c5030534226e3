"""JSON Pointer (RFC 6901): the one place that escapes, unescapes, joins and resolves tokens.

Also the one table of the JSON Schema keywords whose values are sub-schemas, so every walk over
a schema (bundling, default checks) visits the same places.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Literal

__all__ = [
    "SUBSCHEMA_KEYWORDS",
    "escape",
    "join",
    "last",
    "resolve",
    "split",
    "subschemas",
    "unescape",
]


def escape(token: str | int) -> str:
    """``a/b~c`` -> ``a~1b~0c``."""
    return str(token).replace("~", "~0").replace("/", "~1")


def unescape(token: str) -> str:
    """``a~1b~0c`` -> ``a/b~c``."""
    return token.replace("~1", "/").replace("~0", "~")


def join(pointer: str, *tokens: str | int) -> str:
    """``join("/a", "b/c", 0)`` -> ``/a/b~1c/0``."""
    return pointer + "".join("/" + escape(t) for t in tokens)


def split(pointer: str) -> list[str]:
    """The unescaped tokens of ``pointer`` (``""`` and ``"/"`` are the whole document)."""
    if pointer in ("", "/"):
        return []
    return [unescape(raw) for raw in pointer.lstrip("/").split("/")]


def last(pointer: str) -> str:
    """The unescaped last token (``""`` for the whole document)."""
    tokens = split(pointer)
    return tokens[-1] if tokens else ""


def resolve(doc: Any, pointer: str) -> Any:
    """The node at ``pointer``; ``LookupError`` when there is none."""
    node = doc
    for token in split(pointer):
        if isinstance(node, dict) and token in node:
            node = node[token]
        elif isinstance(node, list) and token.isdigit() and int(token) < len(node):
            node = node[int(token)]
        else:
            raise LookupError(pointer)
    return node


# How each sub-schema keyword holds its sub-schemas: a mapping of them, a list, or one
# (``items`` is one schema or, before 2020-12, a list).
SUBSCHEMA_KEYWORDS: dict[str, Literal["map", "list", "one"]] = {
    "properties": "map", "patternProperties": "map", "dependentSchemas": "map",
    "definitions": "map", "$defs": "map",
    "allOf": "list", "anyOf": "list", "oneOf": "list", "prefixItems": "list",
    "items": "one", "additionalItems": "one", "additionalProperties": "one", "not": "one",
    "if": "one", "then": "one", "else": "one", "contains": "one", "propertyNames": "one",
    "unevaluatedProperties": "one", "unevaluatedItems": "one",
}  # fmt: skip


def subschemas(keyword: str, value: Any) -> Iterator[tuple[tuple[str | int, ...], Any]]:
    """(tokens below ``keyword``, sub-schema) for the value of one schema keyword; nothing
    for a keyword that does not hold sub-schemas."""
    kind = SUBSCHEMA_KEYWORDS.get(keyword)
    if kind == "map" and isinstance(value, dict):
        for key, sub in value.items():
            yield (key,), sub
    elif kind in ("list", "one") and isinstance(value, list):
        for index, sub in enumerate(value):
            yield (index,), sub
    elif kind == "one":
        yield (), value
