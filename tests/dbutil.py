"""Databases for tests: a SQLite file always, PostgreSQL when SMARTFLOW_TEST_DATABASE_URL names one.

Each PostgreSQL test gets a schema of its own (set as the search path in the URL), dropped after.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

PG_ENV = "SMARTFLOW_TEST_DATABASE_URL"


def backends() -> list[Any]:
    params = [pytest.param("sqlite", id="sqlite")]
    if os.environ.get(PG_ENV):
        params.append(pytest.param("postgresql", id="postgresql"))
    return params


def database_url(kind: str, tmp_path: Path) -> Iterator[str]:
    if kind == "sqlite":
        yield f"sqlite:///{tmp_path / 'test.db'}"
        return
    base = sa.engine.make_url(os.environ[PG_ENV])
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(base)
    with admin.begin() as connection:
        connection.execute(sa.text(f"CREATE SCHEMA {schema}"))
    url = base.update_query_dict({"options": f"-csearch_path={schema}"})
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.begin() as connection:
            connection.execute(sa.text(f"DROP SCHEMA {schema} CASCADE"))
        admin.dispose()


TOTALS = ("SELECT process, pipeline, stage, field, currency, sum(items), sum(total) FROM sf_board_totals "
          "GROUP BY process, pipeline, stage, field, currency HAVING sum(items) <> 0 OR sum(total) <> 0")


UNCOMPARED = ("sf_changes",)  # the change feed: a log of writes for open screens (apply notes each), not data


def snapshot(url: str) -> dict[str, Any]:
    """Everything a test may compare: each table's columns, indexes and rows (the board's totals as what
    they say, a sum per key: apply writes them again whenever it rebuilds them, and on PostgreSQL a key
    may have several rows; the change feed's columns only)."""
    engine = sa.create_engine(url)
    out: dict[str, Any] = {}
    try:
        with engine.connect() as connection:
            inspector = sa.inspect(connection)
            for name in sorted(inspector.get_table_names()):
                columns = [(c["name"], str(c["type"]), c["nullable"]) for c in inspector.get_columns(name)]
                indexes = sorted((i["name"], tuple(i["column_names"]), bool(i["unique"]))
                                 for i in inspector.get_indexes(name))
                query = sa.text(TOTALS) if name == "sf_board_totals" else sa.select(
                    sa.table(name, *(sa.column(c[0]) for c in columns)))
                rows = sorted(repr(tuple(r)) for r in connection.execute(query)) if name not in UNCOMPARED else []
                out[name] = {"columns": sorted(columns), "indexes": indexes, "rows": rows}
    finally:
        engine.dispose()
    return out


@contextmanager
def statements(wanted: Callable[[str], bool]) -> Iterator[list[str]]:
    """The SQL statements sent to any database while the block runs, those `wanted` keeps, in order."""
    seen: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if wanted(statement):
            seen.append(statement)

    sa.event.listen(sa.engine.Engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        sa.event.remove(sa.engine.Engine, "before_cursor_execute", record)
