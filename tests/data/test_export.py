"""`smartflow export`: what a person finds in the file (CSV as Excel reads it, xlsx with typed cells),
the filters of `item list`, streaming in batches, formulas neutralised, and the rights that limit it."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest

from smartflow.cli.main import EXIT_BAD_VALUE, EXIT_DENIED, EXIT_USAGE
from smartflow.data.export import ExportOptions, export_items
from tests.data.support import DOCUMENTS, add_people, invoke
from tests.runtime.support import Db, module_url

__all__ = ["module_url"]  # the fixture, imported for pytest

RU_HEADERS = ["ID", "Название", "Воронка", "Стадия", "Ответственный", "Сумма", "Количество", "Вес", "Срок",
              "Встреча", "Срочно", "Вид", "Каналы", "Менеджер", "Клиент", "Заметка", "Код", "Почта", "Скан",
              "Создал", "Создано", "Изменено", "Перемещено", "Закрыто"]


@pytest.fixture(scope="module")
def db(module_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Db]:
    database = Db(module_url, tmp_path_factory.mktemp("defs"), *DOCUMENTS)
    add_people(database)
    admin = database.admin
    client = admin.create("client", {"title": "ООО «Ромашка»", "city": "Казань"})
    ivanova, petrov = database.as_user("ivanova"), database.as_user("petrov")
    full = ivanova.create("deal", {
        "title": "Бетон М300", "amount": "1480000.50", "qty": "12", "weight": "1.25", "due": "2026-12-15",
        "meet_at": "2026-12-01T09:30:00", "urgent": "true", "kind": "bulk", "channels": "web,phone",
        "manager": "ivanova", "client": str(client), "note": "строка 1\nстрока 2", "code": "A-1",
        "email": "a@b.ru"}, typed_text=True)
    admin.move("deal", full, "work")
    ivanova.create("deal", {"title": '=HYPERLINK("http://evil.example","x")', "note": "+7 912 000-00-00",
                            "code": "@SUM(A1)", "amount": "10 USD", "kind": "retail"}, typed_text=True)
    petrov.create("deal", {"title": "Кирпич", "amount": "99.99", "code": "-5"}, typed_text=True)
    petrov.create("deal", {"title": "Песок"}, pipeline="express", typed_text=True)
    yield database
    database.close()


def read_csv(path: Path, delimiter: str = ",") -> list[list[str]]:
    raw = path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf"), "a byte-order mark, so Excel reads UTF-8"
    return list(csv.reader(io.StringIO(raw.decode("utf-8-sig"), newline=""), delimiter=delimiter))


def by_title(rows: list[list[str]], title_column: int = 1) -> dict[str, list[str]]:
    return {row[title_column]: row for row in rows[1:]}


def test_csv_holds_what_a_person_reads_in_their_language(db: Db, tmp_path: Path) -> None:
    target = tmp_path / "сделки.csv"
    result = invoke(db.url, "export", "deal", "-o", str(target), "--columns", "all", "--lang", "ru")
    assert result.exit_code == 0, result.output
    assert result.stdout == f"exported 4 deal items to {target}\n"
    assert result.stderr == ""  # no progress bar when not on a terminal
    rows = read_csv(target)
    assert rows[0] == RU_HEADERS
    row = dict(zip(RU_HEADERS, by_title(rows)["Бетон М300"], strict=True))
    assert {k: row[k] for k in RU_HEADERS[2:19]} == {
        "Воронка": "Продажи", "Стадия": "В работе", "Ответственный": "Анна Иванова", "Сумма": "1480000.50 RUB",
        "Количество": "12", "Вес": "1.250", "Срок": "2026-12-15", "Встреча": "2026-12-01 09:30:00", "Срочно": "да",
        "Вид": "Опт", "Каналы": "Сайт, Телефон", "Менеджер": "Анна Иванова", "Клиент": "ООО «Ромашка» (#1)",
        "Заметка": "строка 1\nстрока 2", "Код": "A-1", "Почта": "a@b.ru", "Скан": ""}
    assert row["Создал"] == "Анна Иванова"
    assert row["Создано"][:4] == str(datetime.now().year) or row["Создано"][:2] == "20"
    assert by_title(rows)["Песок"][2:4] == ["Экспресс", "Старт"]


def test_formulas_are_neutralised_in_csv(db: Db, tmp_path: Path) -> None:
    target = tmp_path / "deals.csv"
    assert invoke(db.url, "export", "deal", "-o", str(target), "--columns", "title,note,code,amount").exit_code == 0
    rows = read_csv(target)
    assert rows[0] == ["ID", "Title", "Note", "Code", "Amount"]
    dangerous = next(r for r in rows if "HYPERLINK" in r[1])
    assert dangerous[1:] == ["'=HYPERLINK(\"http://evil.example\",\"x\")", "'+7 912 000-00-00", "'@SUM(A1)",
                             "10.00 USD"]
    assert by_title(rows)["Кирпич"][3] == "'-5"


def test_xlsx_cells_are_dates_numbers_and_money_with_its_currency(db: Db, tmp_path: Path) -> None:
    from openpyxl import load_workbook

    target = tmp_path / "deals.xlsx"
    result = invoke(db.url, "export", "deal", "-o", str(target), "--columns", "all", "--lang", "ru")
    assert result.exit_code == 0, result.output
    sheet = load_workbook(target).active
    assert sheet.title == "Сделка"
    assert sheet.freeze_panes == "A2"
    header = [c.value for c in sheet[1]]
    assert header == RU_HEADERS
    assert sheet["A1"].font.bold
    cells = {row[1].value: {h: c for h, c in zip(header, row, strict=True)} for row in sheet.iter_rows(min_row=2)}
    full = cells["Бетон М300"]
    assert (full["Сумма"].value, full["Сумма"].number_format) == (1480000.5, '#,##0.00 "RUB"')
    assert (full["Количество"].value, full["Вес"].value, full["Вес"].number_format) == (12, 1.25, "0.000")
    assert full["Срок"].value == datetime(2026, 12, 15) and full["Срок"].is_date
    assert full["Встреча"].value == datetime(2026, 12, 1, 9, 30)
    assert full["Срочно"].value is True
    assert (full["Вид"].value, full["Каналы"].value, full["Клиент"].value) == ("Опт", "Сайт, Телефон",
                                                                           "ООО «Ромашка» (#1)")
    assert cells["Кирпич"]["Сумма"].number_format == '#,##0.00 "RUB"'
    dangerous = next(row for title, row in cells.items() if "HYPERLINK" in title)
    assert dangerous["Сумма"].number_format == '#,##0.00 "USD"'
    for name in ("Название", "Заметка", "Код"):  # a string cell that never runs, shown as written
        assert (dangerous[name].data_type, dangerous[name].quotePrefix) == ("s", True)
    assert dangerous["Название"].value == '=HYPERLINK("http://evil.example","x")'


def test_default_columns_are_the_list_view(db: Db, tmp_path: Path) -> None:
    target = tmp_path / "deals.csv"
    assert invoke(db.url, "export", "deal", "-o", str(target)).exit_code == 0
    assert read_csv(target)[0] == ["ID", "Title", "Stage", "Amount", "Due"]


@pytest.mark.parametrize("filters", [
    ["--where", "amount >= 50"],
    ["--search", "бетон"],
    ["--pipeline", "express"],
    ["--stage", "work"],
    ["--where", "kind in retail,bulk", "--where", "code is not empty"],
])
def test_filters_select_what_item_list_selects(db: Db, tmp_path: Path, filters: list[str]) -> None:
    target = tmp_path / "deals.csv"
    assert invoke(db.url, "export", "deal", "-o", str(target), *filters).exit_code == 0
    listed = json.loads(invoke(db.url, "item", "list", "deal", "--format", "json", "--sort", "id", *filters).stdout)
    assert [int(row[0]) for row in read_csv(target)[1:]] == [item["id"] for item in listed]
    assert listed


def test_rows_are_read_in_batches(db: Db, tmp_path: Path) -> None:
    steps: list[int] = []
    target = tmp_path / "deals.csv"
    result = export_items(db.admin, "deal", target, ExportOptions(columns="title", batch=3, sort="title:desc"),
                          steps.append)
    assert result.exported == 4
    assert steps == [3, 1]  # one query, its rows fetched three at a time
    titles = [row[1] for row in read_csv(target)[1:]]
    assert titles == sorted(titles, reverse=True)


def test_stdout_no_bom_and_semicolons(db: Db) -> None:
    result = invoke(db.url, "export", "deal", "-o", "-", "--no-bom", "--delimiter", ";", "--columns", "title,qty",
                    "--where", "qty = 12")
    assert result.exit_code == 0, result.output
    assert result.stdout_bytes.decode("utf-8") == f"ID;Title;Quantity\r\n{_first_deal(db)};Бетон М300;12\r\n"
    assert result.stderr == "exported 1 deal items to stdout\n"


def _first_deal(db: Db) -> int:
    return int(db.admin.list("deal", where=["qty = 12"])[0]["id"])


def test_without_the_export_right_nothing_is_written(db: Db, tmp_path: Path) -> None:
    target = tmp_path / "deals.csv"
    result = invoke(db.url, "export", "deal", "-o", str(target), as_user="viewer")
    assert result.exit_code == EXIT_DENIED
    assert result.stderr == "error: you may not export deal items\n  hint: ask for the `export` right\n"
    assert not target.exists() and not list(tmp_path.iterdir())


def test_export_own_writes_only_own_items(db: Db, tmp_path: Path) -> None:
    target = tmp_path / "deals.csv"
    result = invoke(db.url, "export", "deal", "-o", str(target), as_user="petrov")
    assert result.exit_code == 0
    assert result.stdout == (f"exported 2 deal items to {target} "
                             "(2 more you may read are outside your export right)\n")
    assert sorted(row[1] for row in read_csv(target)[1:]) == ["Кирпич", "Песок"]


def test_export_never_shows_an_item_the_user_may_not_read(db: Db, tmp_path: Path) -> None:
    target = tmp_path / "deals.xlsx"
    result = invoke(db.url, "export", "deal", "-o", str(target), as_user="auditor")  # export: all, read: own
    assert result.exit_code == 0
    assert result.stdout == f"exported 0 deal items to {target}\n"
    from openpyxl import load_workbook

    assert [[c.value for c in row] for row in load_workbook(target).active.iter_rows()] == [
        ["ID", "Title", "Stage", "Amount", "Due"]]


def test_unknown_column_and_format_are_refused(db: Db, tmp_path: Path) -> None:
    result = invoke(db.url, "export", "deal", "-o", str(tmp_path / "d.csv"), "--columns", "title,amont")
    assert result.exit_code == EXIT_BAD_VALUE
    assert result.stderr == "error: deal has no column `amont`\n  hint: did you mean `amount`?\n"
    odd = invoke(db.url, "export", "deal", "-o", str(tmp_path / "d.txt"))
    assert odd.exit_code == EXIT_USAGE
    assert "cannot tell the format of" in odd.stderr
    assert invoke(db.url, "export", "deal", "-o", "-", "--format", "xlsx").exit_code == EXIT_USAGE
    assert not list(tmp_path.iterdir())


def test_progress_bar_only_on_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    from smartflow.cli import data as cli_data

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    screen = Terminal()
    monkeypatch.setattr(cli_data.sys, "stderr", screen)
    with cli_data.progress("exporting", 4) as step:
        step(2)
        step(2)
    assert "exporting" in screen.getvalue() and "100%" in screen.getvalue()
    piped = io.StringIO()
    monkeypatch.setattr(cli_data.sys, "stderr", piped)
    with cli_data.progress("exporting", 4) as step:
        step(4)
    assert piped.getvalue() == ""


def test_a_failure_while_finishing_the_file_leaves_the_target_as_it_was(db: Db, tmp_path: Path,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """A full disk on the last flush (or openpyxl failing to save) must not put a half file in place."""
    from smartflow.data import export

    target = tmp_path / "deals.csv"
    target.write_text("the previous export\n", encoding="utf-8")

    def full_disk(self: export.CsvSink) -> None:
        self.handle.close()
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(export.CsvSink, "close", full_disk)
    with pytest.raises(OSError, match="No space left"):
        export_items(db.admin, "deal", target, ExportOptions(columns="title"))
    assert target.read_text(encoding="utf-8") == "the previous export\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["deals.csv"]  # no .part left behind


def test_python_callers_may_give_columns_as_a_list(db: Db) -> None:
    listed = db.admin.list("deal", columns=["title", "qty"], limit=2)
    assert listed and all(set(item) == {"id", "title", "qty"} for item in listed)


def test_one_item_renders_with_an_empty_money_field() -> None:
    from smartflow.data.cells import Lookups, Renderer
    from smartflow.data.columns import export_columns
    from smartflow.definitions.convert import definition_from_documents

    definition = definition_from_documents([(d, "") for d in DOCUMENTS])
    deal = next(p for p in definition.processes if p.id == "deal")
    renderer = Renderer(deal, export_columns(deal, "title,amount"), Lookups(None, {}))
    assert renderer.texts({"id": 1, "title": "Без суммы", "amount": None}) == ["1", "Без суммы", ""]
    assert renderer.cells({"id": 1, "title": "Без суммы", "amount": None}) == [1, "Без суммы", None]
