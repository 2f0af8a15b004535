"""Every trigger kind, on SQLite and PostgreSQL, with time on a fake clock (no test sleeps).

Synchronous triggers (`created`, `updated`, `field_changed` with and without `to`, `stage_entered`,
`stage_left`, `when`, `pipeline`) run in the transaction of the change, and history names them
(`via` = `trigger:<process>.<trigger>`). Delayed ones (`after:` in m, h, d, w and working days `wd`;
`at:` relative to a date or datetime field; `scheduled`) become jobs the worker runs when due; a job
is dropped when its item left the stage, when its `when` no longer holds, or when the item is gone,
and a `scheduled` trigger's job moves when its date field changes.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from smartflow.automation.compiled import due_time, shift
from smartflow.definitions.model import Trigger
from tests.automation.support import ROLES, Auto, process
from tests.runtime.support import module_url

__all__ = ["module_url"]  # the fixture, imported for pytest


def utc(moment: datetime) -> datetime:
    """A stored time as an aware UTC datetime (SQLite keeps no zone)."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


# ---- time arithmetic, without a database ----------------------------------------------------------

MONDAY = datetime(2030, 1, 7, 10, 0, tzinfo=UTC)
FRIDAY = MONDAY + timedelta(days=4)
SATURDAY = MONDAY + timedelta(days=5)


@pytest.mark.parametrize(("start", "amount", "unit", "expected"), [
    (MONDAY, 90, "m", MONDAY + timedelta(minutes=90)),
    (MONDAY, 3, "h", MONDAY + timedelta(hours=3)),
    (MONDAY, 2, "d", MONDAY + timedelta(days=2)),
    (MONDAY, 1, "w", MONDAY + timedelta(weeks=1)),
    (MONDAY, -2, "d", MONDAY - timedelta(days=2)),
    (MONDAY, 2, "wd", MONDAY + timedelta(days=2)),            # Wednesday
    (FRIDAY, 1, "wd", FRIDAY + timedelta(days=3)),            # Friday + 1 working day = Monday
    (FRIDAY, 2, "wd", FRIDAY + timedelta(days=4)),            # … + 2 = Tuesday
    (SATURDAY, 1, "wd", SATURDAY + timedelta(days=2)),        # from a Saturday: Monday
    (MONDAY, -1, "wd", MONDAY - timedelta(days=3)),           # Monday - 1 working day = Friday
    (MONDAY, -2, "wd", MONDAY - timedelta(days=4)),           # Thursday
    (MONDAY, 5, "wd", MONDAY + timedelta(weeks=1)),
    (MONDAY, 10, "wd", MONDAY + timedelta(weeks=2)),
])
def test_shift(start: datetime, amount: int, unit: str, expected: datetime) -> None:
    assert shift(start, amount, unit) == expected


def _trigger(**given: Any) -> Trigger:
    return Trigger(id="t", on=given.pop("on", "scheduled"), do=(), **given)


def test_due_time_after_counts_from_now() -> None:
    assert due_time(_trigger(on="created", after="2d"), {}, MONDAY) == MONDAY + timedelta(days=2)
    assert due_time(_trigger(on="created", after="3wd"), {}, FRIDAY) == FRIDAY + timedelta(days=5)


def test_due_time_at_a_date_field_is_that_morning_with_the_offset() -> None:
    item = {"due": date(2030, 2, 20)}  # a Wednesday
    assert due_time(_trigger(at="due"), item, MONDAY) == datetime(2030, 2, 20, 9, 0, tzinfo=UTC)
    assert due_time(_trigger(at="due - 2d"), item, MONDAY) == datetime(2030, 2, 18, 9, 0, tzinfo=UTC)
    assert due_time(_trigger(at="due + 1w"), item, MONDAY) == datetime(2030, 2, 27, 9, 0, tzinfo=UTC)
    assert due_time(_trigger(at="due - 3wd"), item, MONDAY) == datetime(2030, 2, 15, 9, 0, tzinfo=UTC)  # Friday


def test_due_time_at_a_datetime_field_keeps_its_time() -> None:
    item = {"meet": datetime(2030, 2, 20, 15, 30, tzinfo=UTC)}
    assert due_time(_trigger(at="meet - 90m"), item, MONDAY) == datetime(2030, 2, 20, 14, 0, tzinfo=UTC)


def test_due_time_in_the_past_is_now_and_an_empty_field_is_never() -> None:
    assert due_time(_trigger(at="due - 2d"), {"due": date(2030, 1, 8)}, MONDAY) == MONDAY
    assert due_time(_trigger(at="due - 2d"), {"due": None}, MONDAY) is None


# ---- the processes --------------------------------------------------------------------------------

FIELDS: dict[str, Any] = {
    "note": {"type": "text"},
    "priority": {"type": "enum", "options": [{"id": "low", "title": "Low"}, {"id": "high", "title": "High"}]},
    "flag": {"type": "boolean"},
    "amount": {"type": "integer"},
}

SYNC = process("tk", FIELDS, [
    {"id": "t_created", "on": "created", "do": [{"comment": "created {{ title }} by {{ user }}"}]},
    {"id": "t_updated", "on": "updated", "do": [{"comment": "updated to version {{ version }}"}]},
    {"id": "t_note", "on": "field_changed", "field": "note", "do": [{"comment": "note is now {{ note }}"}]},
    {"id": "t_high", "on": "field_changed", "field": "priority", "to": "high", "do": [{"set": {"flag": True}}]},
    {"id": "t_enter", "on": "stage_entered", "stage": "work", "do": [{"comment": "entered work"}]},
    {"id": "t_leave", "on": "stage_left", "stage": "work", "do": [{"comment": "left work"}]},
    {"id": "t_big", "on": "created", "when": "amount and amount > 100", "do": [{"comment": "big: {{ amount }}"}]},
    {"id": "t_vip", "on": "created", "pipeline": "vip", "do": [{"comment": "a vip item"}]},
], "new", "work", "review")
SYNC["pipelines"]["vip"] = {"title": "VIP", "stages": {
    "open": {"title": "Open"}, "closed": {"title": "Closed", "semantic": "success"},
    "dropped": {"title": "Dropped", "semantic": "failure"}}}

DELAYED = process("dl", FIELDS, [
    {"id": "d_after", "on": "stage_entered", "stage": "work", "after": "2d", "do": [{"comment": "two days in work"}]},
    {"id": "d_when", "on": "stage_entered", "stage": "work", "after": "3h", "when": "not flag",
     "do": [{"comment": "stale: still not flagged"}]},
    {"id": "d_wd", "on": "stage_entered", "stage": "review", "after": "2wd",
     "do": [{"comment": "two working days in review"}]},
    {"id": "d_minutes", "on": "field_changed", "field": "note", "after": "90m", "do": [{"comment": "note settled"}]},
    {"id": "d_week", "on": "field_changed", "field": "priority", "to": "high", "after": "1w",
     "do": [{"set": {"amount": 1}}]},
], "new", "work", "review")

SCHEDULED = process("sc", {"due": {"type": "date"}, "ship": {"type": "date"}, "meet": {"type": "datetime"}}, [
    {"id": "s_due", "on": "scheduled", "at": "due - 2d", "do": [{"comment": "due on {{ due }}"}]},
    {"id": "s_ship", "on": "scheduled", "at": "ship - 1wd", "do": [{"comment": "ships tomorrow (a working day)"}]},
    {"id": "s_meet", "on": "scheduled", "at": "meet - 2h", "do": [{"comment": "meeting in two hours"}]},
    {"id": "s_work", "on": "stage_entered", "stage": "work", "at": "due - 1d",
     "do": [{"comment": "due tomorrow and still in work"}]},
], "new", "work")


class Triggers(Auto):
    def next_weekday(self, weekday: int, hour: int = 10) -> datetime:
        """Move the clock forward to the next given weekday (0 = Monday) at hour:00."""
        now = self.clock.now
        days = (weekday - now.weekday()) % 7 or 7
        self.clock.now = (now + timedelta(days=days)).replace(hour=hour, minute=0, second=0, microsecond=0)
        return self.clock.now

    def job(self, process_id: str, item_id: int, trigger: str) -> dict[str, Any]:
        """The latest job of one trigger for one item."""
        return [j for j in self.jobs(process_id, item_id) if j["trigger"] == trigger][-1]

    def status(self, process_id: str, item_id: int, trigger: str) -> str:
        return str(self.job(process_id, item_id, trigger)["status"])

    def via(self, process_id: str, item_id: int, kind: str = "comment") -> list[tuple[str, Any]]:
        return [(r["via"], r["new"]) for r in self.history(process_id, item_id) if r["kind"] == kind]


@pytest.fixture(scope="module")
def db(module_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Triggers]:
    auto = Triggers(module_url, tmp_path_factory.mktemp("defs"), ROLES, SYNC, DELAYED, SCHEDULED)
    auto.admin.add_user("ivanova", "Анна Иванова", ["agent"])
    yield auto
    auto.close()


# ---- synchronous triggers -----------------------------------------------------------------------

def test_created_runs_once_in_the_same_transaction_and_history_names_it(db: Triggers) -> None:
    item = db.as_user("ivanova").create("tk", {"title": "Бетон"})
    assert db.via("tk", item) == [("trigger:tk.t_created", "created Бетон by ivanova")]
    history = db.history("tk", item)
    assert [h["kind"] for h in history] == ["create", "comment"]
    assert history[1]["actor_id"] is None  # the trigger's own identity, not the person's
    assert db.admin.history("tk", item)[1]["who"] == "trigger:tk.t_created"


def test_updated_and_field_changed_without_to(db: Triggers) -> None:
    item = db.admin.create("tk", {"title": "Кирпич"})
    db.admin.update("tk", item, {"note": "первая"})
    db.admin.update("tk", item, {"amount": 5})  # not the note: t_note stays quiet
    assert [c for _, c in db.via("tk", item)] == [
        "created Кирпич by admin", "updated to version 2", "note is now первая", "updated to version 3"]
    assert db.admin.update("tk", item, {"amount": 5}) == {}  # no change: no event
    assert len(db.via("tk", item)) == 4


def test_field_changed_to_a_value_fires_only_on_that_value(db: Triggers) -> None:
    item = db.admin.create("tk", {"title": "Песок"})
    db.admin.update("tk", item, {"priority": "low"})
    assert db.admin.get("tk", item)["flag"] is None
    db.admin.update("tk", item, {"priority": "high"})
    assert db.admin.get("tk", item)["flag"] is True
    flag = [h for h in db.history("tk", item) if h["field"] == "flag"]
    assert [(h["via"], h["old"], h["new"]) for h in flag] == [("trigger:tk.t_high", None, True)]


def test_stage_entered_and_stage_left(db: Triggers) -> None:
    item = db.admin.create("tk", {"title": "Щебень"})
    db.admin.move("tk", item, "work")
    assert db.via("tk", item)[-1] == ("trigger:tk.t_enter", "entered work")
    db.admin.move("tk", item, "review")
    assert db.via("tk", item)[-1] == ("trigger:tk.t_leave", "left work")
    db.admin.move("tk", item, "done")
    assert [c for _, c in db.via("tk", item)] == ["created Щебень by admin", "entered work", "left work"]


def test_when_condition_decides(db: Triggers) -> None:
    small = db.admin.create("tk", {"title": "Мелочь", "amount": 50})
    big = db.admin.create("tk", {"title": "Крупная", "amount": 500})
    assert "big: 50" not in [c for _, c in db.via("tk", small)]
    assert ("trigger:tk.t_big", "big: 500") in db.via("tk", big)


def test_pipeline_limits_a_trigger(db: Triggers) -> None:
    vip = db.admin.create("tk", {"title": "Важный"}, pipeline="vip")
    plain = db.admin.create("tk", {"title": "Обычный"})
    assert ("trigger:tk.t_vip", "a vip item") in db.via("tk", vip)
    assert all(via != "trigger:tk.t_vip" for via, _ in db.via("tk", plain))


# ---- delayed triggers: after ---------------------------------------------------------------------


def test_after_runs_when_due_and_not_before(db: Triggers) -> None:
    db.drain()
    start = db.next_weekday(0)
    item = db.admin.create("dl", {"title": "Ждёт", "flag": True})
    db.admin.move("dl", item, "work")
    job = db.job("dl", item, "d_after")
    assert (job["status"], utc(job["due_at"])) == ("pending", start + timedelta(days=2))
    assert db.comments("dl", item) == []  # nothing ran at the move itself
    db.clock.advance(days=2, seconds=-1)
    db.drain()
    assert db.status("dl", item, "d_after") == "pending"
    db.clock.advance(seconds=1)
    db.drain()
    assert db.via("dl", item) == [("trigger:dl.d_after", "two days in work")]
    ran = next(h for h in db.admin.history("dl", item) if h["kind"] == "comment")
    assert utc(ran["at"]) == start + timedelta(days=2)  # written at the (fake) time the worker ran it
    assert db.status("dl", item, "d_after") == "done"
    assert db.status("dl", item, "d_when") == "dropped"  # flag is set
    db.drain()
    assert db.comments("dl", item) == ["two days in work"]  # done once


def test_after_in_minutes_and_weeks(db: Triggers) -> None:
    db.drain()
    start = db.clock.now
    item = db.admin.create("dl", {"title": "Минуты и недели"})
    db.admin.update("dl", item, {"note": "x", "priority": "high"})
    due = {j["trigger"]: utc(j["due_at"]) for j in db.jobs("dl", item)}
    assert due == {"d_minutes": start + timedelta(minutes=90), "d_week": start + timedelta(weeks=1)}
    db.clock.advance(minutes=90)
    db.drain()
    assert (db.status("dl", item, "d_minutes"), db.status("dl", item, "d_week")) == ("done", "pending")
    db.clock.advance(weeks=1)
    db.drain()
    assert db.status("dl", item, "d_week") == "done"
    assert db.admin.get("dl", item)["amount"] == 1
    assert [h["via"] for h in db.history("dl", item) if h["field"] == "amount"] == ["trigger:dl.d_week"]


def test_after_in_working_days_skips_the_weekend(db: Triggers) -> None:
    db.drain()
    friday = db.next_weekday(4)
    item = db.admin.create("dl", {"title": "В пятницу"})
    db.admin.move("dl", item, "review")
    assert utc(db.job("dl", item, "d_wd")["due_at"]) == friday + timedelta(days=4)  # Tuesday, not Sunday
    db.clock.advance(days=2)  # Sunday: two calendar days, no working day yet
    db.drain()
    assert db.status("dl", item, "d_wd") == "pending"
    db.clock.advance(days=2)
    db.drain()
    assert db.status("dl", item, "d_wd") == "done"
    assert db.comments("dl", item) == ["two working days in review"]


def test_job_is_dropped_when_the_item_left_the_stage(db: Triggers) -> None:
    db.drain()
    item = db.admin.create("dl", {"title": "Ушла", "flag": True})
    db.admin.move("dl", item, "work")
    db.clock.advance(days=1)
    db.admin.move("dl", item, "review")
    db.clock.advance(days=1)
    db.drain()
    job = db.job("dl", item, "d_after")
    assert job["status"] == "dropped"
    assert job["last_error"] == "the item left stage `work` (it is in `review`)"
    assert "two days in work" not in db.comments("dl", item)


def test_job_is_dropped_when_its_condition_no_longer_holds(db: Triggers) -> None:
    db.drain()
    held = db.admin.create("dl", {"title": "Не отмечена"})
    changed = db.admin.create("dl", {"title": "Отмечена потом"})
    db.admin.move("dl", held, "work")
    db.admin.move("dl", changed, "work")
    db.admin.update("dl", changed, {"flag": True})
    db.clock.advance(hours=3)
    db.drain()
    job = db.job("dl", changed, "d_when")
    assert (job["status"], job["last_error"]) == ("dropped", "the condition `not flag` no longer holds")
    assert db.comments("dl", changed) == []
    assert db.comments("dl", held) == ["stale: still not flagged"]


def test_job_is_dropped_when_the_item_was_deleted(db: Triggers) -> None:
    db.drain()
    item = db.admin.create("dl", {"title": "Удалят"})
    db.admin.move("dl", item, "work")
    db.admin.delete("dl", item)
    db.clock.advance(days=3)
    db.drain()
    assert {j["status"] for j in db.jobs("dl", item)} == {"dropped"}
    assert {j["last_error"] for j in db.jobs("dl", item)} == {"the item was deleted"}


# ---- delayed triggers: at, scheduled ---------------------------------------------------------------


def _morning(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, 9, 0, tzinfo=UTC)


def test_at_due_date_minus_two_days(db: Triggers) -> None:
    db.drain()
    start = db.next_weekday(0)
    due = (start + timedelta(days=10)).date()
    item = db.admin.create("sc", {"title": "Поставка", "due": due.isoformat()}, typed_text=True)
    job = db.job("sc", item, "s_due")
    assert (job["status"], utc(job["due_at"])) == ("pending", _morning(due) - timedelta(days=2))
    db.clock.now = _morning(due) - timedelta(days=2, seconds=1)
    db.drain()
    assert db.status("sc", item, "s_due") == "pending"
    db.clock.advance(seconds=1)
    db.drain()
    assert db.status("sc", item, "s_due") == "done"
    assert db.via("sc", item) == [("trigger:sc.s_due", f"due on {due.isoformat()}")]


def test_at_in_working_days_skips_the_weekend(db: Triggers) -> None:
    db.drain()
    start = db.next_weekday(0)
    monday = (start + timedelta(days=7)).date()
    item = db.admin.create("sc", {"title": "Отгрузка", "ship": monday.isoformat()}, typed_text=True)
    assert utc(db.job("sc", item, "s_ship")["due_at"]) == _morning(monday) - timedelta(days=3)  # the Friday before


def test_at_a_datetime_field(db: Triggers) -> None:
    db.drain()
    meet = db.clock.now + timedelta(days=3, hours=5)
    item = db.admin.create("sc", {"title": "Встреча", "meet": meet})
    assert utc(db.job("sc", item, "s_meet")["due_at"]) == meet - timedelta(hours=2)


def test_scheduled_reschedules_when_its_date_changes(db: Triggers) -> None:
    db.drain()
    start = db.clock.now
    first, second = (start + timedelta(days=10)).date(), (start + timedelta(days=20)).date()
    item = db.admin.create("sc", {"title": "Перенос", "due": first.isoformat()}, typed_text=True)
    db.admin.update("sc", item, {"due": second.isoformat()}, typed_text=True)
    jobs = [j for j in db.jobs("sc", item) if j["trigger"] == "s_due"]
    assert [(j["status"], j["last_error"], utc(j["due_at"])) for j in jobs] == [
        ("dropped", "rescheduled", _morning(first) - timedelta(days=2)),
        ("pending", None, _morning(second) - timedelta(days=2))]
    db.clock.now = _morning(first)  # the old time passes: nothing runs
    db.drain()
    assert db.comments("sc", item) == []
    db.admin.update("sc", item, {"ship": None})  # another field: no reschedule
    assert len([j for j in db.jobs("sc", item) if j["trigger"] == "s_due"]) == 2
    db.clock.now = _morning(second) - timedelta(days=2)
    db.drain()
    assert db.status("sc", item, "s_due") == "done"
    assert db.comments("sc", item) == [f"due on {second.isoformat()}"]


def test_scheduled_date_emptied_cancels_the_job(db: Triggers) -> None:
    db.drain()
    due = (db.clock.now + timedelta(days=10)).date()
    item = db.admin.create("sc", {"title": "Отмена", "due": due.isoformat()}, typed_text=True)
    db.admin.update("sc", item, {"due": None})
    assert [(j["status"], j["last_error"]) for j in db.jobs("sc", item) if j["trigger"] == "s_due"] == [
        ("dropped", "rescheduled")]
    db.clock.now = _morning(due)
    db.drain()
    assert db.comments("sc", item) == []


def test_scheduled_without_a_date_schedules_nothing_and_a_past_date_runs_at_once(db: Triggers) -> None:
    db.drain()
    empty = db.admin.create("sc", {"title": "Без даты"})
    assert db.jobs("sc", empty) == []
    past = (db.clock.now - timedelta(days=30)).date()
    late = db.admin.create("sc", {"title": "Просрочена", "due": past.isoformat()}, typed_text=True)
    assert utc(db.jobs("sc", late)[0]["due_at"]) == db.clock.now
    db.drain()
    assert db.comments("sc", late) == [f"due on {past.isoformat()}"]


def test_stage_entered_at_a_date_is_dropped_when_the_item_moved_on(db: Triggers) -> None:
    db.drain()
    due = (db.clock.now + timedelta(days=5)).date()
    stays = db.admin.create("sc", {"title": "Осталась", "due": due.isoformat()}, typed_text=True)
    moves = db.admin.create("sc", {"title": "Ушла", "due": due.isoformat()}, typed_text=True)
    for item in (stays, moves):
        db.admin.move("sc", item, "work")
    db.admin.move("sc", moves, "done")
    db.clock.now = _morning(due) - timedelta(days=1)
    db.drain()
    assert "due tomorrow and still in work" in db.comments("sc", stays)
    assert "due tomorrow and still in work" not in db.comments("sc", moves)
    assert db.status("sc", moves, "s_work") == "dropped"


def test_job_is_dropped_when_the_item_left_the_stage_and_came_back(db: Triggers) -> None:
    db.drain()
    item = db.admin.create("dl", {"title": "Вернулась", "flag": True})
    db.admin.move("dl", item, "work")
    db.clock.advance(days=1)
    db.admin.move("dl", item, "review")
    db.admin.move("dl", item, "work")  # back: its two days start again
    db.clock.advance(days=1)
    db.drain()
    first, second = [j for j in db.jobs("dl", item) if j["trigger"] == "d_after"][-2:]  # SQLite reuses ids
    assert (first["status"], first["last_error"]) == (
        "dropped", "the item left stage `work` and came back; a newer job waits")
    assert second["status"] == "pending"
    assert db.comments("dl", item) == []
    db.clock.advance(days=1)
    db.drain()
    assert db.comments("dl", item) == ["two days in work"]


def test_pending_jobs_of_an_item_deleted_for_good_never_reach_an_item_that_reuses_its_id(db: Triggers) -> None:
    """SQLite gives the id of a deleted last row to the next insert: the old item's jobs must not run on it."""
    db.drain()
    old = db.admin.create("dl", {"title": "Старая", "flag": True})
    db.admin.move("dl", old, "work")
    db.admin.delete("dl", old)
    assert {j["status"] for j in db.jobs("dl", old)} == {"dropped"}  # at once, not when due
    new = db.admin.create("dl", {"title": "Новая", "flag": True})
    db.admin.move("dl", new, "work")
    db.clock.advance(days=2)
    db.drain()
    assert db.comments("dl", new) == ["two days in work"]  # once: its own job only
