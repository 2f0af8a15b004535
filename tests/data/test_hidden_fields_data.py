"""Hidden fields in exports, imports and reports: the columns and sums a user whose roles hide a field
gets, and the refusals (exit 8, one message, nothing written) when they name one.

The definitions and people are those of tests/runtime/test_hidden_fields.py: `rec` (recruiter) may not
see the vacancy's salary, passport, internal note, start date, grade, employer and tags; `head` and
`mixed` (recruiter + a role that reads everything) see them all; `desk` (recruiter + a role that may not
read) sees what `rec` sees.
"""

from __future__ import annotations

import csv
import gc
import io
import json
import sys
import tempfile
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from smartflow.analytics.report import ReportOptions, report
from smartflow.cli.main import EXIT_DENIED
from smartflow.data.export import ExportOptions, export_items
from smartflow.data.importer import ImportOptions, import_file
from smartflow.errors import PermissionDenied
from tests.data.support import invoke
from tests.runtime.support import module_url
from tests.runtime.test_hidden_fields import DOCUMENTS, HIDDEN, Hiring, setup_people_and_items

__all__ = ["module_url"]  # the fixture, imported for pytest

HINT = "ask for a role that may see it (`hidden_fields`)"
ALL_RU = ["ID", "Название", "Воронка", "Стадия", "Ответственный", "Оклад", "Паспорт", "Заметки", "Служебная заметка",
          "Дата собеседования", "Дата выхода", "Грейд", "Компания", "Работодатель", "Метки", "Создал", "Создано",
          "Изменено", "Перемещено", "Закрыто"]
HIDDEN_RU = {"Оклад", "Паспорт", "Служебная заметка", "Дата выхода", "Грейд", "Работодатель", "Метки"}


@pytest.fixture(scope="module")
def db(module_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Hiring]:
    hiring = Hiring(module_url, tmp_path_factory.mktemp("defs"), *DOCUMENTS)
    setup_people_and_items(hiring)
    # created in `hired`, the item meets the conditions on the way there (`salary > 100000`, `passport and
    # interview_on`), then its values are changed
    hiring.ids["won"] = hiring.add_vacancy("Бухгалтер", stage="hired", salary="190000", passport="4000 111111",
                                           interview_on="2020-02-01", assigned_to="head", start_on="2020-03-01")
    hiring.admin.update("vacancy", hiring.ids["won"], {"salary": "90000", "passport": None, "interview_on": None})
    yield hiring
    hiring.close()


def counts(db: Hiring) -> tuple[int, int]:
    return db.count("p_vacancy"), db.count("sf_history", "process = 'vacancy'")


def read_csv(path: Path) -> list[list[str]]:
    return list(csv.reader(io.StringIO(path.read_text(encoding="utf-8-sig"), newline="")))


@contextmanager
def leftovers() -> Iterator[list[str]]:
    """What the exports run inside leave behind once collected: files left open (ResourceWarning),
    errors while cleaning up, openpyxl's temporary files (so a known leak cannot fail a later test)."""
    found: list[str] = []
    temporary = Path(tempfile.gettempdir())
    before = set(temporary.glob("openpyxl.*"))
    hook = sys.unraisablehook
    sys.unraisablehook = lambda raised: found.append(f"{raised.exc_type.__name__}: {raised.exc_value}")
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            yield found
            gc.collect()
        found += [f"ResourceWarning: {w.message}" for w in caught if issubclass(w.category, ResourceWarning)]
    finally:
        sys.unraisablehook = hook
    found += [f"left in {temporary}: {path.name}" for path in set(temporary.glob("openpyxl.*")) - before]


def export_as(db: Hiring, login: str, *args: str) -> tuple[int, str, str]:
    """The exit code, stdout and stderr of `smartflow export vacancy ARGS --as login`."""
    result = invoke(db.url, "export", "vacancy", *args, as_user=login)
    return result.exit_code, result.stdout, result.stderr


def write_csv(path: Path, rows: list[list[Any]]) -> Path:
    with path.open("w", encoding="utf-8-sig", newline="") as handle:
        csv.writer(handle).writerows(rows)
    return path


# ---- export -----------------------------------------------------------------------------------------


def test_export_default_columns_leave_hidden_ones_out(db: Hiring, tmp_path: Path) -> None:
    target = tmp_path / "вакансии.csv"
    result = invoke(db.url, "export", "vacancy", "-o", str(target), "--lang", "ru", as_user="rec")
    assert result.exit_code == 0, result.output
    assert result.stdout == (f"exported 5 vacancy items to {target}; left out, hidden from you: salary, passport\n")
    rows = read_csv(target)
    assert rows[0] == ["ID", "Название", "Стадия", "Дата собеседования"]
    assert rows[1] == [str(db.ids["java"]), "Java-разработчик", "Новая", "2020-01-10"]
    assert "4500 123456" not in target.read_text(encoding="utf-8-sig")
    full = tmp_path / "все.csv"
    assert invoke(db.url, "export", "vacancy", "-o", str(full), "--lang", "ru", as_user="head").stdout == (
        f"exported 5 vacancy items to {full}\n")
    assert read_csv(full)[0] == ["ID", "Название", "Стадия", "Оклад", "Паспорт", "Дата собеседования"]


def test_export_all_columns_leave_hidden_ones_out(db: Hiring, tmp_path: Path) -> None:
    target = tmp_path / "all.csv"
    result = invoke(db.url, "export", "vacancy", "-o", str(target), "--columns", "all", "--lang", "ru",
                    as_user="desk")
    assert result.exit_code == 0, result.output
    assert result.stdout == (f"exported 5 vacancy items to {target}; left out, hidden from you: "
                             "salary, passport, secret, start_on, grade, employer, tags\n")
    rows = read_csv(target)
    assert rows[0] == [h for h in ALL_RU if h not in HIDDEN_RU]
    text = target.read_text(encoding="utf-8-sig")
    for value in ("4500 123456", "переманиваем", "АО «Тайна»", "vip", "2020-02-01", "150000"):
        assert value not in text, value
    java = next(row for row in rows if row[0] == str(db.ids["java"]))
    assert java[rows[0].index("Компания")].startswith("ООО «Ромашка» (#")  # the linked item's title and id
    for login in ("mixed", "head"):
        everything = tmp_path / f"{login}.csv"
        shown = invoke(db.url, "export", "vacancy", "-o", str(everything), "--columns", "all", "--lang", "ru",
                       as_user=login)
        assert shown.stdout == f"exported 5 vacancy items to {everything}\n"
        assert read_csv(everything)[0] == ALL_RU
        assert "4500 123456" in everything.read_text(encoding="utf-8-sig")


def test_export_result_names_the_columns_left_out(db: Hiring, tmp_path: Path) -> None:
    result = export_items(db.as_user("rec"), "vacancy", tmp_path / "a.csv", ExportOptions(columns="all"))
    assert result.hidden == list(HIDDEN)
    assert not set(HIDDEN) & set(result.columns)
    assert "notes" in result.columns
    default = export_items(db.as_user("rec"), "vacancy", tmp_path / "b.csv", ExportOptions())
    assert (default.columns, default.hidden) == (["id", "title", "stage", "interview_on"], ["salary", "passport"])
    assert export_items(db.as_user("mixed"), "vacancy", tmp_path / "c.csv", ExportOptions(columns="all")).hidden == []


def test_xlsx_export_leaves_hidden_columns_out(db: Hiring, tmp_path: Path) -> None:
    from openpyxl import load_workbook

    target = tmp_path / "вакансии.xlsx"
    assert invoke(db.url, "export", "vacancy", "-o", str(target), "--columns", "title,notes,salary",
                  as_user="rec").exit_code == EXIT_DENIED
    assert not target.exists()
    result = invoke(db.url, "export", "vacancy", "-o", str(target), "--columns", "all", "--lang", "ru", as_user="rec")
    assert result.exit_code == 0, result.output
    sheet = load_workbook(target).active
    assert [c.value for c in sheet[1]] == [h for h in ALL_RU if h not in HIDDEN_RU]


@pytest.mark.parametrize(("args", "message"), [
    (("--columns", "title,salary"), "you may not export field `salary` of vacancy: your roles hide it"),
    (("--columns", "tags", "--lang", "ru"), "you may not export field `tags` of vacancy: your roles hide it"),
    (("--where", "salary > 5"), "you may not filter on field `salary` of vacancy: your roles hide it"),
    (("--where", "notes is not empty", "--where", "secret contains a"),
     "you may not filter on field `secret` of vacancy: your roles hide it"),
    (("--sort", "passport:desc"), "you may not sort by field `passport` of vacancy: your roles hide it"),
])
def test_export_naming_a_hidden_field_is_refused_and_writes_no_file(db: Hiring, tmp_path: Path,
                                                                    args: tuple[str, ...], message: str) -> None:
    for suffix in ("csv", "xlsx"):
        target = tmp_path / f"out.{suffix}"
        with leftovers():  # an open handle and a temporary file: see test_a_refused_export_leaves_nothing_open
            seen = export_as(db, "rec", "-o", str(target), *args)
        assert seen == (EXIT_DENIED, "", f"error: {message}\n  hint: {HINT}\n")
        assert list(tmp_path.iterdir()) == []  # neither the file nor a partial one
    allowed = invoke(db.url, "export", "vacancy", "-o", str(tmp_path / "mixed.csv"), *args, as_user="mixed")
    assert allowed.exit_code == 0, allowed.output


def test_export_search_does_not_find_words_of_hidden_fields(db: Hiring, tmp_path: Path) -> None:
    target = tmp_path / "found.csv"
    result = invoke(db.url, "export", "vacancy", "-o", str(target), "--search", "конкурент", as_user="rec")
    assert result.stdout.startswith(f"exported 0 vacancy items to {target}")
    assert len(read_csv(target)) == 1  # the header only
    result = invoke(db.url, "export", "vacancy", "-o", str(target), "--search", "конкурент", as_user="head")
    assert result.stdout == f"exported 1 vacancy items to {target}\n"


def test_a_refused_export_to_stdout_prints_nothing(db: Hiring) -> None:
    with leftovers():
        code, stdout, _ = export_as(db, "rec", "-o", "-", "--where", "salary > 5")
    assert (code, stdout) == (EXIT_DENIED, "")


@pytest.mark.parametrize("suffix", ["csv", "xlsx"])
def test_a_refused_export_leaves_nothing_open(db: Hiring, tmp_path: Path, suffix: str) -> None:
    with leftovers() as found:
        code, _, _ = export_as(db, "rec", "-o", str(tmp_path / f"out.{suffix}"), "--where", "salary > 5")
    assert code == EXIT_DENIED
    assert found == []


# ---- import -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("header", ["Оклад", "Salary", "passport", "Метки", "Работодатель"])
def test_import_with_a_hidden_column_is_refused_before_any_row(db: Hiring, tmp_path: Path, header: str) -> None:
    field = {"Оклад": "salary", "Salary": "salary", "passport": "passport", "Метки": "tags",
             "Работодатель": "employer"}[header]
    source = write_csv(tmp_path / "вакансии.csv", [["Название", "Заметки", header], ["Из файла", "ok", "1"],
                                                    ["Ещё", "", ""]])
    before = counts(db)
    message = (f"error: the column {header!r} is the field `{field}`, which your roles hide from you\n"
               "  hint: remove the column, or skip it in a --mapping file\n")
    for extra in ((), ("--dry-run",), ("--on-error", "abort")):
        result = invoke(db.url, "import", "vacancy", str(source), *extra, as_user="rec")
        assert (result.exit_code, result.stdout, result.stderr) == (EXIT_DENIED, "", message)
    assert counts(db) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["вакансии.csv"]  # no errors file either


def test_import_file_raises_before_writing(db: Hiring, tmp_path: Path) -> None:
    source = write_csv(tmp_path / "v.csv", [["title", "salary"], ["A", "100"]])
    before = counts(db)
    with pytest.raises(PermissionDenied) as denied:
        import_file(db.as_user("desk"), "vacancy", source, ImportOptions())
    assert str(denied.value) == "the column 'salary' is the field `salary`, which your roles hide from you"
    assert counts(db) == before


def test_import_key_on_a_hidden_field_is_refused(db: Hiring, tmp_path: Path) -> None:
    source = write_csv(tmp_path / "v.csv", [["Название", "Заметки"], ["Java-разработчик", "обновлено"]])
    before = counts(db)
    result = invoke(db.url, "import", "vacancy", str(source), "--key", "passport", as_user="rec")
    assert (result.exit_code, result.stdout, result.stderr) == (
        EXIT_DENIED, "", f"error: you may not match items by field `passport` of vacancy: your roles hide it\n"
        f"  hint: {HINT}\n")
    assert counts(db) == before


def test_a_skipped_hidden_column_imports_the_rest(db: Hiring, tmp_path: Path) -> None:
    source = write_csv(tmp_path / "v.csv", [["Название", "Заметки", "Оклад"], ["Маркетолог", "из файла", "999999"]])
    mapping = tmp_path / "map.yaml"
    mapping.write_text('"Оклад": skip\n', encoding="utf-8")
    result = invoke(db.url, "import", "vacancy", str(source), "--mapping", str(mapping), as_user="rec")
    assert result.exit_code == 0, result.output
    assert result.stdout.endswith("1 rows: 1 created, 0 updated, 0 unchanged, 0 failed\n")
    made = db.admin.list("vacancy", where=["title = Маркетолог"])
    assert [(m["notes"], m["salary"], m["grade"]) for m in made] == [("из файла", None, 3)]


def test_a_user_who_sees_the_field_imports_it(db: Hiring, tmp_path: Path) -> None:
    source = write_csv(tmp_path / "v.csv", [["Название", "Оклад", "Паспорт"], ["Юрист", "180000", "4600 000001"]])
    result = invoke(db.url, "import", "vacancy", str(source), as_user="mixed")
    assert result.stdout == "1 rows: 1 created, 0 updated, 0 unchanged, 0 failed\n"
    made = db.admin.list("vacancy", where=["title = Юрист"])
    assert [(m["salary"], m["passport"]) for m in made] == [
        ({"amount": Decimal("180000.00"), "currency": "RUB"}, "4600 000001")]


# ---- report -------------------------------------------------------------------------------------------


def test_report_leaves_out_hidden_money_and_dates(db: Hiring) -> None:
    full = report(db.as_user("head"), "vacancy", ReportOptions())
    assert full["money_field"] == "salary"
    assert {s["stage"]: s["sums"] for s in full["stages"]}["hired"] == {"RUB": Decimal("90000.00")}
    assert [o["field"] for o in full["overdue"]] == ["interview_on", "start_on"]
    assert {u["user"]: u["won_sums"] for u in full["users"]}["head"] == {"RUB": Decimal("90000.00")}
    for login in ("rec", "desk"):
        seen = report(db.as_user(login), "vacancy", ReportOptions())
        assert seen["money_field"] is None
        assert [(s["stage"], s["count"], s["sums"]) for s in seen["stages"]] == [
            (s["stage"], s["count"], {}) for s in full["stages"]]
        assert seen["overdue"] == [o for o in full["overdue"] if o["field"] == "interview_on"]
        assert [(u["user"], u["won"], u["won_sums"]) for u in seen["users"]] == [
            (u["user"], u["won"], {}) for u in full["users"]]
    assert report(db.as_user("mixed"), "vacancy", ReportOptions()) == full


def test_report_cli_prints_no_hidden_money_or_dates(db: Hiring) -> None:
    seen = invoke(db.url, "report", "vacancy", as_user="rec")
    assert seen.exit_code == 0, seen.output
    assert "Interview on" in seen.stdout
    assert "RUB" not in seen.stdout and "Starts on" not in seen.stdout and "90" + " 000" not in seen.stdout
    full = invoke(db.url, "report", "vacancy", as_user="head").stdout
    assert "RUB" in full and "Starts on" in full
    as_json = json.loads(invoke(db.url, "report", "vacancy", "--format", "json", as_user="rec").stdout)
    assert as_json["money_field"] is None
    assert [o["field"] for o in as_json["overdue"]] == ["interview_on"]
