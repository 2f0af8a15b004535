"""Delays in working hours and days on a deployed process with Moscow working hours and Russian
public holidays, on SQLite and PostgreSQL, with a fake clock: jobs come due on the next working
morning after a weekend and after the New Year holidays, never during them."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

import pytest

from tests.automation.support import ROLES, Auto, Clock, process
from tests.runtime.support import module_url

__all__ = ["module_url"]  # the fixture, imported for pytest

MSK = timezone(timedelta(hours=3))

SLA = process("sla", {"due": {"type": "date"}}, [
    {"id": "answer", "on": "created", "after": "4wh", "do": [{"comment": "four working hours passed"}]},
    {"id": "escalate", "on": "stage_entered", "stage": "work", "after": "1wd", "do": [{"comment": "a working day"}]},
    {"id": "prepare", "on": "scheduled", "at": "due - 4wh", "do": [{"comment": "half a day before {{ due }}"}]},
], "new", "work", working_hours={"days": "mon-fri", "from": "09:00", "to": "18:00", "timezone": "Europe/Moscow",
                                 "holidays": "RU"})


def msk(*args: int) -> datetime:
    return datetime(*args, tzinfo=MSK).astimezone(UTC)


class Calendar(Auto):
    def job(self, item_id: int, trigger: str) -> dict[str, Any]:
        return [j for j in self.jobs("sla", item_id) if j["trigger"] == trigger][-1]

    def due(self, item_id: int, trigger: str) -> datetime:
        moment = self.job(item_id, trigger)["due_at"]
        return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)

    def at(self, moment: datetime) -> None:
        self.clock.now = moment
        self.drain()


@pytest.fixture(scope="module")
def db(module_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Calendar]:
    auto = Calendar(module_url, tmp_path_factory.mktemp("defs"), ROLES, SLA, clock=Clock(msk(2026, 12, 1, 9, 0)))
    yield auto
    auto.close()


def test_four_working_hours_from_friday_evening_end_on_monday(db: Calendar) -> None:
    db.at(msk(2026, 12, 4, 17, 0))  # Friday, 17:00 in Moscow
    item = db.admin.create("sla", {"title": "Жалоба в пятницу"})
    assert db.due(item, "answer") == msk(2026, 12, 7, 12, 0)  # 1 hour on Friday, 3 on Monday
    db.at(msk(2026, 12, 6, 23, 0))  # Sunday night: four clock hours long gone, no working hour yet
    assert db.job(item, "answer")["status"] == "pending"
    db.at(msk(2026, 12, 7, 11, 59))
    assert db.job(item, "answer")["status"] == "pending"
    db.at(msk(2026, 12, 7, 12, 0))
    assert db.job(item, "answer")["status"] == "done"
    assert db.comments("sla", item) == ["four working hours passed"]


def test_the_new_year_holidays_do_not_count(db: Calendar) -> None:
    db.at(msk(2026, 12, 30, 16, 0))  # Wednesday; 31 December to 10 January are days off
    item = db.admin.create("sla", {"title": "Перед праздниками"})
    db.admin.move("sla", item, "work")
    assert db.due(item, "answer") == msk(2027, 1, 11, 11, 0)
    assert db.due(item, "escalate") == msk(2027, 1, 11, 16, 0)
    db.at(msk(2027, 1, 8, 18, 0))
    assert [db.job(item, t)["status"] for t in ("answer", "escalate")] == ["pending", "pending"]
    db.at(msk(2027, 1, 11, 11, 0))
    assert [db.job(item, t)["status"] for t in ("answer", "escalate")] == ["done", "pending"]
    db.at(msk(2027, 1, 11, 16, 0))
    assert db.job(item, "escalate")["status"] == "done"
    assert db.comments("sla", item) == ["four working hours passed", "a working day"]


def test_a_date_field_minus_working_hours_lands_before_the_holidays(db: Calendar) -> None:
    db.at(msk(2026, 12, 1, 12, 0))
    item = db.admin.create("sla", {"title": "Срок после праздников", "due": date(2027, 1, 11)})
    assert db.due(item, "prepare") == msk(2026, 12, 30, 14, 0)  # 09:00 on the 11th less 4 working hours
