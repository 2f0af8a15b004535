"""Durations of the definition language (`after: 3d`, `at: due_date - 2wd`) and the arithmetic
that moves a moment by one: used by delayed triggers and by scenario clocks alike."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

DURATION = re.compile(r"^(\d+)(m|h|d|w|wd)$")
AT = re.compile(r"^([a-z][a-z0-9_]*)(?:\s*([-+])\s*(\d+(?:m|h|d|w|wd)))?$")


def shift(moment: datetime, amount: int, unit: str) -> datetime:
    """moment moved by a duration; `wd` counts working days (Monday to Friday)."""
    if unit == "wd":
        step = 1 if amount >= 0 else -1
        remaining = abs(amount)
        while remaining:
            moment += timedelta(days=step)
            if moment.weekday() < 5:
                remaining -= 1
        return moment
    sizes = {"m": timedelta(minutes=1), "h": timedelta(hours=1), "d": timedelta(days=1), "w": timedelta(weeks=1)}
    return moment + sizes[unit] * amount


def parse_duration(text: str) -> tuple[int, str]:
    """`3d` → (3, "d"); a ValueError names what is wrong (validation has refused such text already)."""
    match = DURATION.match(text)
    if match is None:
        raise ValueError(f"not a duration: {text!r} (write a number and m, h, d, w or wd)")
    return int(match.group(1)), match.group(2)
