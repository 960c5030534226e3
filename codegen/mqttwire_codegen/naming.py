"""Python names derived from contract names. Pure functions; collisions are detected in ``build``."""

from __future__ import annotations

import keyword
import re

_WORD = re.compile(r"[A-Z]+(?=[A-Z][a-z0-9]|$|[^A-Za-z0-9])|[A-Z]?[a-z0-9]+|[A-Z]+")


def words(text: str) -> list[str]:
    """Split ``lightTurnOn``, ``light-turn_on``, ``LightTurnON`` and ``a/b/{c}`` into words."""
    out: list[str] = []
    for chunk in re.split(r"[^A-Za-z0-9]+", text):
        out.extend(_WORD.findall(chunk))
    return [w for w in out if w]


def snake_case(text: str) -> str:
    name = "_".join(w.lower() for w in words(text))
    if not name:
        name = "unnamed"
    if name[0].isdigit():
        name = "n" + name
    return name


def safe_identifier(name: str) -> str:
    """A keyword or soft keyword gets a trailing underscore (``class`` -> ``class_``)."""
    if keyword.iskeyword(name) or keyword.issoftkeyword(name):
        return name + "_"
    return name


def pascal_case(text: str) -> str:
    """``TARS`` -> ``Tars``, ``home climate`` -> ``HomeClimate``, ``lightMeasured`` -> ``LightMeasured``."""
    parts = []
    for w in words(text):
        parts.append(w.capitalize() if w.isupper() or w.islower() else w[0].upper() + w[1:])
    name = "".join(parts) or "Unnamed"
    if name[0].isdigit():
        name = "N" + name
    return name


def const_name(text: str) -> str:
    return snake_case(text).upper()


def client_class_name(title: str) -> str:
    base = pascal_case(title)
    return base if base.endswith("Client") else base + "Client"


def is_identifier(name: str) -> bool:
    return name.isidentifier() and not keyword.iskeyword(name)


def class_name_from(text: str) -> str:
    """A model class name: an identifier keeps its spelling (``LLMRequest``, ``AudioFFTData``)
    with the first letter upper-cased; anything else is PascalCased (``turn on/off`` -> ``TurnOnOff``)."""
    if text.isidentifier() and not keyword.iskeyword(text) and text[0].isalpha():
        return text[0].upper() + text[1:]
    return pascal_case(text)
