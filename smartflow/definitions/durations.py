"""Durations of the definition language (`after: 3d`, `at: due_date - 2wd`, `after: 4wh`) and the
arithmetic that moves a moment by one: used by delayed triggers and by scenario clocks alike."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from smartflow.definitions.calendars import Calendar

DURATION = re.compile(r"^(\d+)(m|h|d|w|wd|wh)$")
AT = re.compile(r"^([a-z][a-z0-9_]*)(?:\s*([-+])\s*(\d+(?:m|h|d|w|wd|wh)))?$")


def shift(moment: datetime, amount: int, unit: str, calendar: Calendar | None = None) -> datetime:
    """moment moved by a duration; `wd` counts working days and `wh` working hours of calendar
    (default: Monday to Friday, 09:00–18:00 UTC, no holidays)."""
    if unit in ("wd", "wh") and calendar is None:
        # the calendars (zoneinfo, holidays) only when working time is counted: not on every start-up
        from smartflow.definitions.calendars import DEFAULT

        calendar = DEFAULT
    if unit == "wd":
        return calendar.add_working_days(moment, amount)
    if unit == "wh":
        return calendar.add_working_hours(moment, amount)
    sizes = {"m": timedelta(minutes=1), "h": timedelta(hours=1), "d": timedelta(days=1), "w": timedelta(weeks=1)}
    return moment + sizes[unit] * amount


def parse_duration(text: str) -> tuple[int, str]:
    """`3d` → (3, "d"); a ValueError names what is wrong (validation has refused such text already)."""
    match = DURATION.match(text)
    if match is None:
        raise ValueError(f"not a duration: {text!r} (write a number and m, h, d, w, wd or wh)")
    return int(match.group(1)), match.group(2)
