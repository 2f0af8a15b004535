"""Many rows into one table at the driver's speed, stored exactly as SQLAlchemy would store them.

SQLAlchemy's executemany turns every row's dict into parameters one value at a time (its
`construct_params` and type processors cost more than SQLite's own executemany). Here the
statement is built once per table and column list, each column's bind processor (the one
SQLAlchemy would run: JSON serialised, date-times formatted for SQLite) is applied to the
rows' tuples, and the rows go to the driver in one call: `COPY … FROM STDIN` on PostgreSQL
(from COPY_FROM rows up; fewer go in one executemany), an executemany elsewhere. A row the
database refuses raises `sqlalchemy.exc.IntegrityError` (or the DBAPIError it is), as
`Connection.execute` would, so callers' savepoints and messages are the same either way.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa

from smartflow.records import record
from smartflow.runtime.compiled import built

COPY_FROM = 50  # rows from which COPY beats an executemany on PostgreSQL (a COPY costs a round trip more)


@record(frozen=True)
class _Statement:
    """A bulk write's statements for one table and columns, with each column's value processor."""

    insert: str  # INSERT … VALUES with the driver's positional markers
    copy: str | None  # COPY … FROM STDIN (PostgreSQL)
    processors: tuple[Callable[[Any], Any] | None, ...]


def _statement(dialect: sa.Dialect, table: sa.Table, names: tuple[str, ...]) -> _Statement:
    quote = dialect.identifier_preparer.quote
    target = dialect.identifier_preparer.format_table(table)
    columns = ", ".join(quote(name) for name in names)
    marker = "?" if dialect.paramstyle == "qmark" else "%s"
    insert = f"INSERT INTO {target} ({columns}) VALUES ({', '.join(marker for _ in names)})"
    copy = f"COPY {target} ({columns}) FROM STDIN" if dialect.name == "postgresql" else None
    processors = tuple(table.c[name].type.dialect_impl(dialect).bind_processor(dialect) for name in names)
    return _Statement(insert, copy, processors)


def insert_rows(connection: sa.Connection, table: sa.Table, names: Sequence[str], rows: list[Sequence[Any]]) -> None:
    """Insert rows (each a sequence of values in the order of names, as SQLAlchemy takes them) into table."""
    if not rows:
        return
    dialect = connection.dialect
    key = tuple(names)
    statement: _Statement = built((table, "bulkwrite", dialect.name, key), lambda: _statement(dialect, table, key))
    processed = _processed(statement.processors, rows)
    if statement.copy is not None and len(processed) >= COPY_FROM:
        _copy(connection, statement, processed)
    else:
        connection.exec_driver_sql(statement.insert, processed)  # type: ignore[arg-type]


def _processed(processors: tuple[Callable[[Any], Any] | None, ...], rows: list[Sequence[Any]]) -> list[tuple[Any, ...]]:
    """The rows with every column's bind processor applied, column by column (most columns have none)."""
    if not any(processors):
        return [tuple(row) for row in rows]
    columns = list(zip(*rows, strict=True))
    for index, process in enumerate(processors):
        if process is not None:
            columns[index] = _mapped(process, columns[index])
    return list(zip(*columns, strict=True))


def _mapped(process: Callable[[Any], Any], values: tuple[Any, ...]) -> tuple[Any, ...]:
    """process(value) for each value (None too: JSON stores it as null): once per run of the same
    object (the rows of one write share their time stamps) and once per distinct date, date-time
    (with its zone: equal instants in two zones are written apart) or yes/no."""
    out: list[Any] = []
    seen: dict[Any, Any] = {}
    last: Any = out  # a sentinel no value is
    done: Any = None
    for value in values:
        if value is not last:
            kind = type(value)
            key = (value, value.tzinfo) if kind is datetime else value if kind is date or kind is bool else seen
            if key is seen:
                done = process(value)
            else:
                done = seen.get(key, seen)
                if done is seen:
                    done = seen[key] = process(value)
            last = value
        out.append(done)
    return tuple(out)


def _copy(connection: sa.Connection, statement: _Statement, rows: list[tuple[Any, ...]]) -> None:
    """COPY rows in through the connection's own transaction; a refusal raised as SQLAlchemy raises it."""
    assert statement.copy is not None
    raw = connection.connection.dbapi_connection
    assert raw is not None
    try:
        with raw.cursor() as cursor, cursor.copy(statement.copy) as copy:
            for row in rows:
                copy.write_row(row)
    except connection.dialect.loaded_dbapi.Error as error:
        raise sa.exc.DBAPIError.instance(statement.copy, None, error, connection.dialect.loaded_dbapi.Error,
                                         dialect=connection.dialect) from None


def follow_sequence(connection: sa.Connection, table: sa.Table) -> None:
    """After rows were written into table with ids given explicitly (items or users keeping another
    system's ids): the next id its default takes is above them. PostgreSQL's sequence does not see ids
    given explicitly, so it is set to the largest; SQLite's counter follows by itself (AUTOINCREMENT's
    sqlite_sequence, or the largest rowid)."""
    if connection.dialect.name != "postgresql":
        return
    sequence = connection.execute(sa.text("SELECT pg_get_serial_sequence(:table, 'id')"),
                                  {"table": table.name}).scalar_one()
    if sequence is None:
        return
    largest = connection.execute(sa.select(sa.func.max(table.c.id))).scalar()
    last, called = connection.execute(sa.text(f"SELECT last_value, is_called FROM {sequence}")).one()
    if largest is not None and (int(largest) > int(last) or (int(largest) == int(last) and not called)):
        connection.execute(sa.text("SELECT setval(:sequence, :value, true)"),
                           {"sequence": sequence, "value": int(largest)})
