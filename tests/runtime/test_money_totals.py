"""Kanban and report sum every money field a user may see, per currency; money keeps its currency
through show, export and import."""

from __future__ import annotations

import io
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from smartflow.analytics.report import ReportOptions, render_text
from smartflow.data.export import ExportOptions
from smartflow.data.importer import ImportOptions
from tests.runtime.support import Db, module_url

__all__ = ["module_url"]  # the fixture, imported for pytest

ROLES: dict[str, Any] = {"kind": "Roles", "roles": {"sales": {"title": "Sales"}}}
DEAL: dict[str, Any] = {
    "kind": "Process", "id": "deal", "title": "Deal",
    "fields": {"budget": {"type": "money", "currency": "RUB"}, "cost": {"type": "money", "currency": "USD"},
               "margin": {"type": "money", "currency": "RUB"}},
    "pipelines": {"main": {"title": "Main", "default": True, "stages": {
        "open": {"title": "Open"}, "won": {"title": "Won", "semantic": "success"},
        "lost": {"title": "Lost", "semantic": "failure"}}}},
    "permissions": {"sales": {"read": "all", "create": "all", "update": "all", "move": "all", "export": "all",
                              "import": "all", "hidden_fields": ["margin"]}},
}


@pytest.fixture(scope="module")
def db(module_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Db]:
    database = Db(module_url, tmp_path_factory.mktemp("defs"), ROLES, DEAL)
    database.admin.add_user("seller", "Seller", ["sales"], None)
    admin = database.admin
    first = admin.create("deal", {"title": "a", "budget": {"amount": "100", "currency": "RUB"},
                                  "cost": {"amount": "10", "currency": "USD"}, "margin": "5"})
    admin.create("deal", {"title": "b", "budget": {"amount": "7.50", "currency": "EUR"},
                          "cost": {"amount": "20", "currency": "USD"}, "margin": "6"})
    third = admin.create("deal", {"title": "c", "budget": {"amount": "1", "currency": "RUB"}, "margin": "1"})
    admin.move("deal", first, "won")
    admin.move("deal", third, "won")
    yield database
    database.close()


def test_kanban_sums_every_money_field_per_currency(db: Db) -> None:
    board = db.admin.kanban("deal")
    assert board["money_fields"] == ["budget", "cost", "margin"]
    columns = {c["stage"]: c for c in board["columns"]}
    assert columns["open"]["totals"] == {"budget": {"EUR": Decimal("7.50")}, "cost": {"USD": Decimal("20.00")},
                                         "margin": {"RUB": Decimal("6.00")}}
    assert columns["won"]["totals"] == {"budget": {"RUB": Decimal("101.00")}, "cost": {"USD": Decimal("10.00")},
                                        "margin": {"RUB": Decimal("6.00")}}
    assert columns["won"]["sums"] == {"RUB": Decimal("101.00")}  # the first money field, as before
    seller = db.as_user("seller").kanban("deal")
    assert seller["money_fields"] == ["budget", "cost"]  # a hidden money field is not summed for its reader
    assert all("margin" not in c["totals"] for c in seller["columns"])


def test_report_sums_every_money_field_per_currency(db: Db) -> None:
    report = db.admin.report("deal", ReportOptions())
    stages = {s["stage"]: s for s in report["stages"]}
    assert stages["won"]["totals"]["cost"] == {"USD": Decimal("10.00")}
    assert stages["open"]["totals"]["budget"] == {"EUR": Decimal("7.50")}
    nobody = next(u for u in report["users"] if u["user"] is None)
    assert nobody["won_totals"] == {"budget": {"RUB": Decimal("101.00")}, "cost": {"USD": Decimal("10.00")},
                                    "margin": {"RUB": Decimal("6.00")}}
    text = render_text(db.as_user("seller").report("deal", ReportOptions()))
    assert "sum of cost" in text and "10.00 USD" in text and "margin" not in text


def test_money_keeps_its_currency_through_export_and_import(db: Db, tmp_path: Path) -> None:
    stream = io.BytesIO()
    db.admin.export("deal", stream, ExportOptions(columns="title,budget,cost", where=("title = b",)))
    text = stream.getvalue().decode("utf-8-sig")
    assert "7.50 EUR" in text and "20.00 USD" in text
    sheet = tmp_path / "deals.csv"
    sheet.write_text(text.replace(",b,", ",b2,").replace("\nb,", "\nb2,"), encoding="utf-8")
    result = db.admin.import_file("deal", sheet, ImportOptions())
    assert result.created == 1, result
    copy = db.admin.list("deal", where=["title = b2"])[0]
    assert copy["budget"] == {"amount": Decimal("7.50"), "currency": "EUR"}
    assert copy["cost"] == {"amount": Decimal("20.00"), "currency": "USD"}
