"""Export: items streamed to CSV or xlsx, in batches, through the same read filter as `item list`.

Rows are read by one query in the list view's order (`query.stream_columns`: only the columns
exported, column by column), a batch at a time inside one read transaction — SQLite steps through
its snapshot, PostgreSQL reads through a server-side cursor — turned into cells a column at a
time and written straight out: the xlsx side is openpyxl's write-only workbook, the CSV side
the csv module. Memory stays flat whatever the item count. Only items the user may read, and of
those the ones their export level reaches, are written; without the export right nothing is.
Fields hidden from the user are left out of the default columns and `all`, and refused when
named in `--columns`.
"""

from __future__ import annotations

import csv
import io
import os
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import field
from pathlib import Path
from typing import IO, Any, Protocol

import sqlalchemy as sa

from smartflow.data.cells import (
    FORMULA_START,
    Batch,
    Lookups,
    Money,
    Renderer,
    dangerous,
    money_format,
    neutralise,
    number_format,
)
from smartflow.data.columns import Column, export_columns
from smartflow.errors import InvalidValue, PermissionDenied
from smartflow.records import record
from smartflow.runtime import access, people, query
from smartflow.runtime.compiled import CompiledProcess
from smartflow.runtime.items import Sessions, Write, process_of

BATCH = 2000
FORMATS = ("csv", "xlsx")


@record
class ExportOptions:
    """What to export and how: the filters of `item list`, the columns, the language, the CSV dialect."""

    format: str = "csv"
    columns: str | None = None
    lang: str | None = None
    pipeline: str | None = None
    stage: str | None = None
    where: tuple[str, ...] = ()
    search: str | None = None
    sort: str = "id"
    bom: bool = True
    delimiter: str = ","
    batch: int = BATCH


@record
class ExportResult:
    """What an export wrote: items, the readable items it could not include, its columns."""

    exported: int
    not_exportable: int  # readable items the export level does not reach
    columns: list[str]
    hidden: list[str] = field(default_factory=list)  # columns left out: fields hidden from the user


class Sink(Protocol):
    def header(self, titles: list[str]) -> None: ...
    def rows(self, renderer: Renderer, batch: Batch) -> None: ...
    def close(self) -> None: ...
    def abort(self) -> None: ...


def format_of(path: str, given: str | None) -> str | None:
    """The file format: --format, else the file's suffix; None when they disagree or neither tells."""
    suffix = Path(path).suffix.lower().lstrip(".")
    if given is not None:
        return None if suffix in FORMATS and suffix != given else given
    return suffix if suffix in FORMATS else None


def export_items(crm: Sessions, process_id: str, target: Path | IO[bytes], options: ExportOptions,
                 on_progress: Callable[[int], None] | None = None) -> ExportResult:
    """Write the items the Engine's user may export to target (a path, or a binary stream for CSV).

    The items are read by one query inside one read transaction, a batch at a time (SQLite steps
    through its snapshot; PostgreSQL reads through a server-side cursor, which sees the data as of
    the query's start).
    """
    with crm.session(False) as write:
        return _export(write, process_id, target, options, on_progress)


def _export(write: Write, process_id: str, target: Path | IO[bytes], options: ExportOptions,
            on_progress: Callable[[int], None] | None) -> ExportResult:
    process = process_of(write, process_id)
    reach = access.level(write.actor, process, "export")  # in the whole process; roles of some pipelines add
    if access.widest(write.actor, process, "export") == "none":
        raise PermissionDenied(f"you may not export {process_id} items", "ask for the `export` right")
    columns = export_columns(process.process, options.columns)
    hidden = access.hidden_fields(write.actor, process)
    left_out = [c.id for c in columns if c.id in hidden]
    if left_out and options.columns not in (None, "all"):  # asked for by name: refused, not quietly dropped
        access.refuse_hidden(write.actor, process, left_out, "export")
    columns = [c for c in columns if c.id not in hidden]
    users = {u["id"]: u["name"] for u in people.list_users(write.connection, write.compiled)}
    lookups = Lookups(options.lang, users)
    renderer = Renderer(process.process, columns, lookups)
    read = set(renderer.reads)
    if reach != "all":
        read |= {"assigned_to", "created_by", "pipeline"}  # what the export level is weighed on
    exported = skipped = 0
    batches = _batches(write, process_id, options, tuple(sorted(read)))  # a bad filter is refused here
    with _SinkContext(target, options, columns, process) as sink:
        sink.header([c.header(options.lang) for c in columns])
        for batch in batches:
            count = len(batch["id"])
            if reach != "all":
                batch = _exportable(write, process, batch)
            lookups.links = _link_titles(write, columns, batch)
            lookups.files = _file_names(write, columns, batch)
            sink.rows(renderer, batch)
            exported += len(batch["id"])
            skipped += count - len(batch["id"])
            if on_progress is not None:
                on_progress(count)
    return ExportResult(exported, skipped, [c.id for c in columns], left_out)


def _batches(write: Write, process_id: str, options: ExportOptions,
             columns: tuple[str, ...]) -> Iterator[dict[str, Sequence[Any]]]:
    """The list view's items column by column, a batch at a time, from one query read as it goes."""
    return query.stream_columns(write, process_id, columns, batch=options.batch, pipeline=options.pipeline,
                                stage=options.stage, where=options.where, search=options.search, sort=options.sort)


def _exportable(write: Write, process: CompiledProcess, batch: dict[str, Sequence[Any]]) -> dict[str, Sequence[Any]]:
    """The items of a batch the actor's export level reaches (readable ones may be outside it)."""
    keep = [access.reaches(write.actor, process, "export",
                           {"assigned_to": assigned, "created_by": creator, "pipeline": pipeline})
            for assigned, creator, pipeline in zip(batch["assigned_to"], batch["created_by"], batch["pipeline"],
                                                   strict=True)]
    if all(keep):
        return batch
    return {key: [value for value, kept in zip(values, keep, strict=True) if kept] for key, values in batch.items()}


def _ids(columns: list[Column], batch: dict[str, Sequence[Any]], kind: str) -> dict[str, set[int]]:
    found: dict[str, set[int]] = {}
    for column in columns:
        if column.field.type != kind:
            continue
        values = found.setdefault(column.id, set())
        for value in batch[column.id]:
            values.update(value if isinstance(value, list) else [] if value is None else [value])
    return found


def _link_titles(write: Write, columns: list[Column], batch: dict[str, Sequence[Any]]) -> dict[str, dict[int, str]]:
    """Titles of the linked items of a batch, one query per link column; items the actor may not read stay ids."""
    titles: dict[str, dict[int, str]] = {}
    for column_id, ids in _ids(columns, batch, "link").items():
        if not ids:
            continue
        target = write.compiled.processes[next(c for c in columns if c.id == column_id).field.to or ""]
        rows = write.connection.execute(sa.select(target.table.c.id, target.table.c.title)
                                        .where(target.table.c.id.in_(ids), query.visible(write, target)))
        titles[column_id] = {row.id: row.title for row in rows}
    return titles


def _file_names(write: Write, columns: list[Column], batch: dict[str, Sequence[Any]]) -> dict[int, str]:
    ids = set().union(*_ids(columns, batch, "file").values())
    if not ids:
        return {}
    files = write.compiled.tables["sf_files"]
    return {row.id: row.name for row in write.connection.execute(sa.select(files.c.id, files.c.name)
                                                                  .where(files.c.id.in_(ids)))}


class _SinkContext:
    """A sink over a temporary file renamed into place on success, so a failed export leaves no half file."""

    def __init__(self, target: Path | IO[bytes], options: ExportOptions, columns: list[Column],
                 process: CompiledProcess) -> None:
        self.target, self.options, self.columns, self.process = target, options, columns, process
        self.partial: Path | None = None
        self.sink: Sink | None = None

    def __enter__(self) -> Sink:
        destination: Path | IO[bytes] = self.target
        if isinstance(self.target, Path):
            self.partial = self.target.with_name(self.target.name + ".part")
            destination = self.partial
        if self.options.format == "xlsx":
            if not isinstance(destination, Path):
                raise InvalidValue("an xlsx export needs a file name", "give -o FILE.xlsx")
            self.sink = XlsxSink(destination, self.columns, self.process, self.options.lang)
        else:
            self.sink = CsvSink(destination, self.options)
        return self.sink

    def __exit__(self, kind: type[BaseException] | None, *_: object) -> None:
        assert self.sink is not None
        finished = False
        try:
            if kind is None:
                self.sink.close()  # may fail too (a full disk): then the target is left as it was
                finished = True
            else:
                self.sink.abort()
        finally:
            if self.partial is not None:
                if finished:
                    os.replace(self.partial, self.target)  # type: ignore[arg-type]
                else:
                    self.partial.unlink(missing_ok=True)



class CsvSink:
    """UTF-8 CSV (with a byte-order mark by default, so Excel reads Cyrillic right), formulas neutralised."""

    def __init__(self, destination: Path | IO[bytes], options: ExportOptions) -> None:
        encoding = "utf-8-sig" if options.bom else "utf-8"
        self.handle: IO[str]
        if isinstance(destination, Path):
            self.handle = destination.open("w", encoding=encoding, newline="")
            self.owned = True
        else:
            self.handle = io.TextIOWrapper(destination, encoding=encoding, newline="", write_through=True)
            self.owned = False
        # a batch is written to memory, then to the file in one piece: the file's text layer encodes
        # once per batch instead of once per row (the csv module writes each row separately)
        self.buffer = io.StringIO(newline="")
        self.writer = csv.writer(self.buffer, delimiter=options.delimiter)

    def header(self, titles: list[str]) -> None:
        self.writer.writerow([neutralise(t) for t in titles])
        self._flush()

    def rows(self, renderer: Renderer, batch: Batch) -> None:
        self.writer.writerows(renderer.text_rows(batch))
        self._flush()

    def _flush(self) -> None:
        self.handle.write(self.buffer.getvalue())
        self.buffer.seek(0)
        self.buffer.truncate()

    def close(self) -> None:
        self.handle.flush()
        if self.owned:
            self.handle.close()
        else:
            self.handle.detach()  # type: ignore[attr-defined]  # the caller's stream stays open

    def abort(self) -> None:
        """The export failed: let go of the file (the caller removes it) or of the caller's stream."""
        self.close()


class XlsxSink:
    """openpyxl's write-only workbook: rows go to disk as they come; typed cells, formats, frozen header.

    A styled cell (money in its currency, a number with its decimals, text that must not run) is
    one cell object per column and style, refilled for every row: openpyxl writes each row before
    the next is built, and building a styled cell anew per value costs more than writing it.
    """

    def __init__(self, path: Path, columns: list[Column], process: CompiledProcess, lang: str | None) -> None:
        from openpyxl import Workbook
        from openpyxl.cell import WriteOnlyCell
        from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
        from openpyxl.styles import Font
        from openpyxl.utils import get_column_letter

        self.path = path
        self.book = Workbook(write_only=True)
        self.sheet = self.book.create_sheet(_sheet_title(process.process.title.get(lang)))
        self.sheet.freeze_panes = "A2"
        for index, column in enumerate(columns, 1):
            width = min(40, max(10, len(column.header(lang)) + 2))
            self.sheet.column_dimensions[get_column_letter(index)].width = width
        self.cell_type = WriteOnlyCell
        self.illegal = ILLEGAL_CHARACTERS_RE
        self.bold = Font(bold=True)
        self.formats = [number_format(_places(c)) if c.field.type == "number" else None for c in columns]
        self.places = [_places(c) for c in columns]
        self.styled: dict[tuple[int, str], Any] = {}

    def header(self, titles: list[str]) -> None:
        cells = []
        for title in titles:
            header = self._text(-1, title)
            header.font = self.bold
            cells.append(header)
        self.sheet.append(cells)

    def rows(self, renderer: Renderer, batch: Batch) -> None:
        for row in renderer.cell_rows(batch):
            self.row(row)

    def row(self, values: Sequence[Any]) -> None:
        out: list[Any] = []
        for index, value in enumerate(values):
            if isinstance(value, str):
                out.append(self._text(index, value) if value[:1] in _SPECIAL or self.illegal.search(value) else value)
            elif isinstance(value, Money):
                if _CODE.fullmatch(value.currency) or not value.currency:
                    out.append(self._number(index, value.amount, value.currency))
                else:  # a currency stored before codes were checked: text, not a number format it could break
                    out.append(self._text(index, value.text()))
            elif self.formats[index] is not None and value is not None:
                out.append(self._number(index, value))
            else:
                out.append(value)
        self.sheet.append(out)

    def _number(self, index: int, value: Any, currency: str | None = None) -> Any:
        """A number cell in its column's format: the decimals of the field, and the currency for money."""
        cell = self.styled.get((index, currency or ""))
        if cell is None:
            cell = self.styled[index, currency or ""] = self.cell_type(self.sheet)
            cell.number_format = money_format(self.places[index], currency) if currency is not None \
                else self.formats[index]
        cell.value = value
        return cell

    def _text(self, index: int, value: str) -> Any:
        """A string cell that never runs: openpyxl would take `=…` as a formula and `#N/A` as an error."""
        quoted = dangerous(value)
        cell = self.styled.get((index, "'" if quoted else "s"))
        if cell is None or index < 0:
            cell = self.cell_type(self.sheet)
            if quoted:
                cell.quotePrefix = True
            self.styled[index, "'" if quoted else "s"] = cell
        cell.value = self.illegal.sub("", value)
        cell.data_type = "s"
        return cell

    def close(self) -> None:
        self.book.save(self.path)

    def abort(self) -> None:
        """The export failed: openpyxl keeps the rows written so far in a temporary file until the
        workbook is saved, so close and remove it (the caller removes the partial export)."""
        writer = getattr(self.sheet, "_writer", None)  # made by the sheet's first append
        if writer is not None:
            writer.close()
            writer.cleanup()


_SPECIAL = frozenset([*FORMULA_START, "'", "#"])
_CODE = re.compile("[A-Z]{3}")


def _places(column: Column) -> int:
    from smartflow.compile.sql import precision_of

    return precision_of(column.field) if column.field.type in ("number", "money") else 0


def _sheet_title(title: str) -> str:
    cleaned = "".join(" " if ch in "[]:*?/\\" else ch for ch in title).strip()
    return cleaned[:31] or "items"
