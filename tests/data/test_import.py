"""`smartflow import`: columns matched by id, title in either language or a mapping; every value through
the checks of a single create; problems per row and column; dry run, abort and skip; `--key` updates;
rights (the import right, own items only, who may switch triggers off); CSV from Russian Excel; xlsx."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from smartflow.cli.main import EXIT_DENIED, EXIT_INVALID
from smartflow.data.importer import ImportOptions, import_file
from tests.data.support import DOCUMENTS, add_people, invoke
from tests.runtime.support import Db, module_url

__all__ = ["module_url"]  # the fixture, imported for pytest


@pytest.fixture(scope="module")
def db(module_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Db]:
    database = Db(module_url, tmp_path_factory.mktemp("defs"), *DOCUMENTS)
    add_people(database)
    database.admin.create("client", {"title": "ООО «Ромашка»"})
    yield database
    database.close()


def write_csv(path: Path, rows: list[list[Any]], encoding: str = "utf-8-sig", delimiter: str = ",") -> Path:
    with path.open("w", encoding=encoding, newline="") as handle:
        csv.writer(handle, delimiter=delimiter).writerows(rows)
    return path


def deals(db: Db, code_prefix: str) -> dict[str, dict[str, Any]]:
    """The deals whose code starts with the prefix, by code."""
    found = db.admin.list("deal", where=[f"code contains {code_prefix}"], limit=1000)
    return {item["code"]: item for item in found}


def test_columns_match_by_id_or_title_in_either_language(db: Db, tmp_path: Path) -> None:
    source = write_csv(tmp_path / "deals.csv", [
        ["Название", "Amount", "kind", "Срок", "Каналы", "Менеджер", "Client", "code", "Срочно", "Stage", "Вес"],
        ["Бетон", "1 480 000,50", "Опт", "15.12.2026", "Сайт, phone", "Анна Иванова", "ООО «Ромашка»", "M-1", "да",
         "В работе", "1,5"],
        ["Кирпич", "12.50 USD", "retail", "2026-12-01", "", "petrov", "", "M-2", "no", "", ""],
    ])
    result = invoke(db.url, "import", "deal", str(source))
    assert result.stdout == "2 rows: 2 created, 0 updated, 0 unchanged, 0 failed\n"
    assert result.exit_code == 0
    made = deals(db, "M-")
    first = made["M-1"]
    assert (first["title"], first["stage"], first["kind"], first["due"], first["urgent"]) == (
        "Бетон", "work", "bulk", date(2026, 12, 15), True)
    assert first["amount"] == {"amount": Decimal("1480000.50"), "currency": "RUB"}
    assert (first["channels"], first["weight"]) == (["web", "phone"], Decimal("1.5"))
    assert first["manager"] == db.user_id("ivanova")
    assert first["client"] == db.admin.list("client")[0]["id"]
    assert made["M-2"]["amount"] == {"amount": Decimal("12.50"), "currency": "USD"}
    assert made["M-2"]["stage"] == "new" and made["M-2"]["manager"] == db.user_id("petrov")
    history = db.admin.history("deal", first["id"])
    assert [(h["kind"], h["via"], h["who"]) for h in history] == [("create", "import", "local administrator")]


BAD = [
    ["Название", "Сумма", "Количество", "Вид", "Код", "Менеджер"],
    ["Хороший", "100", "1", "Опт", "B-1", ""],
    ["Плохой", "12,5O", "-1", "Оптом", "B-2", "nobody"],
    ["", "5", "", "", "B-3", ""],
    ["Дубль", "5", "", "", "B-1", ""],
    ["Ещё хороший", "7", "", "", "B-4", ""],
]
BAD_PROBLEMS = [
    'row 3, column "Сумма": "12,5O" is not a number',
    'row 3, column "Вид": "Оптом" is not one of the options (Retail, Bulk)',
    'row 3, column "Менеджер": "nobody" is not a user (give a login or a name)',
    'row 4, column "Название": `title` must not be empty',
    "row 5, column \"Код\": 'B-1' is already used by deal {id}",
]


def test_every_problem_is_reported_per_row_and_column_and_the_good_rows_go_in(db: Db, tmp_path: Path) -> None:
    source = write_csv(tmp_path / "bad.csv", BAD)
    result = invoke(db.url, "import", "deal", str(source))
    assert result.exit_code == EXIT_INVALID
    good = deals(db, "B-")
    assert sorted(good) == ["B-1", "B-4"]
    problems = [p.format(id=good["B-1"]["id"]) for p in BAD_PROBLEMS]
    report = tmp_path / "bad.errors.csv"
    assert result.stdout.splitlines() == [
        "5 rows: 2 created, 0 updated, 0 unchanged, 3 failed", *(f"  {p}" for p in problems),
        f"every problem, per row and column: {report}",
        "The good rows were written; the 3 failed row(s) were skipped."]
    with report.open(encoding="utf-8-sig", newline="") as handle:
        lines = list(csv.reader(handle))
    assert lines[0] == ["row", "column", "value", "problem"]
    assert lines[1] == ["3", "Сумма", "12,5O", '"12,5O" is not a number']
    assert len(lines) == 1 + len(problems)


def test_dry_run_and_abort_write_nothing(db: Db, tmp_path: Path) -> None:
    rows = [[cell.replace("B-", "C-") for cell in row] for row in BAD]
    source = write_csv(tmp_path / "bad.csv", rows)
    before = db.count("p_deal"), db.count("sf_history")
    dry = invoke(db.url, "import", "deal", str(source), "--dry-run")
    assert dry.exit_code == EXIT_INVALID
    assert dry.stdout.splitlines()[0] == "5 rows: 2 would be created, 0 would be updated, 0 unchanged, 3 failed"
    assert dry.stdout.splitlines()[-1] == "Dry run: nothing was written."
    abort = invoke(db.url, "import", "deal", str(source), "--on-error", "abort", "--report", str(tmp_path / "r.csv"))
    assert abort.exit_code == EXIT_INVALID
    assert abort.stdout.splitlines()[-1] == "Nothing was written: 3 row(s) failed and --on-error is abort."
    assert (tmp_path / "r.csv").exists()
    assert (db.count("p_deal"), db.count("sf_history")) == before
    clean = write_csv(tmp_path / "clean.csv", [rows[0], rows[1], rows[5]])
    dry_clean = invoke(db.url, "import", "deal", str(clean), "--dry-run")
    assert dry_clean.exit_code == 0 and (db.count("p_deal"), db.count("sf_history")) == before
    assert invoke(db.url, "import", "deal", str(clean), "--on-error", "abort").exit_code == 0
    assert sorted(deals(db, "C-")) == ["C-1", "C-4"]


def test_batches_commit_on_their_own_unless_abort(db: Db, tmp_path: Path) -> None:
    rows = [["title", "code", "qty"]] + [[f"n{i}", f"D-{i}", "x" if i == 4 else str(i)] for i in range(1, 7)]
    source = write_csv(tmp_path / "many.csv", rows)
    aborted = import_file(db.admin, "deal", source, ImportOptions(on_error="abort", batch=2))
    assert (aborted.created, aborted.failed_rows, aborted.written) == (5, 1, False)
    assert deals(db, "D-") == {}
    skipped = import_file(db.admin, "deal", source, ImportOptions(batch=2))
    assert (skipped.rows, skipped.created, skipped.failed_rows) == (6, 5, 1)
    assert [str(p) for p in skipped.problems] == ['row 5, column "qty": "x" is not a whole number']
    assert sorted(deals(db, "D-")) == ["D-1", "D-2", "D-3", "D-5", "D-6"]


def test_key_updates_instead_of_duplicating_and_moves_under_the_rules(db: Db, tmp_path: Path) -> None:
    rows = [["title", "code", "amount", "stage"], ["Ключ", "K-1", "5", "new"], ["Ключ 2", "K-2", "", ""]]
    source = write_csv(tmp_path / "keyed.csv", rows)
    assert invoke(db.url, "import", "deal", str(source), "--key", "code").stdout.startswith(
        "2 rows: 2 created, 0 updated, 0 unchanged, 0 failed")
    again = invoke(db.url, "import", "deal", str(source), "--key", "code")
    assert again.stdout.startswith("2 rows: 0 created, 0 updated, 2 unchanged, 0 failed")
    changed = write_csv(tmp_path / "changed.csv", [rows[0], ["Ключ", "K-1", "6", "В работе"],
                                                   ["Ключ 2", "K-2", "", "work"], ["Ключ 3", "K-3", "", ""],
                                                   ["Ключ 3b", "K-3", "", ""]])
    result = invoke(db.url, "import", "deal", str(changed), "--key", "code")
    lines = result.stdout.splitlines()
    assert lines[0] == "4 rows: 1 created, 2 updated, 0 unchanged, 1 failed"
    assert lines[1].startswith(f"  row 3: deal {deals(db, 'K-2')['K-2']['id']} cannot move from `new` to `work`: "
                               "the transition `new` → `work`: the condition `amount > 0` is false")
    found = deals(db, "K-")
    assert (found["K-1"]["stage"], found["K-1"]["amount"]["amount"]) == ("work", Decimal("6"))
    assert found["K-2"]["stage"] == "new" and found["K-3"]["title"] == "Ключ 3b"  # a later row updates the new item
    kinds = [h["kind"] for h in db.admin.history("deal", found["K-1"]["id"])]
    assert kinds == ["create", "update", "move"]


def test_key_id_updates_the_exported_items(db: Db, tmp_path: Path) -> None:
    item_id = db.admin.create("deal", {"title": "Было", "code": "I-1"})
    source = write_csv(tmp_path / "ids.csv", [["ID", "Название"], [str(item_id), "Стало"]])
    assert invoke(db.url, "import", "deal", str(source), "--key", "id").exit_code == 0
    assert db.admin.get("deal", item_id)["title"] == "Стало"


def test_mapping_file_names_columns(db: Db, tmp_path: Path) -> None:
    source = write_csv(tmp_path / "odd.csv", [["Наименование", "Сумма, руб", "Комментарий", "Мусор"],
                                              ["Щебень", "300", "привезти утром", "x"]])
    mapping = tmp_path / "map.yaml"
    mapping.write_text('"Наименование": title\n"Сумма, руб": amount\n"Комментарий": note\n"Мусор": skip\n',
                       encoding="utf-8")
    result = invoke(db.url, "import", "deal", str(source), "--mapping", str(mapping))
    assert result.stdout.splitlines() == ['note: not imported: "Мусор" (skipped by the mapping)',
                                          "1 rows: 1 created, 0 updated, 0 unchanged, 0 failed"]
    [made] = db.admin.list("deal", where=["title = Щебень"])
    assert (made["note"], made["amount"]["amount"]) == ("привезти утром", Decimal("300.00"))
    unmapped = invoke(db.url, "import", "deal", str(source), "--dry-run")
    assert unmapped.exit_code == EXIT_INVALID
    assert unmapped.stderr == ("error: the file has no title column: every item needs a title\n  hint: add a column "
                               "`title` (or Title / Название), or map one with --mapping\n")
    mapping.write_text('"Название": title\n', encoding="utf-8")
    wrong = invoke(db.url, "import", "deal", str(source), "--mapping", str(mapping))
    assert wrong.stderr.startswith("error: the mapping names column(s) the file does not have: `Название`")


def test_csv_from_russian_excel(db: Db, tmp_path: Path) -> None:
    source = write_csv(tmp_path / "win.csv", [["Название", "Сумма", "Заметка", "Номер"], ["Арматура", "1 500,00",
                                                                                          "Ёлки", "7"]],
                       encoding="cp1251", delimiter=";")
    result = invoke(db.url, "import", "deal", str(source))
    assert result.stdout.splitlines() == [
        "note: the file is not UTF-8; it was read as Windows-1251",
        'note: not imported: "Номер" (no such field; map it with --mapping)',
        "1 rows: 1 created, 0 updated, 0 unchanged, 0 failed"]
    [made] = db.admin.list("deal", where=["title = Арматура"])
    assert (made["note"], made["amount"]["amount"]) == ("Ёлки", Decimal("1500.00"))


def test_xlsx_typed_cells(db: Db, tmp_path: Path) -> None:
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    sheet.append(["Title", "Amount", "Due", "Meeting", "Urgent", "Quantity", "Code", "Weight"])
    sheet.append(["Доска", 1234.5, datetime(2026, 5, 4), datetime(2026, 5, 4, 10, 15), True, 3.0, 12345, 0.1])
    sheet["B2"].number_format = '#,##0.00 "EUR"'
    sheet.append([None] * 8)  # an empty row is skipped
    sheet.append(["Вторая", None, "04.05.2026", None, False, None, None, None])
    book.save(tmp_path / "typed.xlsx")
    result = invoke(db.url, "import", "deal", str(tmp_path / "typed.xlsx"))
    assert result.stdout == "2 rows: 2 created, 0 updated, 0 unchanged, 0 failed\n"
    [made] = db.admin.list("deal", where=["title = Доска"])
    assert made["amount"] == {"amount": Decimal("1234.50"), "currency": "EUR"}
    assert (made["due"], made["urgent"], made["qty"], made["code"], made["weight"]) == (
        date(2026, 5, 4), True, 3, "12345", Decimal("0.1"))
    assert made["meet_at"].isoformat() == "2026-05-04T10:15:00+00:00"
    [other] = db.admin.list("deal", where=["title = Вторая"])
    assert other["due"] == date(2026, 5, 4)


def test_import_right_and_own_items(db: Db, tmp_path: Path) -> None:
    source = write_csv(tmp_path / "p.csv", [["title", "code"], ["Чужая", "P-1"]])
    denied = invoke(db.url, "import", "deal", str(source), as_user="viewer")
    assert denied.exit_code == EXIT_DENIED
    assert denied.stderr == "error: you may not import deal items\n  hint: ask for the `import` right\n"
    assert invoke(db.url, "import", "deal", str(source), as_user="petrov").exit_code == 0
    theirs = deals(db, "P-1")["P-1"]["id"]
    changed = write_csv(tmp_path / "q.csv", [["title", "code"], ["Моя теперь", "P-1"]])
    result = invoke(db.url, "import", "deal", str(changed), "--key", "code", as_user="ivanova")
    assert result.exit_code == EXIT_INVALID
    assert result.stdout.splitlines()[1] == f"  row 2: you may not import into deal {theirs} (your roles allow " \
                                            "`import: own`)"


def test_triggers_run_unless_switched_off_by_someone_allowed_to(db: Db, tmp_path: Path) -> None:
    source = write_csv(tmp_path / "t.csv", [["title"], ["с триггером"]])
    assert invoke(db.url, "import", "ticket", str(source), as_user="ivanova").exit_code == 0
    assert [t["note"] for t in db.admin.list("ticket")] == ["stamped"]
    refused = invoke(db.url, "import", "ticket", str(source), "--no-triggers", as_user="ivanova")
    assert refused.exit_code == EXIT_DENIED
    assert refused.stderr.startswith("error: --no-triggers needs the administrator role or `import: all`")
    assert invoke(db.url, "import", "ticket", str(source), "--no-triggers", as_user="loader").exit_code == 0
    assert sorted(str(t["note"]) for t in db.admin.list("ticket")) == ["None", "stamped"]


def test_a_row_that_fails_after_writing_leaves_nothing_behind(db: Db, tmp_path: Path) -> None:
    """A trigger fails after the item and its history are written: the row's savepoint undoes both."""
    source = write_csv(tmp_path / "boom.csv", [["title", "note"], ["before", "x"], ["boom", "x"], ["after", "x"]])
    history = db.count("sf_history", "process = 'ticket'")
    result = invoke(db.url, "import", "ticket", str(source), as_user="loader")
    assert result.exit_code == EXIT_INVALID
    assert result.stdout.splitlines()[0] == "3 rows: 2 created, 0 updated, 0 unchanged, 1 failed"
    assert result.stdout.splitlines()[1].startswith("  row 3")
    titles = [t["title"] for t in db.admin.list("ticket", limit=100)]
    assert "boom" not in titles and {"before", "after"} <= set(titles)
    assert db.count("sf_history", "process = 'ticket'") == history + 2
    assert db.count("p_ticket", "title = 'boom'") == 0


def test_empty_and_unreadable_files(db: Db, tmp_path: Path) -> None:
    headers_only = write_csv(tmp_path / "h.csv", [["title", "code"]])
    assert invoke(db.url, "import", "deal", str(headers_only)).stdout == \
        "0 rows: 0 created, 0 updated, 0 unchanged, 0 failed\n"
    empty = tmp_path / "e.csv"
    empty.write_bytes(b"")
    assert invoke(db.url, "import", "deal", str(empty)).stderr.startswith("error: e.csv is empty")
    old = tmp_path / "old.xls"
    old.write_bytes(b"\xd0\xcf\x11\xe0")
    assert invoke(db.url, "import", "deal", str(old)).stderr == \
        "error: old.xls: .xls files cannot be read\n  hint: save it as .xlsx or CSV (UTF-8)\n"


def test_service_layer_called_once_per_row_in_one_transaction_per_batch(db: Db, tmp_path: Path,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    sessions: list[bool] = []
    real = db.admin.session

    def counting(write: bool) -> Any:
        sessions.append(write)
        return real(write)

    monkeypatch.setattr(db.admin, "session", counting)
    source = write_csv(tmp_path / "s.csv", [["title"]] + [[f"s{i}"] for i in range(5)])
    result = import_file(db.admin, "deal", source, ImportOptions(batch=2))
    assert result.created == 5 and sessions == [True, True, True]
    monkeypatch.undo()
    with db.admin.session(False) as write:
        assert write.actor.is_local_admin
