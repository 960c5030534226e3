"""The finding classes of ``mqttwire watch`` and ``--fail-on`` parsing (no heavy imports:
the CLI's ``--help`` needs them)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

__all__ = ["FAIL_ON_GROUPS", "Finding", "FindingClass", "Verdict", "parse_fail_on"]


class FindingClass(StrEnum):
    """What can be wrong with a message on the bus (the report's keys)."""

    INVALID_PAYLOAD = "invalid-payload"
    INVALID_ENVELOPE = "invalid-envelope"
    WRONG_EVENT_TYPE = "wrong-event-type"
    INVALID_TOPIC_PARAMETER = "invalid-topic-parameter"
    CONTENT_TYPE_MISMATCH = "content-type-mismatch"
    QOS_MISMATCH = "qos-mismatch"
    RETAINED_NOT_DECLARED = "retained-not-declared"
    UNDECLARED_TOPIC = "undeclared-topic"
    UNDECLARED_PUBLISHER = "undeclared-publisher"


FAIL_ON_GROUPS: Mapping[str, frozenset[FindingClass]] = {
    "invalid": frozenset(
        {
            FindingClass.INVALID_PAYLOAD,
            FindingClass.INVALID_ENVELOPE,
            FindingClass.WRONG_EVENT_TYPE,
            FindingClass.INVALID_TOPIC_PARAMETER,
            FindingClass.CONTENT_TYPE_MISMATCH,
        }
    ),
    "delivery": frozenset({FindingClass.QOS_MISMATCH, FindingClass.RETAINED_NOT_DECLARED}),
    "undeclared": frozenset({FindingClass.UNDECLARED_TOPIC, FindingClass.UNDECLARED_PUBLISHER}),
    "all": frozenset(FindingClass),
}
"""Names ``--fail-on`` accepts besides the finding classes themselves."""


def parse_fail_on(text: str) -> frozenset[FindingClass]:
    """``"invalid,qos-mismatch"`` -> the classes; raises ``ValueError`` naming a bad entry."""
    chosen: set[FindingClass] = set()
    for raw in text.split(","):
        name = raw.strip()
        if not name or name == "none":
            continue
        if name in FAIL_ON_GROUPS:
            chosen |= FAIL_ON_GROUPS[name]
            continue
        try:
            chosen.add(FindingClass(name))
        except ValueError:
            known = [*FAIL_ON_GROUPS, *(c.value for c in FindingClass)]
            raise ValueError(
                f"unknown finding class {name!r} (one of: {', '.join(known)})"
            ) from None
    return frozenset(chosen)


@dataclass(frozen=True, slots=True)
class Finding:
    kind: FindingClass
    detail: str


@dataclass(frozen=True, slots=True)
class Verdict:
    """``channel`` is the contract channel id (``None``: no channel declares the topic)."""

    channel: str | None
    findings: tuple[Finding, ...] = ()

    @property
    def ok(self) -> bool:
        return not self.findings
