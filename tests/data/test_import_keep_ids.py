"""`smartflow import --keep-ids`, `--files`, `--history` and `--comments`: items that keep the ids they had in
the system they came from (refused when taken, the ids going on after them), file cells read from one
folder only, and the past (stage moves, comments) written with its own times, by administrators only."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from smartflow.cli.main import EXIT_DENIED
from tests.runtime.support import Db, invoke, module_url

__all__ = ["module_url"]

ROLES: dict[str, Any] = {"kind": "Roles", "roles": {"clerk": {"title": "Clerk"}}}
ORDER: dict[str, Any] = {
    "kind": "Process", "id": "orders", "title": "Order",
    "fields": {"old_id": {"type": "integer", "unique": True, "title": "Old id"},
               "scan": {"type": "file", "multiple": True, "title": "Scan"}},
    "pipelines": {"main": {"title": "Main", "default": True, "stages": {
        "new": {"title": "New"}, "work": {"title": "Work"}, "done": {"title": "Done", "semantic": "success"}}}},
    "permissions": {"clerk": {"read": "all", "create": "all", "update": "all", "move": "all", "import": "own"}},
}


@pytest.fixture(scope="module")
def db(module_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Db]:
    database = Db(module_url, tmp_path_factory.mktemp("defs"), ROLES, ORDER)
    database.admin.add_user("boss", "Boss", ["administrator"])
    database.admin.add_user("clerk", "Clerk", ["clerk"])
    yield database
    database.close()


def sheet(path: Path, rows: list[list[Any]]) -> Path:
    with path.open("w", encoding="utf-8", newline="") as handle:
        csv.writer(handle).writerows(rows)
    return path


def test_items_keep_their_ids_and_new_ones_follow(db: Db, tmp_path: Path) -> None:
    (tmp_path / "files").mkdir()
    (tmp_path / "files" / "a.pdf").write_bytes(b"%PDF a")
    (tmp_path.parent / "secret.txt").write_text("not for the database")  # beside the folder: never read
    source = sheet(tmp_path / "orders.csv", [
        ["title", "old_id", "stage", "scan"],
        ["first", "5000", "work", "@files/a.pdf"],
        ["no id", "", "", ""],
        ["same id", "5000", "", ""],
        ["outside", "5003", "", "@../secret.txt"],
        ["second", "5007", "", ""]])
    refused = invoke(db.url, "import", "orders", str(source), "--keep-ids", "old_id", as_user="clerk")
    assert refused.exit_code == EXIT_DENIED and "--keep-ids needs the administrator role" in refused.output
    assert db.admin.count("orders") == 0
    done = invoke(db.url, "import", "orders", str(source), "--keep-ids", "old_id", "--files", str(tmp_path))
    assert "2 created" in done.output and "3 failed" in done.output, done.output
    assert "every row needs its original id" in done.output
    assert "id 5000 is taken" in done.output
    assert "is not a file inside" in done.output
    first = db.admin.get("orders", 5000)
    assert (first["title"], first["stage"], first["old_id"]) == ("first", "work", 5000)
    (scan,) = db.admin.files("orders", 5000)["scan"]
    assert db.admin.file("orders", 5000, scan["id"])[1] == b"%PDF a"
    assert db.admin.get("orders", 5007)["title"] == "second"
    assert db.admin.create("orders", {"title": "after"}) == 5008


def test_the_past_goes_in_with_its_own_times_by_administrators_only(db: Db, tmp_path: Path) -> None:
    made = db.admin.create("orders", {"title": "with a past", "old_id": 77})
    history = sheet(tmp_path / "history.csv", [
        ["item", "at", "kind", "pipeline", "stage", "by"],
        ["77", "2024-05-01T10:00:00+03:00", "create", "main", "new", ""],
        ["77", "2024-05-02T11:00:00+03:00", "move", "main", "work", "clerk"],
        ["78", "2024-05-02T11:00:00+03:00", "move", "main", "work", ""],
        ["77", "yesterday", "move", "main", "done", ""]])
    comments = sheet(tmp_path / "comments.csv", [
        ["item", "at", "author", "text"],
        ["77", "2024-05-02T11:05:00+03:00", "clerk", "Взял в работу"],
        ["77", "2024-05-02T11:06:00+03:00", "", "Автоматическое напоминание"],
        ["77", "2024-05-02T11:07:00+03:00", "nobody", "?"]])
    mixed = invoke(db.url, "import", "orders", str(history), "--history", "--keep-ids", "old_id")
    assert mixed.exit_code == 2 and "--keep-ids does not apply to it" in mixed.output
    denied = invoke(db.url, "import", "orders", str(history), "--history", "--key", "old_id", as_user="clerk")
    assert denied.exit_code == EXIT_DENIED and "for administrators" in denied.output
    done = invoke(db.url, "import", "orders", str(history), "--history", "--key", "old_id", as_user="boss")
    assert done.exit_code == 1 and "4 rows of history: 2 written, 0 imported before, 2 failed" in done.output
    assert "no orders item has old_id '78'" in done.output and "is not a date and time" in done.output
    rows = [(r["kind"], r["at"].isoformat()[:16], r["who"], r["new"] if r["kind"] == "move" else r["new"]["stage"])
            for r in db.admin.history("orders", made)]
    assert rows == [("create", "2024-05-01T07:00", "local administrator", "new"),
                    ("move", "2024-05-02T08:00", "clerk", "work")]
    again = invoke(db.url, "import", "orders", str(history), "--history", "--key", "old_id")
    assert "0 written, 2 imported before" in again.output
    said = invoke(db.url, "import", "orders", str(comments), "--comments", "--key", "old_id")
    assert "3 rows of comments: 2 written" in said.output and "no user 'nobody'" in said.output
    assert [(c["author"], c["text"], c["created_at"].isoformat()[:16]) for c in db.admin.comments("orders", made)] == [
        ("clerk", "Взял в работу", "2024-05-02T08:05"), ("local administrator", "Автоматическое напоминание",
                                                         "2024-05-02T08:06")]
