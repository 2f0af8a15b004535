"""Plain-text tables: rows under their headers, as the command line and the text report print them.

The layout is tabulate's "simple" format (the library the command line used before): columns two
spaces apart, each as wide as its widest line (and its header and two more), headers underlined
with dashes, trailing spaces dropped, a cell with several lines taking several. It is written here
because importing tabulate cost a `smartflow` command about 20 ms (it reads its own version from
the installed distributions when imported), a tenth of a read's start-up. Widths count what a
terminal shows: East Asian wide characters take two columns, combining marks none.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Collection, Sequence
from typing import Any

GAP = "  "


def grid(rows: Sequence[Sequence[Any]], headers: Sequence[str], right: Collection[int] = ()) -> str:
    """rows under headers; the columns whose index is in right are aligned right (numbers)."""
    head = [_lines(h) for h in headers]
    body = [[_lines(value) for value in row] for row in rows]
    widths = [max(width(line) for line in cell) + 2 for cell in head]
    for row in body:
        for index, cell in enumerate(row):
            widths[index] = max(widths[index], *(width(line) for line in cell))
    out = _row(head, widths, right)
    out.append(GAP.join("-" * w for w in widths))
    for row in body:
        out += _row(row, widths, right)
    return "\n".join(out)


def width(text: str) -> int:
    """The columns a terminal gives text."""
    if text.isascii():
        return len(text)
    return sum(0 if unicodedata.combining(c) else 2 if unicodedata.east_asian_width(c) in "WF" else 1
               for c in text)


def _lines(value: Any) -> list[str]:
    text = "" if value is None else str(value)
    return text.strip().splitlines() or [""]


def _row(cells: list[list[str]], widths: list[int], right: Collection[int]) -> list[str]:
    height = max((len(cell) for cell in cells), default=1)
    lines = []
    for n in range(height):
        parts = []
        for index, cell in enumerate(cells):
            line = cell[n] if n < len(cell) else ""
            pad = " " * (widths[index] - width(line))
            parts.append(pad + line if index in right else line + pad)
        lines.append(GAP.join(parts).rstrip())
    return lines
