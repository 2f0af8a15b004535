"""An xlsx is refused, with a located error and nothing written, when it unpacks to far more than
its size (a zip bomb), to more than the limit, or holds more cells than an import reads; a sheet
that states a false size is read by what it holds."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from zipfile import ZIP_DEFLATED, ZipFile

import pytest

from smartflow.cli.main import EXIT_BAD_VALUE, EXIT_INVALID
from smartflow.data import sheets
from tests.data.support import DOCUMENTS, add_people, invoke
from tests.runtime.support import Db, module_url

__all__ = ["module_url"]  # the fixture, imported for pytest

pytestmark = pytest.mark.db


@pytest.fixture(scope="module")
def db(module_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Db]:
    database = Db(module_url, tmp_path_factory.mktemp("defs"), *DOCUMENTS)
    add_people(database)
    yield database
    database.close()


SST = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
SHARED = {  # a shared-strings part as Excel writes one, added to what openpyxl writes
    "[Content_Types].xml": lambda text: text.replace("</Types>", (
        '<Override PartName="/xl/sharedStrings.xml" ContentType="application/'
        'vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"/></Types>')),
    "xl/_rels/workbook.xml.rels": lambda text: text.replace("</Relationships>", (
        '<Relationship Id="rIdStrings" Target="sharedStrings.xml" Type="http://schemas.openxmlformats.org/'
        'officeDocument/2006/relationships/sharedStrings"/></Relationships>')),
}


def xlsx(path: Path, rows: list[list[Any]], edit: dict[str, Any] | None = None,
         add: dict[str, str] | None = None) -> Path:
    """An xlsx written by openpyxl, then its parts changed by edit (name → function of the part's
    text) and the parts of add put in."""
    from openpyxl import Workbook

    book = Workbook()
    for row in rows:
        book.active.append(row)
    plain = path.with_suffix(".plain.xlsx")
    book.save(plain)
    with ZipFile(plain) as source, ZipFile(path, "w", ZIP_DEFLATED, compresslevel=9) as target:
        for part in source.infolist():
            text = source.read(part.filename).decode("utf-8")
            target.writestr(part.filename, (edit or {}).get(part.filename, lambda same: same)(text))
        for name, text in (add or {}).items():
            target.writestr(name, text)
    plain.unlink()
    return path


def refused(db: Db, path: Path, *args: str) -> str:
    before = db.count("p_deal")
    result = invoke(db.url, "import", "deal", str(path), *args)
    assert result.exit_code in (EXIT_BAD_VALUE, EXIT_INVALID) and result.exit_code != 0, result.output
    assert "Traceback" not in result.output and db.count("p_deal") == before
    return str(result.stderr)


def test_a_shared_strings_bomb_is_refused_before_openpyxl_reads_it(db: Db, tmp_path: Path) -> None:
    """The issue's file: a few hundred KiB that unpack to 50 MiB of shared strings."""
    filler = "".join(f"<si><t>{'Я' * 4000}{n}</t></si>" for n in range(6500))  # ~50 MiB of UTF-8
    strings = f'<sst xmlns="{SST}" count="6501" uniqueCount="6501"><si><t>Сделка</t></si>{filler}</sst>'
    sheet = {"xl/worksheets/sheet1.xml": lambda text: re.sub(r'<c r="A2" t="inlineStr"><is><t>Сделка</t></is></c>',
                                                             '<c r="A2" t="s"><v>0</v></c>', text)}
    bomb = xlsx(tmp_path / "bomb.xlsx", [["title"], ["Сделка"]], {**SHARED, **sheet},
                {"xl/sharedStrings.xml": strings})
    assert bomb.stat().st_size < 1024 * 1024
    message = refused(db, bomb)
    assert message.startswith("error: bomb.xlsx: its part xl/sharedStrings.xml unpacks to ")
    assert "more than 100 times its size (as a zip bomb does)" in message
    assert "hint: save the sheet again from Excel or LibreOffice, or import it as CSV" in message


def test_an_xlsx_that_unpacks_past_the_limit_is_refused(db: Db, tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    rows = [["title", "note"], *([f"Сделка {n}", f"заметка {n} " * 20] for n in range(400))]
    source = xlsx(tmp_path / "big.xlsx", rows)
    with ZipFile(source) as archive:
        unpacked = sum(part.file_size for part in archive.infolist())
    monkeypatch.setattr(sheets, "MAX_UNPACKED", unpacked - 1)
    message = refused(db, source)
    assert re.match(r"error: big\.xlsx unpacks to \d+\.\d MiB, over the limit of \d+\.\d MiB\n", message), message
    monkeypatch.setattr(sheets, "MAX_UNPACKED", unpacked)
    assert invoke(db.url, "import", "deal", str(source)).exit_code == 0


def test_more_cells_than_an_import_reads_are_refused_where_the_limit_is_passed(
        db: Db, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sheets, "MAX_CELLS", 90)  # 30 rows of 3 columns, the header among them
    rows = [["title", "code", "note"], *([f"Много {n}", f"M-{n}", "x"] for n in range(40))]
    honest = xlsx(tmp_path / "many.xlsx", rows)  # its dimension says A1:C41: refused before reading
    assert "error: many.xlsx: sheet `Sheet`, row 41: the sheet has more than 90 cells" in refused(db, honest)
    # a dimension that says less than the sheet holds: refused where the count passes the limit
    lying = xlsx(tmp_path / "lying.xlsx", rows,
                 {"xl/worksheets/sheet1.xml": lambda text: text.replace('ref="A1:C41"', 'ref="A1:C2"')})
    assert "error: lying.xlsx: sheet `Sheet`, row 31: the sheet has more than 90 cells" in \
        refused(db, lying, "--on-error", "abort")


def test_a_sheet_that_states_a_huge_size_is_read_by_what_it_holds(db: Db, tmp_path: Path) -> None:
    """openpyxl would pad each row to 16,384 cells and add empty rows to 1,048,576."""
    forged = xlsx(tmp_path / "forged.xlsx", [["title", "code"], ["Первая", "F-1"], ["Вторая", "F-2"]],
                  {"xl/worksheets/sheet1.xml": lambda text: text.replace('ref="A1:B3"', 'ref="A1:XFD1048576"')})
    with ZipFile(forged) as archive:
        assert 'ref="A1:XFD1048576"' in archive.read("xl/worksheets/sheet1.xml").decode()
    with sheets.open_sheet(forged) as sheet:
        assert sheet.headers == ["title", "code"]
        read = list(sheet.rows)
    assert [(row.number, row.values) for row in read] == [(2, ["Первая", "F-1"]), (3, ["Вторая", "F-2"])]
    result = invoke(db.url, "import", "deal", str(forged))
    assert result.stdout == "2 rows: 2 created, 0 updated, 0 unchanged, 0 failed\n"
