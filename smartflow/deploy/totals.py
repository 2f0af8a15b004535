"""Apply's part in what the database keeps about item tables — the board's totals (compile/totals.py)
and the change feed (compile/changes.py): triggers off before a process's table changes, and after
the steps, its totals rebuilt from the table, a "many changed" row in the feed, and its triggers on again.

Every process a step of the plan touches (any step but a note) is rebuilt, and every process when
the plan creates the totals table (a deployment made before it existed). A step may rename or
remove a stage, add, remove or convert a money field, or, on SQLite, copy the table and swap it
(which drops its triggers): rebuilding from the table after the last step is right whatever the
steps did, and cheaper than keeping the totals through each of them. It runs in apply's
transaction, which holds the item table's lock from the first DROP TRIGGER to the commit (on
SQLite, the database's write lock), so no item changes between the rebuild and the triggers.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import sqlalchemy as sa

from smartflow.compile import changes, totals
from smartflow.compile.sql import item_table_name
from smartflow.definitions.model import Definition
from smartflow.deploy.plan import Plan
from smartflow.deploy.plan.ops import CreateSystemTables, Note


def touched(plan: Plan, desired: Definition) -> tuple[list[str], list[str]]:
    """(processes whose totals apply rebuilds, removed processes whose totals it deletes)."""
    wanted = [p.id for p in desired.processes]
    kept = (totals.TABLE, changes.TABLE)
    if any(isinstance(op, CreateSystemTables) and set(kept) & set(op.tables) for op in plan.changes):
        changed = set(wanted)
    else:
        changed = {op.process for op in plan.changes if op.process and not isinstance(op, Note)}
    return [p for p in wanted if p in changed], sorted(changed - set(wanted))


def suspend(connection: Any, process_ids: Iterable[str]) -> None:
    """Drop the triggers of these processes whose item tables exist (before a step changes the table)."""
    existing = set(sa.inspect(connection).get_table_names())
    dialect = connection.dialect.name
    for process_id in process_ids:
        if item_table_name(process_id) in existing:
            for statement in totals.drop_statements(process_id, dialect) + changes.drop_statements(process_id, dialect):
                connection.exec_driver_sql(statement)


def refresh(connection: Any, desired: Definition, rebuilt: Iterable[str], removed: Iterable[str]) -> None:
    """After the plan's steps: rebuild and keep the totals of rebuilt, forget those of removed."""
    dialect = connection.dialect.name
    table = sa.table(totals.TABLE, sa.column("process"))
    for process_id in removed:
        connection.execute(sa.delete(table).where(table.c.process == process_id))
        if dialect == "postgresql":
            for statement in (totals.drop_statements(process_id, dialect, function=True)[-1:]
                              + changes.drop_statements(process_id, dialect, function=True)[-1:]):
                connection.exec_driver_sql(statement)
        for statement in changes.reset_statements(process_id, dialect):
            connection.exec_driver_sql(statement)
    for statement in changes.prune_statements(dialect):
        connection.exec_driver_sql(statement)
    processes = {p.id: p for p in desired.processes}
    suspend(connection, rebuilt)  # those no step changed (a new totals table): triggers of an older apply, if any
    for process_id in rebuilt:
        process = processes[process_id]
        if dialect == "postgresql":  # no write between the rebuild and the triggers (apply's transaction keeps it)
            connection.exec_driver_sql(f"LOCK TABLE {item_table_name(process_id)} IN SHARE ROW EXCLUSIVE MODE")
        _rebuild(connection, process)
        # open boards read the process again, and from now on every write to its table is in the feed
        for statement in (changes.reset_statements(process_id, dialect) + totals.create_statements(process, dialect)
                          + changes.create_statements(process, dialect)):
            connection.exec_driver_sql(statement)


def _rebuild(connection: Any, process: Any) -> None:
    if connection.dialect.name != "sqlite":
        for statement in totals.rebuild_statements(process):
            connection.exec_driver_sql(statement)
        return
    try:  # SQLite's sum() fails when a sum leaves 64-bit integers: then floats, which the board does not trust
        with connection.begin_nested():
            for statement in totals.rebuild_statements(process):
                connection.exec_driver_sql(statement)
    except sa.exc.OperationalError as exc:
        if "integer overflow" not in str(exc):
            raise
        for statement in totals.rebuild_statements(process, exact=False):
            connection.exec_driver_sql(statement)
