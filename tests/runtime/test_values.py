"""Values as stored and read back, on every way in: empty text is NULL (never '', which a unique
index counts), a date-time keeps its instant (stored in UTC), currencies are ISO 4217 codes, and a
file field names by id only a file the item holds in that field."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from smartflow.errors import InvalidValue
from smartflow.runtime.fields import file_reference, file_upload
from tests.dbutil import snapshot
from tests.runtime.support import Db, invoke, module_url

__all__ = ["module_url"]  # the fixture, imported for pytest

pytestmark = pytest.mark.db

ROLES: dict[str, Any] = {"kind": "Roles", "roles": {"worker": {"title": "Worker"}, "keeper": {"title": "Keeper"}}}
STAGES = {"new": {"title": {"ru": "Новая", "en": "New"}}, "won": {"title": "Won", "semantic": "success"},
          "lost": {"title": "Lost", "semantic": "failure"}}
DEAL: dict[str, Any] = {
    "kind": "Process", "id": "deal", "title": {"ru": "Сделка", "en": "Deal"},
    "fields": {
        "code": {"type": "string", "unique": True},
        "email": {"type": "email", "unique": True},
        "note": {"type": "text"},
        "tags": {"type": "string", "multiple": True},
        "amount": {"type": "money", "currency": "RUB"},
        "price": {"type": "money"},
        "prices": {"type": "money", "multiple": True},
        "meet_at": {"type": "datetime"},
        "scan": {"type": "file", "extensions": ["pdf"], "max_size": 1000},
        "photo": {"type": "file"},
        "scans": {"type": "file", "multiple": True},
    },
    "pipelines": {"main": {"title": "Main", "default": True, "stages": STAGES}},
    "permissions": {"worker": "all", "keeper": "all"},
}
SECRET: dict[str, Any] = {
    "kind": "Process", "id": "secret", "title": "Secret",
    "fields": {"paper": {"type": "file"}},
    "pipelines": {"main": {"title": "Main", "default": True, "stages": STAGES}},
    "permissions": {"keeper": "all"},
}


@pytest.fixture(scope="module")
def db(module_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Db]:
    found = Db(module_url, tmp_path_factory.mktemp("defs"), ROLES, DEAL, SECRET)
    found.admin.add_user("worker", "Работник", ["worker"])
    found.admin.add_user("keeper", "Хранитель", ["keeper"])
    yield found
    found.close()


def stored(db: Db, item_id: int, *columns: str) -> tuple[Any, ...]:
    with db.raw.connect() as connection:
        return tuple(connection.execute(sa.text(f"SELECT {', '.join(columns)} FROM p_deal WHERE id = :i"),
                                        {"i": item_id}).one())


# ---- empty is NULL -------------------------------------------------------------------------------

@pytest.mark.parametrize("empty", ["", "   ", "\t"])
def test_empty_text_is_stored_as_null_so_a_unique_field_never_clashes(db: Db, empty: str) -> None:
    worker = db.as_user("worker")
    first = worker.create("deal", {"title": "First", "code": empty, "email": empty, "note": empty})
    second = worker.create("deal", {"title": "Second", "code": empty, "email": empty})
    assert stored(db, first, "code", "email", "note") == (None, None, None)
    assert stored(db, second, "code", "email") == (None, None)
    # set, then emptied on both: no false "already used", no unique index error
    worker.update("deal", first, {"code": "A-1"})
    worker.update("deal", first, {"code": empty, "note": empty})
    worker.update("deal", second, {"code": empty, "note": "x"})
    worker.update("deal", second, {"note": empty})
    assert stored(db, first, "code", "note") == (None, None)
    assert stored(db, second, "code", "note") == (None, None)
    assert worker.get("deal", first)["code"] is None


def test_empty_text_is_null_from_the_cli_too(db: Db) -> None:
    ids = []
    for title in ("CLI one", "CLI two"):
        result = invoke(db.url, "item", "create", "deal", "--set", f"title={title}", "--set", "code=",
                        "--set", "note=  ", as_user="worker")
        assert result.exit_code == 0, result.output
        ids.append(max(i["id"] for i in db.admin.list("deal")))
    for item_id in ids:
        assert stored(db, item_id, "code", "note") == (None, None)


def test_empty_parts_of_a_list_are_left_out(db: Db) -> None:
    item_id = db.as_user("worker").create("deal", {"title": "Tags", "tags": ["a", "", "  ", "b"]})
    assert db.admin.get("deal", item_id)["tags"] == ["a", "b"]


# ---- date-times keep their instant ---------------------------------------------------------------

def test_a_datetime_with_an_offset_reads_back_as_the_same_instant(db: Db) -> None:
    worker = db.as_user("worker")
    item_id = worker.create("deal", {"title": "Meeting", "meet_at": "2030-05-05T10:00:00+03:00"})
    meet_at = worker.get("deal", item_id)["meet_at"]
    assert meet_at == datetime(2030, 5, 5, 7, 0, tzinfo=UTC)
    assert meet_at.utcoffset() is not None and meet_at.astimezone(UTC).hour == 7
    # a filter with an offset finds it, and one at the wall-clock time in UTC does not
    found = [i["id"] for i in worker.list("deal", where=("meet_at = 2030-05-05T10:00:00+03:00",))]
    assert item_id in found
    assert item_id not in [i["id"] for i in worker.list("deal", where=("meet_at = 2030-05-05T10:00:00Z",))]
    worker.update("deal", item_id, {"meet_at": "2030-05-05T09:30-05:00"})
    assert worker.get("deal", item_id)["meet_at"] == datetime(2030, 5, 5, 14, 30, tzinfo=UTC)


# ---- currencies ----------------------------------------------------------------------------------

@pytest.mark.parametrize("code", ["RUBRUB", "<b>", "=1+1", "+cmd|' /C calc'!A0", "XYZ", "US", 5, "", "  "])
def test_a_currency_that_is_not_iso_4217_is_refused_and_nothing_is_written(db: Db, code: Any) -> None:
    worker = db.as_user("worker")
    item_id = worker.create("deal", {"title": "Money", "amount": {"amount": "10", "currency": "USD"}})
    before = snapshot(db.url)
    if code in ("", "  "):  # no currency given: the field's own
        worker.update("deal", item_id, {"price": {"amount": "-5", "currency": code}})
        assert worker.get("deal", item_id)["price"]["currency"] == "RUB"
        return
    for values in ({"amount": {"amount": "-5", "currency": code}}, {"prices": [{"amount": "1", "currency": code}]}):
        with pytest.raises(InvalidValue, match="ISO 4217") as refused:
            worker.update("deal", item_id, values)
        assert refused.value.field == next(iter(values))
        with pytest.raises(InvalidValue, match="ISO 4217"):
            worker.create("deal", {"title": "Refused", **values})
    assert snapshot(db.url) == before


def test_currencies_are_read_in_any_case_and_stored_upper(db: Db) -> None:
    worker = db.as_user("worker")
    item_id = worker.create("deal", {"title": "Dollars", "amount": {"amount": "100", "currency": "usd"},
                                     "prices": [{"amount": "1", "currency": "eur"}, "2"]})
    item = worker.get("deal", item_id)
    assert item["amount"]["currency"] == "USD"
    assert [p["currency"] for p in item["prices"]] == ["EUR", "RUB"]  # no `currency`: RUB, the default
    assert stored(db, item_id, "amount__currency") == ("USD",)


def test_the_cli_refuses_a_currency_that_is_not_a_code(db: Db) -> None:
    result = invoke(db.url, "item", "create", "deal", "--set", "title=Bad", "--set", "amount=100 XYZ",
                    as_user="worker")
    assert result.exit_code == 9, result.output
    assert "'XYZ' is not an ISO 4217 currency code" in result.output
    good = invoke(db.url, "item", "create", "deal", "--set", "title=Good", "--set", "amount=100 eur",
                  as_user="worker")
    assert good.exit_code == 0, good.output


# ---- file references -----------------------------------------------------------------------------

def attach(db: Db, tmp_path: Path, login: str, process: str, field: str, name: str) -> tuple[int, int]:
    """A new item of process with a file of that name uploaded into field; (item id, file id)."""
    path = tmp_path / name
    path.write_bytes(b"%PDF-1.4 " + name.encode())
    engine = db.as_user(login)
    item_id = engine.create(process, {"title": name, field: file_reference(path)})
    file_id = engine.get(process, item_id)[field]
    assert isinstance(file_id, int)
    return item_id, file_id


def test_a_file_of_another_process_cannot_be_named_by_its_id(db: Db, tmp_path: Path) -> None:
    """The keeper's confidential paper, by id, into the worker's deal: refused, nothing written, so
    its name never shows in an export of deals."""
    _, secret_file = attach(db, tmp_path, "keeper", "secret", "paper", "salaries.pdf")
    worker = db.as_user("worker")
    mine = worker.create("deal", {"title": "Mine"})
    before = snapshot(db.url)
    for values in ({"scan": secret_file}, {"photo": secret_file}, {"scans": [secret_file]}):
        with pytest.raises(InvalidValue, match="is not attached to this item") as refused:
            worker.update("deal", mine, values)
        assert refused.value.field == next(iter(values))
        with pytest.raises(InvalidValue, match="is not attached to this item"):
            worker.create("deal", {"title": "New", **values})
    assert snapshot(db.url) == before


def test_a_file_of_another_item_or_field_cannot_be_named_by_its_id(db: Db, tmp_path: Path) -> None:
    first, photo = attach(db, tmp_path, "worker", "deal", "photo", "photo.png")
    worker = db.as_user("worker")
    other = worker.create("deal", {"title": "Other"})
    with pytest.raises(InvalidValue, match="is not attached to this item's `photo`"):
        worker.update("deal", other, {"photo": photo})
    with pytest.raises(InvalidValue, match="is not attached to this item's `scan`"):  # same item, other field
        worker.update("deal", first, {"scan": photo})
    # the file the field holds may be sent back as read: nothing changes
    assert worker.update("deal", first, {"photo": photo, "title": "Renamed"}) == {"title": ("photo.png", "Renamed")}
    assert worker.get("deal", first)["photo"] == photo


def test_a_held_file_is_still_checked_by_the_fields_rules(db: Db, tmp_path: Path) -> None:
    """A file attached before `extensions` said pdf (made so here by renaming it in the table): sent
    back by id, it meets the rule like any upload."""
    item_id, file_id = attach(db, tmp_path, "worker", "deal", "scan", "scan.pdf")
    worker = db.as_user("worker")
    worker.update("deal", item_id, {"scan": file_id})  # allowed: a pdf of this item's scan
    with db.raw.begin() as connection:
        connection.execute(sa.text("UPDATE sf_files SET name = 'run.exe' WHERE id = :i"), {"i": file_id})
    with pytest.raises(InvalidValue, match=r"run\.exe is not one of the allowed kinds \(pdf\)"):
        worker.update("deal", item_id, {"scan": file_id})
    with db.raw.begin() as connection:
        connection.execute(sa.text("UPDATE sf_files SET name = 'scan.pdf', size = 5000 WHERE id = :i"), {"i": file_id})
    with pytest.raises(InvalidValue, match="over the limit of 1000"):
        worker.update("deal", item_id, {"scan": file_id})


def test_an_upload_is_checked_and_kept(db: Db, tmp_path: Path) -> None:
    worker = db.as_user("worker")
    item_id = worker.create("deal", {"title": "Upload"})
    path = tmp_path / "notes.txt"
    path.write_text("заметки", encoding="utf-8")
    ref = file_upload(path.name, path.read_bytes())
    with pytest.raises(InvalidValue, match=r"notes\.txt is not one of the allowed kinds \(pdf\)"):
        worker.update("deal", item_id, {"scan": ref})
    worker.update("deal", item_id, {"photo": ref})
    assert isinstance(worker.get("deal", item_id)["photo"], int)
