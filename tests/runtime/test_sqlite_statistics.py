"""SQLite's query planner keeps its statistics fresh by itself: a connection going back to the pool runs
`PRAGMA optimize` (at most once a second), which analyses the tables its queries would plan better with
statistics — and a database another writer holds is skipped at once, never waited for."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

import sqlalchemy as sa

from smartflow import db


def rows_table(path: Path, count: int) -> None:
    with sqlite3.connect(path) as raw:
        raw.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, pipeline TEXT, stage TEXT, owner INTEGER)")
        raw.execute("CREATE INDEX ix_t_pipeline_stage ON t (pipeline, stage)")
        raw.execute("CREATE INDEX ix_t_owner ON t (owner)")
        raw.executemany("INSERT INTO t (pipeline, stage, owner) VALUES ('main', ?, ?)",
                        [(f"s{n % 4}", n % 50) for n in range(count)])


def plan(engine: sa.Engine) -> str:
    with engine.connect().execution_options(sqlite_begin="DEFERRED") as connection:
        found = connection.exec_driver_sql("EXPLAIN QUERY PLAN SELECT stage, count(*) FROM t WHERE pipeline = 'main' "
                                           "AND owner = 3 GROUP BY stage").all()
    return " ".join(str(row[-1]) for row in found)


def test_a_table_never_analysed_gets_statistics_once_queried_and_the_better_index(tmp_path: Path) -> None:
    path = tmp_path / "stats.db"
    rows_table(path, 20_000)
    engine = db.make_engine(f"sqlite:///{path}")
    try:
        with engine.connect() as connection:  # the first return to the pool: nothing queried yet
            connection.exec_driver_sql("SELECT 1").all()
        assert "ix_t_pipeline_stage" in plan(engine)  # without statistics: every row of the pipeline
        time.sleep(db.OPTIMIZE_SECONDS)  # the query above ran on the connection; its next return analyses
        with engine.connect() as connection:
            connection.exec_driver_sql("SELECT count(*) FROM t WHERE owner = 1").all()
        with sqlite3.connect(path) as raw:
            analysed = {row[0] for row in raw.execute("SELECT idx FROM sqlite_stat1 WHERE tbl = 't'")}
        assert {"ix_t_owner", "ix_t_pipeline_stage"} <= analysed
        assert "ix_t_owner" in plan(engine)  # a fiftieth of the rows
    finally:
        engine.dispose()


def test_a_database_another_writer_holds_is_not_waited_for(tmp_path: Path) -> None:
    path = tmp_path / "busy.db"
    rows_table(path, 5_000)
    engine = db.make_engine(f"sqlite:///{path}")
    holder = sqlite3.connect(path, isolation_level=None)
    try:
        plan(engine)
        holder.execute("BEGIN IMMEDIATE")  # another process writing for long
        time.sleep(db.OPTIMIZE_SECONDS)
        started = time.monotonic()
        with engine.connect().execution_options(sqlite_begin="DEFERRED") as connection:  # a reader (WAL)
            connection.exec_driver_sql("SELECT count(*) FROM t WHERE owner = 1").all()
        assert time.monotonic() - started < 2  # the busy timeout is 10 s: it was not waited for
        holder.execute("ROLLBACK")
        with engine.connect() as connection:  # and the connection still works, with its busy timeout back
            assert connection.exec_driver_sql("PRAGMA busy_timeout").scalar() == db.BUSY_TIMEOUT_MS
    finally:
        holder.close()
        engine.dispose()
