"""Views of a process by a date field: deadlines ("Сроки": overdue, today, this week, next week,
later, no date) and a month calendar. Every rule of them lives here — which field is the date, which
group a date falls in, which date a group sets — so the board, the API and tests share one copy.

Items are read through `Engine.list` (the read rights, hidden fields and filters of the list view),
changed through `Engine.update` (update rights, read-only and required fields, validation), and
"today" is the Engine's clock in the process's time zone (the board knows no per-user zone yet: the
process's `working_hours.timezone`, else UTC).
"""

from __future__ import annotations

from calendar import monthrange
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import Any
from zoneinfo import ZoneInfo

from smartflow import errors
from smartflow.i18n import Name, joined, tr
from smartflow.records import record
from smartflow.services.engine import Engine

GROUPS = ("overdue", "today", "this_week", "next_week", "later", "none")
DATE_TYPES = ("date", "datetime")
DEADLINE_FIELD = "deadline"  # the field a process names so is its deadline
GROUP_LIMIT = 50  # cards a deadlines group shows
CALENDAR_LIMIT = 1000  # items a calendar month shows (one query)
END_OF_DAY = time(23, 59)  # the time a group sets on a datetime field that had none


@record(frozen=True)
class Week:
    """The weeks around today, Monday to Sunday (as a Russian calendar and Bitrix24 count them)."""

    today: date

    @property
    def end_of_week(self) -> date:
        return self.today + timedelta(days=6 - self.today.weekday())

    @property
    def end_of_next_week(self) -> date:
        return self.end_of_week + timedelta(days=7)

    @property
    def end_of_week_after_next(self) -> date:
        return self.end_of_week + timedelta(days=14)

    def group_of(self, day: date | None) -> str:
        """The deadlines group of a day (None: no date)."""
        if day is None:
            return "none"
        if day < self.today:
            return "overdue"
        if day == self.today:
            return "today"
        if day <= self.end_of_week:
            return "this_week"
        if day <= self.end_of_next_week:
            return "next_week"
        return "later"

    def sets(self, group: str) -> date | None:
        """The day a card dropped into group gets, as Bitrix24 does: overdue and today → today, this week
        → the end of this week (Sunday; on a Sunday that is today), next week → the end of next week,
        later → the end of the week after next (the first week "later" holds), no date → cleared."""
        days: dict[str, date | None] = {"overdue": self.today, "today": self.today, "this_week": self.end_of_week,
                                        "next_week": self.end_of_next_week, "later": self.end_of_week_after_next,
                                        "none": None}
        if group not in days:
            raise errors.InvalidValue(tr("there is no deadlines group {group}", group=Name(group)),
                                      f"use one of: {', '.join(GROUPS)}", field="group")
        return days[group]

    def bounds(self, group: str) -> tuple[date | None, date | None]:
        """The days of a group as [from, to) (None: open); the group `none` has no bounds."""
        tomorrow = self.today + timedelta(days=1)
        return {"overdue": (None, self.today), "today": (self.today, tomorrow),
                "this_week": (tomorrow, self.end_of_week + timedelta(days=1)),
                "next_week": (self.end_of_week + timedelta(days=1), self.end_of_next_week + timedelta(days=1)),
                "later": (self.end_of_next_week + timedelta(days=1), None), "none": (None, None)}[group]


def zone_of(crm: Engine, process: str) -> tzinfo:
    """The time zone a process's days are counted in: its working hours' zone, else UTC."""
    hours = getattr(crm.process(process), "working_hours", None)
    name = getattr(hours, "timezone", None) if hours is not None else None
    return ZoneInfo(name) if name and name != "UTC" else UTC


def local_today(crm: Engine, zone: tzinfo) -> date:
    """Today by the Engine's clock (a fake one in tests) in zone."""
    return crm.clock().astimezone(zone).date()


PERIODS = ("this_month", "last_month", "last_30_days", "this_year")


def periods(crm: Engine, process: str) -> dict[str, tuple[date, date]]:
    """The analytics page's ready periods (first and last day, both counted in), by today in the process's
    time zone: this month so far, last month, the last 30 days, this year so far."""
    today = local_today(crm, zone_of(crm, process))
    first = today.replace(day=1)
    last_month_end = first - timedelta(days=1)
    return {"this_month": (first, today), "last_month": (last_month_end.replace(day=1), last_month_end),
            "last_30_days": (today - timedelta(days=29), today), "this_year": (today.replace(month=1, day=1), today)}


def date_fields(described: dict[str, Any]) -> list[dict[str, Any]]:
    """The date and date-time fields of a described process the user sees (one value each)."""
    return [f for f in described["fields"] if f["type"] in DATE_TYPES and not f.get("multiple")]


def _process(described: dict[str, Any]) -> Name:
    """A described process as a message names it: its id in English, its title for people."""
    return Name(described["id"], described.get("title"), quote="")


def chosen_field(described: dict[str, Any], wanted: str | None = None) -> dict[str, Any]:
    """The field a view groups by: wanted, else the one named `deadline`, else the first date field."""
    fields = date_fields(described)
    if wanted:
        for found in fields:
            if found["id"] == wanted:
                return found
        seen = {f["id"]: f.get("title") for f in described["fields"]}  # a field of another type, by its title
        raise errors.InvalidValue(tr("{field} is not a date field of {process} you may see",
                                     field=Name(wanted, seen.get(wanted)), process=_process(described)),
                                  tr("choose one of: {fields}", fields=joined(Name(f["id"], f.get("title"))
                                                                              for f in fields) if fields else "-"),
                                  field="field")
    for found in fields:
        if found["id"] == DEADLINE_FIELD:
            return found
    if not fields:
        raise errors.NotFound(tr("{process} has no date field you may see", process=_process(described)),
                              tr("the deadlines and calendar views need a date or date-time field"))
    return fields[0]


def _bound(day: date, kind: str, zone: tzinfo) -> str:
    """A day's start as the list filter reads it: the day, or its local midnight for a date-time field."""
    if kind == "date":
        return day.isoformat()
    return datetime.combine(day, time(), zone).astimezone(UTC).isoformat()


def _range(field_id: str, kind: str, low: date | None, high: date | None, zone: tzinfo) -> list[str]:
    where = []
    if low is not None:
        where.append(f"{field_id} >= {_bound(low, kind, zone)}")
    if high is not None:
        where.append(f"{field_id} < {_bound(high, kind, zone)}")
    return where


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def local_day(value: Any, zone: tzinfo) -> date | None:
    """The day a date or date-time value falls on in zone."""
    if value is None:
        return None
    if isinstance(value, datetime):
        return _aware(value).astimezone(zone).date()
    return value if isinstance(value, date) else None


def _open_stages(described: dict[str, Any], pipeline: str | None) -> list[str]:
    return [s["id"] for p in described["pipelines"] if pipeline in (None, p["id"])
            for s in p["stages"] if s["semantic"] not in ("success", "failure")]


def _scope(described: dict[str, Any], pipeline: str | None) -> list[str]:
    if pipeline is None:
        return []
    if pipeline not in [p["id"] for p in described["pipelines"]]:
        raise errors.NotFound(tr("{process} has no pipeline {pipeline}", process=_process(described),
                                 pipeline=Name(pipeline)), tr("choose one of the board's pipelines"))
    return [f"pipeline = {pipeline}"]


def deadlines(crm: Engine, process: str, *, field: str | None = None, pipeline: str | None = None,
              columns: tuple[str, ...] = ("title",), limit: int = GROUP_LIMIT,
              where: tuple[str, ...] = (), search: str | None = None) -> dict[str, Any]:
    """The open items (not in a success or failure stage) the user may read, grouped by the day of a
    date field: per group its count, the day a card dropped into it gets, and its first `limit` items
    by that date (a query per group, and a count only for a group that fills its page). where and
    search narrow the items as the list view's filters do."""
    described = crm.describe(process)
    chosen = chosen_field(described, field)
    zone = zone_of(crm, process)
    week = Week(local_today(crm, zone))
    base = [*_scope(described, pipeline), *where]
    stages = _open_stages(described, pipeline)
    if stages:
        base.append(f"stage in {','.join(stages)}")
    wanted = tuple(dict.fromkeys((*columns, chosen["id"])))
    groups = []
    for group in GROUPS:
        if not stages:
            found: list[dict[str, Any]] = []
            where: list[str] = []
        else:
            where = [*base, f"{chosen['id']} is empty"] if group == "none" else \
                [*base, *_range(chosen["id"], chosen["type"], *week.bounds(group), zone)]
            found = crm.list(process, where=tuple(where), search=search, sort=f"{chosen['id']}:asc", limit=limit,
                             columns=wanted)
        count = len(found) if len(found) < limit else crm.count(process, where, search)
        groups.append({"id": group, "count": count, "sets": week.sets(group), "items": found})
    return {"process": process, "field": chosen["id"], "type": chosen["type"], "pipeline": pipeline,
            "today": week.today, "timezone": str(zone), "groups": groups}


def deadline_value(kind: str, day: date | None, current: Any, zone: tzinfo) -> date | datetime | None:
    """What a field gets for a day: the day itself, or for a date-time field that day at the time of day
    it held (else at 23:59), in zone."""
    if day is None or kind == "date":
        return day
    moment = current.astimezone(zone).timetz().replace(tzinfo=None) if isinstance(current, datetime) else END_OF_DAY
    return datetime.combine(day, moment, zone).astimezone(UTC)


def set_deadline(crm: Engine, process: str, item_id: int, group: str, *, field: str | None = None
                 ) -> dict[str, Any]:
    """Give an item the day its new deadlines group stands for (Week.sets), through `Engine.update`:
    rights, read-only and required fields and validation hold as for any change. The item after."""
    described = crm.describe(process)
    chosen = chosen_field(described, field)
    zone = zone_of(crm, process)
    day = Week(local_today(crm, zone)).sets(group)
    current = crm.get(process, item_id).get(chosen["id"])
    crm.update(process, item_id, {chosen["id"]: deadline_value(chosen["type"], day, current, zone)})
    return crm.get(process, item_id)


def month_start(text: str | None, today: date) -> date:
    """The first day of a month written YYYY-MM (default: this month)."""
    if not text:
        return today.replace(day=1)
    try:
        year, month = (int(part) for part in text.split("-"))
        if not 1 < year < 9999:  # the grid reaches into the months around it
            raise ValueError(text)
        return date(year, month, 1)
    except ValueError:
        raise errors.InvalidValue(tr("not a month: {value}", value=repr(text)),
                                  tr("write it as YYYY-MM, such as 2026-12"), field="month") from None


def calendar(crm: Engine, process: str, *, month: str | None = None, field: str | None = None,
             pipeline: str | None = None, columns: tuple[str, ...] = ("title", "stage"),
             limit: int = CALENDAR_LIMIT, where: tuple[str, ...] = (), search: str | None = None) -> dict[str, Any]:
    """A month as weeks (Monday first) of days, each with the items the user may read (and where and
    search leave) whose date field falls on it — one query for the whole grid, the leading and trailing
    days of the weeks included."""
    described = crm.describe(process)
    chosen = chosen_field(described, field)
    zone = zone_of(crm, process)
    today = local_today(crm, zone)
    first = month_start(month, today)
    last = first.replace(day=monthrange(first.year, first.month)[1])
    start = first - timedelta(days=first.weekday())
    end = last + timedelta(days=6 - last.weekday())
    where = (*_scope(described, pipeline), *where,
             *_range(chosen["id"], chosen["type"], start, end + timedelta(days=1), zone))
    found = crm.list(process, where=where, search=search, sort=f"{chosen['id']}:asc", limit=limit,
                     columns=tuple(dict.fromkeys((*columns, chosen["id"]))))
    by_day: dict[date, list[dict[str, Any]]] = {}
    times: dict[int, str] = {}  # a date-time's local time of day, by item id
    for item in found:
        value = item.get(chosen["id"])
        day = local_day(value, zone)
        if day is not None:
            by_day.setdefault(day, []).append(item)
        if isinstance(value, datetime):
            times[item["id"]] = _aware(value).astimezone(zone).strftime("%H:%M")
    weeks = []
    day = start
    while day <= end:
        weeks.append([{"date": day + timedelta(days=n), "in_month": (day + timedelta(days=n)).month == first.month,
                       "today": day + timedelta(days=n) == today, "items": by_day.get(day + timedelta(days=n), [])}
                      for n in range(7)])
        day += timedelta(days=7)
    following = last + timedelta(days=1)
    previous = (first - timedelta(days=1)).replace(day=1)
    return {"process": process, "field": chosen["id"], "type": chosen["type"], "pipeline": pipeline,
            "month": first.strftime("%Y-%m"), "previous": previous.strftime("%Y-%m"),
            "next": following.strftime("%Y-%m"), "today": today, "timezone": str(zone), "weeks": weeks, "times": times,
            "complete": len(found) < limit}
