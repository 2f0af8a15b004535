"""Import: rows of a CSV or xlsx file through exactly the services behind single creates and updates.

Each new row is checked by `items.new_item`, the checks of `items.create`, and written many at
a time (data/bulk.py: a thousand rows per driver call, COPY on PostgreSQL, their history rows
beside); a row
whose `--key` finds an item goes through `items.update` then `items.move`. A process whose
changes a trigger hears gets one `items.create` per row, its triggers running between rows as
for `smartflow item create`. Rows run in batches, one transaction per batch (everything in one
with `--on-error abort` or `--dry-run`); a bad row is refused before anything of it is written
(an update, inside a savepoint), while the good ones go in. What can be looked up once per
batch is (the `--key` matches, linked items named by title, unique values); users, options and
stages once per import.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterator
from dataclasses import field
from functools import cached_property
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from smartflow.data import DataFileError, bulk
from smartflow.data.cells import neutralise
from smartflow.data.columns import Column, HeaderMatch, all_column_ids, column, match_headers
from smartflow.data.parse import CellProblem, Resolver
from smartflow.data.sheets import Sheet, SheetRow, open_sheet
from smartflow.definitions.model import Pipeline
from smartflow.errors import InvalidValue, ItemError, PermissionDenied, SmartflowError
from smartflow.i18n import Message, Name, tr
from smartflow.records import record
from smartflow.runtime import access, fields, items, names, people, query
from smartflow.runtime.compiled import CompiledProcess
from smartflow.runtime.items import Sessions, Write

BATCH = 5000
ANALYZE_FROM = 1000  # rows written from which an import refreshes the table's statistics (_analyze)
ON_ERROR = ("skip", "abort")


@record
class ImportOptions:
    """How to import: a dry run or not, what a bad row does, the key, the columns' mapping…"""

    dry_run: bool = False
    on_error: str = "skip"  # skip: write the good rows; abort: nothing if any row fails
    key: str | None = None  # a column naming the item to update instead of creating one
    mapping: dict[str, str | None] | None = None
    triggers: bool = True
    batch: int = BATCH
    keep_ids: str | None = None  # a field holding each row's id in the system it came from: the item takes it
    files: Path | None = None  # the folder whose files a file column's cells name (`@files/12/scan.pdf`)


@record(frozen=True)
class Problem:
    """Why one row (or one cell of it) was not imported."""

    row: int
    column: str  # the header as the file has it; "" for the row as a whole
    value: str
    message: str

    def __str__(self) -> str:
        where = f'row {self.row}, column "{self.column}"' if self.column else f"row {self.row}"
        return f"{where}: {self.message}"

    def render(self, lang: str | None) -> str:
        """The problem in lang (the board's preview), its message naming fields by their titles there."""
        if lang is None:
            return str(self)
        if self.column:
            return tr("row {row}, column {column}: {problem}", row=self.row, column=f"\"{self.column}\"",
                      problem=self.message).render(lang)
        return tr("row {row}: {problem}", row=self.row, problem=self.message).render(lang)


@record
class ImportResult:
    """What an import did: rows read, items created, updated and unchanged, and each failed row's problems."""

    process: str
    dry_run: bool
    on_error: str
    rows: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    failed_rows: int = 0
    problems: list[Problem] = field(default_factory=list)
    ignored: list[tuple[str, str]] = field(default_factory=list)
    encoding: str | None = None

    @property
    def written(self) -> bool:
        """Whether the good rows were committed."""
        return not self.dry_run and not (self.on_error == "abort" and self.failed_rows > 0)


class _Rollback(Exception):
    """Leaves a transaction without committing it (dry run, or abort after a failed row)."""


def import_file(crm: Sessions, process_id: str, path: Path, options: ImportOptions,
                on_progress: Callable[[int], None] | None = None) -> ImportResult:
    """Import path into process_id as the Engine's user; returns what happened (or would have)."""
    result = ImportResult(process_id, options.dry_run, options.on_error)
    with open_sheet(path) as sheet:
        result.encoding = sheet.encoding
        batches = _chunks(sheet.rows, options.batch)
        if options.dry_run or options.on_error == "abort":
            try:
                with crm.session(True) as write:
                    plan = _Plan.make(write, process_id, sheet, options, result)
                    for batch in batches:
                        _run(write, plan, batch, result, on_progress)
                    if not result.written:
                        raise _Rollback
            except _Rollback:
                pass
        else:
            try:
                for batch in batches:
                    with crm.session(True) as write:
                        plan = _Plan.make(write, process_id, sheet, options, result)
                        _run(write, plan, batch, result, on_progress)
            except DataFileError as broken:  # part-way through a long file: the batches before it are committed
                if result.created + result.updated == 0:
                    raise
                raise DataFileError(f"{broken}; the {result.created} created and {result.updated} updated item(s) "
                                    f"of the {result.rows} row(s) before it stay",
                                    "fix the file and import it again with --key to update those, or import with "
                                    "--on-error abort, which writes nothing from a broken file") from None
    if result.written and result.created + result.updated >= ANALYZE_FROM:
        with crm.session(True) as write:
            _analyze(write, process_id)
    return result


def _analyze(write: Write, process_id: str) -> None:
    """Fresh statistics of the process's table after a large import, on SQLite (PostgreSQL's
    autovacuum keeps its own): without them SQLite may read a stage's list page through the wrong
    index once the table is large (37 ms instead of 0.5 ms at 100,000 items). 60 ms at 100,000 rows."""
    connection = write.connection
    if connection.dialect.name == "sqlite":
        table = items.process_of(write, process_id).table
        connection.exec_driver_sql(f"ANALYZE {connection.dialect.identifier_preparer.format_table(table)}")


def _chunks(rows: Iterator[SheetRow], size: int) -> Iterator[list[SheetRow]]:
    """Batches of rows; at least one (perhaps empty), so the rights and headers are checked for any file."""
    batch: list[SheetRow] = []
    sent = False
    for row in rows:
        batch.append(row)
        if len(batch) == size:
            yield batch
            sent, batch = True, []
    if batch or not sent:
        yield batch


@record
class Preview:
    """The first rows of a file and what each of its columns would mean, before anything is imported."""

    process: str
    kind: str  # csv | xlsx
    headers: list[str]
    rows: list[list[str]]  # the first rows' cells as text, in the headers' order
    mapping: dict[str, str | None]  # header → the column id it would fill (None: not imported)
    ignored: dict[str, str]  # header → why it is not imported
    choices: list[tuple[str, Column]]  # (column id, column) a header may be mapped to: writable, visible
    encoding: str | None = None


def preview(crm: Sessions, process_id: str, path: Path, mapping: dict[str, str | None] | None = None,
            rows: int = 10) -> Preview:
    """What an import of path would do with its columns (as `import_file` matches them, with mapping
    first), and its first rows: for a person to check and correct the mapping before a dry run."""
    with open_sheet(path) as sheet, crm.session(False) as write:
        process = items.process_of(write, process_id)
        if access.widest(write.actor, process, "import") == "none":
            raise PermissionDenied(f"you may not import {process_id} items", "ask for the `import` right")
        hidden = access.hidden_fields(write.actor, process)
        match = match_headers(process.process, sheet.headers, mapping)
        first: list[list[str]] = []
        for row in sheet.rows:
            first.append(["" if v is None else str(v) for v in (row.values + [None] * len(sheet.headers))
                          [:len(sheet.headers)]])
            if len(first) >= rows:
                break
        ignored = dict(match.ignored)
        chosen: dict[str, str | None] = {}
        for header, found in zip(sheet.headers, match.columns, strict=True):
            if found is not None and (found.id in hidden or found.field.type == "file"):
                ignored[header] = "hidden from you" if found.id in hidden else "files are not imported"
                found = None
            chosen[header] = found.id if found is not None else None
        choices = [(c, column(process.process, c)) for c in all_column_ids(process.process)]
        choices = [(c, found) for c, found in choices
                   if not found.read_only and c not in hidden and found.field.type != "file"]
        return Preview(process_id, sheet.kind, list(sheet.headers), first, chosen, ignored, choices, sheet.encoding)


@record
class _Plan:
    """One transaction's view of the import: the process, what each column means, the resolver."""

    write: Write
    process: CompiledProcess
    headers: list[str]
    match: HeaderMatch
    resolver: Resolver
    key: Column | None
    keep_ids: str | None = None

    @classmethod
    def make(cls, write: Write, process_id: str, sheet: Sheet, options: ImportOptions,
             result: ImportResult) -> _Plan:
        process = items.process_of(write, process_id)
        headers = sheet.headers
        actor = write.actor
        reach = access.level(actor, process, "import")  # in the whole process: `reaches` weighs each item
        if access.widest(actor, process, "import") == "none":
            raise PermissionDenied(f"you may not import {process_id} items", "ask for the `import` right")
        if not options.triggers and not (actor.is_local_admin or "administrator" in actor.roles or reach == "all"):
            raise PermissionDenied("--no-triggers needs the administrator role or `import: all`",
                                   "leave --no-triggers out: the triggers then run as for any change")
        write.triggers = options.triggers
        key = column(process.process, options.key) if options.key else None
        if key is not None and key.field.multiple:
            raise InvalidValue(f"--key {key.id}: a field that holds several values cannot name an item")
        if options.keep_ids is not None:
            if not (people.is_admin(actor) or reach == "all"):
                raise PermissionDenied("--keep-ids needs the administrator role or `import: all`",
                                       "leave --keep-ids out: the items then take new ids")
            if key is not None:
                raise InvalidValue("--keep-ids creates items: it cannot be given with --key",
                                   "import with --keep-ids once, then update with --key id")
            kept = column(process.process, options.keep_ids)
            if kept.field.type != "integer" or kept.field.multiple:
                raise InvalidValue(f"--keep-ids {kept.id}: the field must be a single integer (the original id)")
        match = match_headers(process.process, headers, options.mapping, keep=(key.id,) if key else ())
        if options.keep_ids is not None and match.position(options.keep_ids) is None:
            raise DataFileError(f"--keep-ids {options.keep_ids}: the file has no column for it",
                                f"its columns: {', '.join(headers)}")
        for index, found in enumerate(match.columns):
            if found is not None and found.field.type == "file" and options.files is None:
                match.columns[index] = None
                match.ignored.append((headers[index], "files are not imported without --files DIR (the folder its "
                                      f"cells name files in); or attach them with `smartflow item update "
                                      f"{process_id} ID --set {found.id}=@path`"))
        hidden = access.hidden_fields(actor, process)
        if key is not None and key.id in hidden:
            access.refuse_hidden(actor, process, (key.id,), "match items by")
        for header, found in zip(headers, match.columns, strict=True):
            if found is not None and found.id in hidden:  # refused before any row, not row by row
                raise PermissionDenied(tr("the column {header} is the field {field}, which your roles hide from you",
                                          header=repr(header), field=names.field(process, found.id)),
                                       "remove the column, or skip it in a --mapping file")
        if key is not None and match.position(key.id) is None:
            raise DataFileError(f"--key {key.id}: the file has no column for it",
                               f"its columns: {', '.join(headers)}")
        if key is None:
            if access.widest(actor, process, "create") == "none":
                raise PermissionDenied(tr("you may not create {process} items", process=names.process(process)),
                                       "ask for the `create` right")
            if match.position("title") is None:
                raise DataFileError(tr("the file has no title column: every item needs a title"),
                                   "add a column `title` (or Title / Название), or map one with --mapping")
        result.ignored = match.ignored
        users = people.list_users(write.connection, write.compiled)
        return cls(write, process, headers, match, Resolver(process.process, users, sheet.kind == "csv", options.files),
                   key, options.keep_ids)

    @cached_property
    def readers(self) -> list[tuple[int, Column, Callable[[Any, str | None], Any], bool, bool]]:
        """Per column read into a field (pipeline and stage are read apart): its place, its column, the
        resolver's reader prepared for it, whether it is the --key and whether a row may set it."""
        key = self.key.id if self.key is not None else None
        return [(index, found, self.resolver.reader(found), found.id == key, not found.read_only)
                for index, found in enumerate(self.match.columns)
                if found is not None and found.id not in ("pipeline", "stage")]

    def place(self, row: SheetRow) -> tuple[Pipeline, str | None]:
        """The pipeline and stage a row names (its cells, or the defaults), read once per spelling."""
        cells = (self.cell(row, "pipeline"), self.cell(row, "stage"))
        found = self.places.get(cells)
        if found is None:
            pipeline = self.resolver.pipeline(cells[0]) or self.process.process.default_pipeline
            found = (pipeline, self.resolver.stage(pipeline, cells[1]))
            if len(self.places) < 1000:
                self.places[cells] = found
        return found

    @cached_property
    def places(self) -> dict[tuple[Any, Any], tuple[Pipeline, str | None]]:
        return {}

    def header(self, field_id: str | None) -> str:
        position = self.match.position(field_id) if field_id else None
        return self.headers[position] if position is not None else ""

    def cell(self, row: SheetRow, column_id: str) -> Any:
        position = self.positions.get(column_id)
        return row.values[position] if position is not None else None

    @cached_property
    def positions(self) -> dict[str, int]:
        """Each column's place in the file (the first, as match.position finds it)."""
        found: dict[str, int] = {}
        for index, matched in enumerate(self.match.columns):
            if matched is not None:
                found.setdefault(matched.id, index)
        return found


@record
class _Row:
    """One sheet row read: its values by field id, its key, and the cells that could not be read."""

    values: dict[str, Any]
    key: Any
    problems: list[CellProblem]


def _read(plan: _Plan, row: SheetRow) -> _Row:
    """The row's values by field id, its key, and every cell that cannot be read."""
    values: dict[str, Any] = {}
    problems: list[CellProblem] = []
    key = None
    formats = row.formats
    for index, found, read, is_key, settable in plan.readers:
        raw = row.values[index]
        if type(raw) is str and "\x00" in raw:  # CSV may hold it; no text column can (fields.text_problem)
            problems.append(CellProblem(found.id, raw.replace("\x00", "\\0"),
                                        "contains a NUL character, which text cannot hold"))
            continue
        try:
            value = read(raw, formats[index] if formats else None)
        except CellProblem as problem:
            problems.append(problem)
            continue
        if is_key:
            key = None if fields.is_empty(value) else fields.stored_scalar(found.field, value)
        if settable:
            values[found.id] = value
    return _Row(values, key, problems)


def _run(write: Write, plan: _Plan, batch: list[SheetRow], result: ImportResult,
         on_progress: Callable[[int], None] | None) -> None:
    plan.resolver.load_links(write, plan.match.columns, [row.values for row in batch])
    read = [_read(plan, row) for row in batch]
    existing = _existing(plan, [r.key for r in read if r.key is not None])
    # files are stored as each row's item is created (items.create claims them); the bulk path does not
    files = plan.resolver.files is not None and bool(plan.process.file_fields)
    pending = _pending(plan, result, existing) if bulk.usable(write, plan.process) and not files else None
    taken = _taken(plan, read)
    for row, values in zip(batch, read, strict=True):
        result.rows += 1
        if plan.keep_ids is not None and not values.problems:
            problem = _kept_id(plan, values, taken)
            if problem is not None:
                values.problems.append(problem)
        if values.problems:
            _failed(plan, result, row, values.problems)
            continue
        if pending is not None:
            if values.key is not None and values.key in pending.keys:
                pending.flush()  # a later row with the same key updates the item the earlier one creates
            if values.key is None or not existing.get(values.key):
                try:
                    pending.add((row, values.key), _new(plan, row, values))
                    if values.key is not None:
                        pending.keys.add(values.key)
                except (CellProblem, ItemError) as error:
                    _failed(plan, result, row, [error])
                continue
            pending.flush()  # an update sees every earlier row written, as it would row by row
        try:
            with write.connection.begin_nested():
                outcome = _apply(plan, row, values, existing)
        except (CellProblem, ItemError, sa.exc.IntegrityError) as error:
            _failed(plan, result, row, [error])
            continue
        setattr(result, outcome, getattr(result, outcome) + 1)
    if pending is not None:
        pending.flush()
        result.problems.sort(key=lambda problem: problem.row)  # a unique value is refused when its chunk is written
    if plan.keep_ids is not None:
        items.follow_ids(write, plan.process.process.id)
    if on_progress is not None:
        on_progress(len(batch))


class _Pending(bulk.Pending):
    keys: set[Any]  # the --key values of rows queued and not yet written


def _pending(plan: _Plan, result: ImportResult, existing: dict[Any, list[dict[str, Any]]]) -> _Pending:
    """The new rows of a batch, queued and written many at a time; result and existing kept up to date."""

    def written(tags: list[Any], ids: list[int], news: list[items.NewItem]) -> None:
        for (_, key), item_id, new in zip(tags, ids, news, strict=True):
            result.created += 1
            if key is not None:  # a later row with the same key updates this item
                pending.keys.discard(key)
                existing[key] = [{"id": item_id, "pipeline": new.pipeline, "stage": new.stage,
                                  "created_by": plan.write.actor.id, "assigned_to": new.row.get("assigned_to")}]

    def failed(tag: Any, error: Exception) -> None:
        row, key = tag
        pending.keys.discard(key)
        _failed(plan, result, row, [error])

    pending = _Pending(plan.write, plan.process, written, failed)
    pending.keys = set()
    return pending


def _new(plan: _Plan, row: SheetRow, read: _Row) -> items.NewItem:
    """The row's new item, checked by every rule of a create but its unique values (checked per chunk)."""
    pipeline, stage = plan.place(row)
    new = items.new_item(plan.write, plan.process.process.id, read.values, pipeline=pipeline.id, stage=stage,
                         unique=False, canonical=True)
    if plan.keep_ids is not None:
        new.row["id"] = read.values[plan.keep_ids]
    return new


def _taken(plan: _Plan, read: list[_Row]) -> set[int]:
    """The ids a batch keeping ids asks for that items hold already: one query for the batch."""
    if plan.keep_ids is None:
        return set()
    wanted = [r.values.get(plan.keep_ids) for r in read]
    return items.taken_ids(plan.write, plan.process.process.id, [w for w in wanted if isinstance(w, int)])


def _kept_id(plan: _Plan, read: _Row, taken: set[int]) -> CellProblem | None:
    """Why a row cannot keep its id (none given, not a positive id, or an item's already); None if it can.
    The id is taken for the rows after it."""
    assert plan.keep_ids is not None
    wanted = read.values.get(plan.keep_ids)
    if not isinstance(wanted, int) or not 0 < wanted < 2**31:
        return CellProblem(plan.keep_ids, wanted, "--keep-ids: every row needs its original id, a positive number")
    if wanted in taken:
        return CellProblem(plan.keep_ids, wanted, f"--keep-ids: id {wanted} is taken by an item of "
                           f"{plan.process.process.id} already (in the list or the recycle bin); import into an "
                           "empty process, or without --keep-ids")
    taken.add(wanted)
    return None


def _existing(plan: _Plan, keys: list[Any]) -> dict[Any, list[dict[str, Any]]]:
    """The items the batch's keys name, one query for the batch: key → [items] (several: ambiguous)."""
    if plan.key is None or not keys:
        return {}
    table = plan.process.table
    key_column = table.c[plan.key.id]
    rows = plan.write.connection.execute(
        sa.select(table.c.id, table.c.pipeline, table.c.stage, table.c.assigned_to, table.c.created_by,
                  key_column.label("key")).where(key_column.in_(set(keys)), query.visible(plan.write, plan.process))
        .order_by(table.c.id)).mappings()
    found: dict[Any, list[dict[str, Any]]] = {}
    for row in rows:
        found.setdefault(row["key"], []).append(dict(row))
    return found


def _apply(plan: _Plan, row: SheetRow, read: _Row, existing: dict[Any, list[dict[str, Any]]]) -> str:
    """Create the row's item, or update (and move) the one its key names; returns the outcome's name."""
    write, process_id = plan.write, plan.process.process.id
    matches = existing.get(read.key, []) if read.key is not None else []
    if len(matches) > 1:
        ids = ", ".join(f"#{m['id']}" for m in matches[:5])
        raise InvalidValue(tr("the key matches {count} items ({ids}); it must name one", count=len(matches), ids=ids),
                           field=plan.key.id if plan.key else None)
    if matches:
        item = matches[0]
        if not access.reaches(write.actor, plan.process, "import", item):
            reach = access.level(write.actor, plan.process, "import", item.get("pipeline"))
            raise PermissionDenied(tr("you may not import into {process} {item} (your roles allow {reach})",
                                      process=names.process(plan.process), item=item["id"],
                                      reach=Name(f"import: {reach}", names.LEVEL_TITLES.get(reach))))
        into = plan.resolver.pipeline(plan.cell(row, "pipeline"))  # the people it names must work there
        changes = items.update(write, process_id, item["id"], read.values, pipeline=into.id if into else None)
        moved = _move(plan, row, item)
        return "updated" if changes or moved else "unchanged"
    pipeline = plan.resolver.pipeline(plan.cell(row, "pipeline")) or plan.process.process.default_pipeline
    stage = plan.resolver.stage(pipeline, plan.cell(row, "stage"))
    item_id = items.create(write, process_id, read.values, pipeline=pipeline.id, stage=stage,
                           item_id=read.values[plan.keep_ids] if plan.keep_ids is not None else None)
    if read.key is not None:  # a later row with the same key updates this item
        existing[read.key] = [{"id": item_id, "pipeline": pipeline.id, "stage": stage or pipeline.stages[0].id,
                               "created_by": write.actor.id, "assigned_to": read.values.get("assigned_to")}]
    return "created"


def _move(plan: _Plan, row: SheetRow, item: dict[str, Any]) -> bool:
    """Move an updated item to the row's stage (and pipeline) under the usual rules; whether it moved."""
    process = plan.process.process
    pipeline: Pipeline | None = plan.resolver.pipeline(plan.cell(row, "pipeline"))
    current = process.pipeline(item["pipeline"])
    target = pipeline or current
    assert target is not None
    stage = plan.resolver.stage(target, plan.cell(row, "stage"))
    if stage is None:
        if target is not current:
            raise CellProblem("stage", None, tr("give the stage in pipeline {pipeline} to move the item there",
                                                pipeline=names.pipeline(plan.process, target.id)))
        return False
    if target is current and stage == item["stage"]:
        return False
    items.move(plan.write, process.id, item["id"], stage, pipeline=None if target is current else target.id)
    item.update(pipeline=target.id, stage=stage)
    return True


def _message(error: Exception) -> str:
    """An error's message, kept as a Message (to be rendered in the reader's language) when it is one."""
    kept = error.message if isinstance(error, SmartflowError) else error.args[0] if error.args else None
    return kept if isinstance(kept, Message) else str(error)


def _failed(plan: _Plan, result: ImportResult, row: SheetRow, errors: list[Exception]) -> None:
    result.failed_rows += 1
    for error in errors:
        field_id = error.column if isinstance(error, CellProblem) else getattr(error, "field", None)
        header = plan.header(field_id)
        message = _message(error)
        if isinstance(error, sa.exc.IntegrityError):
            message = f"the database refused the row: {str(error.orig).splitlines()[0]}"
        elif header and isinstance(message, Message) and message.msgid == "field {field}: {problem}":
            message = message.params["problem"]  # the column says which field; rendered in the reader's language
        elif header and message.startswith(f"field `{field_id}`: "):
            message = message[len(f"field `{field_id}`: "):]
        value = plan.cell(row, field_id) if header and field_id else None
        result.problems.append(Problem(row.number, header, "" if value is None else str(value), message))


def write_report(result: ImportResult, path: Path) -> None:
    """Every problem, one per line: the row, the column, the value as written and what is wrong."""
    with path.open("w", encoding="utf-8-sig", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["row", "column", "value", "problem"])
        for problem in result.problems:
            writer.writerow([problem.row, neutralise(problem.column), neutralise(problem.value),
                             neutralise(problem.message)])
