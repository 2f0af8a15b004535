"""Bounded waits for apply on PostgreSQL: lock_timeout and statement_timeout, and who was in the way.

An ALTER TABLE queues for its ACCESS EXCLUSIVE lock behind any open transaction that has
read the table, and every request after it queues behind the ALTER: one forgotten
`BEGIN; SELECT …` in a psql window would hang the deploy and the whole application.
So apply sets both timeouts for its own transaction only (`set_config(…, true)`, like
`SET LOCAL`), and when the lock wait runs out it names the sessions holding locks on the
tables (pg_locks joined with pg_stat_activity) in one line, then rolls everything back.
"""

from __future__ import annotations

from datetime import UTC
from typing import Any

import sqlalchemy as sa

from smartflow.errors import Busy
from smartflow.records import record

LOCK_NOT_AVAILABLE = "55P03"  # lock_timeout ran out
QUERY_CANCELED = "57014"  # statement_timeout ran out

DEFAULT_TABLE_LOCK_TIMEOUT = 10.0
DEFAULT_STATEMENT_TIMEOUT = 600.0


@record(frozen=True)
class Timeouts:
    """Seconds apply waits for a table lock, and a single statement may run (0: no limit)."""

    table_lock: float = DEFAULT_TABLE_LOCK_TIMEOUT
    statement: float = DEFAULT_STATEMENT_TIMEOUT


def set_timeouts(connection: Any, timeouts: Timeouts) -> None:
    """Bound the current transaction's lock waits and statements (PostgreSQL; SQLite has busy_timeout)."""
    if connection.dialect.name != "postgresql":
        return
    connection.execute(sa.text("SELECT set_config('lock_timeout', :lock, true), "
                               "set_config('statement_timeout', :statement, true)"),
                       {"lock": _milliseconds(timeouts.table_lock), "statement": _milliseconds(timeouts.statement)})


def _milliseconds(seconds: float) -> str:
    return f"{max(0, round(seconds * 1000))}ms"


def sqlstate(error: BaseException) -> str | None:
    """The PostgreSQL error code behind an SQLAlchemy error, if any."""
    original = getattr(error, "orig", None)
    return getattr(original, "sqlstate", None) or getattr(original, "pgcode", None)


_HOLDERS = sa.text("""
    SELECT a.pid, a.usename, a.application_name, a.state, a.query, a.xact_start, c.relname
    FROM pg_locks l
    JOIN pg_class c ON c.oid = l.relation
    JOIN pg_namespace n ON n.oid = c.relnamespace
    JOIN pg_stat_activity a ON a.pid = l.pid
    WHERE l.granted AND l.locktype = 'relation' AND l.pid <> pg_backend_pid()
      AND n.nspname = current_schema() AND c.relkind IN ('r', 'p')
    ORDER BY a.xact_start NULLS LAST, a.pid, c.relname
""")


@record(frozen=True)
class Holder:
    """A session holding a lock on one of the deployment's tables."""

    pid: int
    user: str | None
    application: str | None
    state: str | None
    query: str | None
    since: Any
    tables: tuple[str, ...]

    def describe(self) -> str:
        query = " ".join((self.query or "").split())
        query = query if len(query) <= 80 else query[:77] + "..."
        since = f" since {self.since.astimezone(UTC):%Y-%m-%d %H:%M:%S} UTC" if self.since is not None else ""
        return (f"session pid {self.pid} (user {self.user or '?'}, application '{self.application or ''}', "
                f"{self.state or 'unknown state'}{since}, last query: {query or '-'})")


def lock_holders(connection: Any, statement: str | None) -> list[Holder]:
    """Other sessions holding locks on tables of the current schema, oldest transaction first.

    pg_blocking_pids() is no help here: once our wait has been cancelled nobody blocks us. The
    holders of locks on the tables the failed statement names come first (they are the ones
    it waited for); then any other holder.
    """
    rows = connection.execute(_HOLDERS).all()
    by_pid: dict[int, Holder] = {}
    for row in rows:
        known = by_pid.get(row.pid)
        tables = (known.tables if known else ()) + (row.relname,)
        by_pid[row.pid] = Holder(row.pid, row.usename, row.application_name, row.state, row.query, row.xact_start,
                                 tables)
    holders = list(by_pid.values())
    text = (statement or "").lower() + " "
    named = [h for h in holders if any(_names(text, table) for table in h.tables)]
    return named + [h for h in holders if h not in named]


def _names(statement: str, table: str) -> bool:
    return any(f"{before}{table}{after}" in statement for before in (" ", '"') for after in (" ", '"', "(", "\n"))


def lock_timeout_error(connection: Any, error: BaseException, timeouts: Timeouts, step: str | None) -> Busy:
    """The one-line error for a table lock apply could not get in time (the transaction is rolled back)."""
    holders = lock_holders(connection, getattr(error, "statement", None))
    during = f" (step: {step})" if step else ""
    if holders:
        first = holders[0]
        more = f" and {len(holders) - 1} more session(s)" if len(holders) > 1 else ""
        message = (f"apply waited {timeouts.table_lock:g}s for a table lock and gave up, nothing was changed: "
                   f"{first.describe()} holds locks on {', '.join(first.tables)}{more}{during}")
        hint = (f"end that transaction (or `SELECT pg_terminate_backend({first.pid})`), then apply again; "
                "--table-lock-timeout sets the wait")
    else:
        message = (f"apply waited {timeouts.table_lock:g}s for a table lock and gave up, nothing was changed "
                   f"(the session holding it has let go since){during}")
        hint = "apply again; --table-lock-timeout sets the wait"
    return Busy(message, hint)


def statement_timeout_error(timeouts: Timeouts, step: str | None) -> Busy:
    """The one-line error for a step that ran longer than the statement timeout."""
    during = f" (step: {step})" if step else ""
    return Busy(f"a statement of apply ran longer than {timeouts.statement:g}s and was cancelled, nothing was "
                f"changed{during}", "apply again at a quieter time, or raise --statement-timeout (0: no limit)")
