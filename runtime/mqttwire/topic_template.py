"""Topic templates (``home/{room}/temperature``): fill, build subscription filters, match back.

Values put into a topic are validated: not empty, no ``/``, ``+``, ``#``, MQTT's string rules
(no NUL, control characters or non-characters, well-formed UTF-8, see :mod:`mqttwire.mqtt_text`),
and within the contract's enum when it declares one. Used by the generated clients through ``mqttwire.typed``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from mqttwire.errors import InvalidTopicError, TopicParameterError
from mqttwire.mqtt_text import text_problem

__all__ = ["ParamSpec", "TopicTemplate", "validate_param_value"]

_PLACEHOLDER = re.compile(r"\{([^{}]*)\}")
_FORBIDDEN = ("/", "+", "#", "\x00")


@dataclass(frozen=True, slots=True)
class ParamSpec:
    """A topic parameter as the contract declares it."""

    name: str
    enum: tuple[str, ...] | None = None
    py_name: str | None = None
    pattern: str | None = None  # JSON Schema ``pattern`` (unanchored regular expression)


def validate_param_value(
    name: str, value: object, enum: tuple[str, ...] | None = None, pattern: str | None = None
) -> str:
    """Return ``value`` if it may stand in one topic level; raise TopicParameterError otherwise."""
    if not isinstance(value, str):
        raise TopicParameterError(name, repr(value), f"must be a str, not {type(value).__name__}")
    if not value:
        raise TopicParameterError(name, value, "must not be empty")
    for ch in _FORBIDDEN:
        if ch in value:
            shown = "NUL" if ch == "\x00" else repr(ch)
            raise TopicParameterError(name, value, f"must not contain {shown}")
    problem = text_problem(value)
    if problem is not None:
        raise TopicParameterError(name, value, problem)
    if enum is not None and value not in enum:
        raise TopicParameterError(name, value, f"must be one of {', '.join(enum)}")
    if pattern is not None and re.search(pattern, value) is None:
        raise TopicParameterError(name, value, f"must match the pattern {pattern!r}")
    return value


class TopicTemplate:
    """An MQTT topic with ``{name}`` placeholders (each inside one topic level)."""

    __slots__ = ("_levels", "_regex", "address", "params")

    def __init__(self, address: str, params: Iterable[ParamSpec] = ()) -> None:
        self.address = address
        declared = {p.name: p for p in params}
        names = list(dict.fromkeys(_PLACEHOLDER.findall(address)))
        self.params: dict[str, ParamSpec] = {n: declared.get(n, ParamSpec(n)) for n in names}
        self._levels = address.split("/")
        pattern: list[str] = []
        for level in self._levels:
            if level == "+":
                pattern.append("[^/]*")
            elif level == "#":
                pattern.append(".*")
            else:
                parts = _PLACEHOLDER.split(level)
                rx = ""
                for i, part in enumerate(parts):
                    rx += f"(?P<p{names.index(part)}>[^/]+)" if i % 2 else re.escape(part)
                pattern.append(rx)
        regex = "/".join(pattern)
        if regex.endswith("/.*"):  # ``a/#`` also matches ``a``
            regex = regex[:-3] + "(?:/.*)?"
        self._regex = re.compile(regex + r"\Z", re.DOTALL)

    def __repr__(self) -> str:
        return f"TopicTemplate({self.address!r})"

    @property
    def is_static(self) -> bool:
        return not self.params

    @property
    def has_wildcards(self) -> bool:
        return any(level in ("+", "#") for level in self._levels)

    def format(self, values: Mapping[str, str]) -> str:
        """The concrete topic for ``values`` (keyed by contract parameter name)."""
        if self.has_wildcards:
            raise InvalidTopicError(
                self.address, "a topic filter with wildcards cannot be published to"
            )
        missing = [n for n in self.params if n not in values]
        if missing:
            raise TopicParameterError(missing[0], "", "is required")
        return _PLACEHOLDER.sub(
            lambda m: validate_param_value(m.group(1), values[m.group(1)], *self._rule(m.group(1))),
            self.address,
        )

    def filter(self, values: Mapping[str, str | None] | None = None) -> str:
        """A subscription filter: given parameters fixed, the others (or ``None``) as ``+``."""
        values = values or {}
        levels: list[str] = []
        for level in self._levels:
            names = _PLACEHOLDER.findall(level)
            if not names:
                levels.append(level)
            elif any(values.get(n) is None for n in names):
                levels.append("+")
            else:
                levels.append(
                    _PLACEHOLDER.sub(
                        lambda m: validate_param_value(
                            m.group(1), values[m.group(1)], *self._rule(m.group(1))
                        ),
                        level,
                    )
                )
        return "/".join(levels)

    def _rule(self, name: str) -> tuple[tuple[str, ...] | None, str | None]:
        spec = self.params[name]
        return spec.enum, spec.pattern

    def check(self, values: Mapping[str, str]) -> str | None:
        """Why parameters taken from a received topic break the contract's ``enum`` or
        ``pattern`` (``None`` when they fit)."""
        for name, value in values.items():
            spec = self.params.get(name)
            if spec is None or (spec.enum is None and spec.pattern is None):
                continue
            try:
                validate_param_value(name, value, spec.enum, spec.pattern)
            except TopicParameterError as exc:
                return f"topic parameter {name}={value[:64]!r}: {exc.reason}"
        return None

    def match(self, topic: str) -> dict[str, str] | None:
        """Parameters extracted from a concrete ``topic``, or ``None`` if it does not fit."""
        found = self._regex.match(topic)
        if found is None:
            return None
        names = list(self.params)
        return {names[int(k[1:])]: v for k, v in found.groupdict().items()}
