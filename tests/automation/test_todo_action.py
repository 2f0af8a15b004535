"""The `todo` action, on SQLite and PostgreSQL: `{title, due: "+2wd", responsible: assigned_to}` adds a to-do
to the item, due in working days by the process's calendar (a Friday's +2wd is Tuesday), for one of the
item's people; it shows in the responsible's inbox and turns overdue as the clock passes its deadline;
the timeline names the trigger by its title. Definitions naming an unknown person or a wrong deadline
are refused at validation."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from smartflow.definitions.convert import to_yaml
from smartflow.definitions.validate import validate_paths
from tests.automation.support import ROLES, Auto, Clock, process
from tests.runtime.support import module_url

__all__ = ["module_url"]

FRIDAY = datetime(2030, 1, 11, 10, 0, tzinfo=UTC)
FOLLOW = process("fu", {"owner": {"type": "user"}, "deadline": {"type": "date"}}, [
    {"id": "call_back", "title": {"ru": "Перезвонить клиенту", "en": "Call the client back"}, "on": "stage_entered",
     "stage": "work", "do": [{"todo": {"title": "Call {{ title }}", "due": "+2wd", "responsible": "assigned_to"}}]},
    {"id": "check", "on": "field_changed", "field": "deadline",
     "do": [{"todo": {"title": "Check before the deadline", "due": "deadline - 1wd", "responsible": "owner"}},
            {"todo": {"title": "Report to the boss", "due": "+4h", "responsible": "@boss"}}]},
])


@pytest.fixture(scope="module")
def auto(module_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Auto]:
    deployed = Auto(module_url, tmp_path_factory.mktemp("defs"), ROLES, FOLLOW, clock=Clock(FRIDAY))
    deployed.admin.add_user("agent1", "Agent One", ["agent"])
    deployed.admin.add_user("boss", "Boss", ["lead"])
    yield deployed
    deployed.close()


@pytest.mark.db
def test_a_todo_action_adds_a_todo_due_in_working_days_for_the_assignee(auto: Auto) -> None:
    auto.clock.now = FRIDAY
    agent = auto.as_user("agent1")
    item_id = agent.create("fu", {"title": "ООО Ромашка", "assigned_to": "agent1"})
    agent.move("fu", item_id, "work")
    [todo] = agent.todos("fu", item_id)
    assert todo["title"] == "Call ООО Ромашка" and todo["responsible"] == "agent1"
    assert todo["due"] == date(2030, 1, 15)  # Friday + 2 working days: Tuesday
    assert todo["created_by"] == "trigger:fu.call_back" and todo["state"] == "open"
    assert [t["id"] for t in agent.my_todos()] == [todo["id"]]
    assert agent.todo_counters() == {"overdue": 0, "today": 0}
    auto.clock.now = datetime(2030, 1, 15, 9, 0, tzinfo=UTC)
    assert agent.todo_counters() == {"overdue": 0, "today": 1}
    auto.clock.now = datetime(2030, 1, 16, 9, 0, tzinfo=UTC)
    assert agent.todo_counters() == {"overdue": 1, "today": 0}
    assert agent.overdue_items("fu", [item_id, item_id + 100]) == {item_id}
    entry = next(e for e in agent.timeline("fu", item_id) if e["kind"] == "todo")
    assert dict(entry["trigger"].values)["en"] == "Call the client back"
    agent.set_todo_done("fu", item_id, todo["id"])
    assert agent.todo_counters() == {"overdue": 0, "today": 0}
    assert agent.overdue_items("fu", [item_id]) == set()


@pytest.mark.db
def test_a_todo_due_before_a_date_field_for_a_user_field_and_a_named_user(auto: Auto) -> None:
    auto.clock.now = FRIDAY
    agent = auto.as_user("agent1")
    item_id = agent.create("fu", {"title": "Договор", "owner": "boss"})
    agent.update("fu", item_id, {"deadline": "2030-01-21"})  # a Monday: one working day before is Friday
    todos = {t["title"]: t for t in auto.admin.todos("fu", item_id)}
    assert todos["Check before the deadline"]["due"] == date(2030, 1, 18)
    assert todos["Check before the deadline"]["responsible"] == "boss"
    assert todos["Report to the boss"]["due"] == datetime(2030, 1, 11, 14, 0, tzinfo=UTC)
    assert {t["title"] for t in auto.as_user("boss").my_todos()} >= {"Check before the deadline", "Report to the boss"}


@pytest.mark.parametrize(("action", "message"), [
    ({"todo": {"title": "x", "responsible": "nobody"}}, "`todo` names `nobody` responsible"),
    ({"todo": {"title": "x", "due": "in 2 days"}}, "not a duration nor a date field"),
    ({"todo": {"title": "x", "due": "soon"}}, "unknown field `soon`"),
    ({"todo": {"title": "x", "due": "owner + 1d"}}, "`owner`"),
    ({"todo": {"title": "{{ nothing }}"}}, "`nothing`"),
    ({"todo": {"due": "+1d"}}, "title"),
])
def test_a_wrong_todo_action_is_refused_at_validation(tmp_path: Path, action: dict[str, object], message: str) -> None:
    document = process("bad", {"owner": {"type": "user"}}, [{"id": "t", "on": "created", "do": [action]}])
    for index, written in enumerate((ROLES, document)):
        (tmp_path / f"{index}.yaml").write_text(to_yaml(written), encoding="utf-8")
    report = validate_paths([tmp_path])
    assert not report.ok
    assert any(message in d.message for d in report.diagnostics.errors), [d.message for d in report.diagnostics.errors]
