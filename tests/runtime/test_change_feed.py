"""The change feed (compile/changes.py, runtime.events, services.live): every way of writing an item is
seen by an open screen, as its user may see it — the runtime, a raw SQL write, an import, an apply —
and nothing is lost when transactions commit out of order (PostgreSQL)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from smartflow.compile.changes import KEEP, PRUNE_EVERY
from smartflow.deploy import apply as deploy
from smartflow.runtime.events import GAP_SECONDS, Follower
from smartflow.services.data import ImportOptions
from tests.runtime.support import Db, module_url, write_definitions  # noqa: F401 (a fixture)

ROLES: dict[str, Any] = {"kind": "Roles", "roles": {
    "clerk": {"title": {"ru": "Делопроизводитель", "en": "Clerk"}},
    "boss": {"title": {"ru": "Начальник", "en": "Boss"}},
}}

NOTE: dict[str, Any] = {
    "kind": "Process", "id": "note", "title": {"ru": "Записка", "en": "Note"},
    "features": {"recycle_bin": True},
    "fields": {"secret": {"type": "string", "title": {"ru": "Тайна", "en": "Secret"}},
               "city": {"type": "string", "title": {"ru": "Город", "en": "City"}}},
    "pipelines": {"main": {"title": "Main", "default": True, "stages": {
        "new": {"title": {"ru": "Новая", "en": "New"}},
        "done": {"title": {"ru": "Готово", "en": "Done"}, "semantic": "success"}}}},
    "permissions": {"clerk": {"read": "own", "create": "all", "update": "own", "move": "own", "delete": "own",
                              "hidden_fields": ["secret"]},
                    "boss": "all"},
}


@pytest.fixture(scope="module")
def db(module_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Db]:  # noqa: F811
    found = Db(module_url, tmp_path_factory.mktemp("defs"), ROLES, NOTE)
    found.admin.add_user("anna", "Анна", ["clerk"])
    found.admin.add_user("boris", "Борис", ["clerk"])
    found.admin.add_user("chief", "Chief", ["boss"])
    yield found
    found.close()


def ids(told: dict[str, Any] | None) -> list[int]:
    assert told is not None, "nothing was told"
    return [item["id"] for item in told["items"]]


def test_a_screen_is_told_of_creates_updates_moves_and_deletes_once(db: Db) -> None:
    chief = db.as_user("chief")
    screen = chief.follow("note")
    assert chief.changes(screen) is None
    item = db.as_user("anna").create("note", {"title": "Письмо", "city": "Казань"})
    told = chief.changes(screen)
    assert told is not None and ids(told) == [item] and not told["reload"] and not told["others"]
    assert told["items"][0]["city"] == "Казань"
    assert chief.changes(screen) is None  # nothing twice

    db.as_user("anna").move("note", item, "done")
    moved = chief.changes(screen)
    assert ids(moved) == [item] and moved["items"][0]["stage"] == "done"  # type: ignore[index]

    db.as_user("anna").delete("note", item)  # the recycle bin: gone from lists, so not among the items
    gone = chief.changes(screen)
    assert gone is not None and gone["items"] == [] and gone["others"] is True


def test_a_reconnecting_screen_resumes_after_its_event_id(db: Db) -> None:
    chief = db.as_user("chief")
    screen = chief.follow("note")
    first = db.as_user("anna").create("note", {"title": "Первая"})
    told = chief.changes(screen)
    assert told is not None and ids(told) == [first]
    second = db.as_user("anna").create("note", {"title": "Вторая"})  # written while the screen was away
    again = chief.follow("note", told["id"])
    assert ids(chief.changes(again)) == [second]


def test_a_user_learns_only_what_they_may_read_and_never_a_hidden_field(db: Db) -> None:
    boris = db.as_user("boris")
    screen = boris.follow("note")
    annas = db.as_user("anna").create("note", {"title": "Анне"})
    own = boris.create("note", {"title": "Борису"})
    db.as_user("chief").update("note", annas, {"secret": "пароль-123"})
    db.as_user("chief").update("note", own, {"secret": "ключ-456"})
    told = boris.changes(screen)
    assert told is not None and ids(told) == [own]  # anna's item is beyond his `own` level
    assert told["others"] is True  # …he only learns that something else changed, not what
    assert "secret" not in told["items"][0]
    assert "пароль-123" not in repr(told) and "ключ-456" not in repr(told)


def test_raw_sql_and_imports_are_in_the_feed(db: Db, tmp_path: Path) -> None:
    chief = db.as_user("chief")
    item = db.as_user("anna").create("note", {"title": "Сырой"})
    screen = chief.follow("note")
    with db.raw.begin() as connection:  # a hand-written UPDATE: the database itself logs it
        connection.execute(sa.text("UPDATE p_note SET city = 'Омск' WHERE id = :id"), {"id": item})
    told = chief.changes(screen)
    assert ids(told) == [item] and told["items"][0]["city"] == "Омск"  # type: ignore[index]

    sheet = tmp_path / "notes.csv"
    sheet.write_text("title,city\n" + "".join(f"Импорт {n},Тверь\n" for n in range(3)), encoding="utf-8")
    result = db.admin.import_file("note", sheet, ImportOptions())
    assert result.created == 3, result.problems
    imported = chief.changes(screen)
    assert imported is not None and not imported["reload"]
    assert sorted(item["title"] for item in imported["items"]) == ["Импорт 0", "Импорт 1", "Импорт 2"]


def test_an_apply_tells_open_screens_to_read_everything_again(db: Db) -> None:
    chief = db.as_user("chief")
    screen = chief.follow("note")
    changed = {**NOTE, "fields": {**NOTE["fields"], "phone": {"type": "phone"}}}
    deploy.apply(write_definitions(db.folder / "v2", ROLES, changed), db.url)
    told = chief.changes(screen)
    assert told is not None and told["reload"] is True


@pytest.mark.parametrize("event_id", ["", "x", "1-", "-1", "٣", "9" * 50])
def test_an_event_id_that_is_no_number_follows_from_now(db: Db, event_id: str) -> None:
    chief = db.as_user("chief")
    screen = chief.follow("note", event_id)
    assert chief.changes(screen) is None


def test_the_feed_keeps_a_window_and_a_screen_behind_it_reads_everything(db: Db) -> None:
    chief = db.as_user("chief")
    behind = chief.follow("note")
    with db.raw.begin() as connection:
        connection.execute(sa.text(
            "INSERT INTO p_note (title, pipeline, stage, created_at, updated_at, version) "
            "VALUES (:title, 'main', 'new', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP, 1)"),
            [{"title": f"окно {n}"} for n in range(250)])
    for _ in range((KEEP + 2 * PRUNE_EVERY) // 250 + 1):  # statements of 250 rows: logged row by row
        with db.raw.begin() as connection:
            connection.execute(sa.text("UPDATE p_note SET city = 'x' WHERE id IN "
                                       "(SELECT id FROM p_note ORDER BY id LIMIT 250)"))
    with db.raw.connect() as connection:
        rows, span = connection.execute(sa.text("SELECT count(*), max(id) - min(id) FROM sf_changes")).one()
    assert span <= KEEP + PRUNE_EVERY and rows <= KEEP + PRUNE_EVERY
    told = chief.changes(behind)
    assert told is not None and told["reload"] is True


def test_a_follower_hands_out_a_late_commit_and_gives_up_a_rolled_back_id(db: Db) -> None:
    """Ids are handed out before commit (PostgreSQL): an earlier id may become visible after a later one,
    and a rolled-back change leaves an id that never appears. The follower tells of both changes, keeps
    its resume point before the hole until it is filled or given up, and never tells anything twice."""
    moment = [0.0]
    with db.raw.connect() as connection:
        start = int(connection.execute(sa.text("SELECT coalesce(max(id), 0) FROM sf_changes")).scalar_one())
    with db.raw.begin() as connection:
        connection.execute(sa.text("INSERT INTO sf_changes (id, process, item_id) VALUES (:a, 'note', 1), "
                                   "(:c, 'note', 3)"), {"a": start + 1, "c": start + 3})
    follower = Follower("note", start, clock=lambda: moment[0])
    with db.raw.connect() as connection:
        assert follower.step(connection).item_ids == (1, 3)
        assert follower.settled == start + 1  # start + 2 is not visible yet
        with db.raw.begin() as writer:
            writer.execute(sa.text("INSERT INTO sf_changes (id, process, item_id) VALUES (:b, 'note', 2)"),
                           {"b": start + 2})
    with db.raw.connect() as connection:
        assert follower.step(connection).item_ids == (2,)
        assert follower.settled == start + 3
        with db.raw.begin() as writer:
            writer.execute(sa.text("INSERT INTO sf_changes (id, process, item_id) VALUES (:e, 'note', 5)"),
                           {"e": start + 5})
    with db.raw.connect() as connection:
        assert follower.step(connection).item_ids == (5,)
        assert follower.settled == start + 3  # start + 4 may still commit
        moment[0] += GAP_SECONDS
        assert follower.step(connection).item_ids == ()
        assert follower.settled == start + 5  # given up: its change rolled back
    with db.raw.begin() as connection:  # leave the sequence past the ids written by hand
        if connection.dialect.name == "postgresql":
            connection.execute(sa.text("SELECT setval(pg_get_serial_sequence('sf_changes', 'id'), :n)"),
                               {"n": start + 10})


def test_transactions_committing_out_of_order_lose_no_change(db: Db) -> None:
    chief = db.as_user("chief")
    slow_item = db.as_user("anna").create("note", {"title": "медленная"})
    screen = chief.follow("note")
    holding = threading.Event()
    release = threading.Event()

    def slow_writer() -> None:
        with db.raw.begin() as connection:
            connection.execute(sa.text("UPDATE p_note SET city = 'первый' WHERE id = :id"), {"id": slow_item})
            holding.set()
            release.wait(10)

    thread = threading.Thread(target=slow_writer)
    thread.start()
    try:
        assert holding.wait(10)
        if db.url.startswith("sqlite"):
            return  # SQLite: one writer at a time (the second would wait for the first)
        fast_item = db.as_user("anna").create("note", {"title": "быстрая"})  # a later id, committed first
        assert ids(chief.changes(screen)) == [fast_item]
    finally:
        release.set()
        thread.join()
    assert ids(chief.changes(screen)) == [slow_item]


def test_a_page_is_told_only_what_it_could_not_show(db: Db) -> None:
    """A page reads its position before its data: changes visible then are on the page and are not told
    again; a change written but not committed then (PostgreSQL) is told once it commits."""
    chief = db.as_user("chief")
    shown = db.as_user("anna").create("note", {"title": "уже на странице"})
    late_item = db.as_user("anna").create("note", {"title": "запоздалая"})
    holding, release = threading.Event(), threading.Event()

    def slow_writer() -> None:
        with db.raw.begin() as connection:
            connection.execute(sa.text("UPDATE p_note SET city = 'поздно' WHERE id = :id"), {"id": late_item})
            holding.set()
            release.wait(10)

    postgresql = db.url.startswith("postgresql")
    thread = threading.Thread(target=slow_writer) if postgresql else None
    if thread is not None:
        thread.start()
        assert holding.wait(10)
        db.as_user("anna").update("note", shown, {"city": "видно"})  # committed: on the page
    position = chief.feed_position()
    screen = chief.follow("note", position)
    if thread is not None:
        assert "~" in position  # the uncommitted change is named as pending
        release.set()
        thread.join()
        told = chief.changes(screen)
        assert ids(told) == [late_item]
    assert chief.changes(screen) is None  # what the page showed is never told again
