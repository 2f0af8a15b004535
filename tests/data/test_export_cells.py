"""Every exported cell is safe to open in a spreadsheet, whatever its field's type: no CSV cell starts
with `= + - @`, a tab or a carriage return unless it is a plain number, and no xlsx cell is a formula
or an unquoted text starting so. Hostile text goes into every column a person can fill — and a
currency stored before codes were checked, a user's name, a linked item's title, a file's name."""

from __future__ import annotations

import contextlib
import copy
import csv
import io
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from smartflow.data.cells import FORMULA_START, restore
from smartflow.data.export import ExportOptions
from smartflow.data.importer import ImportOptions
from smartflow.errors import InvalidValue
from tests.data.support import CLIENT, DEAL, ROLES, TICKET, add_people
from tests.runtime.support import Db, module_url

__all__ = ["module_url"]  # the fixture, imported for pytest

PAYLOAD = "+cmd|' /C calc'!A0"
PLAIN_NUMBER = re.compile(r"-?[0-9]+(\.[0-9]+)?\Z")
REFUNDS = copy.deepcopy(DEAL)  # the data tests' deal, with amounts below zero allowed (refunds)
del REFUNDS["fields"]["amount"]["min"]
DOCUMENTS = (ROLES, CLIENT, REFUNDS, TICKET)


@pytest.fixture(scope="module")
def db(module_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Db]:
    database = Db(module_url, tmp_path_factory.mktemp("defs"), *DOCUMENTS)
    add_people(database)
    database.admin.add_user("formula", "=HYPERLINK(\"http://evil.example\")", ["loader"])
    client = database.admin.create("client", {"title": "@SUM(1+1)*cmd|' /C calc'!A0"})
    loader = database.as_user("loader")
    item_id = loader.create("deal", {"title": "Legacy", "amount": "-5", "weight": "-1.25", "manager": "formula",
                                     "client": client, "note": "\tTAB", "code": "\rCR"})
    with database.raw.begin() as connection:  # what the JSON path once let through, and a file's name
        connection.execute(sa.text(f"UPDATE p_deal SET amount__currency = :c WHERE id = {item_id}"),
                           {"c": legacy_code(module_url)})
        file_id = connection.execute(sa.text(
            "INSERT INTO sf_files (name, size, checksum, location, created_at) VALUES "
            "('=1+1.pdf', 1, 'x', '/nowhere', CURRENT_TIMESTAMP) RETURNING id")).scalar_one()
        connection.execute(sa.text(f"UPDATE p_deal SET scan = :f WHERE id = {item_id}"), {"f": file_id})
    yield database
    database.close()


def legacy_code(url: str) -> str:
    """The hostile currency a table holds: the payload on SQLite; PostgreSQL's column takes 3 characters."""
    return PAYLOAD if url.startswith("sqlite") else "=A1"


def csv_cells(db: Db, *where: str) -> list[list[str]]:
    out = io.BytesIO()
    db.admin.export("deal", out, ExportOptions(columns="all", lang="ru", where=where))
    return list(csv.reader(io.StringIO(out.getvalue().decode("utf-8-sig"), newline="")))


def check_csv(rows: list[list[str]]) -> None:
    for row in rows:
        for cell in row:
            if cell[:1] in FORMULA_START:
                assert PLAIN_NUMBER.match(cell), f"a CSV cell runs as a formula: {cell!r}"


def check_xlsx(path: Path) -> None:
    from openpyxl import load_workbook

    sheet = load_workbook(path).active
    for row in sheet.iter_rows():
        for cell in row:
            assert cell.data_type != "f", f"an xlsx formula: {cell.value!r}"
            if isinstance(cell.value, str) and cell.value[:1] in FORMULA_START:
                assert cell.quotePrefix, f"an xlsx text cell that may run: {cell.value!r}"


def test_every_cell_of_an_export_with_hostile_values_is_neutralised(db: Db, tmp_path: Path) -> None:
    rows = csv_cells(db)
    check_csv(rows)
    legacy = next(r for r in rows if r[1] == "Legacy")
    assert f"'-5.00 {legacy_code(db.url)}" in legacy  # a negative amount with the payload as its currency
    assert "-1.250" in legacy  # a plain negative number stays a number
    for shown in ("'=HYPERLINK(\"http://evil.example\")", "'=1+1.pdf", "'\tTAB", "'\rCR"):
        assert shown in legacy, shown
    assert any(cell.startswith("'@SUM(1+1)*cmd|' /C calc'!A0 (#") for cell in legacy)  # a linked item's title
    target = tmp_path / "deals.xlsx"
    db.admin.export("deal", target, ExportOptions(format="xlsx", columns="all"))
    check_xlsx(target)


def test_a_negative_amount_round_trips_through_csv(db: Db, tmp_path: Path) -> None:
    loader = db.as_user("loader")
    item_id = loader.create("deal", {"title": "Refund", "amount": {"amount": "-1500.50", "currency": "USD"}})
    target = tmp_path / "deals.csv"
    db.admin.export("deal", target, ExportOptions(columns="title,amount", where=(f"id = {item_id}",)))
    text = target.read_text(encoding="utf-8-sig")
    assert "'-1500.50 USD" in text
    assert restore("'-1500.50 USD") == "-1500.50 USD"
    result = loader.import_file("deal", target, ImportOptions())
    assert result.created == 1, result.problems
    copied = max(i["id"] for i in loader.list("deal"))
    assert loader.get("deal", copied)["amount"] == loader.get("deal", item_id)["amount"]


HOSTILE = st.builds(lambda start, rest: start + rest, st.sampled_from([*FORMULA_START, "'", "''", " ="]),
                    st.text(st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), max_size=12))


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(title=HOSTILE, note=HOSTILE, code=HOSTILE, amount=st.decimals(-10**6, 10**6, places=2, allow_nan=False))
def test_hostile_text_in_any_column_never_runs(db: Db, tmp_path: Path, title: str, note: str, code: str,
                                                amount: Any) -> None:
    if not title.strip():
        title = "=" + title
    loader = db.as_user("loader")
    item_id = loader.create("deal", {"title": title, "note": note, "code": None,
                                     "amount": {"amount": str(amount), "currency": "EUR"}})
    with contextlib.suppress(InvalidValue):  # a unique code may clash with an earlier example's: left empty
        loader.update("deal", item_id, {"code": code})
    check_csv(csv_cells(db, f"id = {item_id}"))
    target = tmp_path / "hostile.xlsx"
    db.admin.export("deal", target, ExportOptions(format="xlsx", columns="title,note,code,amount",
                                                   where=(f"id = {item_id}",)))
    check_xlsx(target)
