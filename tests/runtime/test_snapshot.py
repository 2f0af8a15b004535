"""Engine.snapshot: reads that share one transaction; Engine.user_names: whose names a screen shows.

The CLI's `item show` and `item list` read the card (or the rows) and the names of the people on them
inside one snapshot: one connection, one look at the deployed version, one view of the data.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from tests.runtime.support import DOCUMENTS, Db, invoke, module_url

__all__ = ["module_url"]  # the fixture, imported for pytest


@pytest.fixture(scope="module")
def db(module_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Db]:
    database = Db(module_url, tmp_path_factory.mktemp("defs"), *DOCUMENTS)
    database.admin.add_user("ivanova", "Анна Иванова", ["worker"])
    database.admin.add_user("petrov", "Пётр Петров", ["worker"])
    yield database
    database.close()


def _checkouts(crm: Any) -> list[int]:
    """A counter of the connections crm's pool hands out from now on."""
    counted = [0]

    def checkout(*_: Any) -> None:
        counted[0] += 1

    sa.event.listen(crm._db, "checkout", checkout)
    return counted


def test_reads_in_a_snapshot_share_one_connection(db: Db) -> None:
    crm = db.as_user("ivanova")
    item_id = crm.create("purchase", {"title": "Бетон М300"})
    counted = _checkouts(crm)
    crm.get("purchase", item_id)
    crm.history("purchase", item_id)
    assert counted[0] == 2  # outside a snapshot: one transaction per call
    counted[0] = 0
    with crm.snapshot():
        card = crm.card("purchase", item_id)
        rows = crm.list("purchase", where=[f"id = {item_id}"])
        with crm.snapshot():  # nested: the same one
            names = crm.user_names([card["item"]["created_by"]])
    assert counted[0] == 1
    assert card["item"]["title"] == rows[0]["title"] == "Бетон М300"
    assert names == {card["item"]["created_by"]: "Анна Иванова"}


def test_a_snapshot_sees_one_view_on_sqlite(db: Db) -> None:
    """SQLite's read transaction keeps the data as it was at the snapshot's first read; PostgreSQL's READ
    COMMITTED shows each statement what was committed before it."""
    crm = db.as_user("ivanova")
    item_id = crm.create("purchase", {"title": "before"})
    with crm.snapshot():
        assert crm.get("purchase", item_id)["title"] == "before"
        db.as_user("petrov").update("purchase", item_id, {"title": "after"})  # another engine, committed
        seen = crm.get("purchase", item_id)["title"]
    assert seen == ("before" if db.url.startswith("sqlite") else "after")
    assert crm.get("purchase", item_id)["title"] == "after"


def test_a_change_inside_a_snapshot_is_refused_and_writes_nothing(db: Db) -> None:
    crm = db.as_user("ivanova")
    before = db.count("p_purchase")
    with pytest.raises(RuntimeError, match="snapshot is for reads only"), crm.snapshot():
        crm.create("purchase", {"title": "never"})
    assert db.count("p_purchase") == before
    crm.create("purchase", {"title": "afterwards"})  # the snapshot is over: changes work again
    assert db.count("p_purchase") == before + 1


def test_another_thread_keeps_its_own_transactions(db: Db) -> None:
    crm = db.as_user("ivanova")
    item_id = crm.create("purchase", {"title": "shared"})
    done: list[Any] = []
    with crm.snapshot():
        crm.get("purchase", item_id)
        worker = threading.Thread(target=lambda: done.append(crm.update("purchase", item_id, {"title": "thread"})))
        worker.start()
        worker.join(30)
    assert done and crm.get("purchase", item_id)["title"] == "thread"


def test_two_threads_each_keep_their_own_snapshot_on_one_engine(db: Db) -> None:
    """Two threads in snapshots of the same engine at once, the first leaving before the second reads again:
    each thread's reads stay in its own one transaction (a slot per engine would have lost the second's)."""
    crm = db.as_user("ivanova")
    item_id = crm.create("purchase", {"title": "общий"})
    counted = _checkouts(crm)
    first_in, first_out, errors = threading.Event(), threading.Event(), []

    def first() -> None:
        try:
            with crm.snapshot():
                crm.get("purchase", item_id)
                first_in.set()
                second_in.wait(10)
        except Exception as exc:  # reported below
            errors.append(exc)
        finally:
            first_out.set()

    second_in = threading.Event()
    thread = threading.Thread(target=first)
    thread.start()
    assert first_in.wait(10)
    with crm.snapshot():
        crm.get("purchase", item_id)
        second_in.set()
        assert first_out.wait(10)
        crm.history("purchase", item_id)  # still this thread's snapshot
        crm.get("purchase", item_id)
    thread.join(10)
    assert errors == [] and counted[0] == 2  # one transaction per thread


def test_user_names(db: Db) -> None:
    crm = db.as_user("petrov")
    ids = {u["login"]: u["id"] for u in db.admin.users()}
    assert crm.user_names([ids["ivanova"], None, ids["ivanova"], 999_999, ids["petrov"]]) == {
        ids["ivanova"]: "Анна Иванова", ids["petrov"]: "Пётр Петров"}
    counted = _checkouts(crm)
    assert crm.user_names([None]) == {}
    assert counted[0] == 0  # nothing to look up: no query


def test_cli_shows_the_names_of_the_people_on_a_list_and_a_card(db: Db, tmp_path: Path) -> None:
    ids = {u["login"]: u["id"] for u in db.admin.users()}
    crm = db.as_user("ivanova")
    item_id = crm.create("purchase", {"title": "Кирпич", "manager": ids["petrov"], "assigned_to": ids["petrov"]})
    listed = invoke(db.url, "item", "list", "purchase", "--where", f"id = {item_id}", "--columns",
                    "title,manager,assigned_to,created_by", "--format", "csv")
    assert listed.stdout == (f"id,title,manager,assigned_to,created_by\n"
                             f"{item_id},Кирпич,Пётр Петров,Пётр Петров,Анна Иванова\n")
    shown = invoke(db.url, "item", "show", "purchase", str(item_id))
    assert "  manager: Пётр Петров" in shown.stdout.splitlines()
    assert any(line.startswith("  assigned to: Пётр Петров · created ") and line.endswith(" by Анна Иванова")
               for line in shown.stdout.splitlines())
