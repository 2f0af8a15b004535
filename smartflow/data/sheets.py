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
from pathlib import Path
from typing import Any

from smartflow.data import DataFileError
from smartflow.i18n import tr
from smartflow.records import record

_CHUNK = 1 << 16


@record
class SheetRow:
    """A row of a sheet: its number as the spreadsheet shows it, its cells and their formats."""

    number: int  # as the spreadsheet shows it: the header is row 1
    values: list[Any]
    formats: list[str | None] | None  # xlsx number formats; None for CSV


@record
class Sheet:
    """A CSV or xlsx sheet being read: its headers, its rows (read lazily) and how the CSV was written."""

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


def count_rows(path: Path) -> int:
    """How many non-empty rows below the header the file has (read once through, as an import reads it):
    the whole that an import's progress is shown against."""
    with open_sheet(path) as sheet:
        return sum(1 for _ in sheet.rows)


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
        try:
            headers = [h.strip() for h in next(reader, [])]
        except csv.Error as error:
            raise _csv_error(path, 1, error) from None
        if not any(headers):
            raise DataFileError(tr("{name} is empty: the first row must name the columns", name=path.name))

        def rows() -> Iterator[SheetRow]:
            try:
                for values in reader:
                    if any(v.strip() for v in values):
                        padded = (values + [""] * len(headers))[:len(headers)]
                        yield SheetRow(reader.line_num, padded, None)
            except csv.Error as error:
                raise _csv_error(path, reader.line_num, error) from None

        yield Sheet("csv", headers, rows(), encoding, delimiter)


MAX_UNPACKED = 256 * 1024 * 1024  # bytes an xlsx may unpack to, all its parts together
MAX_RATIO = 100  # times a part may outgrow its compressed size (Apache POI's zip-bomb bound)
RATIO_FROM = 1024 * 1024  # a part smaller than this unpacked is not held to MAX_RATIO
MAX_CELLS = 10_000_000  # cells read from a sheet: its rows (empty ones too) × the header's columns
MAX_COLUMNS = 16_384  # Excel's own limit: XFD
MAX_ROW = 1_048_576  # Excel's own limit


def _mib(size: int) -> str:
    return f"{size / 1024 / 1024:.1f} MiB"


def _check_unpacked(path: Path) -> None:
    """Refuse an xlsx that unpacks to more than it should, before openpyxl reads a byte of it.

    openpyxl holds the shared strings in memory and pads rows to the sheet's stated size: a file
    of 175 KiB whose sharedStrings.xml unpacks to 50 MiB cost 6 s and 106 MB. The sizes are the
    archive's own (zipfile never unpacks a part past its stated size: the CRC check fails)."""
    from zipfile import BadZipFile, ZipFile

    try:
        with ZipFile(path) as archive:
            parts = archive.infolist()
    except (BadZipFile, OSError) as exc:
        raise DataFileError(f"{path.name} is not a readable xlsx file: {exc}",
                            "save it again as .xlsx, or as CSV (UTF-8)") from None
    for part in parts:
        if part.file_size > RATIO_FROM and part.file_size > MAX_RATIO * max(part.compress_size, 1):
            raise DataFileError(
                f"{path.name}: its part {part.filename} unpacks to {_mib(part.file_size)} from "
                f"{part.compress_size / 1024:.1f} KiB, more than {MAX_RATIO} times its size (as a zip bomb does)",
                "save the sheet again from Excel or LibreOffice, or import it as CSV")
    total = sum(part.file_size for part in parts)
    if total > MAX_UNPACKED:
        raise DataFileError(f"{path.name} unpacks to {_mib(total)}, over the limit of {_mib(MAX_UNPACKED)}",
                            "split it into several files, or import it as CSV")


def _too_many_cells(path: Path, title: str, number: int) -> DataFileError:
    return DataFileError(f"{path.name}: sheet `{title}`, row {number}: the sheet has more than {MAX_CELLS:,} cells "
                         "(rows × the header's columns)", "split it into several files")


def _csv_error(path: Path, line: int, error: csv.Error) -> DataFileError:
    """A CSV the reader cannot go on with: a field over csv's limit (128 KiB), or a quote never closed."""
    if "field limit" in str(error):
        return DataFileError(f"{path.name}, line {line}: a field is longer than {csv.field_size_limit()} characters",
                             "a cell holds at most 128 KiB of text: shorten it, or attach the text as a file")
    return DataFileError(f"{path.name}, line {line}: cannot read the CSV: {error}",
                         "save it again as CSV (UTF-8) from the spreadsheet")


def _xml_errors() -> tuple[type[Exception], ...]:
    """What openpyxl raises for a sheet whose XML is broken or hostile: malformed XML, and (read
    through defusedxml, which openpyxl uses when it is installed) entity declarations, which an
    xlsx never needs and an entity expansion bomb does."""
    from xml.etree.ElementTree import ParseError

    from defusedxml import DefusedXmlException

    return ParseError, DefusedXmlException


def _unreadable(path: Path, error: Exception) -> DataFileError:
    from defusedxml import DTDForbidden, EntitiesForbidden, ExternalReferenceForbidden

    if isinstance(error, (DTDForbidden, EntitiesForbidden, ExternalReferenceForbidden)):
        return DataFileError(f"{path.name} is not a plain xlsx file: its XML declares entities (a DTD), which a "
                             "spreadsheet never does and an entity expansion attack does",
                             "save the file again from Excel or LibreOffice")
    return DataFileError(f"{path.name} is not a readable xlsx file: its XML is broken ({error})",
                         "save the file again from Excel or LibreOffice")


@contextmanager
def _xlsx(path: Path) -> Iterator[Sheet]:
    from zipfile import BadZipFile

    import openpyxl
    from openpyxl import load_workbook

    _check_unpacked(path)
    broken = _xml_errors()
    if not openpyxl.DEFUSEDXML:  # e.g. OPENPYXL_DEFUSEDXML=False in the environment
        raise DataFileError("xlsx files are not read without defusedxml's protection",
                            "unset OPENPYXL_DEFUSEDXML, or import a CSV file")
    # the file is ours to close: openpyxl leaves its own open when it fails part-way
    with path.open("rb") as handle, _workbook(path, handle, load_workbook, broken, BadZipFile) as sheet:
        yield sheet


@contextmanager
def _workbook(path: Path, handle: Any, load_workbook: Any, broken: tuple[type[Exception], ...],
              bad_zip: type[Exception]) -> Iterator[Sheet]:
    try:
        book = load_workbook(handle, read_only=True, data_only=True)
    except broken as exc:
        raise _unreadable(path, exc) from None
    except (bad_zip, KeyError, OSError, ValueError) as exc:
        cause = exc.__cause__ or exc.__context__  # openpyxl wraps what it met in a ValueError of its own
        if isinstance(cause, broken):
            raise _unreadable(path, cause) from None
        detail = str(exc).splitlines()[0].replace(str(path), path.name) if str(exc) else type(exc).__name__
        raise DataFileError(f"{path.name} is not a readable xlsx file: {detail}") from None
    try:
        sheet = book.worksheets[0]
        stated_rows = sheet.max_row
        # openpyxl pads every row to the sheet's stated width and adds empty rows up to its stated
        # height, which a file may state as A1:XFD1048576 with three rows in it: the header's
        # columns bound the width read, and the rows read are the rows the sheet holds
        sheet.reset_dimensions()
        heading = _guarded(path, sheet.iter_rows(min_row=1, max_row=1, max_col=MAX_COLUMNS), broken)
        first = next(heading, ())
        heading.close()
        headers = [str(c.value).strip() if c.value is not None else "" for c in first]
        while headers and not headers[-1]:
            headers.pop()
        if not headers:
            raise DataFileError(tr("{name} is empty: the first row must name the columns", name=path.name))
        width = len(headers)
        if stated_rows is not None and stated_rows * width > MAX_CELLS:  # refused before any row is written
            raise _too_many_cells(path, sheet.title, stated_rows)
        cells = _guarded(path, sheet.iter_rows(min_row=2, max_col=width), broken)

        def rows() -> Iterator[SheetRow]:
            read = width
            for number, row in enumerate(cells, 2):
                read += width
                if read > MAX_CELLS:  # a sheet whose stated size is false
                    raise _too_many_cells(path, sheet.title, number)
                if number > MAX_ROW:
                    raise DataFileError(f"{path.name}: sheet `{sheet.title}`, row {number}: past Excel's last row "
                                        f"{MAX_ROW:,}", "save the sheet again from Excel or LibreOffice")
                values = [c.value for c in row[:width]]
                if all(v is None or (isinstance(v, str) and not v.strip()) for v in values):
                    continue
                formats = [getattr(c, "number_format", None) for c in row[:width]]
                padding = width - len(values)
                yield SheetRow(number, values + [None] * padding, formats + [None] * padding)

        yield Sheet("xlsx", headers, rows())
    finally:
        book.close()


def _guarded(path: Path, rows: Iterator[Any], broken: tuple[type[Exception], ...]) -> Iterator[Any]:
    """The sheet's rows, with broken or hostile XML part-way through refused as a DataFileError."""
    try:
        yield from rows
    except broken as exc:
        raise _unreadable(path, exc) from None
