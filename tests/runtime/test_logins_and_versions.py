"""Digit-only logins are logins (`#12` names a user by id), and a stale expected version is refused
even when the update would change nothing."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from smartflow.cli.main import EXIT_CONFLICT
from smartflow.errors import ConflictError, InvalidValue, NotFound
from tests.runtime.support import DOCUMENTS, Db, module_url
from tests.runtime.test_cli_items import assert_error, invoke

__all__ = ["module_url"]  # the fixture, imported for pytest


@pytest.fixture(scope="module")
def db(module_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Db]:
    database = Db(module_url, tmp_path_factory.mktemp("defs"), *DOCUMENTS)
    database.admin.add_user("ivanova", "Анна Иванова", ["worker"], None)
    database.admin.add_user("petrov", "Пётр Петров", ["worker"], None)
    # a login made of digits that is also another user's id: the login must win, `#2` names the id
    database.admin.add_user("2", "Табельный 2", ["worker"], None)
    yield database
    database.close()


def test_a_digit_only_login_is_a_login_everywhere(db: Db) -> None:
    ivanova, petrov, digits = db.user_id("ivanova"), db.user_id("petrov"), db.user_id("2")
    assert (ivanova, petrov) == (1, 2) and digits == 3
    item_id = db.as_user("2").create("purchase", {"title": "t", "manager": "2", "assigned_to": "2"})
    item = db.admin.get("purchase", item_id)
    assert (item["manager"], item["assigned_to"], item["created_by"]) == (digits, digits, digits)
    db.admin.update("purchase", item_id, {"manager": "#2", "assigned_to": 2})  # the id form, and a Python int
    item = db.admin.get("purchase", item_id)
    assert (item["manager"], item["assigned_to"]) == (petrov, petrov)
    # the command line: --set, --where and --as read digits as a login
    assert invoke(db.url, "item", "update", "purchase", str(item_id), "--set", "manager=2").exit_code == 0
    assert db.admin.get("purchase", item_id)["manager"] == digits
    listed = invoke(db.url, "item", "list", "purchase", "--where", "manager=2", "--columns", "id", "--format", "csv")
    assert listed.stdout.splitlines()[1:] == [str(item_id)]
    by_id = invoke(db.url, "item", "list", "purchase", "--where", "manager=#3", "--columns", "id", "--format", "csv")
    assert by_id.stdout.splitlines()[1:] == [str(item_id)]
    assert invoke(db.url, "item", "show", "purchase", str(item_id), as_user="2").exit_code == 0
    with pytest.raises(InvalidValue, match=r"there is no user #99"):
        db.admin.update("purchase", item_id, {"manager": "#99"})
    with pytest.raises(InvalidValue, match=r"there is no user '77'"):
        db.admin.update("purchase", item_id, {"manager": "77"})


def test_a_stale_version_is_refused_even_when_nothing_would_change(db: Db) -> None:
    item_id = db.admin.create("purchase", {"title": "t", "qty": 5})
    db.admin.update("purchase", item_id, {"qty": 6})
    with pytest.raises(ConflictError, match="was changed by someone else"):
        db.admin.update("purchase", item_id, {"qty": 6}, expected_version=1)
    with pytest.raises(ConflictError):
        db.admin.update("purchase", item_id, {}, expected_version=1)
    assert db.admin.update("purchase", item_id, {"qty": 6}, expected_version=2) == {}  # current: fine, nothing to do
    assert_error(invoke(db.url, "item", "update", "purchase", str(item_id), "--set", "qty=6", "--if-version", "1"),
                 EXIT_CONFLICT, f"purchase {item_id} was changed by someone else; it is now in stage `new` "
                 "(version 2)", "reload it and try again")
    assert db.admin.get("purchase", item_id)["version"] == 2
    with pytest.raises(NotFound):  # a missing item is still not found, whatever the version
        db.admin.update("purchase", 10_000, {}, expected_version=1)


def test_an_import_reads_digits_as_a_login_and_hash_digits_as_an_id(db: Db, tmp_path: Path) -> None:
    sheet = tmp_path / "purchases.csv"
    sheet.write_text("title,manager\nby login,2\nby id,#2\n", encoding="utf-8")
    result = invoke(db.url, "import", "purchase", str(sheet))
    assert result.exit_code == 0, result.output
    found = db.admin.list("purchase", where=["title in by login,by id"], limit=10)
    managers = {item["title"]: item["manager"] for item in found}
    assert managers == {"by login": db.user_id("2"), "by id": db.user_id("petrov")}
