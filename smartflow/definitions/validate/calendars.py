"""Semantic checks of a process's working_hours: days, hours, timezone and holiday country."""

from __future__ import annotations

from collections.abc import Iterator
from zoneinfo import available_timezones

from smartflow.definitions.calendars import CalendarError, parse_clock, parse_days, supported_countries, zone
from smartflow.definitions.diagnostics import Diagnostic, Location, did_you_mean
from smartflow.definitions.validate.context import Folder, error


def check_working_hours(folder: Folder) -> Iterator[Diagnostic]:
    """working_hours name real days, a day that ends after it starts, a known timezone and country."""
    for process in folder.processes:
        hours = process.data.get("working_hours")
        if not isinstance(hours, dict):
            continue
        base = ("working_hours",)
        try:
            parse_days(str(hours["days"]))
        except CalendarError as problem:
            yield error("bad-days", f"working_hours: {problem}", process.at((*base, "days")),
                        "write days such as mon-fri or 'mon-thu, sat'", (*base, "days"))
        try:
            start, end = parse_clock(str(hours["from"])), parse_clock(str(hours["to"]))
        except CalendarError:
            pass  # the schema has reported it
        else:
            if start >= end:
                yield error("bad-working-hours", f"working_hours: the day ends at {hours['to']}, not after it "
                            f"starts at {hours['from']}", process.at((*base, "to")),
                            "`to` must be later than `from` on the same day (a night shift is not supported)",
                            (*base, "to"))
        if "timezone" in hours:
            yield from _check_timezone(process.at((*base, "timezone")), str(hours["timezone"]))
        if "holidays" in hours:
            country = str(hours["holidays"])
            known = supported_countries()
            if country not in known:
                yield error("unknown-country", f"working_hours: no public holidays are known for country "
                            f"`{country}`", process.at((*base, "holidays")),
                            did_you_mean(country, known) or "use an ISO 3166 code such as RU, KZ, BY or DE",
                            (*base, "holidays"))


def _check_timezone(where: Location, name: str) -> Iterator[Diagnostic]:
    try:
        zone(name)
    except CalendarError as problem:
        yield error("unknown-timezone", f"working_hours: {problem}", where,
                    did_you_mean(name, sorted(available_timezones())) or "use an IANA name such as Europe/Moscow",
                    ("working_hours", "timezone"))
