"""Python names derived from contract names. Pure functions; collisions are detected in ``build``."""

from __future__ import annotations

import keyword
import re
import unicodedata

_WORD = re.compile(r"[A-Z]+[0-9]*(?=[A-Z][a-z]|$|[^A-Za-z0-9])|[A-Z]?[a-z0-9]+|[A-Z]+[0-9]*")


def ascii_text(text: str) -> str:
    """Accented letters lose their accent (``Comunicación`` -> ``Comunicacion``, ``ß`` -> ``ss``);
    other non-ASCII characters are dropped by the callers' word splitting."""
    decomposed = unicodedata.normalize("NFKD", text.replace("ß", "ss"))
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def words(text: str) -> list[str]:
    """Split ``lightTurnOn``, ``light-turn_on``, ``LightTurnON`` and ``a/b/{c}`` into words."""
    out: list[str] = []
    for chunk in re.split(r"[^A-Za-z0-9]+", ascii_text(text)):
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
    """A model class name, spelled the way datamodel-code-generator keeps it (ASCII letters and
    digits, no underscore, upper-case first letter). Each chunk between separators keeps its
    spelling with the first letter upper-cased, so acronyms survive: ``LLMRequest``,
    ``alarm_state`` -> ``AlarmState``, ``RFD40 reader`` -> ``RFD40Reader``,
    ``Comunicación`` -> ``Comunicacion``, ``turn on/off`` -> ``TurnOnOff``."""
    chunks = [c for c in re.split(r"[^A-Za-z0-9]+", ascii_text(text).replace("_", " ")) if c]
    name = "".join(c[0].upper() + c[1:] for c in chunks) or "Unnamed"
    if name[0].isdigit():
        name = "N" + name
    return name
