"""What a classified contract change looks like, and the catalogue of rules."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Breaks(StrEnum):
    """Which side of a topic a change breaks when one side is deployed before the other."""

    NOBODY = "nobody"
    PUBLISHERS = "publishers"
    SUBSCRIBERS = "subscribers"
    BOTH = "both"

    def __or__(self, other: object) -> Breaks:
        if not isinstance(other, Breaks):
            return NotImplemented
        sides = {self, other} - {Breaks.NOBODY}
        if not sides:
            return Breaks.NOBODY
        if len(sides) == 1:
            return next(iter(sides))
        return Breaks.BOTH


@dataclass(frozen=True, slots=True)
class Rule:
    """One classification rule: id, whom it breaks, and why."""

    id: str
    breaks: Breaks
    why: str


@dataclass(frozen=True, slots=True)
class Change:
    """One classified difference between two contract versions."""

    rule: Rule
    old_pointer: str | None
    new_pointer: str | None
    detail: str

    @property
    def breaks(self) -> Breaks:
        return self.rule.breaks

    @property
    def breaking(self) -> bool:
        return self.rule.breaks is not Breaks.NOBODY

    def as_dict(self) -> dict[str, object]:
        return {
            "rule": self.rule.id,
            "breaks": self.rule.breaks.value,
            "breaking": self.breaking,
            "old": self.old_pointer,
            "new": self.new_pointer,
            "detail": self.detail,
            "why": self.rule.why,
        }
