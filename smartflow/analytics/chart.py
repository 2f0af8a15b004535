"""The funnel of a report as a picture (PNG or SVG), drawn with matplotlib: an optional extra.

`pip install 'smartflow[charts]'` brings matplotlib; without it the command says so instead of
failing with a traceback. The figure is built with matplotlib's object API (no pyplot state) on
the Agg backend, so it works without a display.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from smartflow.errors import InvalidValue, SmartflowError

FORMATS = ("png", "svg")
_COLOURS = {"process": "#64b5f6", "success": "#66bb6a", "failure": "#e57373"}


class MissingExtra(SmartflowError):
    """An optional dependency is not installed."""


def chart_format(path: Path) -> str:
    suffix = path.suffix.lower().lstrip(".")
    if suffix not in FORMATS:
        raise InvalidValue(f"cannot draw a chart as {path.name}", "name the file *.png or *.svg")
    return suffix


def draw_funnel(report: dict[str, Any], path: Path) -> None:
    """Bars per stage, centred like a funnel: how many items reached it, and the share that went on to success."""
    kind = chart_format(path)
    try:
        from matplotlib.figure import Figure
    except ImportError:
        raise MissingExtra("drawing a chart needs matplotlib, which is not installed",
                           "install the extra: pip install 'smartflow[charts]'") from None
    stages = sorted(report["stages"], key=lambda s: s["semantic"] == "failure")  # failures at the bottom
    widest = max((s["reached"] for s in stages), default=0) or 1
    figure = Figure(figsize=(9, 0.6 * len(stages) + 1.4))
    axes = figure.add_subplot()
    for row, stage in enumerate(stages):
        axes.barh(row, stage["reached"], left=(widest - stage["reached"]) / 2, color=_COLOURS[stage["semantic"]],
                  height=0.7)
        share = f" · {stage['conversion']:.0%} to success" if stage["conversion"] is not None else ""
        axes.text(widest / 2, row, f"{stage['title']}: {stage['reached']}{share}", ha="center", va="center",
                  fontsize=9)
    axes.set_ylim(len(stages) - 0.5, -0.5)
    axes.set_xlim(0, widest)
    axes.axis("off")
    axes.set_title(f"{report['title']} · {report['pipeline_title']}: items that reached each stage")
    figure.tight_layout()
    figure.savefig(path, format=kind)
