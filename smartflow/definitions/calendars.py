"""Working calendars: which days and hours a process's team works, and the public holidays it has off.

`after: 3wd` and `after: 4wh` count on a Calendar; a process without `working_hours` works
Monday to Friday, 09:00–18:00 UTC, with no holidays (DEFAULT). Days, hours and holidays are
those of the calendar's timezone: 09:00 in Europe/Moscow is 06:00 UTC. Public holidays come
from the `holidays` package by country code (Russia's New Year holidays, 1–8 January, and its
days off moved by government decree are in it), loaded once per country and year.
"""

from __future__ import annotations

import re
from dataclasses import field
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from functools import cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from smartflow.definitions.model import WorkingHours
from smartflow.records import record

DAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_CLOCK = re.compile(r"^(\d\d):(\d\d)$")
_SEARCH_DAYS = 3 * 366  # a calendar with no working day within three years is broken, not busy


class CalendarError(ValueError):
    """working_hours that cannot be used; the message says which part and why."""


def parse_days(text: str) -> frozenset[int]:
    """'mon-fri', 'sun-thu' or 'mon-thu, sat' → weekday numbers (Monday 0); a range may wrap past Sunday."""
    days: set[int] = set()
    for part in (p.strip() for p in text.split(",")):
        first, _, last = part.partition("-")
        for name in (first, last or first):
            if name not in DAY_NAMES:
                raise CalendarError(f"unknown day `{name}` (days are {', '.join(DAY_NAMES)})")
        start, end = DAY_NAMES.index(first), DAY_NAMES.index(last or first)
        if last and start == end:
            raise CalendarError(f"the day range `{part}` starts and ends on the same day (write `{first}` alone)")
        span = {(start + offset) % 7 for offset in range((end - start) % 7 + 1)}
        twice = sorted(days & span)
        if twice:
            raise CalendarError(f"`{DAY_NAMES[twice[0]]}` is named twice in `{text}`")
        days |= span
    return frozenset(days)


def parse_clock(text: str) -> int:
    """'09:30' → minutes since midnight; '24:00' is the end of the day."""
    match = _CLOCK.match(text)
    if match is None or int(match.group(2)) > 59 or int(match.group(1)) * 60 + int(match.group(2)) > 24 * 60:
        raise CalendarError(f"`{text}` is not a time of day (write HH:MM, such as 09:00)")
    return int(match.group(1)) * 60 + int(match.group(2))


def zone(name: str) -> tzinfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise CalendarError(f"unknown timezone `{name}`") from None


def supported_countries() -> list[str]:
    import holidays

    return sorted(holidays.list_supported_countries())


@record(frozen=True)
class Calendar:
    """Working days and hours in a timezone, less a country's public holidays."""

    days: frozenset[int]
    start: int  # minutes since local midnight
    end: int
    zone: tzinfo
    country: str | None = None
    _years: dict[int, frozenset[date]] = field(default_factory=dict, compare=False, hash=False, repr=False)

    @staticmethod
    def of(hours: WorkingHours | None) -> Calendar:
        """The calendar of a process's working_hours (DEFAULT when it has none); raises CalendarError."""
        return DEFAULT if hours is None else _calendar(hours)

    # ---- days ------------------------------------------------------------------------------

    def holidays(self, year: int) -> frozenset[date]:
        if self.country is None:
            return frozenset()
        if year not in self._years:
            import holidays  # about 0.1 s: only a calendar that counts working days with holidays imports it

            try:
                self._years[year] = frozenset(holidays.country_holidays(self.country, years=year))
            except NotImplementedError:  # validation refuses such a country; an older `holidays` may lack it
                raise CalendarError(f"unknown country `{self.country}` for public holidays") from None
        return self._years[year]

    def is_working_day(self, day: date) -> bool:
        return day.weekday() in self.days and day not in self.holidays(day.year)

    def add_working_days(self, moment: datetime, amount: int) -> datetime:
        """moment moved by amount working days, keeping its local time of day."""
        local = self._local(moment)
        day, step, remaining = local.date(), (1 if amount >= 0 else -1), abs(amount)
        for _ in range(_SEARCH_DAYS * max(1, remaining)):
            if not remaining:
                break
            day += timedelta(days=step)
            if self.is_working_day(day):
                remaining -= 1
        else:
            raise CalendarError("the working calendar has no working day within three years")
        return self._back(datetime.combine(day, local.time().replace(tzinfo=None), tzinfo=self.zone), moment)

    # ---- hours -----------------------------------------------------------------------------

    def add_working_hours(self, moment: datetime, amount: int) -> datetime:
        """moment moved by amount working hours; time outside working hours does not count."""
        local = self._local(moment)
        remaining = timedelta(hours=abs(amount))
        forward = amount >= 0
        for _ in range(_SEARCH_DAYS + remaining.days * 7 + 7):
            day = local.date()
            if self.is_working_day(day):
                opens, closes = self._bounds(day)
                if forward:
                    local = max(local, opens)
                    if local < closes:
                        if remaining <= closes - local:
                            return self._back(local + remaining, moment)
                        remaining -= closes - local
                else:
                    local = min(local, closes)
                    if local > opens:
                        if remaining <= local - opens:
                            return self._back(local - remaining, moment)
                        remaining -= local - opens
            following = day + timedelta(days=1 if forward else -1)
            local = self._bounds(following)[0 if forward else 1]
        raise CalendarError("the working calendar has no working hours within three years")

    def _bounds(self, day: date) -> tuple[datetime, datetime]:
        midnight = datetime.combine(day, time(0), tzinfo=self.zone)
        return self._at(midnight, self.start), self._at(midnight, self.end)

    def _at(self, midnight: datetime, minutes: int) -> datetime:
        return (midnight + timedelta(minutes=minutes)).astimezone(UTC).astimezone(self.zone)

    def _local(self, moment: datetime) -> datetime:
        return (moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)).astimezone(self.zone)

    @staticmethod
    def _back(local: datetime, like: datetime) -> datetime:
        """A local moment in the zone the caller gave (UTC for a naive one, as stored)."""
        target = like.tzinfo if like.tzinfo is not None else UTC
        result = local.astimezone(target)
        return result if like.tzinfo is not None else result.replace(tzinfo=None)

    def morning(self, day: date) -> datetime:
        """When the working day starts on day (the time `at: due_date` fires on a date field)."""
        return self._bounds(day)[0]


@cache
def _calendar(hours: WorkingHours) -> Calendar:
    start, end = parse_clock(hours.start), parse_clock(hours.end)
    if start >= end:
        raise CalendarError(f"the working day ends ({hours.end}) before it starts ({hours.start})")
    # The country is checked when its holidays are first needed (Calendar.holidays): validation has
    # checked it against the list, and importing that list costs about 0.15 s, a process start's worth.
    return Calendar(parse_days(hours.days), start, end, zone(hours.timezone), hours.holidays)


DEFAULT = Calendar(frozenset(range(5)), 9 * 60, 18 * 60, UTC)

