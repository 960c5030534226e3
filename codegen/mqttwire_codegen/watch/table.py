"""The watch's terminal output: a live per-topic table and the final summary.

On a terminal the table is redrawn in place (ANSI cursor movement); elsewhere (CI logs, pipes)
each refresh prints plain lines for the topics that got messages since the last one.
"""

from __future__ import annotations

from typing import TextIO

from mqttwire_codegen.watch.findings import FindingClass
from mqttwire_codegen.watch.report import WatchReport, escape

__all__ = ["LiveTable", "summary_lines"]

_TOPIC_WIDTH = 36
_ERROR_WIDTH = 60


def _cell(text: str, width: int) -> str:
    text = escape(text)
    return text if len(text) <= width else text[: width - 1] + "~"


class LiveTable:
    """Per topic: messages, rate (messages/s since the last refresh), with findings, last error."""

    HEADER = f"{'topic':<{_TOPIC_WIDTH}} {'msgs':>8} {'rate/s':>8} {'invalid':>8}  last error"

    def __init__(self, stream: TextIO, *, in_place: bool, max_rows: int = 40) -> None:
        self.stream = stream
        self.in_place = in_place
        self.max_rows = max_rows
        self._previous: dict[str, int] = {}
        self._last_elapsed = 0.0
        self._drawn = 0

    def refresh(self, report: WatchReport, elapsed: float) -> None:
        dt = max(elapsed - self._last_elapsed, 1e-9)
        rows = report.rows()
        lines: list[str] = []
        for topic, stats in rows:
            before = self._previous.get(topic, 0)
            if not self.in_place and stats.messages == before:
                continue
            rate = (stats.messages - before) / dt
            lines.append(
                f"{_cell(topic, _TOPIC_WIDTH):<{_TOPIC_WIDTH}} {stats.messages:>8} {rate:>8.1f} "
                f"{stats.invalid:>8}  {_cell(stats.last_error or '-', _ERROR_WIDTH)}"
            )
        # the previous counts are per tracked row: bounded like the report itself
        self._previous = {topic: stats.messages for topic, stats in rows}
        self._last_elapsed = elapsed
        if self.in_place:
            self._redraw(report, elapsed, lines)
        elif lines:
            self.stream.write(f"[{elapsed:7.1f}s]\n" + "\n".join(lines) + "\n")
            self.stream.flush()

    def _redraw(self, report: WatchReport, elapsed: float, lines: list[str]) -> None:
        shown = lines[: self.max_rows]
        if len(lines) > len(shown):
            shown.append(f"... {len(lines) - len(shown)} more topics (see the JSON report)")
        title = (
            f"mqttwire watch: {elapsed:.0f} s, {report.messages} messages, "
            f"{report.messages_with_findings} with findings"
        )
        block = [title, self.HEADER, *shown]
        out = f"\x1b[{self._drawn}F\x1b[J" if self._drawn else ""
        self.stream.write(out + "\n".join(block) + "\n")
        self.stream.flush()
        self._drawn = len(block)


def summary_lines(report: WatchReport, failed: list[FindingClass]) -> list[str]:
    """The human summary printed at the end (the JSON report has the details)."""
    lines = [
        f"watched {report.messages} messages on {len(report.topics)} topics"
        + (" (+ more in '(other topics)')" if report.other.messages else "")
        + f": {report.messages_with_findings} with findings"
    ]
    for kind in FindingClass:
        count = report.counts[kind]
        if not count:
            continue
        example = report.examples.get(kind)
        where = f" first on {example.topic}: {example.detail}" if example is not None else ""
        lines.append(f"  {kind.value:<24} {count:>7}{where}")
    if not report.messages_with_findings:
        lines.append("  no findings: the traffic matches the contract")
    if failed:
        lines.append(f"FAIL: {', '.join(c.value for c in failed)} seen (--fail-on)")
    return lines
