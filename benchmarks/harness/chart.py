"""A PNG bar chart: one panel per comparison, typed vs raw vs peer, min-max whiskers."""

from __future__ import annotations

import math
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
from matplotlib.patches import Rectangle

from harness.catalog import PANELS
from harness.model import CaseResult

__all__ = ["draw_chart"]

COLORS = {"typed": "#1f77b4", "raw": "#8c8c8c", "peer": "#ff7f0e"}


def draw_chart(results: list[CaseResult], path: Path, *, title: str) -> None:
    by_group: dict[str, list[CaseResult]] = {}
    for result in results:
        by_group.setdefault(result.case.group, []).append(result)
    columns = 2
    rows = math.ceil(len(PANELS) / columns)
    fig, axes = plt.subplots(rows, columns, figsize=(13, 3.4 * rows), squeeze=False)
    for ax, panel in zip(axes.flat, PANELS, strict=False):
        members = [r for r in by_group.get(panel.group, []) if panel.metric in r.metrics]
        labels = [r.case.label for r in members]
        medians = [r.metrics[panel.metric].median for r in members]
        low = [m - r.metrics[panel.metric].min for m, r in zip(medians, members, strict=True)]
        high = [r.metrics[panel.metric].max - m for m, r in zip(medians, members, strict=True)]
        ax.barh(
            labels,
            medians,
            xerr=[low, high],
            color=[COLORS[r.case.kind] for r in members],
            capsize=3,
        )
        for y, (value, result) in enumerate(zip(medians, members, strict=True)):
            text = f"  {value:,.0f}" if value >= 100 else f"  {value:.3g}"
            ax.text(result.metrics[panel.metric].max, y, text, va="center", fontsize=8)
        ax.invert_yaxis()
        direction = "higher is better" if panel.higher_is_better else "lower is better"
        ax.set_title(f"{panel.title} [{panel.unit}], {direction}", fontsize=10)
        ax.tick_params(axis="y", labelsize=8)
        ax.margins(x=0.25)
        if not members:
            ax.text(0.5, 0.5, "not measured", ha="center", va="center", transform=ax.transAxes)
    for ax in list(axes.flat)[len(PANELS) :]:
        ax.set_visible(False)
    handles = [Rectangle((0, 0), 1, 1, color=color) for color in COLORS.values()]
    fig.legend(handles, list(COLORS), loc="lower center", ncol=3)
    fig.suptitle(title, fontsize=10, x=0.02, ha="left")
    fig.tight_layout(rect=(0, 0.03, 1, 0.97))
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
