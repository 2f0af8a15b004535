"""The Python API: an Engine opened on a database URL, acting as a user.

    from smartflow import Engine
    with Engine("sqlite:///smartflow.db", as_user="ivanova") as crm:
        item_id = crm.create("procurement", {"title": "Бетон М300", "estimate": "1500000"})
        crm.move("procurement", item_id, "prices")

Every method opens one transaction, checks every rule (types, required fields, transitions,
conditions, rights) through the same functions the CLI uses, and returns plain data.
"""

from __future__ import annotations

import hmac
import json
import logging
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import AbstractContextManager, contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, cast

import sqlalchemy as sa

from smartflow.db import make_engine, resolve_url, server_connections
from smartflow.definitions.convert import definition_from_documents
from smartflow.definitions.durations import parse_duration
from smartflow.errors import (
    AuthenticationFailed,
    ConflictError,
    DatabaseUnavailable,
    InvalidValue,
    NotDeployed,
    NotFound,
    PermissionDenied,
)
from smartflow.i18n import Name, tr
from smartflow.runtime import audit, auth, clock, codes, items, notices, people, query
from smartflow.runtime import files as item_files
from smartflow.runtime.access import LOCAL_ADMIN, Actor, hidden_fields, visible
from smartflow.runtime.compiled import CompiledDefinition, deployed_columns
from smartflow.runtime.fieldrules import move_problems, not_visible
from smartflow.runtime.fields import ValueProblem, file_reference, text_problem, upload_limit
from smartflow.services import admin, board, catalog, live, rights
from smartflow.services.linking import Linking, observers_given, set_observers
from smartflow.services.presets import PresetMethods
from smartflow.services.timeline import TimelineMethods

LOG = logging.getLogger("smartflow")

if TYPE_CHECKING:
    from smartflow.analytics import report as reports
    from smartflow.automation import worker as jobs_worker
    from smartflow.automation.triggers import Automation
    from smartflow.data import export as exports
    from smartflow.data import importer


def _lease(seconds: float | None) -> timedelta:
    from smartflow.automation import worker as jobs_worker

    return jobs_worker.LEASE if seconds is None else timedelta(seconds=seconds)


def _latest_version(connection: Any, subscriptions: bool = False) -> tuple[int | None, bool]:
    """The id of the deployed version, and (with subscriptions: once sf_event_bindings exists) whether any
    outbound event subscription does (`compiled.deployed_columns`), in one query on the driver's own cursor,
    inside the operation's transaction: every operation asks, and SQLAlchemy's execution and result
    machinery cost ten times the query itself on SQLite (about 17 µs against 2)."""
    dialect = connection.dialect
    sql = _DEPLOYED.get((dialect.name, subscriptions))
    if sql is None:  # compiled once per database kind: no parameters, the same text for every connection
        query = sa.select(*deployed_columns(subscriptions))
        sql = _DEPLOYED[dialect.name, subscriptions] = str(query.compile(dialect=dialect))
    cursor = connection.connection.dbapi_connection.cursor()
    try:
        cursor.execute(sql)
        row = cursor.fetchone()
    except dialect.loaded_dbapi.Error as exc:  # the driver's own error: not wrapped by SQLAlchemy
        raise DatabaseUnavailable(f"cannot use the database: {exc}",
                                  "check --db / SMARTFLOW_DATABASE_URL and that the server is up") from None
    finally:
        cursor.close()
    if row is None or row[0] is None:
        return None, False
    return int(row[0]), bool(row[1])


_DEPLOYED: dict[tuple[str, bool], str] = {}


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
        if write.subscribed:  # an outbound event subscription exists (read with the version)
            from smartflow.runtime import subscriptions

            subscriptions.heard(write, process_id, item_id, events, item)
        if process_id in self._watched and any(e.kind != "deleted" for e in events):
            self.built().changed(write, process_id, item_id, events, item)

    def removed(self, write: Any, process_id: str, item_id: int, reason: str) -> None:
        self.built().removed(write, process_id, item_id, reason)

    def __getattr__(self, name: str) -> Any:  # the worker asks for trigger names, fire() for by_process
        return getattr(self.built(), name)


class Engine(TimelineMethods, Linking, PresetMethods):
    """smartflow's runtime on one database, acting as one user (the local administrator by default)."""

    def __init__(self, url: str | None = None, *, as_user: str | None = None, via: str = "api",
                 clock: Callable[[], datetime] | None = None, server: bool = False, _shared: Any = None) -> None:
        """server: for a long-running server's many threads: its connections (SMARTFLOW_DB_CONNECTIONS, 15 by
        default) are all kept open in the pool instead of opened and closed per operation beyond five."""
        self.url = resolve_url(url)
        self.login = as_user
        self.via = via
        self._db = _shared["db"] if _shared else make_engine(self.url,
                                                             connections=server_connections() if server else None)
        self._cache: dict[str, Any] = _shared if _shared else {
            "db": self._db, "compiled": None, "clock": clock or (lambda: datetime.now(UTC))}
        self._actor: Actor | None = None  # resolved once per engine and deployed version
        self._actor_version: int | None = None
        self._credential: tuple[str, str, str | None] | None = None  # see acting_for
        # per thread: `snapshot`, the transaction of an open snapshot(); `held`, [the connection of an open
        # held(), once opened]. Another thread using this engine meanwhile opens its own transactions.
        self._here = threading.local()

    def as_user(self, login: str | None) -> Engine:
        """The same engine acting as another user."""
        return Engine(self.url, as_user=login, via=self.via, _shared=self._cache)

    def acting_for(self, secret: str, kind: str = "token", csrf: str | None = None, *, via: str | None = None
                   ) -> Engine:
        """The same engine acting as whoever the API token (kind "token") or browser session (kind
        "session") belongs to. The credential is checked inside the first operation's own transaction
        (no extra round trip): AuthenticationFailed when it is unknown, expired or revoked, and for a
        session given csrf (an unsafe request's X-CSRF-Token), PermissionDenied unless it matches."""
        engine = Engine(self.url, via=via or self.via, _shared=self._cache)
        engine._credential = (secret, kind, csrf)
        return engine

    def as_via(self, via: str) -> Engine:
        """The same engine and user, recording changes as made through another door (cli, api, import)."""
        engine = Engine(self.url, as_user=self.login, via=via, _shared=self._cache)
        engine._credential = self._credential  # an engine acting for a credential keeps acting for it
        return engine

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

    def _compiled(self, connection: Any, known: tuple[int | None, bool] | None = None
                  ) -> tuple[CompiledDefinition, bool]:
        """The live definition, compiled once per deployed version.

        Per operation this costs one small query, the latest version's id (`_latest_version`, which also says
        whether any outbound event subscription exists, returned beside the definition): the
        documents are read only when that changed, and the table's existence is checked only until a definition is
        cached (smartflow never drops sf_versions). Both used to run on every operation: about
        0.1 ms on SQLite and 1 ms on PostgreSQL, as much as the item's own write. known: the latest version's
        id and whether a subscription exists, when already read (an API request reads them with its credential).
        """
        cached: CompiledDefinition | None = self._cache["compiled"]
        if cached is None and not sa.inspect(connection).has_table("sf_versions"):
            raise NotDeployed("nothing is deployed in this database", "run `smartflow apply` first")
        latest, subscribed = known or _latest_version(connection, self._cache.get("subscriptions", False))
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
            # the table of subscriptions comes with an apply: looked for when the version changes
            self._cache["subscriptions"] = sa.inspect(connection).has_table("sf_event_bindings")
            if self._cache["subscriptions"]:
                subscribed = _latest_version(connection, True)[1]
        return cached, subscribed

    @contextmanager
    def snapshot(self) -> Iterator[None]:
        """Reads made inside share one transaction: one consistent view of the data (a change committed
        meanwhile shows in none of them, or on PostgreSQL's READ COMMITTED in all later statements alike),
        one connection, one look at the deployed version. For a screen that reads several things at once.

            with crm.snapshot():
                card = crm.card("procurement", 7)
                names = crm.user_names([card["item"]["assigned_to"]])

        Only reads: a change inside raises RuntimeError (it would wait on the snapshot's own locks on
        SQLite). Per thread: another thread using this engine meanwhile opens its own transactions."""
        if getattr(self._here, "snapshot", None) is not None:
            yield  # already inside one
            return
        with self.session(False) as write:
            self._here.snapshot = write
            try:
                yield
            finally:
                self._here.snapshot = None

    @contextmanager
    def held(self) -> Iterator[None]:
        """The transactions opened inside (by this thread) run one after another on one connection,
        instead of each taking one from the pool and giving it back: what the worker's pass does, a
        transaction per job. The pool's check-out and check-in cost about 0.1 ms of CPU together, a
        tenth of what a job of a trickle costs smartflow. A connection on which the database failed is
        closed; the next transaction takes one from the pool (pinged if it was idle, see db.py)."""
        if getattr(self._here, "held", None) is not None:
            yield  # already inside one
            return
        box: list[Any] = [None]
        self._here.held = box
        try:
            yield
        finally:
            self._here.held = None
            if box[0] is not None:
                box[0].close()

    def _connect(self) -> AbstractContextManager[Any]:
        """A connection for one transaction: from the pool, or the one held by this thread (see held)."""
        box = getattr(self._here, "held", None)
        if box is None:
            return cast(AbstractContextManager[Any], self._db.connect())
        return self._holding(box)

    @contextmanager
    def _holding(self, box: list[Any]) -> Iterator[Any]:
        if box[0] is None:
            box[0] = self._db.connect()
        try:
            yield box[0]
        except sa.exc.DBAPIError:
            connection, box[0] = box[0], None  # the database failed (the connection may be gone): not kept
            connection.close()
            raise

    @contextmanager
    def session(self, write: bool, *, seen: tuple[int, bool] | None = None) -> Iterator[items.Write]:
        """One transaction as this engine's user, with the live definition and the clock: what every
        method runs in, and what data, analytics and the worker are handed (runtime.items.Sessions).
        seen: the deployed version and whether an event subscription exists, as the caller read them a
        moment ago (the worker, with its lease): not read again, and checked by the caller before it commits."""
        shared = getattr(self._here, "snapshot", None)
        if shared is not None:
            if write:
                raise RuntimeError("a change inside Engine.snapshot(): a snapshot is for reads only")
            yield shared
            return
        try:
            with self._connect() as connection:
                # set on each transaction: a held connection serves reads and writes in turn
                connection = connection.execution_options(sqlite_begin="IMMEDIATE" if write else "DEFERRED")
                with connection.begin(), clock.using(self.clock()):
                    cached, caller = self._cache["compiled"], None
                    if seen is not None:
                        compiled, subscribed = self._compiled(connection, seen)
                    elif (self._credential is not None and self._actor is None and cached is not None
                            and self._cache.get("credentials")):
                        # one query reads the credential, its user, their grants and the deployed version
                        caller = self._caller(connection, cached,
                                              "subscriptions" if self._cache.get("subscriptions") else "version")
                        compiled, subscribed = self._compiled(connection, (caller.version, caller.subscribed))
                    else:
                        compiled, subscribed = self._compiled(connection)
                    if self._actor is None or self._actor_version != compiled.version:
                        known = None
                        if self._credential is not None:
                            caller = caller or self._caller(connection, compiled)
                            self.login = caller.login
                            known = (caller.user, caller.grants) if caller.user is not None else None
                        self._actor = people.resolve_actor(connection, compiled, self.login, known)
                        self._actor_version = compiled.version
                    yield items.Write(connection, compiled, self._actor, self.via, now=self.clock(),
                                      subscribed=subscribed)
        except sa.exc.IntegrityError as exc:
            # a unique value or a reference taken by a concurrent change between our check and our write
            # the database's own words (a constraint's name, a value) are for the log, not for the caller
            LOG.info("a write met a concurrent change: %s", str(exc.orig).splitlines()[0] if exc.orig else exc)
            raise ConflictError(tr("someone else changed the same data at the same moment"),
                                tr("reload and try again")) from None
        except (sa.exc.OperationalError, sa.exc.ProgrammingError) as exc:
            if self._older_tables():
                raise NotDeployed("this database's smartflow tables are older than this smartflow",
                                  "run `smartflow apply` once: it adds the new tables and columns, keeping the data"
                                  ) from None
            if isinstance(exc, sa.exc.ProgrammingError):
                raise
            raise DatabaseUnavailable(f"cannot use the database: {exc.orig}",
                                      "check --db / SMARTFLOW_DATABASE_URL and that the server is up") from None

    def _older_tables(self) -> bool:
        """Whether the database was deployed by a smartflow from before per-process roles (which
        `smartflow apply` brings up to date); asked only after an operation failed."""
        try:
            with self._db.connect() as connection:
                inspector = sa.inspect(connection)
                if not inspector.has_table("sf_versions"):
                    return False
                if not (inspector.has_table("sf_role_grants") and inspector.has_table("sf_file_chunks")):
                    return True
                newer = {"sf_users": {"email_notifications", "language"}, "sf_todos": {"reminded_at"},
                         "sf_inbox": {"localized"},
                         "sf_role_grants": {"pipeline"}}
                return any(inspector.has_table(table) and not columns <= {
                    column["name"] for column in inspector.get_columns(table)} for table, columns in newer.items())
        except sa.exc.SQLAlchemyError:
            return False

    def _caller(self, connection: Any, compiled: CompiledDefinition, deployed: str | None = None) -> auth.Caller:
        assert self._credential is not None
        secret, kind, csrf = self._credential
        if not self._cache.get("credentials") and not sa.inspect(connection).has_table("sf_tokens"):
            raise AuthenticationFailed("this database has no tables for tokens yet",
                                       "run `smartflow apply` once to create smartflow's new system tables")
        self._cache["credentials"] = True
        caller = auth.caller_of(connection, compiled, secret, kind, deployed)
        if kind == "session" and csrf is not None and not hmac.compare_digest(
                csrf.encode("utf-8", "surrogatepass"), (caller.csrf or "").encode("ascii")):
            raise PermissionDenied(tr("the CSRF token is missing or wrong"),
                                   "send the `smartflow_csrf` cookie's value in the X-CSRF-Token header")
        return caller

    def whoami(self) -> str:
        """The login this engine acts as (for an engine acting_for a credential: after checking it)."""
        with self.session(False) as write:
            return write.actor.login

    # ---- items -----------------------------------------------------------------

    def create(self, process: str, values: dict[str, Any], *, pipeline: str | None = None,
               stage: str | None = None, typed_text: bool = False) -> int:
        """Create an item; values are field id → value (text as typed on a command line when typed_text)."""
        watching, values = observers_given(values)  # `observers`: who observes the new item
        with self.session(True) as write:
            new_id = items.create(write, process, values, pipeline=pipeline, stage=stage, typed_text=typed_text)
            set_observers(write, process, new_id, watching)
            return new_id

    def update(self, process: str, item_id: int, values: dict[str, Any], *, expected_version: int | None = None,
               typed_text: bool = False) -> dict[str, Any]:
        watching, values = observers_given(values)  # `observers`: who observes the item
        with self.session(True) as write:
            changes = items.update(write, process, item_id, values, expected_version=expected_version,
                                   typed_text=typed_text)
            set_observers(write, process, item_id, watching, changes)
            return changes

    def move(self, process: str, item_id: int, stage: str, *, pipeline: str | None = None,
             expected_version: int | None = None, values: dict[str, Any] | None = None,
             typed_text: bool = False) -> dict[str, Any]:
        """Move to a stage; with values, first set those fields in the same transaction (the fields a
        stage requires, asked for when the move is tried; a new responsible person for the pipeline it
        moves into): a refused move then changes nothing."""
        with self.session(True) as write:
            if values:
                items.update(write, process, item_id, values, expected_version=expected_version,
                             typed_text=typed_text, pipeline=pipeline)
                expected_version = None
            return items.move(write, process, item_id, stage, pipeline=pipeline, expected_version=expected_version)

    def delete(self, process: str, item_id: int) -> str:
        with self.session(True) as write:
            return items.delete(write, process, item_id)

    def restore(self, process: str, item_id: int) -> None:
        with self.session(True) as write:
            items.restore(write, process, item_id)

    def get(self, process: str, item_id: int, *, files: bool = False) -> dict[str, Any]:
        """The item's values (canonical Python values); with files, a file field's value is its files
        ({id, name, size, content_type}: a list for a multiple field) instead of their ids."""
        with self.session(False) as write:
            found = query.item(write, process, item_id)
            return item_files.described(write, items.process_of(write, process), found) if files else found

    # ---- files (runtime/files.py: the item's rights and the field's hold) ---------------------

    def files(self, process: str, item_id: int) -> dict[str, list[dict[str, Any]]]:
        """The files of each file field of an item the user may see, by field id."""
        with self.session(False) as write:
            return item_files.listing(write, process, item_id)

    def attach_files(self, process: str, item_id: int, field: str,
                     uploads: list[tuple[str, bytes]]) -> list[dict[str, Any]]:
        """Upload files (name, content) into a file field: appended to a multiple field, replacing a
        single field's file. Returns the field's files."""
        with self.session(True) as write:
            return item_files.upload(write, process, item_id, field, uploads)

    def file(self, process: str, item_id: int, file_id: int) -> tuple[dict[str, Any], bytes]:
        """A file of an item: ({id, name, size, content_type}, its bytes); NotFound alike when it does
        not exist or the user may not read the item or the field."""
        with self.session(False) as write:  # a legacy file (a server path) is moved into the store on first use
            return item_files.download(write, process, item_id, file_id)

    def remove_file(self, process: str, item_id: int, file_id: int) -> dict[str, Any]:
        """Take a file off its item: {"field": id, "files": the field's files now}."""
        with self.session(True) as write:
            return item_files.remove(write, process, item_id, file_id)

    @staticmethod
    def read_upload(path: Path, field: str) -> Any:
        """A file on this machine read for upload into field (what `--set FIELD=@PATH` sends): its
        content, name and sniffed type; the path is kept nowhere. InvalidValue when it cannot be read."""
        try:
            return file_reference(path)
        except ValueProblem as problem:
            raise InvalidValue(f"field `{field}`: {problem}", "give a readable file: --set FIELD=@PATH",
                               field=field) from None

    @staticmethod
    def upload_limit() -> int:
        """The largest file one upload may carry, in bytes (SMARTFLOW_UPLOAD_LIMIT)."""
        return upload_limit()

    def card(self, process: str, item_id: int, history_limit: int = 10, *, files: bool = False) -> dict[str, Any]:
        """The item card: values, sections, links both ways and recent history (files: as `get` gives them)."""
        with self.session(False) as write:
            compiled = items.process_of(write, process)
            item = query.item(write, process, item_id)
            absent = not_visible(compiled, item, write.actor)  # `visible_when` is false: not on this card
            shown = {k: v for k, v in item.items() if k not in absent}
            return {"item": item_files.described(write, compiled, shown) if files else shown,
                    "process": compiled.process, "links": query.links(write, process, item),
                    "history": query.history(write, process, item_id, limit=history_limit, read=True)}

    def list(self, process: str, *, files: bool = False, **filters: Any) -> list[dict[str, Any]]:
        """The list view: pipeline, stage, where (list of "FIELD OP VALUE"), search, sort, limit, after,
        columns (a tuple of field ids: only those and the id), offset (items to skip first); files: as `get`."""
        with self.session(False) as write:
            found = query.list_items(write, process, **filters)
            return item_files.described_all(write, items.process_of(write, process), found) if files else found

    def count(self, process: str, where: list[str] | tuple[str, ...] = (), search: str | None = None) -> int:
        with self.session(False) as write:
            return query.count_items(write, process, where, search)

    def history(self, process: str, item_id: int, *, ids: bool = False) -> list[dict[str, Any]]:
        """The item's history, oldest first (ids: with each row's id, which only grows)."""
        with self.session(False) as write:
            return query.history(write, process, item_id, ids=ids)

    def numbers(self) -> dict[str, dict[str, int]]:
        """The stable integers of processes (type), pipelines (category), stages and enum options, by
        kind and key (smartflow.deploy.numbers): given by apply, kept across renames."""
        from smartflow.deploy import numbers

        with self.session(False) as write:
            if not self._cache.get("numbers") and not sa.inspect(write.connection).has_table("sf_numbers"):
                raise NotDeployed("this database has no table of numbers yet",
                                  "run `smartflow apply` once to create smartflow's new system tables")
            self._cache["numbers"] = True
            return numbers.read(write.connection, write.compiled.tables["sf_numbers"])

    def explain(self, process: str, item_id: int, stage: str, pipeline: str | None = None) -> list[str]:
        """Every reason a move would be refused (empty when it would be allowed)."""
        with self.session(False) as write:
            compiled = items.process_of(write, process)
            item = items.fetch(write, compiled, item_id)
            if pipeline is not None and pipeline not in compiled.pipelines:
                return [f"{process} has no pipeline `{pipeline}`"]
            return move_problems(compiled, item, write.actor, stage, pipeline)

    def move_targets(self, process: str, cards: list[dict[str, Any]]) -> dict[int, list[str]]:
        """Per card (id, pipeline, stage, assigned_to, created_by): the stages this user's rights and the
        pipeline's transitions let them move it into; conditions and required fields are checked on the move."""
        with self.session(False) as write:
            compiled = items.process_of(write, process)
            return {card["id"]: board.move_targets(write, compiled, card) for card in cards}

    def missing_required(self, process: str, item_id: int, stage: str, pipeline: str | None = None) -> list[str]:
        """The fields (visible to this user) that stage requires, or whose `required_when` holds there,
        and the item leaves empty."""
        with self.session(False) as write:
            compiled = items.process_of(write, process)
            return board.missing_required(write, compiled, items.fetch(write, compiled, item_id), stage, pipeline)

    def unfillable(self, process: str, item_id: int, wanted: list[str]) -> dict[str, str]:
        """Which of the fields wanted (a move's missing required ones) this user cannot fill on the item, and
        why ("no_update", "read_only"): a move waiting for them can never pass for this user."""
        with self.session(False) as write:
            compiled = items.process_of(write, process)
            return board.unfillable(write, compiled, items.fetch(write, compiled, item_id), wanted)

    def item_rights(self, process: str, item_id: int) -> dict[str, bool]:
        """Whether this user's rights reach the item for update, delete and move."""
        with self.session(False) as write:
            compiled = items.process_of(write, process)
            return board.item_rights(write, compiled, items.fetch(write, compiled, item_id))

    def kanban(self, process: str, pipeline: str | None = None, top: int = 5, *,
               where: list[str] | tuple[str, ...] = (), search: str | None = None) -> dict[str, Any]:
        """Per stage of a pipeline its count, money sums and newest cards, of the items the user may read
        (and, given where and search, that the list view's filters leave)."""
        with self.session(False) as write:
            return query.kanban(write, process, pipeline, top, where=where, search=search)

    def feed_position(self) -> str:
        """The event id a screen rendered now follows the change feed from (read it before the screen's data)."""
        with self.session(False) as write:
            return live.position(write)

    def follow(self, process: str, after: str | None = None) -> Any:
        """A follower of process's changes for a screen: from now, or after the event id a reconnecting screen
        gives (services.live). Hand it to `changes` again and again."""
        with self.session(False) as write:
            return live.follow(write, process, after)

    def changes(self, follower: Any) -> dict[str, Any] | None:
        """What the follower's screen should be told now, as this user may see it; None: nothing changed."""
        with self.session(False) as write:
            return live.step(write, follower)

    def watcher(self) -> Any:
        """What a server waits on for the change feed to grow (runtime.events.Watcher; one per server: it
        holds a connection of its own on PostgreSQL). Its owner closes it."""
        return live.watcher(self._db)

    # ---- people ----------------------------------------------------------------

    def _audit(self, write: items.Write, action: str, target: str | None, details: dict[str, Any] | None = None
               ) -> None:
        audit.record(write.connection, write.compiled, write.actor, self.via, action, target, details)

    def add_user(self, login: str, name: str = "", roles: list[str] | tuple[str, ...] = (),
                 department: str | None = None, processes: list[str] | tuple[str, ...] = (),
                 email: str | None = None, pipelines: list[str] | tuple[str, ...] = (),
                 user_id: int | None = None) -> int:
        """A new user (administrators only) holding roles in processes (none named: in every process), and
        with pipelines, in those pipelines of the one process named only; user_id: the id they must have
        (one no user holds; later users' ids continue above the largest)."""
        with self.session(True) as write:
            return self._add_user(write, login, name, roles, department, processes, email, pipelines, user_id)

    def add_users(self, found: list[dict[str, Any]], roles: list[str] | tuple[str, ...] = (),
                  processes: list[str] | tuple[str, ...] = ()) -> list[int]:
        """Users moved from another system, all or none (administrators only): each a dict of login and
        optionally name, email, department, active (False: added deactivated) and id (the id they must
        have), all holding roles in processes. A refusal names the user it is about."""
        with self.session(True) as write:
            ids = []
            for person in found:
                try:
                    ids.append(self._add_user(write, str(person["login"]), person.get("name") or "", roles,
                                              person.get("department"), processes, person.get("email"), (),
                                              person.get("id")))
                    if person.get("active") is False:
                        people.set_active(write.connection, write.compiled, write.actor, str(person["login"]),
                                          False)
                        self._audit(write, "user.deactivate", str(person["login"]))
                except InvalidValue as error:
                    raise InvalidValue(f"adding `{person['login']}`: {error}", error.hint,
                                       error.field) from None
            return ids

    def _add_user(self, write: items.Write, login: str, name: str, roles: list[str] | tuple[str, ...],
                  department: str | None, processes: list[str] | tuple[str, ...], email: str | None,
                  pipelines: list[str] | tuple[str, ...], user_id: int | None) -> int:
        new_id = people.add_user(write.connection, write.compiled, write.actor, login, name, list(roles),
                                 department, list(processes), email, list(pipelines), user_id)
        self._audit(write, "user.add", login, {"name": name or login, "roles": list(roles),
                                               "processes": list(processes) or None, "department": department,
                                               "email": email, **({"pipelines": list(pipelines)} if pipelines
                                                                  else {}),
                                               **({"id": user_id} if user_id is not None else {})})
        return new_id

    def grant_role(self, login: str, role: str, processes: list[str] | tuple[str, ...] = (),
                   pipelines: list[str] | tuple[str, ...] = ()) -> dict[str, Any]:
        """login holds role in processes (none named: in every process), or with pipelines, in those
        pipelines of the one process named only; the user as `users` lists them."""
        with self.session(True) as write:
            if people.grant_role(write.connection, write.compiled, write.actor, login, role, list(processes),
                                 list(pipelines)):
                self._audit(write, "role.add", login, {"role": role, "processes": list(processes) or None,
                                                       **({"pipelines": list(pipelines)} if pipelines else {})})
            return self._user(write, login)

    def revoke_role(self, login: str, role: str, processes: list[str] | tuple[str, ...] = (),
                    pipelines: list[str] | tuple[str, ...] = ()) -> dict[str, Any]:
        """login no longer holds role in processes (none named: anywhere), or with pipelines, in those
        pipelines of the one process named; the user as `users` lists them."""
        with self.session(True) as write:
            if people.revoke_role(write.connection, write.compiled, write.actor, login, role, list(processes),
                                  list(pipelines)):
                self._audit(write, "role.remove", login, {"role": role, "processes": list(processes) or None,
                                                          **({"pipelines": list(pipelines)} if pipelines else {})})
            return self._user(write, login)

    def set_active(self, login: str, active: bool) -> dict[str, Any]:
        """Activate or deactivate a user: a deactivated one's sessions and tokens stop at once (401), their
        items and history stay, and nothing assigns to or notifies them."""
        with self.session(True) as write:
            if people.set_active(write.connection, write.compiled, write.actor, login, active):
                self._audit(write, "user.activate" if active else "user.deactivate", login)
            return self._user(write, login)

    def edit_user(self, login: str, **changes: Any) -> dict[str, Any]:
        """Change name, email, department, email_notifications or language (administrators); the user as
        `users` lists them."""
        with self.session(True) as write:
            changed = people.edit_user(write.connection, write.compiled, write.actor, login, changes)
            if changed:
                self._audit(write, "user.edit", login, changed)
            return self._user(write, login)

    def _user(self, write: items.Write, login: str) -> dict[str, Any]:
        return next(u for u in people.list_users(write.connection, write.compiled) if u["login"] == login)

    def user(self, login: str) -> dict[str, Any]:
        """One user as `directory` lists them (administrators)."""
        with self.session(False) as write:
            people.require_admin(write.actor)
            found = [u for u in people.list_users(write.connection, write.compiled) if u["login"] == login]
            if not found:
                raise NotFound(tr("there is no user {login}", login=Name(login)), "run `smartflow user list`")
            return found[0]

    def users(self, process: str | None = None) -> list[dict[str, Any]]:
        """The people of this database: id, login, name and whether active, for anyone (to assign an
        item, or to read who did what); their roles and department too for administrators only. With
        process: only the active users with a right in it (whom a user picker of it offers)."""
        with self.session(False) as write:
            everyone = people.list_users(write.connection, write.compiled)
            if process is not None:
                compiled = items.process_of(write, process)
                chosen = set(people.members(write.connection, write.compiled, compiled.process.id))
                everyone = [user for user in everyone if user["id"] in chosen]
            if people.is_admin(write.actor):
                return everyone
            return [{key: user[key] for key in PUBLIC_USER_KEYS} for user in everyone]

    def directory(self) -> dict[str, list[dict[str, Any]]]:
        """Users (with roles and departments) and the departments: for administrators only."""
        with self.session(False) as write:
            people.require_admin(write.actor)
            return {"users": people.list_users(write.connection, write.compiled),
                    "departments": people.list_departments(write.connection, write.compiled)}

    def add_department(self, department_id: str, title: str, parent: str | None = None,
                       head: str | None = None) -> None:
        with self.session(True) as write:
            people.add_department(write.connection, write.compiled, write.actor, department_id, title, parent, head)
            self._audit(write, "department.add", department_id, {"title": title, "parent": parent, "head": head})

    def set_department_head(self, department_id: str, head: str | None) -> None:
        """Name a department's head (a login; None: nobody)."""
        with self.session(True) as write:
            people.set_department_head(write.connection, write.compiled, write.actor, department_id, head)
            self._audit(write, "department.head", department_id, {"head": head})

    def audit_log(self, limit: int = 100, target: str | None = None) -> list[dict[str, Any]]:
        """Administrative changes, newest first (administrators)."""
        with self.session(False) as write:
            people.require_admin(write.actor)
            return audit.entries(write.connection, write.compiled, limit, target)

    def roles(self) -> list[dict[str, Any]]:
        """The deployed roles: id and titles in every language."""
        with self.session(False) as write:
            return [{"id": role.id, "title": catalog.titles(role.title)} for role in write.compiled.definition.roles]

    def is_admin(self) -> bool:
        """Whether this engine's user administers the system (the administrator role in every process)."""
        with self.session(False) as write:
            return people.is_admin(write.actor)

    def process_overview(self, process: str, lang: str | None = None) -> dict[str, Any]:
        """A deployed process for its administrators, read-only: fields, each pipeline's stage graph,
        triggers, the rights matrix with who holds it, and the versions deployed (administrators)."""
        with self.session(False) as write:
            people.require_admin(write.actor)
            return admin.process_overview(write, items.process_of(write, process), lang)

    def versions(self) -> list[dict[str, Any]]:
        """Deployed versions, newest first, with who deployed them and the steps each applied (administrators)."""
        with self.session(False) as write:
            people.require_admin(write.actor)
            return admin.versions(write)

    def access_report(self, process: str) -> dict[str, Any]:
        """Who may do what in a process: per active user with a right there, their roles, levels per
        action, the stages they may move into and the fields hidden from them (administrators)."""
        with self.session(False) as write:
            people.require_admin(write.actor)
            return rights.process_report(write, items.process_of(write, process))

    def user_access(self, login: str) -> dict[str, Any]:
        """One user's effective rights in every process (administrators)."""
        with self.session(False) as write:
            people.require_admin(write.actor)
            return rights.user_report(write, login)

    # ---- credentials -------------------------------------------------------------

    @contextmanager
    def _credentials(self, write: bool) -> Iterator[items.Write]:
        """A session on a database that has the credential tables (one deployed before them has not)."""
        with self.session(write) as session:
            if not self._cache.get("credentials") and not sa.inspect(session.connection).has_table("sf_tokens"):
                raise NotDeployed("this database has no tables for passwords and tokens yet",
                                  "run `smartflow apply` once to create smartflow's new system tables")
            self._cache["credentials"] = True
            yield session

    def set_password(self, login: str, password: str) -> int:
        """Set login's password (administrators for anyone, a user for themselves); kept as a scrypt hash.
        Common and trivially weak passwords are refused (InvalidValue). The user's browser sessions
        end, except the one this engine acts for; API tokens stay. Returns the sessions ended."""
        credential = self._credential
        keep = credential[0] if credential is not None and credential[1] == "session" else None
        with self._credentials(True) as write:
            ended = auth.set_password(write.connection, write.compiled, write.actor, login, password, keep)
            self._audit(write, "password.set", login)
            return ended

    def create_token(self, login: str, expires: str | None = None) -> str:
        """A new API token for login (`expires`: 90d, 12h, 2w; None: never), shown only this once."""
        lifetime = expiry(expires)
        with self._credentials(True) as write:
            secret = auth.create_token(write.connection, write.compiled, write.actor, login, lifetime)
            self._audit(write, "token.create", login, {"expires": expires})
            return secret

    def reset_code(self, login: str) -> str:
        """A one-time code with which login sets a new password (administrators), valid 24 hours: on
        the board's /welcome page, or POST /api/v1/password-reset. Earlier unused codes stop working."""
        with self._credentials(True) as write:
            people.require_admin(write.actor)
            code = codes.issue(write.connection, write.compiled, login)
            self._audit(write, "password.reset", login)
            return code

    def code_holder(self, code: str) -> str:
        """The login a one-time code belongs to, without using it; AuthenticationFailed when it is not valid."""
        with self._credentials(False) as write:
            return codes.holder(write.connection, write.compiled, code)

    def redeem_code(self, code: str, password: str) -> str:
        """Use a one-time code: set its user's password (it works once); their login. The code is the
        credential: whoever this engine acts as does not matter."""
        with self._credentials(True) as write:
            login = codes.redeem(write.connection, write.compiled, code)
            auth.set_password(write.connection, write.compiled, LOCAL_ADMIN, login, password)
            audit.record(write.connection, write.compiled, Actor(None, login, login, frozenset()), self.via,
                         "password.reset_used", login)
            return login

    def first_sign_in(self) -> tuple[str, str] | None:
        """While no administrator (of every process) has a password: (login, a one-time code) for one
        of them, made first (`admin`) when there is none; None once one has a password."""
        with self._credentials(True) as write:
            waiting, any_password = codes.admins_without_password(write.connection, write.compiled)
            if any_password:
                return None
            if not waiting:
                login = "admin"
                while people.user_id(write.connection, write.compiled, login) is not None:
                    login += "_"
                people.add_user(write.connection, write.compiled, LOCAL_ADMIN, login, "Administrator",
                                ["administrator"], None)
                self._audit(write, "user.add", login, {"roles": ["administrator"], "first_sign_in": True})
                waiting = [login]
            code = codes.issue(write.connection, write.compiled, waiting[0])
            self._audit(write, "password.first_sign_in", waiting[0])
            return waiting[0], code

    def tokens(self, login: str | None = None) -> list[dict[str, Any]]:
        """API tokens without their secrets: everyone's for administrators, one's own otherwise."""
        with self._credentials(False) as write:
            return auth.list_tokens(write.connection, write.compiled, write.actor, login)

    def revoke_token(self, token_id: int) -> None:
        with self._credentials(True) as write:
            auth.revoke_token(write.connection, write.compiled, write.actor, token_id)
            self._audit(write, "token.revoke", None, {"token": token_id})

    def authenticate(self, secret: str, kind: str = "token") -> auth.Caller:
        """Who an API token (kind "token") or a browser session (kind "session") belongs to;
        AuthenticationFailed when it is unknown, expired or revoked."""
        with self._credentials(False) as write:
            return auth.caller_of(write.connection, write.compiled, secret, kind)

    def start_session(self, login: str, password: str) -> tuple[str, auth.Caller]:
        """A new browser session for a right password: (its secret, the caller with its CSRF token).
        Every attempt is counted before its password is checked (a right one clears the count): past
        auth.MAX_FAILURES within auth.FAILURE_WINDOW, TooManyAttempts without a check."""
        if text_problem(login) or text_problem(password):  # no user has it: refused before the database sees it
            raise AuthenticationFailed("wrong login or password", "check both and try again")
        login = login[:128]
        with self._credentials(True) as write:  # the attempt is counted (and committed) first
            stored = auth.count_attempt(write.connection, write.compiled, login)
        if not auth.password_matches(password, stored):  # outside any transaction: no lock held
            raise AuthenticationFailed("wrong login or password", "check both and try again")
        with self._credentials(True) as write:
            auth.forget_attempts(write.connection, write.compiled, login)
            secret = auth.create_token(write.connection, write.compiled, write.actor, login, auth.SESSION_LIFETIME,
                                       kind="session")
        return secret, auth.Caller(login, "session", auth.csrf_of(secret))

    def end_session(self, secret: str) -> None:
        with self._credentials(True) as write:
            auth.revoke_secret(write.connection, write.compiled, secret)

    def user_names(self, ids: Iterable[int | None]) -> dict[int, str]:
        """The names of the users of ids (None and unknown ids left out): what a screen needs to show who
        is assigned or who created an item, without listing every user (`users`). Names are public."""
        wanted = {i for i in ids if isinstance(i, int)}
        if not wanted:
            return {}  # no transaction for nobody
        with self.session(False) as write:
            return {i: name for i, (_, name) in people.names_of(write.connection, write.compiled, wanted).items()}

    def hidden_fields(self, process: str) -> frozenset[str]:
        """The fields of a process hidden from this engine's user (by `hidden_fields` in their roles' rights)."""

        with self.session(False) as write:
            return hidden_fields(write.actor, items.process_of(write, process))

    def processes(self) -> list[dict[str, Any]]:
        """Every deployed process this user has a right in, in a line: id, titles, version, their level
        per action (a process they have no right in is missing to them)."""
        with self.session(False) as write:
            return [catalog.summary(write, compiled) for compiled in write.compiled.processes.values()
                    if visible(write.actor, compiled)]

    def describe(self, process_id: str | None = None) -> dict[str, Any]:
        """A deployed process as a client needs it, for this user (fields hidden from them left out);
        without process_id, every process: {"version": N, "processes": [...]}."""
        with self.session(False) as write:
            if process_id is not None:
                return catalog.describe(write, items.process_of(write, process_id))
            return {"version": write.compiled.version,
                    "processes": [catalog.describe(write, c) for c in write.compiled.processes.values()
                                  if visible(write.actor, c)]}

    def deployed_version(self) -> int:
        """The number of the live definition version."""
        with self.session(False) as write:
            return write.compiled.version

    def process(self, process_id: str) -> Any:
        """The deployed model of a process (fields, pipelines, stages, card)."""
        with self.session(False) as write:
            return items.process_of(write, process_id).process

    # ---- automation ------------------------------------------------------------

    def work(self, worker: str = "worker", batch: int = 100, allow_hosts: set[str] | None = None,
             send: Any = None, lease: float | None = None, claim: int | None = None) -> jobs_worker.Tally:
        """One pass of the worker: due jobs, then due outbox messages. lease: seconds after which a job
        left `running` by a worker that died is taken over (default 60); claim: due jobs leased and run
        together in one transaction each (default 50)."""
        from smartflow.automation import worker as jobs_worker

        return jobs_worker.work_once(self, worker, batch, allow_hosts, send or jobs_worker.send_http,
                                     _lease(lease), claim or jobs_worker.CLAIM)

    def work_forever(self, worker: str, interval: float, batch: int, allow_hosts: set[str] | None,
                     report: Callable[[jobs_worker.Tally], None], should_stop: Callable[[], bool],
                     lease: float | None = None) -> None:
        """Keep working until should_stop(), sleeping interval seconds when nothing is due."""
        from smartflow.automation import worker as jobs_worker

        jobs_worker.work_forever(self, worker, interval, batch, allow_hosts, report, should_stop, _lease(lease))

    # ---- outbound event subscriptions (runtime.subscriptions) -------------------------------------------

    def subscribe(self, kind: str, name: str, handler: str, format_: str = "bitrix24",
                  details: dict[str, Any] | None = None, allow_hosts: set[str] | None = None) -> dict[str, Any]:
        """Have handler hear the items created, updated or deleted (kind) that this user may read: an
        administrator's, as Bitrix24 asks an administrator's scope to bind events. The URL must pass the
        outbound policy now (http(s); a non-public address only when its host is in allow_hosts, the
        worker's --allow-host / SMARTFLOW_WEBHOOK_HOSTS), and is checked again on every delivery."""
        from smartflow.automation import outbound
        from smartflow.runtime import subscriptions

        refused = outbound.refusal(handler, allow_hosts)
        if refused is not None:
            raise InvalidValue(f"the handler {handler} is refused: {refused}",
                               "give a public http(s) URL, or allow-list its host (SMARTFLOW_WEBHOOK_HOSTS)")
        with self.session(True) as write:
            people.require_admin(write.actor, "bind events")
            bound = subscriptions.bind(write, kind, name, handler, format_, details or {})
            self._audit(write, "event.bind", name, {"handler": handler, "kind": kind})
            return bound

    def unsubscribe(self, name: str, handler: str | None = None) -> int:
        """Remove this user's subscriptions of name (to handler, or all of them); how many went."""
        from smartflow.runtime import subscriptions

        with self.session(True) as write:
            people.require_admin(write.actor, "bind events")
            gone = subscriptions.unbind(write, name, handler)
            if gone:
                self._audit(write, "event.unbind", name, {"handler": handler, "removed": gone})
            return gone

    def subscriptions(self, everyone: bool = False) -> list[dict[str, Any]]:
        """This user's outbound event subscriptions (everyone's with everyone), oldest first."""
        from smartflow.runtime import subscriptions

        with self.session(False) as write:
            people.require_admin(write.actor, "bind events")
            return subscriptions.listed(write, everyone)

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
            self._audit(write, f"{kind}.retry", f"{kind} {row_id}")

    def cancel(self, kind: str, row_id: int) -> None:
        """Cancel a pending or failed job (kind "job") or outbox message (kind "message"): it never runs."""
        from smartflow.automation import worker as jobs_worker

        with self.session(True) as write:
            jobs_worker.cancel(write, "sf_jobs" if kind == "job" else "sf_outbox", row_id)
            self._audit(write, f"{kind}.cancel", f"{kind} {row_id}")

    def inbox(self, unread_only: bool = False, limit: int = 50, mark_read: bool = False) -> list[dict[str, Any]]:
        """This user's notifications, newest first, with their process's and item's titles."""
        with self.session(mark_read) as write:
            return notices.inbox(write, unread_only, limit, mark_read)

    def mark_read(self, ids: list[int] | None = None, read: bool = True) -> int:
        """Mark this user's notifications read (or unread again): those of ids, all with None; how many changed."""
        with self.session(True) as write:
            return notices.mark(write, ids, read)

    def settings(self) -> dict[str, Any]:
        """This user's own settings: e-mail address, e-mail notifications on or off, language."""
        with self.session(False) as write:
            return people.settings_of(write.connection, write.compiled, write.actor)

    def change_settings(self, **changes: Any) -> dict[str, Any]:
        """Change this user's own settings (email_notifications, language); the settings after."""
        with self.session(True) as write:
            changed = people.change_settings(write.connection, write.compiled, write.actor, changes)
            if changed:
                self._audit(write, "user.settings", write.actor.login, changed)
            return people.settings_of(write.connection, write.compiled, write.actor)

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

    def import_past(self, process: str, path: Path, kind: str, key: str = "id") -> Any:
        """Import items' stage history or comments from another system (kind `history` or `comments`),
        with their original times and authors: an administrator's action (data/past.py)."""
        from smartflow.data import past

        return past.import_past(self.as_via("import"), process, path, kind, key)

    def import_preview(self, process: str, path: Path, mapping: dict[str, str | None] | None = None,
                       rows: int = 10) -> importer.Preview:
        """The first rows of a file and the field each column would fill (mapping first), before an
        import: what the board's import shows for a person to correct. Needs the import right."""
        from smartflow.data import importer

        return importer.preview(self, process, path, mapping, rows)

    def report(self, process: str, options: reports.ReportOptions) -> dict[str, Any]:
        """The funnel of a process over the items this user may read, as plain data."""
        from smartflow.analytics import report as reports

        return reports.report(self, process, options)


PUBLIC_USER_KEYS = ("id", "login", "name", "active")  # what Engine.users shows someone not an administrator
SESSION_SECONDS = int(auth.SESSION_LIFETIME.total_seconds())  # how long a browser session lasts


def expiry(text: str | None) -> timedelta | None:
    """`90d`, `12h`, `2w`, `30m` as a lifetime; None for none."""
    if text is None:
        return None
    try:
        amount, unit = parse_duration(text.strip())
    except ValueError:
        amount, unit = 0, ""
    if unit not in ("m", "h", "d", "w") or amount <= 0:
        raise InvalidValue(f"not a lifetime: {text!r}", "write a number and m, h, d or w, such as 90d",
                           field="expires")
    return {"m": timedelta(minutes=amount), "h": timedelta(hours=amount), "d": timedelta(days=amount),
            "w": timedelta(weeks=amount)}[unit]
