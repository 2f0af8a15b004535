"""The analytics page's charts, drawn on the server as SVG: bars sized in percent of the chart's width
(so a chart fits a 390 px phone and a desktop with the same text size), coloured by classes of
board.css. No script and no inline style, so the Content-Security-Policy holds; nothing to vendor."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

from markupsafe import Markup, escape

from smartflow.web.present import amount
from smartflow.web.text import word

ROW = 18  # px: a label's line, and a bar's
BAR = 12
SPAN = 62.0  # percent of the width the longest bar takes (the rest holds its number and words)


def duration(seconds: float | None, lang: str) -> str:
    """A stay's length as a person reads it: 25 min, 5.5 h, 3.2 d (as `smartflow report`, in lang)."""
    if seconds is None:
        return "—"
    if seconds < 3600:
        number, unit = f"{seconds / 60:.0f}", "minutes"
    elif seconds < 2 * 86400:
        number, unit = f"{seconds / 3600:.1f}", "hours"
    else:
        number, unit = f"{seconds / 86400:.1f}", "days"
    return f"{number.replace('.', ',') if lang == 'ru' else number} {word(unit, lang)}"


def percent(fraction: float | None) -> str:
    return "—" if fraction is None else f"{fraction:.0%}"


def money_text(lang: str) -> Callable[[dict[str, Decimal]], str]:
    def shown(sums: dict[str, Decimal]) -> str:
        return " + ".join(amount(total, currency, lang) for currency, total in sorted(sums.items())) or "—"

    return shown


def _svg(title: str, height: int, body: list[str], legend: list[tuple[str, str]], empty: str = "") -> Markup:
    if not body:  # nothing to draw (no completed stay, no assigned item): say so rather than show a blank
        return Markup(f'<figure class="chart"><figcaption>{escape(title)}</figcaption>'
                      f'<p class="muted">{escape(empty)}</p></figure>')
    keys = "".join(f'<li><span class="swatch bar-{css}"></span>{escape(text)}</li>' for css, text in legend)
    return Markup(f'<figure class="chart"><figcaption>{escape(title)}</figcaption>'
                  + (f'<ul class="legend">{keys}</ul>' if len(legend) > 1 else "")
                  + f'<svg width="100%" height="{height}" role="img" aria-label="{escape(title)}">'
                  + "".join(body) + "</svg></figure>")


def _width(value: float, top: float) -> float:
    return round(SPAN * value / top, 2) if top > 0 and value > 0 else 0.0


def bars(title: str, rows: list[tuple[str, list[tuple[float, str, str]]]],
         legend: list[tuple[str, str]], empty: str = "") -> Markup:
    """A bar per series under each row's label: rows of (label, [(value, css class, text shown)])."""
    top = max((value for _, series in rows for value, _, _ in series), default=0.0)
    body: list[str] = []
    y = 0
    for label, series in rows:
        body.append(f'<text class="chart-label" x="0" y="{y + 13}">{escape(label)}</text>')
        y += ROW
        for value, css, text in series:
            width = _width(value, top)
            body.append(f'<rect class="bar-{css}" x="0" y="{y + 2}" width="{width}%" height="{BAR}" rx="2"></rect>')
            body.append(f'<text class="chart-value" x="{width + 1}%" y="{y + 12}">{escape(text)}</text>')
            y += ROW
        y += 6
    return _svg(title, max(y, ROW), body, legend, empty)


def stacked(title: str, rows: list[tuple[str, list[tuple[float, str, str]]]],
            legend: list[tuple[str, str]], empty: str = "") -> Markup:
    """One bar per row, its parts side by side: rows of (label, [(value, css class, text shown)])."""
    top = max((sum(value for value, _, _ in series) for _, series in rows), default=0.0)
    body: list[str] = []
    y = 0
    for label, series in rows:
        body.append(f'<text class="chart-label" x="0" y="{y + 13}">{escape(label)}</text>')
        y += ROW
        x = 0.0
        for value, css, _ in series:
            width = _width(value, top)
            if width:
                body.append(f'<rect class="bar-{css}" x="{x}%" y="{y + 2}" width="{width}%" height="{BAR}"></rect>')
            x = round(x + width, 2)
        text = " / ".join(shown for _, _, shown in series)
        body.append(f'<text class="chart-value" x="{x + 1}%" y="{y + 12}">{escape(text)}</text>')
        y += ROW + 6
    return _svg(title, max(y, ROW), body, legend, empty)


def _stage_label(stage: dict[str, Any]) -> str:
    return {"success": "✓ ", "failure": "✗ "}.get(stage["semantic"], "") + (stage["title"] or stage["stage"])


def funnel(report: dict[str, Any], lang: str) -> Markup:
    """Per stage: the items that ever reached it, and those in it now."""
    rows = [(_stage_label(s), [(float(s["reached"]), "reached", f"{word('reached', lang)}: {s['reached']}"),
                               (float(s["count"]), "now", f"{word('items_now', lang)}: {s['count']}")])
            for s in report["stages"]]
    return bars(word("funnel", lang), rows, [("reached", word("reached", lang)), ("now", word("items_now", lang))],
                word("no_items", lang))


def conversion(report: dict[str, Any], lang: str) -> Markup:
    """Per stage: the share of the items that reached it now in a success stage."""
    rows = [(_stage_label(s), [(float(s["conversion"] or 0), "conversion", percent(s["conversion"]))])
            for s in report["stages"]]
    return bars(word("conversion", lang), rows, [("conversion", word("conversion", lang))])


def stays(report: dict[str, Any], lang: str) -> Markup:
    """Per stage with completed stays: their average and median length."""
    rows = [(_stage_label(s), [(float(s["avg_seconds"] or 0), "average",
                                f"{word('average', lang)}: {duration(s['avg_seconds'], lang)}"),
                               (float(s["median_seconds"] or 0), "median",
                                f"{word('median', lang)}: {duration(s['median_seconds'], lang)}")])
            for s in report["stages"] if s["stays"]]
    return bars(word("time_in_stage", lang), rows, [("average", word("average", lang)),
                                                    ("median", word("median", lang))], word("no_stays", lang))


def people(report: dict[str, Any], lang: str) -> Markup:
    """Per assigned user: won, lost and open items as one bar."""
    rows = [(u["name"] if u["user"] else word("nobody", lang),
             [(float(u["won"]), "won", str(u["won"])), (float(u["lost"]), "lost", str(u["lost"])),
              (float(u["open"]), "open", str(u["open"]))]) for u in report["users"]]
    return stacked(word("by_responsible", lang), rows, [("won", word("won", lang)), ("lost", word("lost", lang)),
                                                        ("open", word("open", lang))], word("no_items", lang))
