"""Reading a spreadsheet for import, a row at a time: CSV (encoding and delimiter found) or xlsx.

CSV from Excel comes as UTF-8 with or without a byte-order mark, or, from a Russian Windows
Excel, as Windows-1251 with semicolons; both are recognised. xlsx is read with openpyxl in
read-only mode (rows streamed, cached values of formulas), keeping each cell's number format
so a money cell's currency comes back.
"""

from __future__ import annotations

import codecs
import csv
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from smartflow.data import DataFileError

_CHUNK = 1 << 16


@dataclass
class SheetRow:
    number: int  # as the spreadsheet shows it: the header is row 1
    values: list[Any]
    formats: list[str | None] | None  # xlsx number formats; None for CSV


@dataclass
class Sheet:
    kind: str  # csv | xlsx
    headers: list[str]
    rows: Iterator[SheetRow]
    encoding: str | None = None
    delimiter: str | None = None


def kind_of(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix in (".xlsx", ".xlsm"):
        return "xlsx"
    if suffix in (".xls", ".ods"):
        raise DataFileError(f"{path.name}: {suffix} files cannot be read", "save it as .xlsx or CSV (UTF-8)")
    with path.open("rb") as handle:
        return "xlsx" if handle.read(4) == b"PK\x03\x04" else "csv"


@contextmanager
def open_sheet(path: Path) -> Iterator[Sheet]:
    """The file's header and an iterator over its non-empty rows."""
    if not path.is_file():
        raise DataFileError(f"there is no file {path}")
    if kind_of(path) == "xlsx":
        with _xlsx(path) as sheet:
            yield sheet
    else:
        with _csv(path) as sheet:
            yield sheet


def _encoding(path: Path) -> str:
    """utf-8-sig when the file is valid UTF-8 (a BOM or not), else Windows-1251; read in chunks, never whole."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    with path.open("rb") as handle:
        try:
            while chunk := handle.read(_CHUNK):
                decoder.decode(chunk)
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            return "cp1251"
    return "utf-8-sig"


def _delimiter(sample: str) -> str:
    lines = "\n".join(sample.splitlines()[:20])
    try:
        return csv.Sniffer().sniff(lines, delimiters=",;\t").delimiter
    except csv.Error:
        return ","


@contextmanager
def _csv(path: Path) -> Iterator[Sheet]:
    encoding = _encoding(path)
    with path.open("r", encoding=encoding, newline="") as handle:
        delimiter = _delimiter(handle.read(_CHUNK))
        handle.seek(0)
        reader = csv.reader(handle, delimiter=delimiter)
        headers = [h.strip() for h in next(reader, [])]
        if not any(headers):
            raise DataFileError(f"{path.name} is empty: the first row must name the columns")

        def rows() -> Iterator[SheetRow]:
            for values in reader:
                if any(v.strip() for v in values):
                    padded = (values + [""] * len(headers))[:len(headers)]
                    yield SheetRow(reader.line_num, padded, None)

        yield Sheet("csv", headers, rows(), encoding, delimiter)


@contextmanager
def _xlsx(path: Path) -> Iterator[Sheet]:
    from zipfile import BadZipFile

    from openpyxl import load_workbook

    try:
        book = load_workbook(path, read_only=True, data_only=True)
    except (BadZipFile, KeyError, OSError, ValueError) as exc:
        raise DataFileError(f"{path.name} is not a readable xlsx file: {exc}") from None
    try:
        sheet = book.worksheets[0]
        cells = sheet.iter_rows()
        first = next(cells, ())
        headers = [str(c.value).strip() if c.value is not None else "" for c in first]
        while headers and not headers[-1]:
            headers.pop()
        if not headers:
            raise DataFileError(f"{path.name} is empty: the first row must name the columns")
        width = len(headers)

        def rows() -> Iterator[SheetRow]:
            for number, row in enumerate(cells, 2):
                values = [c.value for c in row[:width]]
                if all(v is None or (isinstance(v, str) and not v.strip()) for v in values):
                    continue
                formats = [getattr(c, "number_format", None) for c in row[:width]]
                padding = width - len(values)
                yield SheetRow(number, values + [None] * padding, formats + [None] * padding)

        yield Sheet("xlsx", headers, rows())
    finally:
        book.close()
