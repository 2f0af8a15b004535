"""Every action, on SQLite and PostgreSQL: set, move, create_item, assign (user, round_robin, least_busy,
department), notify, webhook, comment.

Actions go through the same services and rules as a person (types, required fields of a stage,
rights of `run_as`), write history naming the trigger (`via` = `trigger:<process>.<trigger>`), and
are all or nothing with the change that fired them: when one fails, the person's change and every
action before it are rolled back, and the message names the trigger and the action. Notifications
and webhooks only reach the outbox here; the worker delivers them (test_worker.py).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from smartflow.errors import AutomationFailed
from tests.automation.support import ROLES, Auto, process
from tests.runtime.support import module_url

__all__ = ["module_url"]  # the fixture, imported for pytest

NOTE_CASES = ["plain", "hook", "badjson", "chain", "invalid", "runas", "badcreate", "ghost", "twice"]

ORDER = process("od", {
    "amount": {"type": "integer"},
    "supplier": {"type": "string"},
    "kind": {"type": "enum", "options": [{"id": "retail", "title": "Retail"}, {"id": "bulk", "title": "Bulk"}]},
    "note": {"type": "enum", "options": [{"id": c, "title": c} for c in NOTE_CASES]},
    "memo": {"type": "text"},
    "owner": {"type": "user"},
    "size": {"type": "integer", "max": 1000},
}, [
    {"id": "a_set", "on": "field_changed", "field": "kind", "to": "bulk",
     "do": [{"set": {"memo": "bulk order of {{ amount }} pcs for {{ user }}", "size": 10}}]},
    {"id": "a_move", "on": "field_changed", "field": "amount", "when": "amount and amount > 1000",
     "do": [{"move": "prices"}]},
    {"id": "a_create", "on": "stage_entered", "stage": "approved",
     "do": [{"create_item": {"process": "task", "link": "source", "title": "Deliver {{ title }}",
                             "fields": {"qty": "{{ amount }}", "kind": "urgent"}}}]},
    {"id": "a_comment", "on": "stage_entered", "stage": "done", "do": [{"comment": "closed at {{ amount }}"}]},
    {"id": "a_notify", "on": "stage_entered", "stage": "lost",
     "do": [{"notify": {"users": ["assigned_to", "owner", "@boss"], "roles": ["lead"],
                        "subject": "Lost: {{ title }}", "message": "{{ title }} was lost at {{ amount }}"}}]},
    {"id": "a_webhook", "on": "field_changed", "field": "note", "to": "hook",
     "do": [{"webhook": {"url": "https://hooks.example.com/od", "method": "PUT", "headers": {"X-Source": "smartflow"},
                         "body": '{"id": {{ id }}, "title": {{ title|tojson }}, "amount": {{ amount|tojson }}}'}}]},
    {"id": "a_badjson", "on": "field_changed", "field": "note", "to": "badjson",
     "do": [{"comment": "first"}, {"webhook": {"url": "https://hooks.example.com/od", "body": "id={{ id }}"}}]},
    {"id": "a_chain", "on": "field_changed", "field": "note", "to": "chain",
     "do": [{"set": {"size": 99}}, {"comment": "second action"}, {"move": "prices"}, {"comment": "never"}]},
    {"id": "a_invalid", "on": "field_changed", "field": "note", "to": "invalid",
     "do": [{"set": {"size": "{{ title }}"}}]},
    {"id": "a_runas", "on": "field_changed", "field": "note", "to": "runas", "run_as": "boss",
     "do": [{"set": {"size": 5}}]},
    {"id": "a_badcreate", "on": "field_changed", "field": "note", "to": "badcreate",
     "do": [{"create_item": {"process": "task", "stage": "started", "link": "source"}}]},
    {"id": "a_ghost", "on": "field_changed", "field": "note", "to": "ghost",
     "do": [{"notify": {"users": ["@nobody_here"], "message": "hello"}}]},
    {"id": "a_twice", "on": "field_changed", "field": "note", "to": "twice",
     "do": [{"set": {"size": 1}}, {"set": {"size": 2}}, {"comment": "size is {{ size }}"}]},
], "new", "prices", "approved", required={"prices": ["supplier"]})
ORDER["permissions"]["lead"] = {"read": "all"}  # boss may read orders, not change them

TASK = process("task", {
    "source": {"type": "link", "to": "od"},
    "qty": {"type": "integer"},
    "kind": {"type": "string"},
}, [
    {"id": "t_created", "on": "created", "do": [{"comment": "task {{ title }} for {{ qty }}"}]},
], "todo", "started", required={"started": ["qty"]})

CHANNELS = ["rr", "lb", "direct", "dept", "empty", "self"]
LEAD = process("ld", {"channel": {"type": "enum", "options": [{"id": c, "title": c} for c in CHANNELS]}}, [
    {"id": "l_rr", "on": "field_changed", "field": "channel", "to": "rr",
     "do": [{"assign": {"role": "agent", "strategy": "round_robin"}}]},
    {"id": "l_lb", "on": "field_changed", "field": "channel", "to": "lb",
     "do": [{"assign": {"role": "agent", "strategy": "least_busy"}}]},
    {"id": "l_direct", "on": "field_changed", "field": "channel", "to": "direct",
     "do": [{"assign": {"user": "petrov"}}]},
    {"id": "l_dept", "on": "field_changed", "field": "channel", "to": "dept",
     "do": [{"assign": {"department": "sales"}}]},
    {"id": "l_empty", "on": "field_changed", "field": "channel", "to": "empty",
     "do": [{"assign": {"department": "nobody"}}]},
    {"id": "l_self", "on": "field_changed", "field": "channel", "to": "self",
     "do": [{"assign": {"role": "lead", "strategy": "round_robin"}}]},
], "new", "work")

WATCHED = process("watched", {}, [
    {"id": "w_tell", "on": "stage_entered", "stage": "work",
     "do": [{"notify": {"users": ["observers"], "roles": ["lead", "agent"], "message": "{{ title }} is at work"}}]},
], "new", "work", features={"observers": True})


@pytest.fixture(scope="module")
def db(module_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Auto]:
    auto = Auto(module_url, tmp_path_factory.mktemp("defs"), ROLES, ORDER, TASK, LEAD, WATCHED)
    admin = auto.admin
    admin.add_department("sales", "Продажи")
    admin.add_department("nobody", "Пусто")
    admin.add_user("a1", "Агент 1", ["agent"], "sales")
    admin.add_user("a2", "Агент 2", ["agent"], "sales")
    admin.add_user("a3", "Агент 3", ["agent"])
    admin.add_user("boss", "Начальник", ["lead"])
    admin.add_user("petrov", "Пётр Петров", ["manager"], processes=["ld"])  # an item goes to someone with a right
    yield auto
    auto.close()


def user(db: Auto, login: str) -> int:
    return next(int(u["id"]) for u in db.admin.users() if u["login"] == login)


def vias(db: Auto, process_id: str, item: int) -> list[tuple[str, str | None, Any]]:
    return [(h["via"], h["field"], h["new"]) for h in db.history(process_id, item) if h["kind"] != "create"]


# ---- set ------------------------------------------------------------------------------------------


def test_set_writes_templates_and_literals_with_history_naming_the_trigger(db: Auto) -> None:
    item = db.as_user("a1").create("od", {"title": "Бетон", "amount": 7})
    db.as_user("a1").update("od", item, {"kind": "bulk"})
    got = db.admin.get("od", item)
    assert (got["memo"], got["size"]) == ("bulk order of 7 pcs for a1", 10)
    assert vias(db, "od", item)[1:] == [("trigger:od.a_set", "memo", "bulk order of 7 pcs for a1"),
                                        ("trigger:od.a_set", "size", 10)]
    who = {h["who"] for h in db.admin.history("od", item) if h["field"] in ("memo", "size")}
    assert who == {"trigger:od.a_set"}
    assert got["updated_by"] is None  # the trigger's identity, not the person's


def test_later_actions_see_what_earlier_ones_wrote(db: Auto) -> None:
    item = db.admin.create("od", {"title": "Дважды"})
    db.admin.update("od", item, {"note": "twice"})
    assert db.admin.get("od", item)["size"] == 2
    assert db.comments("od", item) == ["size is 2"]


def test_set_goes_through_the_field_rules(db: Auto) -> None:
    item = db.admin.create("od", {"title": "Неверно"})
    before = db.state("od")
    with pytest.raises(AutomationFailed) as failed:
        db.admin.update("od", item, {"note": "invalid"})
    assert str(failed.value).startswith("trigger `od.a_invalid`, action 1 (set) failed: field `size`: ")
    assert failed.value.hint == "write a whole number"
    assert db.state("od") == before


# ---- move ----------------------------------------------------------------------------------------


def test_move_action_moves_when_the_rules_allow(db: Auto) -> None:
    item = db.admin.create("od", {"title": "С поставщиком", "supplier": "ООО «Бетон»"})
    db.admin.update("od", item, {"amount": 5000})
    assert db.admin.get("od", item)["stage"] == "prices"
    assert vias(db, "od", item) == [("api", "amount", 5000), ("trigger:od.a_move", "stage", "prices")]


def test_move_action_to_a_stage_whose_required_field_is_empty_fails_and_rolls_back(db: Auto) -> None:
    item = db.admin.create("od", {"title": "Без поставщика"})
    before = db.state("od")
    with pytest.raises(AutomationFailed) as failed:
        db.admin.update("od", item, {"amount": 5000})
    message = str(failed.value)
    assert message.startswith("trigger `od.a_move`, action 1 (move) failed: od ")
    assert "stage `prices` requires `supplier`" in message
    assert db.state("od") == before  # the person's amount is not written either
    assert db.admin.get("od", item)["amount"] is None


def test_a_failing_action_rolls_back_the_actions_before_it(db: Auto) -> None:
    item = db.admin.create("od", {"title": "Цепочка"})
    before = db.state("od")
    with pytest.raises(AutomationFailed) as failed:
        db.admin.update("od", item, {"note": "chain"})
    assert str(failed.value).startswith("trigger `od.a_chain`, action 3 (move) failed: ")
    assert db.state("od") == before  # neither size = 99 nor the comment of action 2


# ---- create_item ---------------------------------------------------------------------------------


def test_create_item_links_back_fills_templates_and_fires_the_new_items_triggers(db: Auto) -> None:
    order = db.admin.create("od", {"title": "Кирпич", "amount": 300})
    db.admin.move("od", order, "approved")
    tasks = [t for t in db.items("task") if t["source"] == order]
    assert len(tasks) == 1
    task = db.admin.get("task", tasks[0]["id"])
    assert (task["title"], task["qty"], task["kind"], task["stage"]) == ("Deliver Кирпич", 300, "urgent", "todo")
    created = db.history("task", task["id"])
    assert [(h["kind"], h["via"]) for h in created] == [("create", "trigger:od.a_create"),
                                                        ("comment", "trigger:task.t_created")]
    assert created[1]["new"] == "task Deliver Кирпич for 300"


def test_create_item_goes_through_the_stage_rules(db: Auto) -> None:
    order = db.admin.create("od", {"title": "Сразу в работу"})
    before = db.state("od", "task")
    with pytest.raises(AutomationFailed) as failed:
        db.admin.update("od", order, {"note": "badcreate"})
    assert str(failed.value).startswith("trigger `od.a_badcreate`, action 1 (create_item) failed: ")
    assert "stage `started` requires `qty`" in str(failed.value)
    assert db.state("od", "task") == before


# ---- comment ---------------------------------------------------------------------------------------


def test_comment(db: Auto) -> None:
    item = db.admin.create("od", {"title": "Закрыта", "amount": 12})
    db.admin.move("od", item, "done")
    assert vias(db, "od", item)[-1] == ("trigger:od.a_comment", None, "closed at 12")
    assert [h["kind"] for h in db.admin.history("od", item)] == ["create", "move", "comment"]


# ---- run_as --------------------------------------------------------------------------------------


def test_run_as_acts_with_that_users_rights(db: Auto) -> None:
    item = db.admin.create("od", {"title": "От имени"})
    before = db.state("od")
    with pytest.raises(AutomationFailed) as failed:
        db.admin.update("od", item, {"note": "runas"})
    assert str(failed.value).startswith("trigger `od.a_runas`, action 1 (set) failed: you may not update od ")
    assert db.state("od") == before


# ---- assign ----------------------------------------------------------------------------------------


def _lead(db: Auto, channel: str, title: str = "Лид") -> int:
    item = db.admin.create("ld", {"title": title})
    db.admin.update("ld", item, {"channel": channel})
    return item


def test_assign_round_robin_takes_the_role_in_turn(db: Auto) -> None:
    a1, a2, a3 = (user(db, login) for login in ("a1", "a2", "a3"))
    assigned = [db.admin.get("ld", _lead(db, "rr"))["assigned_to"] for _ in range(4)]
    assert assigned == [a1, a2, a3, a1]
    item = _lead(db, "rr")
    assert [(h["via"], h["new"]) for h in db.history("ld", item) if h["field"] == "assigned_to"] == [
        ("trigger:ld.l_rr", a2)]


def test_assign_least_busy_takes_who_has_fewest_open_items(db: Auto) -> None:
    a1, a2, a3 = (user(db, login) for login in ("a1", "a2", "a3"))
    counts = _open_counts(db)
    first = db.admin.get("ld", _lead(db, "lb"))["assigned_to"]
    assert first == min((a1, a2, a3), key=lambda u: (counts.get(u, 0), u))
    # close every open lead of the busiest two: the third now has the most, so it is never chosen
    for row in db.items("ld"):
        if row["assigned_to"] in (a1, a2) and row["closed_at"] is None:
            db.admin.move("ld", row["id"], "done")
    counts = _open_counts(db)
    assert counts.get(a1, 0) == counts.get(a2, 0) == 0 < counts[a3]
    chosen = [db.admin.get("ld", _lead(db, "lb"))["assigned_to"] for _ in range(2)]
    assert chosen == [a1, a2]


def _open_counts(db: Auto) -> dict[int, int]:
    counts: dict[int, int] = {}
    for row in db.items("ld"):
        if row["closed_at"] is None and row["assigned_to"] is not None:
            counts[row["assigned_to"]] = counts.get(row["assigned_to"], 0) + 1
    return counts


def test_assign_a_user_and_a_department(db: Auto) -> None:
    assert db.admin.get("ld", _lead(db, "direct"))["assigned_to"] == user(db, "petrov")
    in_sales = {db.admin.get("ld", _lead(db, "dept"))["assigned_to"] for _ in range(2)}
    assert in_sales == {user(db, "a1"), user(db, "a2")}


def test_assign_with_nobody_to_assign_fails_and_rolls_back(db: Auto) -> None:
    item = db.admin.create("ld", {"title": "Некому"})
    before = db.state("ld")
    with pytest.raises(AutomationFailed) as failed:
        db.admin.update("ld", item, {"channel": "empty"})
    assert str(failed.value) == ("trigger `ld.l_empty`, action 1 (assign) failed: "
                                 "nobody has the department `nobody` to assign to")
    assert db.state("ld") == before


def test_round_robin_of_one_candidate_already_assigned_writes_nothing(db: Auto) -> None:
    item = db.admin.create("ld", {"title": "Сам себе", "assigned_to": "boss"})
    db.admin.update("ld", item, {"channel": "self"})
    assert db.admin.get("ld", item)["assigned_to"] == user(db, "boss")
    assert [h["field"] for h in db.history("ld", item)] == [None, "channel"]


# ---- notify and webhook: to the outbox, in the same transaction ------------------------------------


def test_notify_writes_one_outbox_message_for_every_recipient_once(db: Auto) -> None:
    owner, boss, a1 = user(db, "a3"), user(db, "boss"), user(db, "a1")
    item = db.as_user("a1").create("od", {"title": "Потеряна", "amount": 40, "owner": "a3"})
    db.as_user("a1").move("od", item, "lost")
    messages = [m for m in db.outbox("od.a_notify") if m["payload"]["item_id"] == item]
    assert len(messages) == 1
    message = messages[0]
    assert (message["kind"], message["status"], message["attempts"]) == ("notify", "pending", 0)
    assert message["payload"] == {"recipients": [a1, owner, boss], "subject": "Lost: Потеряна",
                                  "message": "Потеряна was lost at 40", "process": "od", "item_id": item,
                                  "trigger": "od.a_notify"}
    assert [r for r in db.inbox("a1") if r["item_id"] == item] == []  # delivered by the worker, not here


def test_notify_reaches_the_items_observers_and_the_holders_of_each_role_as_they_are_now(db: Auto) -> None:
    a1, a2, a3, boss, petrov = (user(db, login) for login in ("a1", "a2", "a3", "boss", "petrov"))
    first, second = (db.admin.create("watched", {"title": title}) for title in ("Первый", "Второй"))
    db.execute("INSERT INTO p_watched__observers (item_id, user_id) VALUES (:item, :user)", item=first, user=petrov)
    db.admin.move("watched", first, "work")
    db.execute("DELETE FROM sf_role_grants WHERE user_id = :user", user=a3)  # a3 is no agent any more
    db.admin.move("watched", second, "work")
    recipients = {m["payload"]["item_id"]: sorted(r for m2 in db.outbox("watched.w_tell")
                                                  if m2["payload"]["item_id"] == m["payload"]["item_id"]
                                                  for r in m2["payload"]["recipients"])
                  for m in db.outbox("watched.w_tell")}
    db.execute("INSERT INTO sf_role_grants (user_id, role, process) VALUES (:user, 'agent', '*')", user=a3)  # as it was
    assert recipients == {first: sorted([petrov, boss, a1, a2, a3]), second: sorted([boss, a1, a2])}


def test_notify_to_an_unknown_user_fails_and_rolls_back(db: Auto) -> None:
    item = db.admin.create("od", {"title": "Никому"})
    before = db.state("od")
    with pytest.raises(AutomationFailed) as failed:
        db.admin.update("od", item, {"note": "ghost"})
    assert str(failed.value) == ("trigger `od.a_ghost`, action 1 (notify) failed: "
                                 "there is no user `nobody_here` to notify")
    assert db.state("od") == before


def test_webhook_writes_its_request_to_the_outbox(db: Auto) -> None:
    item = db.admin.create("od", {"title": 'Кавычки " и \\', "amount": 3})
    db.admin.update("od", item, {"note": "hook"})
    message = next(m for m in db.outbox("od.a_webhook") if m["payload"]["body"]["id"] == item)
    assert message["kind"] == "webhook" and message["status"] == "pending"
    assert message["payload"] == {"url": "https://hooks.example.com/od", "method": "PUT",
                                  "headers": {"X-Source": "smartflow"}, "trigger": "od.a_webhook",
                                  "body": {"id": item, "title": 'Кавычки " и \\', "amount": 3}}


def test_webhook_body_that_is_not_json_fails_and_rolls_back(db: Auto) -> None:
    item = db.admin.create("od", {"title": "Не JSON"})
    before = db.state("od")
    with pytest.raises(AutomationFailed) as failed:
        db.admin.update("od", item, {"note": "badjson"})
    assert str(failed.value).startswith("trigger `od.a_badjson`, action 2 (webhook) failed: "
                                        "the webhook body is not JSON: ")
    assert db.state("od") == before
