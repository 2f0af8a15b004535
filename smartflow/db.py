"""Opening databases: SQLite (the embedded default) and PostgreSQL, same code.

SQLite needs two things SQLAlchemy's defaults don't give:
- pysqlite emits its own BEGIN lazily and commits around DDL, so a failed apply would
  leave new tables behind. We switch the driver's transaction handling off and emit
  `BEGIN IMMEDIATE` ourselves (the recipe in SQLAlchemy's SQLite dialect docs), so DDL
  and data changes commit or roll back together, and writers take the lock up front.
- WAL journal, synchronous=NORMAL, foreign keys on and a busy timeout: one-row write
  transactions go from about 0.9k to 11k per second here; a power cut may lose the last
  transactions (never corrupt the file), a trade the documentation states (docs/how-to/items.md, "SQLite").
- Statistics for the query planner: `PRAGMA optimize` when a connection goes back to the pool, at most
  once a second (see `_on_checkin`).

A server (`smartflow serve`) keeps up to SERVER_CONNECTIONS connections open (SMARTFLOW_DB_CONNECTIONS),
all of them kept in the pool: SQLAlchemy's default keeps five and opens the others per operation, so under
16 concurrent requests about one request in four opened (and closed) a connection of its own.

PostgreSQL connections are tested before use only when they have been idle in the pool for
PING_IDLE_SECONDS (see `_pinged`): SQLAlchemy's `pool_pre_ping` would ping on every checkout, a
round trip per operation, as much as a small write itself.
"""

from __future__ import annotations

import os
import time
from functools import cache
from typing import Any

DEFAULT_URL = "sqlite:///smartflow.db"
BUSY_TIMEOUT_MS = 10_000
OPTIMIZE_SECONDS = 1.0  # SQLite: `PRAGMA optimize` at most this often per engine (about 20 µs when idle)
PING_IDLE_SECONDS = 1.0  # PostgreSQL: a pooled connection idle this long is pinged before it is used again
URL_ENV = "SMARTFLOW_DATABASE_URL"
CONNECTIONS_ENV = "SMARTFLOW_DB_CONNECTIONS"
SERVER_CONNECTIONS = 15  # what SQLAlchemy's default pool allows at most (5, and 10 more opened per use)


def resolve_url(url: str | None) -> str:
    """The database URL: the one given, else $SMARTFLOW_DATABASE_URL, else ./smartflow.db."""
    return url or os.environ.get(URL_ENV) or DEFAULT_URL


def server_connections() -> int:
    """The connections a server process keeps open at most (SMARTFLOW_DB_CONNECTIONS; default 15 when
    unset or empty). ValueError, with a message for the person who set it, when it is not a positive
    whole number: a typo must not quietly give a server another pool than the one asked for."""
    raw = os.environ.get(CONNECTIONS_ENV, "").strip()
    if not raw:
        return SERVER_CONNECTIONS
    if not (raw.isascii() and raw.isdigit() and int(raw) > 0):
        raise ValueError(f"{CONNECTIONS_ENV}={raw!r} is not a positive whole number; set it to the connections "
                         f"each server process may keep open (say {SERVER_CONNECTIONS}), or unset it for "
                         f"{SERVER_CONNECTIONS}")
    return int(raw)


def make_engine(url: str | None = None, busy_timeout: float | None = None, connections: int | None = None,
                **kwargs: Any) -> Any:
    """An SQLAlchemy engine with smartflow's connection settings.

    busy_timeout: seconds an SQLite connection waits for another writer to finish before it
    gives up with "database is locked" (default BUSY_TIMEOUT_MS); `apply --lock-timeout` sets it.
    connections: keep up to this many connections open, all pooled (a server's; see server_connections);
    None: SQLAlchemy's default pool (5 kept, 10 more opened and closed as needed), for one-off commands.
    """
    from sqlalchemy import create_engine, event
    from sqlalchemy.engine import make_url

    target = make_url(resolve_url(url))
    if connections is not None and target.database not in (None, "", ":memory:"):
        kwargs.setdefault("pool_size", connections)
        kwargs.setdefault("max_overflow", 0)
    if target.get_backend_name() == "postgresql" and target.get_driver_name() in ("psycopg2", "postgresql"):
        target = target.set(drivername="postgresql+psycopg")
    kwargs.setdefault("json_serializer", _json_dumps)  # keep Cyrillic readable in JSON columns
    if target.get_backend_name() != "sqlite":
        return _pinged(create_engine(target, **kwargs))

    timeout_ms = BUSY_TIMEOUT_MS if busy_timeout is None else max(0, round(busy_timeout * 1000))
    engine = create_engine(target, connect_args={"timeout": timeout_ms / 1000}, **kwargs)
    memory = target.database in (None, "", ":memory:")

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # we emit BEGIN ourselves
        cursor = dbapi_connection.cursor()
        if not memory:
            cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={timeout_ms}")
        cursor.close()
        # SQLite's lower() and LIKE fold ASCII only; search must fold Cyrillic too.
        dbapi_connection.create_function("sf_casefold", 1, _casefold, deterministic=True)

    optimized = [0.0]  # when a connection of this engine last ran PRAGMA optimize (time.monotonic)

    @event.listens_for(engine, "checkin")
    def _on_checkin(dbapi_connection: Any, _record: Any) -> None:
        """SQLite's advice for connections that live long: `PRAGMA optimize` now and then (here when a
        connection goes back to the pool, at most every OPTIMIZE_SECONDS). It analyses only the tables
        whose queries on this connection would be planned better with fresh statistics (never analysed,
        or grown many times since) — about 20 µs when none would, and SQLite 3.40 sees only what the
        connection itself ran, so it must come after the queries, not when the connection opens.
        Without statistics SQLite may pick a poor index: a filtered board of 100,000 items read all of
        them through (pipeline, stage) instead of the few through assigned_to (100 ms against 6 ms).
        Never waits for another writer: a busy database skips it."""
        now = time.monotonic()
        if memory or dbapi_connection is None or now - optimized[0] < OPTIMIZE_SECONDS:
            return
        optimized[0] = now
        try:
            dbapi_connection.execute("PRAGMA busy_timeout=0")
            try:
                dbapi_connection.execute("PRAGMA optimize")
            finally:
                dbapi_connection.execute(f"PRAGMA busy_timeout={timeout_ms}")
        except Exception:  # statistics are an optimisation: a locked or read-only database goes without
            return

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        mode = connection.get_execution_options().get("sqlite_begin", "IMMEDIATE")
        connection.exec_driver_sql(f"BEGIN {mode}")

    return engine


def _pinged(engine: Any) -> Any:
    """engine, whose pooled connections are pinged before use when idle for PING_IDLE_SECONDS or more: the
    pessimistic disconnect handling of SQLAlchemy's pooling guide, on a checkout event, where `pool_pre_ping`
    pings on every checkout. A dead connection is replaced before the operation sees it (the pool connects
    anew on DisconnectionError). One used less than a second ago is not pinged: a server restart that
    happened meanwhile is seen by the operation itself, as a server dying during it would be, and the pool
    then drops every connection made before it."""
    from sqlalchemy import event, exc

    @event.listens_for(engine, "checkin")
    def _on_checkin(_dbapi_connection: Any, record: Any) -> None:
        record.info["sf_idle_since"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _on_checkout(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        since = record.info.pop("sf_idle_since", None)
        if since is None or time.monotonic() - since < PING_IDLE_SECONDS:
            return  # just connected, or in use a moment ago
        try:
            alive = engine.dialect.do_ping(dbapi_connection)
        except engine.dialect.loaded_dbapi.Error as error:
            if engine.dialect.is_disconnect(error, dbapi_connection, None):
                raise exc.DisconnectionError(str(error)) from error
            raise
        if alive is False:
            raise exc.DisconnectionError("the connection did not answer a ping")

    return engine


def _json_dumps(value: object) -> str:
    return _json_encoder().encode(value)


@cache
def _json_encoder() -> Any:
    """json.dumps(value, ensure_ascii=False), without building an encoder per value (as dumps does
    when given any option). Decimals, dates and date-times are written as `fields.plain` writes
    them (`"1500.00"`, ISO text), so a canonical value need not be made plain first."""
    import json
    from datetime import date
    from decimal import Decimal

    def plain(value: object) -> str:
        if isinstance(value, Decimal):
            return format(value, "f")
        if isinstance(value, date):  # date-times too
            return value.isoformat()
        raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")

    return json.JSONEncoder(ensure_ascii=False, default=plain)


def _casefold(value: object) -> object:
    return value.casefold() if isinstance(value, str) else value


def is_sqlite(connection: Any) -> bool:
    return bool(connection.dialect.name == "sqlite")
