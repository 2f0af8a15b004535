"""Item reads: the list view (filters, search, sort, keyset paging), the card, history, kanban.

Every read is filtered by the actor's read level in SQL, so lists, counts, sums and history
show only what the actor may see.
"""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from itertools import islice
from typing import Any

import sqlalchemy as sa

from smartflow.compile.sql import currency_column, precision_of
from smartflow.compile.totals import MARKER_PIPELINE
from smartflow.compile.totals import TABLE as TOTALS_TABLE
from smartflow.definitions.filters import OPERATORS, SYSTEM_COLUMNS, doubled, split_filter
from smartflow.definitions.hints import did_you_mean, known_list
from smartflow.definitions.model import Field
from smartflow.errors import InvalidValue
from smartflow.records import record
from smartflow.runtime import access, fields
from smartflow.runtime.compiled import CompiledProcess
from smartflow.runtime.items import (
    SYSTEM_KEYS,
    RowReader,
    Write,
    _load_multiple,
    built,
    fetch,
    process_of,
    reader,
)

TEXT_TYPES = ("string", "text", "email", "phone", "url")
DEFAULT_LIMIT = 50


def casefold(connection: Any, expression: Any) -> Any:
    """Case-insensitive form of a text expression; Cyrillic too (SQLite's lower() is ASCII only)."""
    if connection.dialect.name == "sqlite":
        return sa.func.sf_casefold(expression)
    return sa.func.lower(expression)


def visible(write: Write, process: CompiledProcess) -> Any:
    table = process.table
    return sa.and_(table.c.deleted_at.is_(None), access.row_filter(write.actor, process, "read"))


def _system_field(name: str) -> Field:
    kinds = {"id": "integer", "assigned_to": "user", "created_by": "user", "created_at": "datetime",
             "updated_at": "datetime", "moved_at": "datetime", "closed_at": "datetime"}
    return Field(id=name, type=kinds.get(name, "string"))


def _field_or_system(process: CompiledProcess, name: str) -> Field:
    if name in process.fields:
        return process.fields[name]
    if name in SYSTEM_COLUMNS:
        return _system_field(name)
    known = [*process.fields, *SYSTEM_COLUMNS]
    raise InvalidValue(f"{process.process.id} has no field `{name}`",
                       did_you_mean(name, known) or f"fields: {known_list(known)}", field=name)


def _operand(write: Write, field: Field, raw: str) -> Any:
    try:
        value = fields.parse_text(Field(id=field.id, type=field.type, precision=field.precision,
                                        currency=field.currency), raw)
    except fields.ValueProblem as problem:
        raise InvalidValue(f"--where {field.id}: {problem}", field=field.id) from None
    if field.type == "user" and value is not None:
        from smartflow.runtime.people import user_id

        found = user_id(write.connection, write.compiled, value)
        return found if found is not None else -1
    stored = fields.stored_scalar(field, value)
    limit = fields.MAX_ID if field.id == "id" else fields.STORED_LIMIT - 1  # the column's range
    if isinstance(stored, int) and abs(stored) > limit:  # the driver (or PostgreSQL) would refuse to bind it
        raise InvalidValue(f"--where {field.id}: {raw.strip()} is too large to compare",
                           f"`{field.id}` holds at most {limit}", field=field.id)
    return stored


def _text(what: str, text: str, field: str | None = None) -> str:
    """Text compared with stored text: refused when no database could hold it (fields.text_problem)."""
    problem = fields.text_problem(text)
    if problem is not None:
        raise InvalidValue(f"{what}: {problem}", "send plain text", field=field)
    return text


def _like(text: str) -> str:
    """A LIKE pattern finding text anywhere (escaped with `/`, as SQLAlchemy's autoescape does)."""
    return "%" + text.casefold().replace("/", "//").replace("%", "/%").replace("_", "/_") + "%"


@record(frozen=True)
class Filter:
    """One `--where "FIELD OP VALUE"`, read and checked: the shape of its SQL, and the value bound into it.

    The shape (field and operation) decides the statement, which is built once per shape and
    cached; the value (an operand, a list for `in`, a pattern for `contains`) is a parameter of
    each run. So `amount > 5000` and `amount > 7000` share one statement, and values resolved per
    call — a user's login, `today` — are never frozen into a cached one.
    """

    field: str
    op: str
    value: Any = None


def parse_filter(write: Write, process: CompiledProcess, text: str) -> Filter:
    parts = split_filter(text)
    if parts is None:
        raise InvalidValue(f"cannot read the filter {text!r}", f"write FIELD OP VALUE, with OP one of {OPERATORS}")
    name, op, raw = parts
    if doubled(op, raw):
        raise InvalidValue(f"cannot read the filter {text!r}: `{op}` is followed by `{raw[:1]}`",
                           "write one operator: = != < <= > >= in contains")
    field = _field_or_system(process, name)
    access.refuse_hidden(write.actor, process, (name,), "filter on")
    if field.multiple:
        if op in ("is empty", "is not empty"):
            return Filter(name, "several " + op)
        if op not in ("=", "!=", "in", "contains"):
            raise InvalidValue(f"--where {name}: `{op}` does not work on a field that holds several values",
                               "use = (or contains), !=, in, is empty or is not empty", field=name)
        parts = raw.split(",") if op == "in" else [raw]
        return Filter(name, "several none of" if op == "!=" else "several any of",
                      [_operand(write, field, part) for part in parts])
    if op in ("is empty", "is not empty"):
        return Filter(name, op)
    if op == "contains":
        if field.type not in TEXT_TYPES:
            raise InvalidValue(f"--where {name}: `contains` works on text fields only",
                               "use = != < <= > >= or in", field=name)
        return Filter(name, "contains", _like(_text(f"--where {name}", raw, name)))
    if op == "in":
        return Filter(name, "in", [_operand(write, field, part) for part in raw.split(",")])
    operand = _operand(write, field, raw)
    if operand is None and op in ("=", "!="):
        return Filter(name, "is empty" if op == "=" else "is not null")
    return Filter(name, op, operand)


def filter_sql(write: Write, process: CompiledProcess, flt: Filter, value: Any) -> Any:
    """The SQL of a filter, with value (a bind parameter) standing for the filter's value."""
    table = process.table
    field = _field_or_system(process, flt.field)
    if flt.op.startswith("several "):
        values = process.values_tables[flt.field]
        exists = sa.exists().where(values.c.item_id == table.c.id)
        if flt.op == "several is empty":
            return ~exists
        if flt.op == "several is not empty":
            return exists
        holds = exists.where(values.c.value.in_(value))
        return ~holds if flt.op == "several none of" else holds
    column = table.c[flt.field]
    texts = field.type in ("string", "text")
    if flt.op == "is empty":
        return sa.or_(column.is_(None), column == "") if texts else column.is_(None)
    if flt.op == "is not empty":
        return sa.and_(column.is_not(None), column != "") if texts else column.is_not(None)
    if flt.op == "is not null":
        return column.is_not(None)
    if flt.op == "contains":
        return casefold(write.connection, column).like(value, escape="/")
    if flt.op == "in":
        return column.in_(value)
    if flt.op == "!=":
        return sa.or_(column != value, column.is_(None))  # an empty value is not equal to anything given
    comparisons = {"=": column.__eq__, "<": column.__lt__, "<=": column.__le__, ">": column.__gt__,
                   ">=": column.__ge__}
    return comparisons[flt.op](value)


def _parameter(name: str, flt: Filter) -> Any:
    return sa.bindparam(name, expanding=isinstance(flt.value, list))


def _search_sql(write: Write, process: CompiledProcess, pattern: Any) -> Any:
    """The title or any text field the actor may see contains the pattern."""
    table = process.table
    hidden = access.hidden_fields(write.actor, process)
    columns = [table.c.title] + [table.c[f.id] for f in process.process.fields
                                 if not f.multiple and f.type in TEXT_TYPES and f.id not in hidden]
    return sa.or_(*(casefold(write.connection, c).like(pattern, escape="/") for c in columns))


def _sort(write: Write, process: CompiledProcess, sort: str | None) -> tuple[Any, bool]:
    spec = sort or process.process.list_sort or "id"
    name, _, direction = spec.partition(":")
    field = _field_or_system(process, name)
    if name in access.hidden_fields(write.actor, process):
        if sort is None:  # the list view's own order, on a field this user may not see: by id instead
            return process.table.c.id, False
        access.refuse_hidden(write.actor, process, (name,), "sort by")
    if field.multiple:
        raise InvalidValue(f"cannot sort by `{name}`: it holds several values", field=name)
    return process.table.c[name], direction == "desc"


def _anchor(write: Write, process: CompiledProcess, column: Any, after: int) -> tuple[str, Any]:
    """Keyset paging: where item `after` stands in the current order — its sort value, read under the
    actor's read filter (an item they may not see does not exist)."""
    table = process.table
    query = built((table, "anchor", column.key, write.actor), lambda: sa.select(column).where(
        table.c.id == sa.bindparam("_after"), access.row_filter(write.actor, process, "read")))
    anchor = write.connection.execute(query, {"_after": after}).first()  # filtered: no leak of existence
    if anchor is None:
        raise InvalidValue(f"--after {after}: there is no such item")
    if column is table.c.id:
        return "id", None
    return ("null", None) if anchor[0] is None else ("value", anchor[0])


def _after_sql(write: Write, process: CompiledProcess, column: Any, descending: bool, shape: str) -> Any:
    """The items after the anchor in the current order, nulls last (the anchor's id and value are parameters).

    Sorted by id, the anchor's position is its id, so instead of a query of its own (a round trip
    per page) the page's query checks that the anchor is an item the actor may read; an empty page
    then asks `_anchor` whether that is why."""
    table = process.table
    after, value = sa.bindparam("_after"), sa.bindparam("_anchor")
    if shape == "id":
        anchor = table.alias("anchor")
        readable = sa.exists().where(anchor.c.id == after,
                                     access.row_filter(write.actor, process, "read", anchor))
        return sa.and_(table.c.id < after if descending else table.c.id > after, readable)
    if shape == "null":
        return sa.and_(column.is_(None), table.c.id > after)
    beyond = column < value if descending else column > value
    return sa.or_(beyond, sa.and_(column == value, table.c.id > after), column.is_(None))


def list_items(write: Write, process_id: str, *, pipeline: str | None = None, stage: str | None = None,
               where: list[str] | tuple[str, ...] = (), search: str | None = None, sort: str | None = None,
               limit: int = DEFAULT_LIMIT, after: int | None = None,
               columns: tuple[str, ...] | None = None, offset: int = 0) -> list[dict[str, Any]]:
    """A page of the list view as canonical values: of every field the actor may see, or of `columns`
    and the id (a field hidden from the actor among them is refused). offset skips that many items
    first (for protocols that page by position; `after` is the cheaper keyset)."""
    process, read, rows = _page(write, process_id, pipeline, stage, where, search, sort, limit, after, columns,
                                offset)
    decode = read.decode
    items = [decode(row) for row in rows]
    if items and read.multiple:
        _load_multiple(write.connection, process, items, read.multiple)
    return items


def stream_columns(write: Write, process_id: str, columns: tuple[str, ...], *, batch: int,
                   pipeline: str | None = None, stage: str | None = None, where: list[str] | tuple[str, ...] = (),
                   search: str | None = None, sort: str | None = None) -> Iterator[dict[str, Any]]:
    """Every item of the list view, column by column, `batch` items at a time: one query whose rows
    are fetched a batch at a time (a server-side cursor on PostgreSQL), so memory stays flat.

    The filters, sort and columns are checked now (a refusal comes before anything is written
    anywhere); the query runs when the first batch is asked for."""
    process, read, statement, params = _statement(write, process_id, pipeline, stage, where, search, sort, None,
                                                  None, columns)
    return _streamed(write, process, read, statement, params, batch)


def _streamed(write: Write, process: CompiledProcess, read: RowReader, statement: Any, params: dict[str, Any],
              batch: int) -> Iterator[dict[str, Any]]:
    # yield_per: a server-side cursor on PostgreSQL, so the driver does not load every row first (SQLite's
    # cursor steps through the rows anyway). Batches are cut from the row iterator, SQLAlchemy's fastest
    # way through a result: about 20% faster than fetchmany() or partitions() on 100,000 rows here.
    # (an option of this execution only: on the connection it would stream every later query too)
    rows_of = iter(write.connection.execute(statement, params, execution_options={"yield_per": batch}))
    while rows := list(islice(rows_of, batch)):
        found = read.decode_columns(rows)
        if read.multiple:
            holders: list[dict[str, Any]] = [{"id": item_id} for item_id in found["id"]]
            _load_multiple(write.connection, process, holders, read.multiple)
            for field_id in read.multiple:
                found[field_id] = [holder[field_id] for holder in holders]
        yield found


def _page(write: Write, process_id: str, pipeline: str | None, stage: str | None, where: list[str] | tuple[str, ...],
          search: str | None, sort: str | None, limit: int, after: int | None,
          columns: tuple[str, ...] | None, offset: int = 0) -> tuple[CompiledProcess, RowReader, list[Any]]:
    """The rows of a page of the list view, and the reader that decodes them."""
    process, read, statement, params = _statement(write, process_id, pipeline, stage, where, search, sort,
                                                  max(1, limit), after, columns, offset)
    rows = write.connection.execute(statement, params).all()
    if not rows and after is not None and "_anchor" not in params:  # sorted by id: the anchor was not read yet
        _anchor(write, process, process.table.c.id, after)  # an empty page: refused if the anchor is no item
    return process, read, rows


def _statement(write: Write, process_id: str, pipeline: str | None, stage: str | None,
               where: list[str] | tuple[str, ...], search: str | None, sort: str | None, limit: int | None,
               after: int | None, columns: tuple[str, ...] | None, offset: int = 0
               ) -> tuple[CompiledProcess, RowReader, Any, dict[str, Any]]:
    """The list view's statement and its parameters (with the reader of its rows).

    The statement is built once per shape — actor, which filters, sort, paging, columns — and run
    with the filters' values as parameters: building a Core statement and its cache key costs
    SQLAlchemy more than SQLite takes to run an indexed page.
    """
    process = process_of(write, process_id)
    hidden = access.hidden_fields(write.actor, process)
    if columns is not None:
        columns = tuple(columns)  # a list from a caller: part of the statement's cache key
        for key in columns:
            if key not in SYSTEM_KEYS:
                _field_or_system(process, key)  # an unknown one: refused with "did you mean"
        access.refuse_hidden(write.actor, process, columns, "see")
    elif hidden:
        columns = tuple(key for key in (*SYSTEM_KEYS, *process.fields) if key not in hidden)
    for what, given in (("pipeline", pipeline), ("stage", stage), ("search", search)):
        if given is not None:
            _text(what, given, what)
    if after is not None and not (isinstance(after, int) and 0 <= after <= fields.MAX_ID):
        raise InvalidValue(f"--after {after}: there is no such item",
                           f"give the id of an item (at most {fields.MAX_ID})", field="after")
    filters = [parse_filter(write, process, text) for text in where]
    column, descending = _sort(write, process, sort)
    params: dict[str, Any] = {f"_w{n}": flt.value for n, flt in enumerate(filters)}
    anchor = None
    if after is not None and column is process.table.c.id:
        anchor = "id"  # its position is its id: the anchor's existence is checked inside the page's query
        params["_after"] = after
    elif after is not None:
        anchor, params["_anchor"] = _anchor(write, process, column, after)
        params["_after"] = after
    if pipeline is not None:
        params["_pipeline"] = pipeline
    if stage is not None:
        params["_stage"] = stage
    if search:
        params["_search"] = _like(search)
    if offset < 0:
        raise InvalidValue(f"offset {offset}: an offset is 0 or more")
    if offset:
        params["_offset"] = offset
    read = reader(process, columns)

    def build() -> Any:
        table = process.table
        query = sa.select(*read.columns).where(visible(write, process))
        if pipeline is not None:
            query = query.where(table.c.pipeline == sa.bindparam("_pipeline"))
        if stage is not None:
            query = query.where(table.c.stage == sa.bindparam("_stage"))
        for n, flt in enumerate(filters):
            query = query.where(filter_sql(write, process, flt, _parameter(f"_w{n}", flt)))
        if search:
            query = query.where(_search_sql(write, process, sa.bindparam("_search")))
        if anchor is not None:
            query = query.where(_after_sql(write, process, column, descending, anchor))
        if column is table.c.id:
            order = [table.c.id.desc() if descending else table.c.id]
        else:
            order = [(column.desc() if descending else column.asc()).nulls_last(), table.c.id]
        query = query.order_by(*order)
        if offset:
            query = query.offset(sa.bindparam("_offset", type_=sa.Integer))
        return query if limit is None else query.limit(limit)

    key = (process.table, "list", write.actor, pipeline is not None, stage is not None,
           tuple((flt.field, flt.op, isinstance(flt.value, list)) for flt in filters), bool(search),
           column.key, descending, anchor, limit, columns, bool(offset))
    return process, read, built(key, build), params


def narrowed(write: Write, process: CompiledProcess, where: list[str] | tuple[str, ...] = (),
             search: str | None = None) -> Any:
    """The list view's filters and search as one condition with their values bound (true without any):
    what counts and the board's totals add to the rows the actor may read."""
    conditions = []
    for n, text in enumerate(where):
        flt = parse_filter(write, process, text)
        conditions.append(filter_sql(write, process, flt, sa.bindparam(f"_w{n}", flt.value,
                                                                       expanding=isinstance(flt.value, list))))
    if search:
        pattern = _like(_text("search", search, "search"))
        conditions.append(_search_sql(write, process, sa.bindparam("_search", pattern)))
    return sa.and_(sa.true(), *conditions)


def count_items(write: Write, process_id: str, where: list[str] | tuple[str, ...] = (),
                search: str | None = None) -> int:
    process = process_of(write, process_id)
    query = sa.select(sa.func.count()).select_from(process.table).where(visible(write, process),
                                                                        narrowed(write, process, where, search))
    return int(write.connection.execute(query).scalar_one())


def history(write: Write, process_id: str, item_id: int, limit: int | None = None, *,
            ids: bool = False, read: bool = False) -> list[dict[str, Any]]:
    """The item's history, oldest first (the latest limit rows), without the fields hidden from the actor.
    NotFound unless the actor may read the item; read: the caller has just read it in this transaction."""
    process = process_of(write, process_id)
    if not read:
        fetch(write, process, item_id)
    hidden = access.hidden_fields(write.actor, process)
    query = _history_statement(write, hidden, bool(limit))
    rows = write.connection.execute(query, {"_process": process_id, "_item_id": item_id, "_limit": limit or 0,
                                            "_hidden": sorted(hidden)}).mappings().all()
    return [{"at": r["at"], "who": r["login"] or _automated(r["via"]) or "local administrator",
             "kind": r["kind"], "field": r["field"],
             "old": _without(r["old"], hidden), "new": _without(r["new"], hidden), "via": r["via"],
             **({"id": r["id"]} if ids else {})}
            for r in reversed(rows) if r["field"] not in hidden]


def _history_statement(write: Write, hidden: frozenset[str], limited: bool) -> Any:
    """An item's history rows with their actors' logins, newest first: built once per deployed version."""
    table = write.compiled.tables["sf_history"]

    def build() -> Any:
        users = write.compiled.tables["sf_users"]
        query = (sa.select(table, users.c.login).join(users, users.c.id == table.c.actor_id, isouter=True)
                 .where(table.c.process == sa.bindparam("_process"), table.c.item_id == sa.bindparam("_item_id"))
                 .order_by(table.c.id.desc()))
        if hidden:  # before the limit: the card's latest rows are the latest the user may see
            query = query.where(sa.or_(table.c.field.is_(None),
                                       table.c.field.not_in(sa.bindparam("_hidden", expanding=True))))
        return query.limit(sa.bindparam("_limit")) if limited else query

    return built((table, "history", bool(hidden), limited), build)


def _without(value: Any, hidden: frozenset[str]) -> Any:
    """A history value without hidden fields (the snapshot of a create names every field it set)."""
    if hidden and isinstance(value, dict):
        return {k: v for k, v in value.items() if k not in hidden}
    return value


def _automated(via: str | None) -> str | None:
    """Who acted when no user did: the trigger (its name is in `via`) or the automation itself."""
    if via and (via.startswith("trigger:") or via == "automation"):
        return via
    return None


def links(write: Write, process_id: str, item: dict[str, Any], limit: int = 20) -> dict[str, Any]:
    """Linked items both ways: what this item points to, and what points to it (readable only)."""
    process = process_of(write, process_id)
    outgoing: list[dict[str, Any]] = []
    for field in process.process.fields:
        if field.type != "link" or fields.is_empty(item.get(field.id)):
            continue  # (a field hidden from the actor is not in the item they were shown)
        target = write.compiled.processes[field.to or ""]
        ids = item[field.id] if field.multiple else [item[field.id]]
        rows = write.connection.execute(sa.select(target.table.c.id, target.table.c.title)
                                        .where(target.table.c.id.in_(ids), visible(write, target)))
        outgoing += [{"field": field.id, "process": target.process.id, "id": r.id, "title": r.title} for r in rows]
    incoming: list[dict[str, Any]] = []
    for definition in write.compiled.definition.processes:
        pointing = [f for f in definition.fields if f.type == "link" and f.to == process_id]
        if not pointing:
            continue  # (its tables are built only when a process is used)
        other = write.compiled.processes[definition.id]
        hidden = access.hidden_fields(write.actor, other)
        for field in pointing:
            if field.id in hidden:
                continue
            if field.multiple:
                values = other.values_tables[field.id]
                match = sa.exists().where(values.c.item_id == other.table.c.id, values.c.value == item["id"])
            else:
                match = other.table.c[field.id] == item["id"]
            rows = write.connection.execute(sa.select(other.table.c.id, other.table.c.title, other.table.c.stage)
                                            .where(match, visible(write, other)).order_by(other.table.c.id)
                                            .limit(limit))
            incoming += [{"field": field.id, "process": other.process.id, "id": r.id, "title": r.title,
                          "stage": r.stage} for r in rows]
    return {"out": outgoing, "in": incoming}


def shown_money(write: Write, process: CompiledProcess) -> Field | None:
    """The money field whose sums the actor sees (kanban, report): None when there is none, or it is hidden."""
    money = process.money_field
    return None if money is None or money.id in access.hidden_fields(write.actor, process) else money


def shown_money_fields(write: Write, process: CompiledProcess) -> list[Field]:
    """Every single-valued money field whose sums the actor sees (kanban, report), in definition order."""
    hidden = access.hidden_fields(write.actor, process)
    return [f for f in process.process.fields if f.type == "money" and not f.multiple and f.id not in hidden]


def money_totals(write: Write, process: CompiledProcess, base: Any, by: Any,
                 amount: Any = None) -> dict[Any, dict[str, dict[str, Decimal]]]:
    """Per value of the `by` column: per visible money field, its sum per currency over the rows of `base`
    (amount: a function of a money column giving what to sum, e.g. only won items; the column by default)."""
    table = process.table
    out: dict[Any, dict[str, dict[str, Decimal]]] = {}
    for money in shown_money_fields(write, process):
        currency = table.c[currency_column(money.id)]
        summed = table.c[money.id] if amount is None else amount(table.c[money.id])
        rows = write.connection.execute(sa.select(by, currency, sa.func.sum(summed))
                                        .where(base, table.c[money.id].is_not(None)).group_by(by, currency))
        for key, code, total in rows:
            if total is not None:
                out.setdefault(key, {}).setdefault(money.id, {})[code or ""] = \
                    Decimal(total).scaleb(-precision_of(money))
    return out


def item(write: Write, process_id: str, item_id: int) -> dict[str, Any]:
    """One item as the actor sees it: NotFound when they may not read it, without the fields hidden from them."""
    process = process_of(write, process_id)
    return access.shown(write.actor, process, fetch(write, process, item_id))


def _grouped_totals(write: Write, process: CompiledProcess, base: Any, money: Field | None,
                    columns: dict[str, dict[str, Any]]) -> None:
    """The board's counts and sums by a GROUP BY over the items of the pipeline the actor may see."""
    table = process.table
    group: list[Any] = [table.c.stage]
    selected: list[Any] = [table.c.stage, sa.func.count()]
    if money is not None:
        group.append(table.c[currency_column(money.id)])
        selected += [table.c[currency_column(money.id)], sa.func.sum(table.c[money.id])]
    for row in write.connection.execute(sa.select(*selected).where(base).group_by(*group)):
        column = columns.get(row[0])
        if column is None:
            continue
        column["count"] += row[1]
        if money is not None and row[3] is not None:
            column["sums"][row[2] or ""] = Decimal(row[3]).scaleb(-precision_of(money))
    totals = money_totals(write, process, base, table.c.stage)
    for stage_id, column in columns.items():
        column["totals"] = totals.get(stage_id, {})  # every money field: {field: {currency: sum}}


def kept_totals(write: Write, process: CompiledProcess, pipeline: str
                ) -> dict[str, tuple[int, dict[str, dict[str, Decimal]]]] | None:
    """Per stage of pipeline: the count of items and the sums per visible money field and currency, read
    from the totals the database keeps (compile/totals.py) — O(stages) rows whatever the items.

    None when they may not be used: the actor does not read every item of the process (the totals
    count items they may not see), the database has no totals yet (deployed before they existed, or
    the process's marker row is missing), or a sum left 64-bit integers on SQLite. The board then
    counts by a GROUP BY over the items the actor sees."""
    if access.level(write.actor, process, "read", pipeline) != "all":
        return None
    totals_table = write.compiled.tables[TOTALS_TABLE]
    connection = write.connection
    if not built((process.table, "totals kept"), lambda: sa.inspect(connection).has_table(TOTALS_TABLE)):
        return None
    statement = built((process.table, "totals"), lambda: sa.select(
        totals_table.c.pipeline, totals_table.c.stage, totals_table.c.field, totals_table.c.currency,
        sa.func.sum(totals_table.c["items"]), sa.func.sum(totals_table.c.total))
        .where(totals_table.c.process == process.process.id,
               totals_table.c.pipeline.in_([sa.bindparam("_pipeline"), MARKER_PIPELINE]))
        .group_by(totals_table.c.pipeline, totals_table.c.stage, totals_table.c.field, totals_table.c.currency))
    shown = {f.id: f for f in shown_money_fields(write, process)}
    marked = False
    out: dict[str, tuple[int, dict[str, dict[str, Decimal]]]] = {}
    for row_pipeline, stage, field_id, currency, items, total in connection.execute(statement,
                                                                                     {"_pipeline": pipeline}):
        if row_pipeline == MARKER_PIPELINE:
            marked = marked or int(items) > 0
            continue
        if isinstance(total, float):  # SQLite turned a sum past 64 bits into a float: not exact
            return None
        count, sums = out.get(stage, (0, {}))
        if field_id == "":
            out[stage] = (int(items), sums)
        elif field_id in shown and int(items) > 0:
            sums.setdefault(field_id, {})[currency] = Decimal(total).scaleb(-precision_of(shown[field_id]))
            out[stage] = (count, sums)
    if not marked:
        return None
    return {stage: (count, {f: sums[f] for f in shown if f in sums}) for stage, (count, sums) in out.items()}


def kanban(write: Write, process_id: str, pipeline: str | None = None, top: int = 5, *,
           where: list[str] | tuple[str, ...] = (), search: str | None = None) -> dict[str, Any]:
    """The board: per stage in order, the count, the money sums and the most recently updated cards.

    With where or search (the list view's filters), of the items they leave: counted by a GROUP BY
    under them, as for an actor who does not read every item (the kept totals count them all)."""
    process = process_of(write, process_id)
    chosen = process.process.pipeline(pipeline) if pipeline else process.process.default_pipeline
    if chosen is None:
        known = [p.id for p in process.process.pipelines]
        raise InvalidValue(f"{process_id} has no pipeline `{pipeline}`",
                           did_you_mean(pipeline or "", known) or f"pipelines: {known_list(known)}")
    table = process.table
    filtered = bool(where or search)
    base = sa.and_(visible(write, process), table.c.pipeline == chosen.id, narrowed(write, process, where, search))
    money = shown_money(write, process)
    columns: dict[str, dict[str, Any]] = {
        s.id: {"stage": s.id, "title": s.title, "semantic": s.semantic, "count": 0, "sums": {}, "cards": []}
        for s in chosen.stages}
    kept = None if filtered else kept_totals(write, process, chosen.id)
    if kept is None:
        _grouped_totals(write, process, base, money, columns)
    else:
        for stage_id, column in columns.items():
            count, totals = kept.get(stage_id, (0, {}))
            column["count"] = count
            column["totals"] = totals
            if money is not None:
                column["sums"] = dict(totals.get(money.id, {}))
    board = {"process": process_id, "pipeline": chosen.id, "money_field": money.id if money else None,
             "money_fields": [f.id for f in shown_money_fields(write, process)], "columns": list(columns.values())}
    if top <= 0:  # counts and sums only (the web board pages its cards itself)
        return board
    # the newest cards of each stage: one short query per stage on the (stage, updated_at) index, which
    # reads `top` rows whatever the number of items (a window function over the pipeline read them all)
    card_columns = [table.c.id, table.c.title, table.c.stage] + ([table.c[money.id]] if money else [])
    cards = sa.select(*card_columns).where(base, table.c.stage == sa.bindparam("_stage")).order_by(
        table.c.updated_at.desc(), table.c.id.desc()).limit(top)
    for stage_id, column in columns.items():
        for row in write.connection.execute(cards, {"_stage": stage_id}):
            amount = Decimal(row[3]).scaleb(-precision_of(money)) if money and row[3] is not None else None
            column["cards"].append({"id": row.id, "title": row.title, "amount": amount})
    return board
