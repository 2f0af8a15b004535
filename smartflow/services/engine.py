"""The Python API: an Engine opened on a database URL, acting as a user.

    from smartflow import Engine
    with Engine("sqlite:///smartflow.db", as_user="ivanova") as crm:
        item_id = crm.create("procurement", {"title": "Бетон М300", "estimate": "1500000"})
        crm.move("procurement", item_id, "prices")

Every method opens one transaction, checks every rule (types, required fields, transitions,
conditions, rights) through the same functions the CLI uses, and returns plain data.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import sqlalchemy as sa

from smartflow.db import make_engine, resolve_url
from smartflow.definitions.convert import definition_from_documents
from smartflow.errors import ConflictError, DatabaseUnavailable, NotDeployed
from smartflow.runtime import clock, items, people, query
from smartflow.runtime.access import Actor, hidden_fields
from smartflow.runtime.compiled import CompiledDefinition
from smartflow.runtime.rules import move_problems

if TYPE_CHECKING:
    from smartflow.analytics import report as reports
    from smartflow.automation import worker as jobs_worker
    from smartflow.automation.triggers import Automation
    from smartflow.data import export as exports
    from smartflow.data import importer


def _latest_version(connection: Any) -> int | None:
    """The id of the deployed version, asked on the driver's own cursor, inside the operation's
    transaction: every operation asks, and SQLAlchemy's execution and result machinery cost ten
    times the query itself on SQLite (about 17 µs against 2)."""
    cursor = connection.connection.dbapi_connection.cursor()
    try:
        cursor.execute("SELECT id FROM sf_versions ORDER BY id DESC LIMIT 1")
        row = cursor.fetchone()
    except connection.dialect.loaded_dbapi.Error as exc:  # the driver's own error: not wrapped by SQLAlchemy
        raise DatabaseUnavailable(f"cannot use the database: {exc}",
                                  "check --db / SMARTFLOW_DATABASE_URL and that the server is up") from None
    finally:
        cursor.close()
    return None if row is None else int(row[0])


class _Automation:
    """The automation of a deployed version, built on its first event: reading items (show, list,
    kanban, a CLI command) then never imports Jinja2 nor compiles the triggers' templates."""

    def __init__(self, processes: list[Any]) -> None:
        self._processes = processes
        self._watched = frozenset(process.id for process in processes if process.triggers)
        self._built: Automation | None = None

    def built(self) -> Automation:
        if self._built is None:
            from smartflow.automation.triggers import Automation

            self._built = Automation(self._processes)
        return self._built

    def watches(self, process_id: str) -> bool:
        return process_id in self._watched

    def changed(self, write: Any, process_id: str, item_id: int, events: list[Any],
                item: dict[str, Any] | None = None) -> None:
        self.built().changed(write, process_id, item_id, events, item)

    def removed(self, write: Any, process_id: str, item_id: int, reason: str) -> None:
        self.built().removed(write, process_id, item_id, reason)

    def __getattr__(self, name: str) -> Any:  # the worker asks for trigger names, fire() for by_process
        return getattr(self.built(), name)


class Engine:
    """smartflow's runtime on one database, acting as one user (the local administrator by default)."""

    def __init__(self, url: str | None = None, *, as_user: str | None = None, via: str = "api",
                 clock: Callable[[], datetime] | None = None, _shared: Any = None) -> None:
        self.url = resolve_url(url)
        self.login = as_user
        self.via = via
        self._db = _shared["db"] if _shared else make_engine(self.url)
        self._cache: dict[str, Any] = _shared if _shared else {
            "db": self._db, "compiled": None, "clock": clock or (lambda: datetime.now(UTC))}
        self._actor: Actor | None = None  # resolved once per engine and deployed version
        self._actor_version: int | None = None

    def as_user(self, login: str | None) -> Engine:
        """The same engine acting as another user."""
        return Engine(self.url, as_user=login, via=self.via, _shared=self._cache)

    def as_via(self, via: str) -> Engine:
        """The same engine and user, recording changes as made through another door (cli, api, import)."""
        return Engine(self.url, as_user=self.login, via=via, _shared=self._cache)

    @property
    def clock(self) -> Callable[[], datetime]:
        """What "now" is for this engine (tests pass a fake clock)."""
        clock: Callable[[], datetime] = self._cache["clock"]
        return clock

    def close(self) -> None:
        self._db.dispose()

    def __enter__(self) -> Engine:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    # ---- plumbing --------------------------------------------------------------

    def _compiled(self, connection: Any) -> CompiledDefinition:
        """The live definition, compiled once per deployed version.

        Per operation this costs one small query, the latest version's id (`_latest_version`): the
        documents are read only when that changed, and the table's existence is checked only until a definition is
        cached (smartflow never drops sf_versions). Both used to run on every operation: about
        0.1 ms on SQLite and 1 ms on PostgreSQL, as much as the item's own write.
        """
        cached: CompiledDefinition | None = self._cache["compiled"]
        if cached is None and not sa.inspect(connection).has_table("sf_versions"):
            raise NotDeployed("nothing is deployed in this database", "run `smartflow apply` first")
        latest = _latest_version(connection)
        if latest is None:
            raise NotDeployed("nothing is deployed in this database", "run `smartflow apply` first")
        if cached is None or cached.version != latest:
            documents = connection.execute(sa.text("SELECT documents FROM sf_versions WHERE id = :id"),
                                           {"id": latest}).scalar_one()
            documents = documents if isinstance(documents, list) else json.loads(documents)
            cached = CompiledDefinition(definition_from_documents([(d, "") for d in documents]), latest)
            # composition: automation hears the runtime's events (the runtime does not know it)
            cached.listener = _Automation(list(cached.definition.processes))
            self._cache["compiled"] = cached
        return cached

    @contextmanager
    def session(self, write: bool) -> Iterator[items.Write]:
        """One transaction as this engine's user, with the live definition and the clock: what every
        method runs in, and what data, analytics and the worker are handed (runtime.items.Sessions)."""
        connection_options = {} if write else {"sqlite_begin": "DEFERRED"}
        try:
            with self._db.connect() as connection:
                connection = connection.execution_options(**connection_options)
                with connection.begin(), clock.using(self.clock()):
                    compiled = self._compiled(connection)
                    if self._actor is None or self._actor_version != compiled.version:
                        self._actor = people.resolve_actor(connection, compiled, self.login)
                        self._actor_version = compiled.version
                    yield items.Write(connection, compiled, self._actor, self.via, now=self.clock())
        except sa.exc.IntegrityError as exc:
            # a unique value or a reference taken by a concurrent change between our check and our write
            raise ConflictError(f"someone else changed the same data at the same moment: {exc.orig}",
                                "reload and try again") from None
        except sa.exc.OperationalError as exc:
            raise DatabaseUnavailable(f"cannot use the database: {exc.orig}",
                                      "check --db / SMARTFLOW_DATABASE_URL and that the server is up") from None

    # ---- items -----------------------------------------------------------------

    def create(self, process: str, values: dict[str, Any], *, pipeline: str | None = None,
               stage: str | None = None, typed_text: bool = False) -> int:
        """Create an item; values are field id → value (text as typed on a command line when typed_text)."""
        with self.session(True) as write:
            return items.create(write, process, values, pipeline=pipeline, stage=stage, typed_text=typed_text)

    def update(self, process: str, item_id: int, values: dict[str, Any], *, expected_version: int | None = None,
               typed_text: bool = False) -> dict[str, Any]:
        with self.session(True) as write:
            return items.update(write, process, item_id, values, expected_version=expected_version,
                                typed_text=typed_text)

    def move(self, process: str, item_id: int, stage: str, *, pipeline: str | None = None,
             expected_version: int | None = None) -> dict[str, Any]:
        with self.session(True) as write:
            return items.move(write, process, item_id, stage, pipeline=pipeline, expected_version=expected_version)

    def delete(self, process: str, item_id: int) -> str:
        with self.session(True) as write:
            return items.delete(write, process, item_id)

    def restore(self, process: str, item_id: int) -> None:
        with self.session(True) as write:
            items.restore(write, process, item_id)

    def get(self, process: str, item_id: int) -> dict[str, Any]:
        """The item's values (canonical Python values)."""
        with self.session(False) as write:
            return query.item(write, process, item_id)

    def card(self, process: str, item_id: int, history_limit: int = 10) -> dict[str, Any]:
        """The item card: values, sections, links both ways and recent history."""
        with self.session(False) as write:
            compiled = items.process_of(write, process)
            item = query.item(write, process, item_id)
            return {"item": item, "process": compiled.process,
                    "links": query.links(write, process, item),
                    "history": query.history(write, process, item_id, limit=history_limit)}

    def list(self, process: str, **filters: Any) -> list[dict[str, Any]]:
        """The list view: pipeline, stage, where (list of "FIELD OP VALUE"), search, sort, limit, after,
        columns (a tuple of field ids: only those and the id)."""
        with self.session(False) as write:
            return query.list_items(write, process, **filters)

    def count(self, process: str, where: list[str] | tuple[str, ...] = ()) -> int:
        with self.session(False) as write:
            return query.count_items(write, process, where)

    def history(self, process: str, item_id: int) -> list[dict[str, Any]]:
        with self.session(False) as write:
            return query.history(write, process, item_id)

    def explain(self, process: str, item_id: int, stage: str, pipeline: str | None = None) -> list[str]:
        """Every reason a move would be refused (empty when it would be allowed)."""
        with self.session(False) as write:
            compiled = items.process_of(write, process)
            item = items.fetch(write, compiled, item_id)
            if pipeline is not None and pipeline not in compiled.pipelines:
                return [f"{process} has no pipeline `{pipeline}`"]
            return move_problems(compiled, item, write.actor, stage, pipeline)

    def kanban(self, process: str, pipeline: str | None = None, top: int = 5) -> dict[str, Any]:
        with self.session(False) as write:
            return query.kanban(write, process, pipeline, top)

    # ---- people ----------------------------------------------------------------

    def add_user(self, login: str, name: str = "", roles: list[str] | tuple[str, ...] = (),
                 department: str | None = None) -> int:
        with self.session(True) as write:
            return people.add_user(write.connection, write.compiled, write.actor, login, name, list(roles),
                                   department)

    def users(self) -> list[dict[str, Any]]:
        with self.session(False) as write:
            return people.list_users(write.connection, write.compiled)

    def add_department(self, department_id: str, title: str, parent: str | None = None) -> None:
        with self.session(True) as write:
            people.add_department(write.connection, write.compiled, write.actor, department_id, title, parent)

    def hidden_fields(self, process: str) -> frozenset[str]:
        """The fields of a process hidden from this engine's user (by `hidden_fields` in their roles' rights)."""

        with self.session(False) as write:
            return hidden_fields(write.actor, items.process_of(write, process))

    def process(self, process_id: str) -> Any:
        """The deployed model of a process (fields, pipelines, stages, card)."""
        with self.session(False) as write:
            return items.process_of(write, process_id).process

    # ---- automation ------------------------------------------------------------

    def work(self, worker: str = "worker", batch: int = 100, allow_hosts: set[str] | None = None,
             send: Any = None) -> jobs_worker.Tally:
        """One pass of the worker: due jobs, then due outbox messages."""
        from smartflow.automation import worker as jobs_worker

        return jobs_worker.work_once(self, worker, batch, allow_hosts, send or jobs_worker.send_http)

    def work_forever(self, worker: str, interval: float, batch: int, allow_hosts: set[str] | None,
                     report: Callable[[jobs_worker.Tally], None], should_stop: Callable[[], bool]) -> None:
        """Keep working until should_stop(), sleeping interval seconds when nothing is due."""
        from smartflow.automation import worker as jobs_worker

        jobs_worker.work_forever(self, worker, interval, batch, allow_hosts, report, should_stop)

    def jobs(self, status: str | None = None, limit: int = 50) -> list[dict[str, Any]]:
        from smartflow.automation import worker as jobs_worker

        with self.session(False) as write:
            return jobs_worker.list_rows(write, "sf_jobs", status, limit)

    def outbox(self, status: str | None = None, limit: int = 50) -> list[dict[str, Any]]:
        from smartflow.automation import worker as jobs_worker

        with self.session(False) as write:
            return jobs_worker.list_rows(write, "sf_outbox", status, limit)

    def retry(self, kind: str, row_id: int) -> None:
        """Queue a failed job (kind "job") or outbox message (kind "message") again."""
        from smartflow.automation import worker as jobs_worker

        with self.session(True) as write:
            jobs_worker.retry(write, "sf_jobs" if kind == "job" else "sf_outbox", row_id)

    def inbox(self, unread_only: bool = False, limit: int = 50, mark_read: bool = False) -> list[dict[str, Any]]:
        from smartflow.automation import worker as jobs_worker

        with self.session(mark_read) as write:
            return jobs_worker.inbox(write, unread_only, limit, mark_read)

    # ---- data and analytics -------------------------------------------------------

    def export(self, process: str, target: Path | IO[bytes], options: exports.ExportOptions,
               on_progress: Callable[[int], None] | None = None) -> exports.ExportResult:
        """Stream the items this user may read and export (options: format, columns, filters) into a
        CSV or xlsx file or a binary stream."""
        from smartflow.data import export as exports

        return exports.export_items(self, process, target, options, on_progress)

    def import_file(self, process: str, path: Path, options: importer.ImportOptions,
                    on_progress: Callable[[int], None] | None = None) -> importer.ImportResult:
        """Import a CSV or xlsx file through the same checks as create and update; per-row problems
        are in the result, not raised."""
        from smartflow.data import importer

        return importer.import_file(self.as_via("import"), process, path, options, on_progress)

    def report(self, process: str, options: reports.ReportOptions) -> dict[str, Any]:
        """The funnel of a process over the items this user may read, as plain data."""
        from smartflow.analytics import report as reports

        return reports.report(self, process, options)
