"""`smartflow report`: counts and sums per stage, conversion to success, time in stage (average and median,
from history), overdue dates and win/loss by user — computed by the database over readable items; the
table, JSON and CSV a person reads; the funnel chart and the clear error without matplotlib."""

from __future__ import annotations

import csv
import io
import json
import sys
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from smartflow import Engine
from smartflow.analytics.report import ReportOptions, build_report
from smartflow.cli.main import EXIT_BAD_VALUE, EXIT_INVALID
from tests.data.support import DOCUMENTS, add_people, invoke
from tests.runtime.support import Db, module_url

__all__ = ["module_url"]  # the fixture, imported for pytest

START = datetime(2026, 1, 1, tzinfo=UTC)
DAY = timedelta(days=1)


@pytest.fixture(scope="module")
def db(module_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Db]:
    """Four deals of the main pipeline walked on a fake clock, one of the express pipeline, one without history."""
    database = Db(module_url, tmp_path_factory.mktemp("defs"), *DOCUMENTS)
    add_people(database)
    now = [START]
    clocked = Engine(module_url, clock=lambda: now[0])

    def at(days: float) -> Engine:
        now[0] = START + days * DAY
        return clocked

    won = at(0).as_user("ivanova").create("deal", {"title": "A", "amount": "100"})
    lost = at(0).as_user("ivanova").create("deal", {"title": "B", "amount": "200"})
    at(1).as_user("petrov").create("deal", {"title": "C", "amount": "50 USD"}, typed_text=True)
    at(10).as_user("petrov").create("deal", {"title": "D", "due": "2025-12-01"}, typed_text=True)
    at(2).move("deal", won, "work")
    at(4).move("deal", lost, "work")
    at(2).move("deal", database.admin.list("deal", where=["title = C"])[0]["id"], "work")
    at(5).move("deal", won, "won")
    at(6).move("deal", lost, "lost")
    at(3).create("deal", {"title": "E"}, pipeline="express")
    database.insert_items("deal", [{"title": "raw", "pipeline": "express", "stage": "done",
                                    "created_at": START, "updated_at": START}])
    clocked.close()
    yield database
    database.close()


def report(db: Db, as_user: str | None = None, **options: Any) -> dict[str, Any]:
    engine = db.as_user(as_user)
    engine._cache["clock"] = lambda: START + 20 * DAY
    try:
        with engine.session(False) as write:
            return build_report(write, "deal", ReportOptions(**options))
    finally:
        engine._cache["clock"] = lambda: datetime.now(UTC)


def test_stages_conversion_and_time_in_stage(db: Db) -> None:
    data = report(db)
    assert data["items"] == 4
    stages = {s["stage"]: s for s in data["stages"]}
    assert [(s, stages[s]["count"], stages[s]["sums"]) for s in stages] == [
        ("new", 1, {}), ("work", 1, {"USD": Decimal("50.00")}), ("won", 1, {"RUB": Decimal("100.00")}),
        ("lost", 1, {"RUB": Decimal("200.00")})]
    assert [(s, stages[s]["reached"], stages[s]["won"]) for s in stages] == [
        ("new", 4, 1), ("work", 3, 1), ("won", 1, 1), ("lost", 1, 0)]
    assert stages["new"]["conversion"] == 0.25 and stages["lost"]["conversion"] == 0.0
    days = {s: (stages[s]["stays"], _days(stages[s]["avg_seconds"]), _days(stages[s]["median_seconds"]))
            for s in stages}
    assert days == {"new": (3, 2.333, 2.0), "work": (2, 2.5, 2.5), "won": (0, None, None), "lost": (0, None, None)}


def _days(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds / 86400, 3)


def test_overdue_dates_and_users(db: Db) -> None:
    data = report(db)
    assert data["overdue"] == [{"field": "due", "title": "Due", "count": 1},
                               {"field": "meet_at", "title": "Meeting", "count": 0}]
    assert data["users"] == [
        {"user": "ivanova", "name": "Анна Иванова", "items": 2, "won": 1, "lost": 1, "open": 0, "win_rate": 0.5,
         "won_sums": {"RUB": Decimal("100.00")}, "won_totals": {"amount": {"RUB": Decimal("100.00")}}},
        {"user": "petrov", "name": "Пётр Петров", "items": 2, "won": 0, "lost": 0, "open": 2, "win_rate": None,
         "won_sums": {}, "won_totals": {}}]


def test_period_pipeline_and_items_without_history(db: Db) -> None:
    period = report(db, date_from=date(2026, 1, 2), date_to=date(2026, 1, 11))
    assert period["items"] == 2 and [u["user"] for u in period["users"]] == ["petrov"]
    express = {s["stage"]: s for s in report(db, pipeline="express")["stages"]}
    assert (express["start"]["count"], express["done"]["reached"], express["done"]["conversion"]) == (1, 1, 1.0)


def test_only_readable_items_count(db: Db) -> None:
    assert report(db, "auditor")["items"] == 0  # reads only its own, and has none
    assert report(db, "viewer")["items"] == 4


def test_the_table_a_person_reads(db: Db) -> None:
    result = invoke(db.url, "report", "deal", "--lang", "ru", "--to", "2026-01-31")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0] == "Сделка · Продажи (main): 4 items, created … – 2026-01-31"
    stage_line = next(line for line in lines if line.startswith("Новая"))
    assert stage_line.split() == ["Новая", "1", "4", "25%", "2.3", "d", "2.0", "d"]
    assert any(line.split()[:3] == ["✓", "Выиграна", "1"] and "100.00 RUB" in line for line in lines)
    assert any(line.split() == ["Срок", "1"] for line in lines)
    assert any(line.startswith("Анна Иванова") and "50%" in line for line in lines)


def test_json_and_csv(db: Db) -> None:
    data = json.loads(invoke(db.url, "report", "deal", "--format", "json").stdout)
    assert data["stages"][2]["sums"] == {"RUB": "100.00"} and data["stages"][0]["conversion"] == 0.25
    text = invoke(db.url, "report", "deal", "--format", "csv").stdout
    stages, overdue, users = (list(csv.reader(io.StringIO(block))) for block in text.split("\n\n"))
    assert stages[0][:6] == ["stage", "items", "sum", "title", "semantic", "reached"]
    assert stages[1][:6] == ["new", "1", "", "New", "process", "4"]
    assert overdue == [["date field", "items"], ["due", "1"], ["meet_at", "0"]]
    assert users[1] == ["ivanova", "2", "1", "1", "0", "0.5", "100.00 RUB"]


def test_unknown_pipeline(db: Db) -> None:
    result = invoke(db.url, "report", "deal", "--pipeline", "expres")
    assert result.exit_code == EXIT_BAD_VALUE
    assert result.stderr == "error: deal has no pipeline `expres`\n  hint: did you mean `express`?\n"


@pytest.mark.parametrize("suffix", ["png", "svg"])
def test_funnel_chart(db: Db, tmp_path: Path, suffix: str) -> None:
    pytest.importorskip("matplotlib")
    chart = tmp_path / f"funnel.{suffix}"
    result = invoke(db.url, "report", "deal", "--chart", str(chart), "--lang", "ru")
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[-1] == f"funnel drawn: {chart}"
    picture = chart.read_bytes()
    assert picture.startswith(b"\x89PNG") if suffix == "png" else b"<svg" in picture[:2000]


def test_chart_without_matplotlib_is_a_clear_error(db: Db, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)
    result = invoke(db.url, "report", "deal", "--chart", str(tmp_path / "f.png"))
    assert result.exit_code == EXIT_INVALID
    assert result.stderr == ("error: drawing a chart needs matplotlib, which is not installed\n"
                             "  hint: install the extra: pip install 'smartflow[charts]'\n")
    wrong = invoke(db.url, "report", "deal", "--chart", str(tmp_path / "f.gif"))
    assert wrong.stderr == "error: cannot draw a chart as f.gif\n  hint: name the file *.png or *.svg\n"
