"""Deploying definitions: plan, apply (all or nothing, one at a time), versions, rollback.

The services the CLI's `plan`, `apply`, `versions` and `rollback` are thin layers over.
"""

from __future__ import annotations

import getpass
import hashlib
import json
import os
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from smartflow.compile.sql import SYSTEM_TABLE_NAMES, build_metadata, item_table_name, legacy_unique_index_name
from smartflow.db import BUSY_TIMEOUT_MS, is_sqlite, make_engine, resolve_url
from smartflow.definitions.convert import definition_from_documents
from smartflow.definitions.model import Definition
from smartflow.deploy import numbers, totals
from smartflow.deploy.plan import Plan
from smartflow.deploy.plan.diff import Counter, diff
from smartflow.deploy.plan.ops import AddSystemColumns, Context, Op, RecordVersion, WidenRoleGrants
from smartflow.deploy.timeouts import (
    LOCK_NOT_AVAILABLE,
    QUERY_CANCELED,
    Timeouts,
    lock_timeout_error,
    set_timeouts,
    sqlstate,
    statement_timeout_error,
)
from smartflow.errors import ApplyRefused, Busy, DatabaseUnavailable, DefinitionError, UnknownVersion
from smartflow.records import record

LOCK_KEY = 0x5F_1F_10_57  # the advisory lock id of deploys on PostgreSQL, with the schema's (LOCK_SCHEMA)
# A deploy writes into the current schema only (the first of the search path that exists), so the
# lock is per schema: deploys into one schema wait for each other, deploys into two schemas of a
# database do not. pg_advisory_xact_lock(key, LOCK_SCHEMA) takes it as apply does.
LOCK_SCHEMA = "hashtext(coalesce(current_schema(), ''))"
USER_ENV = "SMARTFLOW_USER"


@record
class Desired:
    """Definitions to deploy: the model, the document data and the source texts."""

    definition: Definition
    documents: list[dict[str, Any]]
    sources: dict[str, str]
    git_commit: str | None = None

    @property
    def hash(self) -> str:
        return definition_hash(self.documents)


def definition_hash(documents: list[dict[str, Any]]) -> str:
    """A hash of the definitions' meaning: file names, order and comments don't count."""
    ordered = sorted(documents, key=lambda d: (str(d.get("kind")), str(d.get("id", ""))))
    canonical = json.dumps(ordered, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def load_desired(paths: list[Path]) -> Desired:
    """Validate the files; raises DefinitionError when they hold any error."""
    from smartflow.definitions.validate import validate_paths

    result = validate_paths(paths)
    if not result.ok:
        raise DefinitionError(result)
    deployable = [d for d in result.documents if d.data.get("kind") != "Test"]  # scenarios are not deployed
    documents = [d.data for d in deployable]
    sources = {d.file: d.text for d in deployable}
    return Desired(result.definition(), documents, sources, _git_commit(paths))


def desired_from_documents(documents: list[dict[str, Any]], sources: dict[str, str] | None = None) -> Desired:
    return Desired(definition_from_documents([(d, "") for d in documents]), documents, sources or {})


def _git_commit(paths: list[Path]) -> str | None:
    folder = paths[0] if paths and paths[0].is_dir() else (paths[0].parent if paths else Path("."))
    try:
        head = subprocess.run(["git", "-C", str(folder), "rev-parse", "HEAD"], capture_output=True, text=True,
                              timeout=5, check=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(folder), "status", "--porcelain", "--", "."], capture_output=True,
                               text=True, timeout=5, check=True).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return f"{head}+dirty" if dirty else head


def actor_name(actor: str | None) -> str:
    if actor:
        return actor
    if os.environ.get(USER_ENV):
        return os.environ[USER_ENV]
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


@record
class Deployed:
    """What a database holds: the deployed version and definition, and whether smartflow's tables exist."""

    version: int | None
    definition: Definition | None
    system_tables: bool


@cache
def _system_metadata() -> sa.MetaData:
    """smartflow's own tables (built once: compiling them takes milliseconds)."""
    return build_metadata(Definition((), ()))


def _versions_table() -> sa.Table:
    return _system_metadata().tables["sf_versions"]


def _missing_system_columns(connection: Any, existing: set[str]) -> list[Op]:
    """Columns a newer smartflow added to a system table an older one created (all nullable, but for
    the pipeline of a role grant: part of its key, so the table is rebuilt)."""
    found: list[Op] = []
    for name in SYSTEM_TABLE_NAMES:
        if name in existing:
            have = {column["name"] for column in sa.inspect(connection).get_columns(name)}
            new = [column.name for column in _system_metadata().tables[name].columns if column.name not in have]
            if name == "sf_role_grants" and "pipeline" in new:
                found.append(WidenRoleGrants())
                new.remove("pipeline")
            if new:
                found.append(AddSystemColumns(table=name, columns=new))
    return found


def read_deployed(connection: Any, version: int | None = None) -> Deployed:
    """The definition live in the database (or a given earlier version of it)."""
    if not sa.inspect(connection).has_table("sf_versions"):
        if version is not None:
            raise UnknownVersion(f"version {version} does not exist: nothing has been deployed to this database")
        return Deployed(None, None, False)
    versions = _versions_table()
    query = sa.select(versions.c.id, versions.c.documents)
    query = query.where(versions.c.id == version) if version is not None else query.order_by(versions.c.id.desc())
    row = connection.execute(query.limit(1)).first()
    if row is None:
        if version is not None:
            raise UnknownVersion(f"version {version} does not exist", "run `smartflow versions` to list them")
        return Deployed(None, None, True)
    documents = row.documents if isinstance(row.documents, list) else json.loads(row.documents)
    return Deployed(row.id, definition_from_documents([(d, "") for d in documents]), True)


def make_plan(connection: Any, desired: Desired, database: str, actor: str = "",
              against: int | None = None, tables: Callable[[], sa.MetaData] | None = None) -> Plan:
    """The plan turning what is deployed (or version `against`) into desired; tables: desired's tables,
    built once for the plan and the steps (apply)."""
    live = read_deployed(connection)
    base = read_deployed(connection, against) if against is not None else live
    counter = Counter(connection if against is None else None, base.definition)
    existing = set(sa.inspect(connection).get_table_names())
    missing = [name for name in SYSTEM_TABLE_NAMES if name not in existing]
    legacy = _legacy_unique(connection, desired, existing)
    empty = _empty_texts(connection, live, existing) if against is None else []
    operations = diff(base.definition, desired.definition, counter, missing, legacy, empty, tables)
    operations[:0] = _missing_system_columns(connection, existing)
    plan = Plan(database, operations, base.version, desired.hash)
    if against is not None:
        plan.compared_with = f"version {against} (item counts not shown)"
    if plan.changes:
        number = (live.version or 0) + 1
        plan.operations.append(RecordVersion(hash=desired.hash, number=number))
    return plan


def _legacy_unique(connection: Any, desired: Desired, existing: set[str]) -> list[tuple[str, str]]:
    """Unique fields whose live index is still the full one of older deployments (recycle bin included)."""
    found: list[tuple[str, str]] = []
    for process in desired.definition.processes:
        unique = [f.id for f in process.fields if f.unique and not f.multiple]
        if not unique or item_table_name(process.id) not in existing:
            continue
        names = {index["name"] for index in sa.inspect(connection).get_indexes(item_table_name(process.id))}
        found += [(process.id, f_id) for f_id in unique if legacy_unique_index_name(process.id, f_id) in names]
    return found


_TEXT_TYPES = frozenset({"string", "text"})  # the types that could hold '' (the others stored NULL already)


def _empty_texts(connection: Any, live: Deployed, existing: set[str]) -> list[tuple[str, tuple[str, ...], int]]:
    """Per live process, its text fields and how many items hold `''` in any of them (one count per
    process, a scan unless the field is unique: about 0.2 s per 100,000 items on SQLite): such values
    are stored as NULL since empty means no value on every path."""
    if live.definition is None:
        return []
    found: list[tuple[str, tuple[str, ...], int]] = []
    for process in live.definition.processes:
        texts = [f.id for f in process.fields if f.type in _TEXT_TYPES and not f.multiple]
        if not texts or item_table_name(process.id) not in existing:
            continue
        table = sa.table(item_table_name(process.id), *(sa.column(f) for f in texts))
        items = connection.execute(sa.select(sa.func.count()).select_from(table)
                                   .where(sa.or_(*(table.c[f] == "" for f in texts)))).scalar_one()
        if items:
            held = tuple(f for f in texts if connection.execute(sa.select(sa.literal(1)).select_from(table)
                                                                  .where(table.c[f] == "").limit(1)).first())
            found.append((process.id, held, int(items)))
    return found


def _label(url: str) -> str:
    return sa.engine.make_url(url).render_as_string(hide_password=True)


@contextmanager
def _connection(url: str | None, lock_timeout: float | None = None) -> Iterator[Any]:
    """A connection; on SQLite, lock_timeout (default BUSY_TIMEOUT_MS) bounds the wait for another writer."""
    engine = make_engine(url, busy_timeout=lock_timeout)
    try:
        with engine.connect() as connection:
            yield connection
    except sa.exc.OperationalError as exc:
        if "database is locked" in str(exc):
            waited = BUSY_TIMEOUT_MS / 1000 if lock_timeout is None else lock_timeout
            raise Busy(f"another apply holds the database lock (waited {waited:g}s)",
                       "wait for it to finish, then run apply again") from None
        raise DatabaseUnavailable(f"cannot use the database {_label(resolve_url(url))}: {exc.orig}",
                                  "check --db / SMARTFLOW_DATABASE_URL and that the server is up") from None
    finally:
        engine.dispose()


def plan(desired: Desired, url: str | None = None, against: int | None = None) -> Plan:
    """What apply would do; reads only (its transaction is rolled back)."""
    with _connection(url) as connection:
        with connection.execution_options(sqlite_begin="DEFERRED").begin() as transaction:
            result = make_plan(connection, desired, _label(resolve_url(url)), against=against)
            transaction.rollback()
        return result


def _lock(connection: Any, timeout: float) -> None:
    """One apply at a time per schema: an advisory lock on PostgreSQL (SQLite's BEGIN IMMEDIATE is the
    lock there)."""
    if is_sqlite(connection):
        return
    deadline = time.monotonic() + timeout
    taken = sa.text(f"SELECT pg_try_advisory_xact_lock(:key, {LOCK_SCHEMA})")
    while not connection.execute(taken, {"key": LOCK_KEY}).scalar():
        if time.monotonic() >= deadline:
            raise Busy(f"another apply holds the deploy lock (waited {timeout:g}s)",
                       "wait for it to finish, then run apply again")
        time.sleep(0.2)


StepHook = Callable[[int, Any], None]


def apply(desired: Desired, url: str | None = None, *, allow_data_loss: bool = False, dry_run: bool = False,
          actor: str | None = None, lock_timeout: float = 60.0, timeouts: Timeouts | None = None,
          on_step: StepHook | None = None) -> Plan:
    """Deploy desired: every step and the version record in one transaction, or nothing.

    Refuses (ApplyRefused, nothing changed) when a step would lose data and
    allow_data_loss is not set. dry_run does everything, then rolls back.
    lock_timeout bounds the wait for another apply; on PostgreSQL, timeouts bound each
    wait for a table lock and each statement (Busy, nothing changed, when one runs out).
    on_step(index, op) runs after each step (tests inject failures with it).
    """
    timeouts = timeouts or Timeouts()
    with _connection(url, lock_timeout) as connection:
        sqlite = is_sqlite(connection)
        raw = connection.connection.dbapi_connection if sqlite else None
        if raw is not None:
            # SQLite's copy-and-swap must not trip foreign keys midway; checked before commit instead.
            raw.execute("PRAGMA foreign_keys=OFF")
        running: list[Op] = []  # the step under way, for the timeout messages
        try:
            with connection.begin() as transaction:
                set_timeouts(connection, timeouts)
                _lock(connection, lock_timeout)
                built: list[sa.MetaData] = []  # desired's tables: about 35 ms to build, for the plan and the steps

                def tables() -> sa.MetaData:
                    if not built:
                        built.append(build_metadata(desired.definition))
                    return built[0]

                result = make_plan(connection, desired, _label(resolve_url(url)), actor_name(actor), tables=tables)
                reasons = result.refused(allow_data_loss)
                if reasons:
                    impossible = any(op.impossible for op in result.changes)
                    raise ApplyRefused(result, reasons, allowable=not impossible)
                _execute(connection, result, desired, tables(), allow_data_loss, actor_name(actor), on_step,
                         running)
                if sqlite:
                    _check_foreign_keys(connection)
                if dry_run:
                    transaction.rollback()
        except sa.exc.DBAPIError as exc:
            step = running[-1].describe() if running else None
            if sqlstate(exc) == LOCK_NOT_AVAILABLE:
                raise lock_timeout_error(connection, exc, timeouts, step) from None
            if sqlstate(exc) == QUERY_CANCELED:
                raise statement_timeout_error(timeouts, step) from None
            raise
        finally:
            if raw is not None:
                raw.execute("PRAGMA foreign_keys=ON")
        return result


def _execute(connection: Any, result: Plan, desired: Desired, tables: sa.MetaData, allow_data_loss: bool, actor: str,
             on_step: StepHook | None, running: list[Op]) -> None:
    now = datetime.now(UTC)
    context = Context(connection, tables, allow_data_loss, now)
    rebuilt, removed = totals.touched(result, desired.definition)  # the board's totals, rebuilt after the steps
    suspended: set[str] = set()
    for index, op in enumerate(result.operations):
        running.append(op)
        if (op.process in rebuilt or op.process in removed) and op.process not in suspended:
            suspended.add(op.process)  # its triggers go before the first step that changes its table
            totals.suspend(connection, [op.process])
        if isinstance(op, RecordVersion):
            _record_version(context, op, result, desired, actor)
        else:
            op.execute(context)
        if on_step is not None:
            on_step(index, op)
    totals.refresh(connection, desired.definition, rebuilt, removed)


def _record_version(context: Context, op: RecordVersion, result: Plan, desired: Desired, actor: str) -> None:
    tables = context.desired.tables
    context.connection.execute(tables["sf_versions"].insert().values(
        id=op.number, hash=op.hash, created_at=context.now, created_by=actor, git_commit=desired.git_commit,
        sources=desired.sources, documents=desired.documents, plan=[o.to_dict() for o in result.changes],
    ))
    archive = tables["sf_archive"]
    context.connection.execute(archive.update().where(archive.c.version_id.is_(None)).values(version_id=op.number))
    numbers.assign(context.connection, tables["sf_numbers"], desired.definition)


def _check_foreign_keys(connection: Any) -> None:
    problems = connection.exec_driver_sql("PRAGMA foreign_key_check").all()
    if problems:
        table, rowid, parent, _ = problems[0]
        raise DatabaseUnavailable(f"apply would break a reference: row {rowid} of {table} points to a missing "
                                  f"row of {parent} ({len(problems)} in all); nothing was changed")


def versions(url: str | None = None) -> list[dict[str, Any]]:
    """The deployed versions, newest first."""
    with _connection(url) as connection, connection.execution_options(sqlite_begin="DEFERRED").begin():
        if not sa.inspect(connection).has_table("sf_versions"):
            return []
        table = _versions_table()
        rows = connection.execute(sa.select(table.c.id, table.c.hash, table.c.created_at, table.c.created_by,
                                            table.c.git_commit, table.c.plan).order_by(table.c.id.desc()))
        return [{"version": r.id, "hash": r.hash, "created_at": r.created_at, "created_by": r.created_by,
                 "git_commit": r.git_commit, "changes": len(r.plan or [])} for r in rows]


def version_documents(version: int, url: str | None = None) -> Desired:
    """The definitions deployed as version, ready to be deployed again (rollback)."""
    with _connection(url) as connection, connection.execution_options(sqlite_begin="DEFERRED").begin():
        if not sa.inspect(connection).has_table("sf_versions"):
            raise UnknownVersion(f"version {version} does not exist: nothing has been deployed here")
        table = _versions_table()
        row = connection.execute(sa.select(table.c.documents, table.c.sources).where(table.c.id == version)).first()
    if row is None:
        raise UnknownVersion(f"version {version} does not exist", "run `smartflow versions` to list them")
    return desired_from_documents(list(row.documents), dict(row.sources))
