"""Automation reads an item at most once per change, however many triggers and actions listen to it.

The statements are counted as the driver runs them (SQLAlchemy's `before_cursor_execute`), on a
real database. A move or an update reads the item once to check its rules (runtime); when a
trigger listens, a move hands it that read with what the move wrote, and an update's UPDATE returns
what it wrote (`RETURNING`), so automation reads nothing more; a change that cannot (a create, an
update of a multiple value) is read once for its triggers. An action that changes the item is a
change of its own, and the actions after it see what it wrote. What triggers see is exactly what a
read afterwards gives.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from contextlib import AbstractContextManager
from typing import Any

import pytest
import sqlalchemy as sa

from tests.automation.support import ROLES, Auto, process
from tests.dbutil import statements
from tests.runtime.support import module_url

__all__ = ["module_url"]  # the fixture, imported for pytest

COMMENT = {"comment": "{{ title }} entered {{ stage }} with note {{ note or '-' }}"}


def on_work(count: int, actions: list[dict[str, Any]]) -> list[dict[str, Any]]:
    # copies, not shared objects: the YAML written for them must have no aliases
    return [{"id": f"t{n}", "on": "stage_entered", "stage": "work", "do": json.loads(json.dumps(actions))}
            for n in range(count)]


SEEN = ("{{ id }}|{{ title }}|{{ pipeline }}|{{ stage }}|{{ version }}|{{ note }}|{{ amount }}|{{ tags }}|"
        "{{ assigned_to }}|{{ created_by }}|{{ created_at }}|{{ updated_by }}|{{ updated_at }}|{{ moved_by }}|"
        "{{ moved_at }}|{{ closed_at }}|{{ definition_version }}|{{ due }}|{{ rate }}|{{ day }}")
SEEN_FIELDS = {"note": {"type": "text"}, "amount": {"type": "money"}, "due": {"type": "datetime"},
               "rate": {"type": "number", "precision": 3}, "day": {"type": "date"},
               "tags": {"type": "enum", "multiple": True,
                        "options": [{"id": "a", "title": "A"}, {"id": "b", "title": "B"}]}}

PROCESSES = [
    process("rseen", SEEN_FIELDS, [
        {"id": "moved", "on": "stage_entered", "stage": "work", "do": [{"comment": SEEN}]},
        {"id": "noted", "on": "field_changed", "field": "note", "do": [{"comment": SEEN}]},
        {"id": "tagged", "on": "field_changed", "field": "tags", "do": [{"comment": SEEN}]},
        {"id": "closed", "on": "stage_entered", "stage": "done", "do": [{"comment": SEEN}]}]),
    process("r0", {"note": {"type": "text"}}, []),
    process("r1", {"note": {"type": "text"}}, on_work(1, [COMMENT])),
    process("r5", {"note": {"type": "text"}}, on_work(5, [COMMENT, COMMENT])),
    process("rset", {"note": {"type": "text"}}, on_work(1, [COMMENT, {"set": {"note": "set by {{ stage }}"}},
                                                            COMMENT, COMMENT])),
    process("rorder", {"note": {"type": "text"}}, [
        {"id": "moved", "on": "stage_entered", "stage": "work", "do": [
            {"comment": "first"}, {"set": {"note": "noted"}}, {"comment": "after the note"}]},
        {"id": "noted", "on": "field_changed", "field": "note", "do": [{"comment": "the note is {{ note }}"}]}]),
    process("rmail", {"note": {"type": "text"}}, [
        {"id": "moved", "on": "stage_entered", "stage": "work", "do": [
            {"notify": {"roles": ["manager"], "message": "one {{ title }}"}},
            {"webhook": {"url": "https://hooks.example.com/a", "body": '{"n": 2}'}},
            {"set": {"note": "noted"}},
            {"notify": {"roles": ["manager"], "message": "three {{ note }}"}}]},
        {"id": "noted", "on": "field_changed", "field": "note", "do": [
            {"webhook": {"url": "https://hooks.example.com/b", "body": '{"note": "{{ note }}"}'}}]}]),
    process("rfail", {"note": {"type": "text"}, "amount": {"type": "integer"}}, on_work(1, [
        {"comment": "first"}, {"set": {"note": "noted"}}, {"set": {"amount": "{{ title }}"}}])),
]


@pytest.fixture(scope="module")
def db(module_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Auto]:
    auto = Auto(module_url, tmp_path_factory.mktemp("defs"), ROLES, *PROCESSES)
    yield auto
    auto.close()


def item_reads(process_id: str) -> AbstractContextManager[list[str]]:
    """The SELECTs of the process's item table run while the block runs."""
    table = re.compile(rf'\bFROM "?p_{process_id}"?(?=\s|$)', re.IGNORECASE)
    return statements(lambda sql: sql.lstrip().upper().startswith("SELECT") and bool(table.search(sql)))


def history_inserts(table: str = "sf_history") -> AbstractContextManager[list[str]]:
    """The INSERTs into table (sf_history) run while the block runs."""
    return statements(lambda sql: bool(re.match(rf'\s*INSERT INTO "?{table}"?', sql, re.IGNORECASE)))


def move_reads(db: Auto, process_id: str) -> int:
    item = db.admin.create(process_id, {"title": "Бетон"})
    with item_reads(process_id) as reads:
        db.admin.move(process_id, item, "work")
    return len(reads)


def test_a_move_reads_its_item_no_more_for_triggers_whatever_their_number(db: Auto) -> None:
    plain = move_reads(db, "r0")
    assert plain >= 1  # the counter sees the runtime's own read
    assert move_reads(db, "r1") == plain
    assert move_reads(db, "r5") == plain  # 5 triggers, 10 actions


def test_an_action_that_changes_the_item_is_one_more_read_and_later_actions_see_it(db: Auto) -> None:
    plain = move_reads(db, "r0")
    item = db.admin.create("rset", {"title": "Бетон"})
    with item_reads("rset") as reads:
        db.admin.move("rset", item, "work")
    # the move: runtime; the set: runtime (its update); each returns the item it leaves to the triggers
    assert len(reads) == plain + 1
    assert db.comments("rset", item) == ["Бетон entered work with note -", "Бетон entered work with note set by work",
                                         "Бетон entered work with note set by work"]


def test_triggers_see_exactly_what_a_read_after_the_change_gives(db: Auto) -> None:
    """The item an UPDATE … RETURNING hands to triggers is the item a read gives: every field and
    system column, rendered by the same template (money, times with their zone, multiple values)."""
    from smartflow.definitions.expressions import environment
    from smartflow.definitions.sandbox import render
    from smartflow.runtime.items import fetch_unfiltered
    from smartflow.runtime.rules import context

    template = environment().from_string(SEEN)
    item = db.admin.create("rseen", {"title": "Бетон", "amount": "1500.5 USD", "tags": ["b", "a"],
                                     "due": "2030-02-01T09:30", "rate": "1.25", "day": "2030-02-03"}, typed_text=True)
    expected = []
    for change in (lambda: db.admin.move("rseen", item, "work"),
                   lambda: db.admin.update("rseen", item, {"note": "first"}),
                   lambda: db.admin.update("rseen", item, {"tags": ["a"]}),
                   lambda: db.admin.move("rseen", item, "done")):
        change()
        with db.admin.session(False) as write:
            read = fetch_unfiltered(write, "rseen", item)
            assert read is not None
            expected.append(render(template, context(write.compiled.processes["rseen"], read, write.actor)))
    assert db.comments("rseen", item) == expected
    assert "1500.50" in expected[0] and "+00:00" in expected[0]  # the money and times came through
    assert "|1.250|2030-02-03" in expected[0] and "2030-02-01 09:30:00" in expected[0]


def test_a_change_and_its_actions_write_their_history_in_one_insert_in_the_order_they_happened(db: Auto) -> None:
    """The history rows of a change and of every action it fires (and of their own changes) go in
    together at the end of the change, in the order they were recorded."""
    item = db.admin.create("rorder", {"title": "Бетон"})
    with history_inserts() as inserts:
        db.admin.move("rorder", item, "work")
    assert len(inserts) == 1
    rows = db.history("rorder", item)
    assert [(r["kind"], r["field"], r["new"], r["via"]) for r in rows[1:]] == [
        ("move", "stage", "work", "api"),
        ("comment", None, "first", "trigger:rorder.moved"),
        ("update", "note", "noted", "trigger:rorder.moved"),
        ("comment", None, "the note is noted", "trigger:rorder.noted"),
        ("comment", None, "after the note", "trigger:rorder.moved")]
    with history_inserts() as inserts:
        db.admin.move("r0", db.admin.create("r0", {"title": "Бетон"}), "work")  # nobody listens: as before
    assert len(inserts) == 2  # the create's row, the move's row


def test_a_failed_action_leaves_no_history_of_its_change(db: Auto) -> None:
    from smartflow.errors import AutomationFailed

    item = db.admin.create("rfail", {"title": "Бетон"})
    before = db.history("rfail", item)
    with pytest.raises(AutomationFailed, match="amount"):
        db.admin.move("rfail", item, "work")
    assert db.history("rfail", item) == before
    assert db.items("rfail")[-1]["stage"] == "new"


def test_the_actions_outbox_messages_go_in_with_one_insert_in_the_order_they_were_written(db: Auto) -> None:
    item = db.admin.create("rmail", {"title": "Бетон"})
    with history_inserts("sf_outbox") as inserts:
        db.admin.move("rmail", item, "work")
    assert len(inserts) == 1
    sent = [r for r in db.rows("sf_outbox") if r["payload"].get("trigger", "").startswith("rmail.")]
    assert [(r["kind"], r["payload"].get("message") or r["payload"].get("body")) for r in sent] == [
        ("notify", "one Бетон"), ("webhook", {"n": 2}), ("webhook", {"note": "noted"}), ("notify", "three noted")]
    assert all(r["status"] == "pending" and r["attempts"] == 0 for r in sent)


def test_a_move_hands_triggers_its_times_as_a_read_gives_them_whatever_the_zones(db: Auto) -> None:
    """A move's item is not read again: its times are given as a read gives them back, here with a
    clock in +03:00 and, on PostgreSQL, a connection in Asia/Tokyo."""
    from datetime import datetime, timedelta, timezone

    from smartflow import Engine
    from smartflow.definitions.expressions import environment
    from smartflow.definitions.sandbox import render
    from smartflow.runtime.items import fetch_unfiltered
    from smartflow.runtime.rules import context

    url = sa.engine.make_url(db.url)
    if not db.sqlite:
        url = url.update_query_dict({"options": f"{url.query.get('options', '')} -cTimeZone=Asia/Tokyo".strip()})
    moscow = datetime(2030, 1, 7, 13, 0, 0, 123456, tzinfo=timezone(timedelta(hours=3)))
    engine = Engine(url.render_as_string(hide_password=False), clock=lambda: moscow)
    try:
        template = environment().from_string(SEEN)
        item = engine.create("rseen", {"title": "Бетон", "amount": "7 USD", "due": "2030-02-01T09:30"}, typed_text=True)
        expected = []
        for stage in ("work", "done"):
            engine.move("rseen", item, stage)
            with engine.session(False) as write:
                read = fetch_unfiltered(write, "rseen", item)
                assert read is not None
                expected.append(render(template, context(write.compiled.processes["rseen"], read, write.actor)))
        assert db.comments("rseen", item) == expected
        assert ("+09:00" if not db.sqlite else "13:00:00.123456+00:00") in expected[1]
    finally:
        engine.close()
