"""Working calendars without a database: working days and hours across a weekend and Russia's
New Year holidays (1–8 January, and 31 December 2026 moved off by decree), in Moscow time."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import pytest

from smartflow.automation.compiled import due_time
from smartflow.definitions.calendars import DEFAULT, Calendar, CalendarError, parse_days
from smartflow.definitions.durations import shift
from smartflow.definitions.model import Trigger, WorkingHours

MSK = timezone(timedelta(hours=3))  # Europe/Moscow has kept UTC+3 since 2014
MOSCOW = Calendar.of(WorkingHours("mon-fri", "09:00", "18:00", "Europe/Moscow", "RU"))
MOSCOW_NO_HOLIDAYS = Calendar.of(WorkingHours("mon-fri", "09:00", "18:00", "Europe/Moscow"))


def msk(*args: int) -> datetime:
    """A Moscow wall-clock time, given to the calendar in UTC as smartflow stores times."""
    return datetime(*args, tzinfo=MSK).astimezone(UTC)


@pytest.mark.parametrize(("start", "amount", "unit", "expected"), [
    # a weekend: Friday 17:00 + 4 working hours = 1 on Friday, 3 on Monday
    (msk(2026, 12, 4, 17, 0), 4, "wh", msk(2026, 12, 7, 12, 0)),
    (msk(2026, 12, 5, 12, 0), 1, "wh", msk(2026, 12, 7, 10, 0)),     # from a Saturday: Monday 10:00
    (msk(2026, 12, 7, 7, 0), 1, "wh", msk(2026, 12, 7, 10, 0)),      # before opening: counts from 09:00
    (msk(2026, 12, 4, 14, 0), 4, "wh", msk(2026, 12, 4, 18, 0)),     # exactly to closing time
    (msk(2026, 12, 7, 9, 30), 18, "wh", msk(2026, 12, 9, 9, 30)),    # two full days
    (msk(2026, 12, 7, 10, 0), -2, "wh", msk(2026, 12, 4, 17, 0)),    # backwards over the weekend
    (msk(2026, 12, 4, 17, 0), 1, "wd", msk(2026, 12, 7, 17, 0)),     # Friday + 1 working day = Monday
    # the New Year holidays: 31 Dec 2026 to 8 Jan 2027 are days off, then a weekend
    (msk(2026, 12, 30, 16, 0), 4, "wh", msk(2027, 1, 11, 11, 0)),
    (msk(2026, 12, 30, 10, 0), 1, "wd", msk(2027, 1, 11, 10, 0)),
    (msk(2027, 1, 11, 10, 0), -4, "wh", msk(2026, 12, 30, 15, 0)),
    (msk(2027, 1, 11, 10, 0), -1, "wd", msk(2026, 12, 30, 10, 0)),
    (msk(2027, 1, 4, 12, 0), 1, "wh", msk(2027, 1, 11, 10, 0)),      # on a holiday: the next working morning
])
def test_working_hours_and_days_in_moscow_with_russian_holidays(start: datetime, amount: int, unit: str,
                                                                expected: datetime) -> None:
    assert shift(start, amount, unit, MOSCOW) == expected


def test_without_a_holiday_country_new_year_holidays_are_working_days() -> None:
    assert shift(msk(2026, 12, 30, 16, 0), 4, "wh", MOSCOW_NO_HOLIDAYS) == msk(2026, 12, 31, 11, 0)
    assert shift(msk(2026, 12, 30, 10, 0), 1, "wd", MOSCOW_NO_HOLIDAYS) == msk(2026, 12, 31, 10, 0)


def test_the_default_calendar_is_monday_to_friday_nine_to_six_utc() -> None:
    friday = datetime(2030, 1, 11, 17, 0, tzinfo=UTC)
    assert shift(friday, 2, "wh") == datetime(2030, 1, 14, 10, 0, tzinfo=UTC)
    assert shift(friday, 1, "wd") == friday + timedelta(days=3)
    assert Calendar.of(None) is DEFAULT
    naive = datetime(2030, 1, 11, 17, 0)  # SQLite hands back naive UTC: the answer stays naive UTC
    assert shift(naive, 2, "wh") == datetime(2030, 1, 14, 10, 0)


def test_other_weeks_and_zones() -> None:
    week = Calendar.of(WorkingHours("sun-thu", "08:00", "17:00", "Asia/Dubai"))  # UTC+4, Friday and Saturday off
    thursday = datetime(2030, 1, 10, 12, 0, tzinfo=UTC)  # 16:00 in Dubai
    assert shift(thursday, 2, "wh", week) == datetime(2030, 1, 13, 5, 0, tzinfo=UTC)  # Sunday 09:00 in Dubai
    saturday_too = Calendar.of(WorkingHours("mon-thu, sat", "10:00", "14:00"))
    assert shift(datetime(2030, 1, 10, 13, 0, tzinfo=UTC), 2, "wh", saturday_too) == datetime(
        2030, 1, 12, 11, 0, tzinfo=UTC)  # Thursday 13–14, then Saturday (Friday is off)


def test_due_time_counts_by_the_process_calendar() -> None:
    created = Trigger(id="t", on="created", do=(), after="4wh")
    assert due_time(created, {}, msk(2026, 12, 30, 16, 0), MOSCOW) == msk(2027, 1, 11, 11, 0)
    before = Trigger(id="t", on="scheduled", do=(), at="due - 4wh")
    now = msk(2026, 12, 1, 12, 0)
    assert due_time(before, {"due": date(2027, 1, 11)}, now, MOSCOW) == msk(2026, 12, 30, 14, 0)
    on_the_day = Trigger(id="t", on="scheduled", do=(), at="due")
    assert due_time(on_the_day, {"due": date(2027, 1, 11)}, now, MOSCOW) == msk(2027, 1, 11, 9, 0)


@pytest.mark.parametrize(("days", "problem"), [
    ("mon-fry", "unknown day `fry`"),
    ("mon-mon", "the day range `mon-mon` starts and ends on the same day"),
    ("mon-fri, wed", "`wed` is named twice in `mon-fri, wed`"),
])
def test_bad_days_say_what_is_wrong(days: str, problem: str) -> None:
    with pytest.raises(CalendarError, match=problem):
        parse_days(days)


def test_days_lists_and_ranges() -> None:
    assert parse_days("mon-fri") == frozenset(range(5))
    assert parse_days("mon-thu, sat") == frozenset({0, 1, 2, 3, 5})
    assert parse_days("sun") == frozenset({6})
    assert parse_days("fri-mon") == frozenset({4, 5, 6, 0})  # a range may wrap past Sunday


@pytest.mark.parametrize(("hours", "problem"), [
    (WorkingHours("mon-fri", "18:00", "09:00"), r"ends \(09:00\) before it starts \(18:00\)"),
    (WorkingHours("mon-fri", "09:00", "18:00", "Mars/Olympus"), "unknown timezone `Mars/Olympus`"),
])
def test_a_calendar_that_cannot_work_is_refused(hours: WorkingHours, problem: str) -> None:
    with pytest.raises(CalendarError, match=problem):
        Calendar.of(hours)


def test_an_unknown_country_is_refused_when_its_holidays_are_first_needed() -> None:
    """Validation refuses it (tests/definitions/invalid/working-hours-unknown-country); the runtime does
    not import the holidays library to check again when it builds the calendar."""
    calendar = Calendar.of(WorkingHours("mon-fri", "09:00", "18:00", "UTC", "XX"))
    with pytest.raises(CalendarError, match="unknown country `XX`"):
        calendar.is_working_day(date(2026, 1, 5))
