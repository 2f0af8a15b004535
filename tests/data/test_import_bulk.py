"""New rows of an import are written many at a time, after exactly the checks of a single create.

Two processes are the same deal but for one trigger, which listens to a field the files never
give and so never fires: a process a trigger hears is imported row by row (`items.create`, the path of
`smartflow item create`), the other in bulk (`items.new_item`, then one executemany per chunk).
The same file, with good rows and rows bad in every way (types, required, unique against the
table and within the file, rights, the stage's required fields, a transition's condition and
roles, users, links), goes into each; the results, the problems, the items, their multiple
values and their history rows must be the same, on SQLite and PostgreSQL.
"""

from __future__ import annotations

import copy
import csv
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from smartflow import Engine
from smartflow.data.importer import ANALYZE_FROM, ImportOptions, ImportResult, import_file
from tests.data.support import CLIENT, DEAL, ROLES, add_people
from tests.dbutil import statements
from tests.runtime.support import Db, module_url

__all__ = ["module_url"]  # the fixture, imported for pytest

NOW = datetime(2030, 3, 4, 10, 0, tzinfo=UTC)


def deal(process_id: str, *, heard: bool) -> dict[str, Any]:
    document = copy.deepcopy(DEAL)
    document["id"] = process_id
    if heard:  # listens to a field the files never give: it never fires, but the process is heard
        document["triggers"] = [{"id": "mailed", "on": "field_changed", "field": "email",
                                 "do": [{"comment": "mailed"}]}]
    return document


BULK, ONE_BY_ONE = "lotb", "lot1"

HEADERS = ["title", "code", "amount", "qty", "due", "kind", "channels", "manager", "client", "note", "pipeline",
           "stage"]
ROWS = [
    ["Бетон", "C1", "1500.50", "3", "2026-12-01", "retail", "", "", "", "", "", ""],
    ["Арматура", "C2", "10", "", "", "Опт", "web,phone", "ivanova", "ООО «Ромашка»", "ok", "", "work"],
    ["Без суммы", "C3", "", "", "", "", "", "", "", "", "", "work"],       # the stage requires amount
    ["Кривое число", "C4", "5", "x", "", "", "", "", "", "", "", ""],      # not a whole number
    ["Двойник", "C1", "", "", "", "", "", "", "", "", "", ""],             # C1 taken by row 1
    ["Старый", "PRE", "", "", "", "", "", "", "", "", "", ""],             # taken by an item before the import
    ["Нулевая", "C7", "0", "", "", "", "", "", "", "", "", "work"],        # the condition `amount > 0` is false
    ["Выиграна", "C8", "700", "", "", "", "", "", "", "", "", "won"],      # from work only, seller or loader: ok
    ["Чужой", "C9", "", "", "", "", "", "nobody", "", "", "", ""],         # no such user
    ["Нет клиента", "C10", "", "", "", "", "", "", "#9999", "", "", ""],   # no such client
    ["", "C11", "", "", "", "", "", "", "", "", "", ""],                   # no title
    ["Минус", "C12", "-5", "", "", "", "", "", "", "", "", ""],            # under the minimum
    ["Экспресс", "C13", "", "", "", "", "", "", "", "", "Экспресс", "done"],
    ["Не вид", "C14", "", "", "", "wrong", "", "", "", "", "", ""],        # no such option
    ["Второй двойник", "C2", "", "", "", "", "", "", "", "", "", ""],      # C2 taken by row 2
    ["Без кода", "", "", "", "", "", "phone", "", "#1", "", "", ""],
    ["Без кода 2", "", "1", "", "", "", "", "", "", "", "", "lost"],
]
# --key code: updates of the items above, new items, a key given twice, moves under the rules
KEYED = [
    ["Бетон М400", "C1", "1600", "", "", "", "", "", "", "", "", "work"],
    ["Новая", "K1", "5", "", "", "", "", "", "", "", "", ""],
    ["Новая ещё раз", "K1", "6", "", "", "", "", "", "", "", "", ""],
    ["Новая плохая", "K2", "zz", "", "", "", "", "", "", "", "", ""],
    ["Новая в работе", "K3", "0", "", "", "", "", "", "", "", "", "work"],
    ["Новая", "K4", "", "", "", "", "", "", "", "", "", ""],
    ["Двойник ключа", "K4", "", "", "", "", "", "", "", "", "", "won"],  # no transition new → won
]


@pytest.fixture(scope="module")
def db(module_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Db]:
    database = Db(module_url, tmp_path_factory.mktemp("defs"), ROLES, CLIENT, deal(BULK, heard=False),
                  deal(ONE_BY_ONE, heard=True))
    add_people(database)
    database.admin.create("client", {"title": "ООО «Ромашка»"})
    with Engine(module_url, clock=lambda: NOW) as admin:
        for process_id in (BULK, ONE_BY_ONE):
            admin.create(process_id, {"title": "До импорта", "code": "PRE"})
    yield database
    database.close()


def write_csv(path: Path, rows: list[list[str]]) -> Path:
    with path.open("w", encoding="utf-8-sig", newline="") as handle:
        csv.writer(handle).writerows([HEADERS, *rows])
    return path


def run(db: Db, process_id: str, source: Path, **options: Any) -> tuple[ImportResult, list[str]]:
    """Import as `loader` on a fixed clock; the result, and the INSERT statements into the item table."""
    table = re.compile(rf'^\s*INSERT INTO "?p_{process_id}"?\s', re.IGNORECASE)
    with statements(lambda sql: bool(table.match(sql))) as inserts, \
            Engine(db.url, as_user="loader", clock=lambda: NOW, via="import") as crm:
        result = import_file(crm, process_id, source, ImportOptions(**options))
    return result, inserts


def stored(db: Db, process_id: str) -> dict[str, list[tuple[Any, ...]]]:
    """Everything the import wrote for a process, as stored: items, multiple values, history."""
    out: dict[str, list[tuple[Any, ...]]] = {}
    with db.raw.connect() as connection:
        out["items"] = [tuple(r) for r in connection.execute(sa.text(f"SELECT * FROM p_{process_id} ORDER BY id"))]
        out["channels"] = [tuple(r) for r in connection.execute(sa.text(
            f"SELECT item_id, position, value FROM p_{process_id}__channels ORDER BY item_id, position"))]
        out["history"] = [tuple(r) for r in connection.execute(sa.text(
            "SELECT item_id, at, actor_id, kind, field, old, new, via, definition_version FROM sf_history "
            "WHERE process = :p ORDER BY id"), {"p": process_id})]
    return out


def same(bulk: ImportResult, one_by_one: ImportResult) -> None:
    assert (bulk.rows, bulk.created, bulk.updated, bulk.unchanged, bulk.failed_rows) == (
        one_by_one.rows, one_by_one.created, one_by_one.updated, one_by_one.unchanged, one_by_one.failed_rows)
    assert [str(p) for p in bulk.problems] == [str(p).replace(ONE_BY_ONE, BULK) for p in one_by_one.problems]


def test_bulk_and_row_by_row_imports_write_the_same_and_refuse_the_same(db: Db, tmp_path: Path) -> None:
    source = write_csv(tmp_path / "lots.csv", ROWS)
    one_by_one, singles = run(db, ONE_BY_ONE, source)
    bulk, batched = run(db, BULK, source)
    same(bulk, one_by_one)
    assert bulk.created == 6 and bulk.failed_rows == 11
    problems = [str(p) for p in bulk.problems]
    assert 'row 4, column "amount": stage `work` requires `amount`' in problems[0]
    assert "row 8: lotb items cannot be put into stage `work`: the transition `new` → `work`: the condition " \
        "`amount > 0` is false (amount = 0.00)" in problems
    assert 'row 6, column "code": \'C1\' is already used by lotb 2' in problems
    assert 'row 16, column "code": \'C2\' is already used by lotb 3' in problems
    assert any(p.startswith('row 7, column "code": \'PRE\' is already used by lotb 1') for p in problems)
    assert stored(db, BULK) == stored(db, ONE_BY_ONE)
    # one INSERT per row, against one per run of rows between the clashes with earlier rows (rows 6 and 16)
    assert len(singles) == bulk.created and len(batched) == 3

    keyed = write_csv(tmp_path / "keyed.csv", KEYED)
    one_by_one, _ = run(db, ONE_BY_ONE, keyed, key="code")
    bulk, _ = run(db, BULK, keyed, key="code")
    same(bulk, one_by_one)
    assert (bulk.created, bulk.updated, bulk.failed_rows) == (2, 2, 3), [str(p) for p in bulk.problems]
    assert stored(db, BULK) == stored(db, ONE_BY_ONE)


def test_a_dry_run_and_an_abort_write_nothing_in_bulk(db: Db, tmp_path: Path) -> None:
    source = write_csv(tmp_path / "again.csv", [[cell.replace("C", "D") for cell in row] for row in ROWS])
    before = stored(db, BULK)
    dry, _ = run(db, BULK, source, dry_run=True)
    aborted, _ = run(db, BULK, source, on_error="abort")
    assert (dry.created, dry.failed_rows) == (aborted.created, aborted.failed_rows) == (6, 11)
    assert not dry.written and not aborted.written
    assert stored(db, BULK) == before


def test_a_large_import_refreshes_sqlite_statistics_and_leaves_postgresql_alone(db: Db, tmp_path: Path) -> None:
    rows = [[f"Партия {n}", f"S{n}", "10", "", "", "", "", "", "", "", "", ""] for n in range(ANALYZE_FROM)]
    source = write_csv(tmp_path / "large.csv", rows)
    with statements(lambda sql: sql.upper().startswith("ANALYZE")) as analyzed, \
            Engine(db.url, as_user="loader", clock=lambda: NOW, via="import") as crm:
        result = import_file(crm, BULK, source, ImportOptions())
    assert (result.created, result.failed_rows) == (ANALYZE_FROM, 0)
    if db.url.startswith("sqlite"):
        assert analyzed == [f"ANALYZE p_{BULK}"]
        with db.raw.connect() as connection:
            indexes = {r[0] for r in connection.execute(sa.text("SELECT idx FROM sqlite_stat1 WHERE tbl = :t"),
                                                        {"t": f"p_{BULK}"})}
        assert f"ix_{BULK}_pipeline_stage" in indexes
    else:
        assert analyzed == []
