"""Reading items builds no SQL per call: the statements a read runs (an item, its multiple values) are
built once per deployed version and run with parameters (runtime.compiled.built). Building a SELECT
and its cache key costs SQLAlchemy more than SQLite takes to run it: the card page spent a tenth of
its time building the multiple values' query anew for each item."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa

from smartflow.runtime import items, query
from tests.dbutil import statements
from tests.runtime.support import DOCUMENTS, Db, module_url

__all__ = ["module_url"]  # the fixture, imported for pytest


@pytest.fixture(scope="module")
def db(module_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Db]:
    database = Db(module_url, tmp_path_factory.mktemp("defs"), *DOCUMENTS)
    yield database
    database.close()


class _Counting:
    """sqlalchemy, with its select() counted."""

    def __init__(self) -> None:
        self.selects = 0

    def select(self, *args: Any, **kwargs: Any) -> Any:
        self.selects += 1
        return sa.select(*args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(sa, name)


def test_reading_items_builds_no_statement_per_call(db: Db, monkeypatch: pytest.MonkeyPatch) -> None:
    crm = db.admin
    first = crm.create("purchase", {"title": "один", "tags": ["a", "b"]})
    second = crm.create("purchase", {"title": "два", "tags": ["c"]})
    assert crm.get("purchase", first)["tags"] == ["a", "b"]  # the statements built, once
    crm.list("purchase", where=[f"id in {first},{second}"])
    crm.card("purchase", first)
    crm.history("purchase", first)
    counting = _Counting()
    monkeypatch.setattr(items, "sa", counting)
    monkeypatch.setattr(query, "sa", counting)
    assert crm.get("purchase", second)["tags"] == ["c"]
    assert crm.card("purchase", first)["item"]["tags"] == ["a", "b"]
    assert [row["tags"] for row in crm.list("purchase", where=[f"id in {first},{second}"], sort="id")] == [
        ["a", "b"], ["c"]]
    assert [h["kind"] for h in crm.history("purchase", second)] == ["create"]
    assert counting.selects == 0


def test_the_card_reads_its_item_once(db: Db) -> None:
    """The card's history does not read the item again to check that it may be read: the card just did."""
    crm = db.admin
    item_id = crm.create("purchase", {"title": "once", "tags": ["x"]})
    with statements(lambda sql: " FROM p_purchase " in sql.replace("\n", " ")) as seen:
        card = crm.card("purchase", item_id)
    assert card["item"]["title"] == "once" and [h["kind"] for h in card["history"]] == ["create"]
    assert len(seen) == 1
    with pytest.raises(Exception, match="not found"):
        crm.history("purchase", 999_999)  # alone, history still refuses an item that is not there


def test_the_timeline_reads_its_item_once(db: Db) -> None:
    """The timeline's history checks that the item may be read; its comments and to-dos do not read it again."""
    crm = db.admin
    item_id = crm.create("purchase", {"title": "лента", "tags": ["x"]})
    crm.comment("purchase", item_id, "первый комментарий")
    with statements(lambda sql: " FROM p_purchase " in sql.replace("\n", " ")) as seen:
        entries = crm.timeline("purchase", item_id)
    assert [e["kind"] for e in entries] == ["comment", "history"]
    assert entries[0]["entry"]["text"] == "первый комментарий"
    assert len(seen) == 1
    with pytest.raises(Exception, match="not found"):
        crm.timeline("purchase", 999_999)
    with pytest.raises(Exception, match="not found"):
        crm.comments("purchase", 999_999)  # alone, comments still refuse an item that is not there
