"""Item writes: create, update, move, delete, restore — every rule checked, history written.

Each function runs inside the caller's transaction (the Engine opens one per operation:
BEGIN IMMEDIATE on SQLite, a row lock on PostgreSQL) and writes nothing when a rule fails.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import field as dataclass_field
from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal
from functools import partial
from typing import Any, Protocol

import sqlalchemy as sa

from smartflow.compile.sql import currency_column, precision_of
from smartflow.definitions.hints import did_you_mean, known_list
from smartflow.definitions.model import Field
from smartflow.errors import ConflictError, InvalidValue, NotDeployed, NotFound, PermissionDenied, TransitionNotAllowed
from smartflow.i18n import Name, joined, tr
from smartflow.records import record
from smartflow.runtime import access, clock, fieldrules, fields, filestore, names, notices
from smartflow.runtime.access import Actor
from smartflow.runtime.bulkwrite import follow_sequence, insert_rows
from smartflow.runtime.compiled import CompiledDefinition, CompiledProcess, built
from smartflow.runtime.events import Event, changed_events
from smartflow.runtime.fieldrules import move_problems
from smartflow.runtime.people import grants_in_process, may_hold, user_id
from smartflow.runtime.rules import entry_problems, named_fields, right_problems

SYSTEM_SETTABLE = ("title", "assigned_to")
SYSTEM_KEYS = ("id", "title", "pipeline", "stage", "assigned_to", "created_by", "created_at", "updated_by",
               "updated_at", "moved_by", "moved_at", "closed_at", "version", "deleted_at", "definition_version")


@record
class Write:
    """What one operation needs: the connection, the compiled definition, who and how."""

    connection: Any
    compiled: CompiledDefinition
    actor: Actor
    via: str = "api"
    now: datetime | None = None
    chain: Any = None  # the automation causation chain this write belongs to (None: a person's change)
    triggers: bool = True  # whether changes fire triggers (an import may switch them off)
    subscribed: bool = False  # whether an outbound event subscription exists: every change is then published
    # users and readable linked items found in this transaction: an import names the same ones on
    # many rows, and none is deleted by a change to an item (nor stops being readable)
    found: dict[tuple[Any, ...], int] = dataclass_field(default_factory=dict)
    # rows held back while a change's triggers run (see `_record_then_publish`), by table: the history
    # rows of the change and of its actions (and the actions' outbox messages) go in with one INSERT
    # per table, in the order they were recorded
    held: dict[str, list[dict[str, Any]]] | None = None

    def __post_init__(self) -> None:
        self.now = self.now or clock.now()

    @property
    def sqlite(self) -> bool:
        return bool(self.connection.dialect.name == "sqlite")

    def derived(self, **changes: Any) -> Write:
        """A copy with some attributes changed, as `dataclasses.replace` makes one (the same shared
        `found` and `held`), at a fifth of its cost: a trigger makes one per run."""
        unknown = changes.keys() - self.__dataclass_fields__.keys()
        if unknown:
            raise TypeError(f"Write has no {', '.join(sorted(unknown))}")
        copy = object.__new__(Write)
        copy.__dict__.update(self.__dict__)
        copy.__dict__.update(changes)
        return copy


class Sessions(Protocol):
    """What opens one transaction as a user: the services layer's Engine. Data, analytics and the
    worker work inside such sessions without knowing who made them."""

    def session(self, write: bool, *, seen: tuple[int, bool] | None = None) -> AbstractContextManager[Write]:
        """One transaction (a writing one when write) with the live definition, the user and the clock.
        seen: the deployed version and whether an event subscription exists, as the caller read them a
        moment ago, not read again; the caller checks them before it commits (the worker, see run_jobs)."""
        ...

    def held(self) -> AbstractContextManager[None]:
        """The sessions opened inside (by this thread) share one connection, one transaction after another."""
        ...


def process_of(write: Write, process_id: str) -> CompiledProcess:
    """A deployed process the actor has a right in; one without any is missing to them, alike."""
    found = write.compiled.processes.get(process_id)
    if found is None or not access.visible(write.actor, found):
        known = [p for p, compiled in write.compiled.processes.items() if access.visible(write.actor, compiled)]
        raise NotDeployed(tr("there is no process {process}", process=Name(process_id)),
                          did_you_mean(process_id, known) or f"deployed processes: {known_list(known)}")
    return found


# ---- reading one item --------------------------------------------------------------


def _fetch_statement(write: Write, process: CompiledProcess, lock: bool, deleted: bool) -> Any:
    def build() -> Any:
        table = process.table
        query = sa.select(*reader(process).columns).where(table.c.id == sa.bindparam("_item_id"),
                                                          access.row_filter(write.actor, process, "read"))
        query = query.where(table.c.deleted_at.is_not(None) if deleted else table.c.deleted_at.is_(None))
        return query.with_for_update() if lock else query

    # the read filter depends on the actor and the process only (the table is new with each version)
    return built((process.table, "fetch", write.actor, lock, deleted), build)


def fetch(write: Write, process: CompiledProcess, item_id: int, action: str = "read", *,
          lock: bool = False, deleted: bool = False) -> dict[str, Any]:
    """The item as canonical values; NotFound when it does not exist or the actor may not read it."""
    query = _fetch_statement(write, process, lock and not write.sqlite, deleted)
    # an id no row can hold (past the integer column) is an item that does not exist
    valid = isinstance(item_id, int) and 0 < item_id <= fields.MAX_ID
    row = write.connection.execute(query, {"_item_id": item_id}).first() if valid else None
    if row is None:
        raise NotFound(tr("{process} {item} not found in the recycle bin", process=names.process(process), item=item_id)
                       if deleted else tr("{process} {item} not found", process=names.process(process), item=item_id),
                       tr("check the id; items you may not see are not shown"))
    item = reader(process).decode(row)
    _load_multiple(write.connection, process, [item])
    if action != "read" and not access.reaches(write.actor, process, action, item):
        reach = access.level(write.actor, process, action, item["pipeline"])
        raise PermissionDenied(tr("you may not {action} {process} {item}", action=names.action(action),
                                  process=names.process(process), item=item_id),
                               f"your roles allow `{action}: {reach}`")
    return item


def unfiltered_statement(process: CompiledProcess) -> Any:
    """The SELECT of one item (bind `_item_id`) regardless of anyone's read level, built once per version."""
    table = process.table
    return built((table, "fetch_unfiltered"), lambda: sa.select(*reader(process).columns).where(
        table.c.id == sa.bindparam("_item_id"), table.c.deleted_at.is_(None)))


def fetch_unfiltered(write: Write, process_id: str, item_id: int) -> dict[str, Any] | None:
    """The item as automation sees it: regardless of anyone's read level; None when gone."""
    process = write.compiled.processes[process_id]
    row = write.connection.execute(unfiltered_statement(process), {"_item_id": item_id}).first()
    if row is None:
        return None
    item = reader(process).decode(row)
    _load_multiple(write.connection, process, [item])
    return item


def publish(write: Write, process_id: str, item_id: int, events: list[Event],
            item: dict[str, Any] | None = None) -> None:
    """Tell the version's listener (automation) what a change did, in the change's transaction; item is
    the item as the change left it, when the change's own statement returned it."""
    if events and watched(write, process_id):
        write.compiled.listener.changed(write, process_id, item_id, events, item)


def watched(write: Write, process_id: str) -> bool:
    """Whether a change to an item of the process is heard by anyone (a trigger listens to it, or an
    outbound event subscription exists)."""
    listener = write.compiled.listener
    return write.triggers and listener is not None and (write.subscribed or listener.watches(process_id))


_TIMESTAMPS = frozenset(("created_at", "updated_at", "moved_at", "closed_at", "deleted_at"))


def _aware(moment: datetime) -> datetime:
    """SQLite keeps no zone (we store UTC); PostgreSQL gives aware values already."""
    if moment.tzinfo is None:
        return datetime.combine(moment.date(), moment.time(), UTC)  # = replace(tzinfo=UTC), 4x faster
    return moment


class RowReader:
    """The columns to select for items of a process and how to turn such a row into canonical values.

    Built once per process and deployed version (and column choice, for exports): a list page
    decodes each of its rows with `decode`, which zips the row with the keys and converts only
    the values that need it (money and numbers from minor units, timestamps made aware), instead
    of asking every field of every row for its type.
    """

    def __init__(self, process: CompiledProcess, only: tuple[str, ...] | None = None) -> None:
        table = process.table
        wanted = set(only) | {"id"} if only is not None else None
        singles = [f for f in process.process.fields if not f.multiple and (wanted is None or f.id in wanted)]
        system = [key for key in SYSTEM_KEYS if wanted is None or key in wanted]
        self.keys = (*system, *(f.id for f in singles))
        moneys = [f for f in singles if f.type == "money"]
        # the currencies come after the keys: zip(keys, row) leaves them out, `decode` puts them in
        self.columns = [table.c[key] for key in self.keys] + [table.c[currency_column(f.id)] for f in moneys]
        self.multiple = [f.id for f in process.process.fields if f.multiple and (wanted is None or f.id in wanted)]
        fixes: list[tuple[str, Callable[[Any], Any]]] = [(key, _aware) for key in system if key in _TIMESTAMPS]
        for field in singles:
            if field.type == "datetime":
                fixes.append((field.id, _aware))
            elif field.type == "number":
                fixes.append((field.id, partial(_unscaled, -precision_of(field))))
        self.fixes = fixes
        self.money = [(f.id, len(self.keys) + n, -precision_of(f)) for n, f in enumerate(moneys)]

    def decode(self, row: Any) -> dict[str, Any]:
        """A row of `columns` (a tuple-like Row) as canonical values."""
        item = dict(zip(self.keys, row, strict=False))  # the currencies after the keys are left out
        for key, fix in self.fixes:
            value = item[key]
            if value is not None:
                item[key] = fix(value)
        for key, position, exponent in self.money:
            value = item[key]
            if value is not None:
                item[key] = {"amount": Decimal(value).scaleb(exponent), "currency": row[position]}
        return item


    def decode_columns(self, rows: list[Any]) -> dict[str, Any]:
        """Rows of `columns` as canonical values column by column: key → the values of that column.

        A single money field is two columns here: its amounts (Decimal) under its id and its
        currencies under `<id>__currency`."""
        if not rows:
            empty: dict[str, Any] = {key: [] for key in (*self.keys, *self.multiple)}
            empty.update((currency_column(key), []) for key, _, _ in self.money)
            return empty
        transposed = list(zip(*rows, strict=True))
        batch: dict[str, Any] = dict(zip(self.keys, transposed, strict=False))
        for key, fix in self.fixes:
            batch[key] = [None if value is None else fix(value) for value in batch[key]]
        for key, position, exponent in self.money:  # two columns, as the table holds it: no dictionary per value
            batch[key] = [None if value is None else Decimal(value).scaleb(exponent) for value in batch[key]]
            batch[currency_column(key)] = transposed[position]
        return batch


def _unscaled(exponent: int, value: int) -> Decimal:
    return Decimal(value).scaleb(exponent)


def reader(process: CompiledProcess, only: tuple[str, ...] | None = None) -> RowReader:
    """The row reader of a process (all its columns, or only some), built once per deployed version."""
    found: RowReader = built((process.table, "reader", only), lambda: RowReader(process, only))
    return found


def _multiple_statement(table: sa.Table, money: bool) -> Any:
    """The values of a multiple field for a batch of items (`_ids`), in order: built once per table."""

    def build() -> Any:
        columns = [table.c.item_id, table.c.value] + ([table.c.currency] if money else [])
        return (sa.select(*columns).where(table.c.item_id.in_(sa.bindparam("_ids", expanding=True)))
                .order_by(table.c.item_id, table.c.position))

    return built((table, "multiple"), build)


def _load_multiple(connection: Any, process: CompiledProcess, items: list[dict[str, Any]],
                   only: list[str] | None = None) -> None:
    """Fill multiple-valued fields (all, or the ones in only) for a batch of items: one query per field."""
    ids = [item["id"] for item in items]
    by_id = {item["id"]: item for item in items}
    for field_id, table in process.values_tables.items():
        if only is not None and field_id not in only:
            continue
        field = process.fields[field_id]
        for item in items:
            item[field_id] = []
        rows = connection.execute(_multiple_statement(table, field.type == "money"), {"_ids": ids})
        for row in rows:
            currency = row[2] if field.type == "money" else None
            by_id[row.item_id][field_id].append(fields.scalar_from_stored(field, row.value, currency))


# ---- values ------------------------------------------------------------------------


def prepare(write: Write, process: CompiledProcess, values: dict[str, Any], typed_text: bool,
            canonical: bool = False, current: dict[str, Any] | None = None,
            pipeline: str | None = None) -> dict[str, Any]:
    """Coerce and check the given values; raises InvalidValue naming field, value and rule.

    canonical: the values are canonical already (an import's cells, read for the field's type by
    data/parse.py with the same `fields.parse_text` / `coerce`), so only the field's rules are checked.
    current: the item an update changes (None for a new item): a file field may name by id only a
    file it holds already, and a user it holds already is kept without asking again whether they may.
    pipeline: the item's (current's, when not given): whom it may be given to (`check_holder`)."""
    return _prepare(write, process, values, typed_text, canonical, current, pipeline)[0]


def _prepare(write: Write, process: CompiledProcess, values: dict[str, Any], typed_text: bool,
             canonical: bool, current: dict[str, Any] | None = None,
             pipeline: str | None = None) -> tuple[dict[str, Any], set[str]]:
    """prepare's values, and which of them are not empty (an empty cell sets nothing)."""
    if pipeline is None and current is not None:
        pipeline = current.get("pipeline")
    prepared: dict[str, Any] = {}
    filled: set[str] = set()
    hidden = access.hidden_fields(write.actor, process)
    shape = _shape(process)
    checkers = shape.checkers
    direct = shape.direct(hidden) if canonical else {}
    for key, raw in values.items():
        check = direct.get(key)
        if check is not None:
            if raw is None or raw == "":  # an empty cell: sets nothing, checks nothing (and is NULL, never '')
                prepared[key] = None
                continue
            try:
                prepared[key] = check(raw)  # fields.check, then fields.with_decimals
            except fields.ValueProblem as problem:
                raise InvalidValue(tr("field {field}: {problem}", field=names.field(process, key),
                                      problem=problem.args[0]), _hint(process.fields[key]), field=key) from None
            filled.add(key)
            continue
        if key == "title":
            title = str(raw).strip() if raw is not None else ""
            if not title:
                raise InvalidValue(tr("{field} must not be empty", field=names.field(process, "title")), field="title")
            if (problem := fields.text_problem(title)) is not None:
                raise InvalidValue(tr("{field} {problem}", field=names.field(process, "title"), problem=problem),
                                   "send plain text", field="title")
            prepared["title"] = title
            filled.add(key)
            continue
        if key == "assigned_to":
            responsible = names.field(process, "assigned_to")
            prepared["assigned_to"] = _user_id(write, raw, responsible) if raw not in (None, "") else None
            if prepared["assigned_to"] is not None:
                filled.add(key)
                if current is None or current.get("assigned_to") != prepared["assigned_to"]:
                    check_holder(write, process, "assigned_to", prepared["assigned_to"], pipeline)
            continue
        field = process.fields.get(key)
        if field is None:
            known = [*process.fields, *SYSTEM_SETTABLE]
            raise InvalidValue(f"{process.process.id} has no field `{key}`",
                               did_you_mean(key, known) or f"fields: {known_list(known)}", field=key)
        if key in hidden:
            access.refuse_hidden(write.actor, process, (key,), "set")
        if canonical and raw is None:  # an empty cell: sets nothing, checks nothing
            prepared[key] = None
            continue
        try:
            if canonical:
                value = raw
            elif typed_text and isinstance(raw, str):
                value = fields.parse_text(field, raw)
            else:
                value = fields.coerce(field, raw)
            if not fields.is_empty(value):
                value = checkers[key](value)  # fields.check, then fields.with_decimals
                filled.add(key)
        except fields.ValueProblem as problem:
            raise InvalidValue(tr("field {field}: {problem}", field=names.field(process, key), problem=problem.args[0]),
                               _hint(field), field=key) from None
        prepared[key] = _resolve_references(write, process, field, value, current, pipeline) \
            if field.type in REFERENCE_TYPES else value
    return prepared, filled


DECIMAL_TYPES = frozenset({"number", "money"})  # whose values take the field's decimals (fields.with_decimals)
REFERENCE_TYPES = frozenset({"user", "link", "file"})  # whose values name a row elsewhere (_resolve_references)


class _Shape:
    """What creates and changes read of a process's fields, worked out once per deployed version."""

    def __init__(self, process: CompiledProcess) -> None:
        every = process.process.fields
        self.checkers = {f.id: fields.checker(f) for f in every}  # fields.check, then fields.with_decimals
        self.defaulted = [f for f in every if f.default is not None]
        self.required = [f for f in every if f.required]
        self.scaled = {f.id: (precision_of(f), currency_column(f.id) if f.type == "money" else None)
                       for f in every if f.type in DECIMAL_TYPES and not f.multiple}  # to minor units
        self._direct: dict[frozenset[str], dict[str, Callable[[Any], Any]]] = {}
        self._every = every

    def direct(self, hidden: frozenset[str]) -> dict[str, Callable[[Any], Any]]:
        """The checkers of the single fields that name nothing elsewhere and that are not hidden: their
        canonical values are checked straight away (as the general path would, one test at a time)."""
        found = self._direct.get(hidden)
        if found is None:
            found = self._direct[hidden] = {f.id: self.checkers[f.id] for f in self._every
                                            if f.id not in hidden and not f.multiple and f.type not in REFERENCE_TYPES}
        return found


def _shape(process: CompiledProcess) -> _Shape:
    shape: _Shape = built((process.table, "shape"), lambda: _Shape(process))
    return shape


def _hint(field: Field) -> str | None:
    hints = {
        "date": "write a date as YYYY-MM-DD", "datetime": "write a date and time as 2026-12-01T09:30",
        "money": "write an amount such as 1500.50, optionally with a currency: 1500.50 USD",
        "boolean": "write true or false", "integer": "write a whole number", "number": "write a number",
        "link": "give the id of the linked item", "user": "give a user's login",
    }
    if field.type == "enum":
        return "options: " + ", ".join(f"`{o.id}`" for o in field.options)
    return hints.get(field.type)


def _user_id(write: Write, value: Any, field: Name) -> int:
    known = write.found.get(("user", value))
    if known is not None:
        return known
    found = user_id(write.connection, write.compiled, value)
    if found is None:
        named = f"#{value}" if isinstance(value, int) else repr(value)  # `#12` is the id form, text a login
        raise InvalidValue(tr("field {field}: there is no user {user}", field=field, user=named),
                           "run `smartflow user list`; a user is given by login, or by id as `#12`", field=field.id)
    if isinstance(value, (int, str)):
        write.found[("user", value)] = found
    return found


def check_holder(write: Write, process: CompiledProcess, field_id: str, user: int, pipeline: str | None) -> None:
    """An item of pipeline (None: of some pipeline) may be given only to an active user with a right in
    that pipeline: as its responsible person (`assigned_to`), or in a user field limited to roles
    (`roles: [doctor]`), holding one of them there. The same test as the user pickers' (`people.may_hold`),
    on every path that writes an item: the board, the API, the CLI, an import and automation."""
    field = process.fields.get(field_id)
    field_roles = field.roles if field is not None else ()
    known = ("holder", process.process.id, field_id, user, pipeline)
    if known in write.found:
        return
    held = grants_in_process(write.connection, write.compiled, process.process.id, [user]).get(user)
    if held is None or not may_hold(process, held, pipeline, field_roles):
        raise _not_holder(write, process, field_id, field_roles, user, pipeline)
    write.found[known] = user


def _person(write: Write, user: int) -> tuple[Name, bool]:
    """A user as a message names them (their login in English, their name for people), and whether active."""
    users = write.compiled.tables["sf_users"]
    row = write.connection.execute(sa.select(users.c.login, users.c.name, users.c.active)
                                   .where(users.c.id == user)).first()
    if row is None:
        return Name(f"#{user}"), False
    return Name(row.login, row.name or row.login), bool(row.active)


def _not_holder(write: Write, process: CompiledProcess, field_id: str, field_roles: tuple[str, ...], user: int,
                pipeline: str | None) -> InvalidValue:
    """Why an item may not be given to user (check_holder): they are deactivated, have no right in the
    item's pipeline, or do not hold the field's role there. A pipeline is named when the process has several."""
    person, active = _person(write, user)
    field, process_id = names.field(process, field_id), process.process.id
    if not active:
        return InvalidValue(tr("field {field}: user {user} is deactivated", field=field, user=person),
                            "choose an active user (`smartflow user list`)", field=field_id)
    named = pipeline if pipeline is not None and len(process.process.pipelines) > 1 else None
    where = dict(process=names.process(process), pipeline=names.pipeline(process, named)) if named else \
        dict(process=names.process(process))
    scope = f" --pipeline {named}" if named else ""
    if field_roles:
        roles = _roles_named(process, field_roles)
        message = tr("field {field}: user {user} does not hold the role {roles} in pipeline {pipeline} of {process}",
                     field=field, user=person, roles=roles, **where) if named else \
            tr("field {field}: user {user} does not hold the role {roles} in {process}",
               field=field, user=person, roles=roles, **where)
        return InvalidValue(message, f"choose a user with the role (`smartflow user list`), or grant it: "
                            f"smartflow user role add {person.id} {field_roles[0]} --process {process_id}{scope}",
                            field=field_id)
    message = tr("field {field}: user {user} has no right in pipeline {pipeline} of {process}",
                 field=field, user=person, **where) if named else \
        tr("field {field}: user {user} has no right in {process}", field=field, user=person, **where)
    return InvalidValue(message, f"choose someone who works there (the picker offers them: `smartflow access "
                        f"{process_id}`), or give them a role there: smartflow user role add {person.id} ROLE "
                        f"--process {process_id}{scope}", field=field_id)


def _kept_across(write: Write, process: CompiledProcess, item: dict[str, Any], pipeline: str) -> list[Any]:
    """Why an item may not move into pipeline as it is: its responsible person, or a user field limited to
    roles that the mover may see, holds someone without a right (or the role) there. A move that should take
    it sets a new one with the move (`Engine.move(values=…)`)."""
    hidden = access.hidden_fields(write.actor, process)
    given = [(field_id, field_roles, user) for field_id, field_roles in
             [("assigned_to", ())] + [(f.id, f.roles) for f in process.process.fields
                                      if f.type == "user" and f.roles and f.id not in hidden]
             for user in _users_in(item.get(field_id))]
    if not given:
        return []
    grants = grants_in_process(write.connection, write.compiled, process.process.id, [u for _, _, u in given])
    problems: list[Any] = []
    for field_id, field_roles, user in given:
        held = grants.get(user)
        if held is not None and may_hold(process, held, pipeline, field_roles):
            continue
        person = _person(write, user)[0]
        problems.append(tr("its responsible person {user} has no right there", user=person) if not field_roles
                        else tr("field {field} holds {user}, who does not hold the role {roles} there",
                                field=names.field(process, field_id), user=person,
                                roles=_roles_named(process, field_roles)))
    return problems


def _roles_named(process: CompiledProcess, role_ids: tuple[str, ...]) -> Any:
    return joined((names.role(process, r) for r in role_ids), tr(" or "))


def _users_in(value: Any) -> list[int]:
    return [v for v in (value if isinstance(value, list) else [value]) if isinstance(v, int)]


def _resolve_references(write: Write, process: CompiledProcess, field: Field, value: Any,
                        current: dict[str, Any] | None = None, pipeline: str | None = None) -> Any:
    if fields.is_empty(value):
        return value
    values = value if field.multiple else [value]
    before = current.get(field.id) if current is not None else None
    kept = set(before if isinstance(before, list) else [before])  # users the field holds already
    resolved = []
    for item in values:
        if field.type == "user":
            item = _user_id(write, item, names.field(process, field.id))
            if field.roles and item not in kept:
                check_holder(write, process, field.id, item, pipeline)
        elif field.type == "link":
            _check_link(write, field, item)
        elif field.type == "file":
            item = _store_file(write, process, field, item, current) if isinstance(item, fields.FileRef) else \
                _held_file(write, field, item, current)
        resolved.append(item)
    return resolved if field.multiple else resolved[0]


def _check_link(write: Write, field: Field, target_id: int) -> None:
    assert field.to is not None
    known = ("link", field.to, target_id, write.actor)  # readable by this actor
    if known in write.found:
        return
    if not 0 < target_id <= fields.MAX_ID:
        raise InvalidValue(f"field `{field.id}`: {target_id} is not an id (a whole number from 1 to {fields.MAX_ID})",
                           f"give the id of an existing {field.to} you may see", field=field.id)
    target = write.compiled.processes[field.to]
    query = sa.select(target.table.c.id).where(target.table.c.id == target_id, target.table.c.deleted_at.is_(None),
                                                access.row_filter(write.actor, target, "read"))
    if write.connection.execute(query).first() is None:
        raise InvalidValue(tr("field {field}: there is no {process} {item}", field=Name(field.id, field.title),
                              process=names.process(target), item=target_id),
                           f"give the id of an existing {field.to} you may see", field=field.id)
    write.found[known] = target_id


def _held_file(write: Write, field: Field, file_id: int, current: dict[str, Any] | None) -> int:
    """A file named by its id: only one the item holds in this very field already (a client sending
    the item back as it read it), never any stored file — which could be another process's, that
    the user may not read. It must still pass the field's `extensions` and `max_size`."""
    held = current.get(field.id) if current is not None else None
    if file_id not in (held if isinstance(held, list) else () if held is None else (held,)):
        raise InvalidValue(f"field `{field.id}`: file #{file_id} is not attached to this item's `{field.id}`; "
                           "a file is given by id only to keep the one the field holds",
                           f"attach a file by uploading it: --set {field.id}=@path", field=field.id)
    files = write.compiled.tables["sf_files"]
    row = write.connection.execute(sa.select(files.c.name, files.c.size, files.c.checksum)
                                   .where(files.c.id == file_id)).first()
    if row is not None:
        try:
            fields.check(replace(field, multiple=False), fields.FileRef(row.name, row.size, row.checksum))
        except fields.ValueProblem as problem:
            raise InvalidValue(f"field `{field.id}`: {problem}", f"attach another file: --set {field.id}=@path",
                               field=field.id) from None
    return file_id


def _store_file(write: Write, process: CompiledProcess, field: Field, ref: fields.FileRef,
                current: dict[str, Any] | None) -> int:
    """An upload (checked by the field's rules already): its bytes into the file store, its row into
    sf_files, for this process, field and item (a create's item is named once it has an id)."""
    return filestore.keep(write.connection, write.compiled.tables, ref.name, ref.size, ref.checksum,
                          ref.content, ref.content_type, now=write.now, process=process.process.id, field=field.id,
                          item_id=current.get("id") if current is not None else None, uploaded_by=write.actor.id)


def _file_ids(process: CompiledProcess, item: dict[str, Any]) -> list[int]:
    """The ids of the files item holds in its file fields."""
    found: list[int] = []
    for field_id in process.file_fields:
        value = item.get(field_id)
        found += [v for v in (value if isinstance(value, list) else [value]) if isinstance(v, int)]
    return found


def _defaults(process: CompiledProcess, given: dict[str, Any], shape: _Shape | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for field in (shape or _shape(process)).defaulted:
        if field.id in given:
            continue
        default = field.default
        if field.type == "date" and default == "today":
            out[field.id] = clock.today()
        elif field.type == "datetime" and default == "now":
            out[field.id] = clock.now()
        else:
            out[field.id] = fields.coerce(field, default)
    return out


def _check_required(process: CompiledProcess, item: dict[str, Any], shape: _Shape | None = None,
                    actor: Actor | None = None) -> None:
    for field in (shape or _shape(process)).required:
        if fields.is_empty(item.get(field.id)):
            if actor is not None and field.id in access.hidden_fields(actor, process):  # counted, never named
                raise InvalidValue(tr("a field you may not see is required, and it is empty"),
                                   "ask someone who may see it to create the item")
            raise InvalidValue(tr("field {field} is required", field=names.field(process, field.id)),
                               f"give it a value: --set {field.id}=…",
                               field=field.id)


def _unique_query(table: sa.Table, key: str, item_id: int | None) -> Any:
    """Another item holding a value (`_value`), other than item `_item_id` when one is given.

    Items in the recycle bin hold no unique values (the unique index leaves them out too).
    """
    query = sa.select(table.c.id).where(table.c[key] == sa.bindparam("_value"), table.c.deleted_at.is_(None))
    return (query.where(table.c.id != sa.bindparam("_item_id")) if item_id is not None else query).limit(1)


def check_unique(write: Write, process: CompiledProcess, values: dict[str, Any], item_id: int | None,
                 restoring: bool = False) -> None:
    for key, value in values.items():
        field = process.fields.get(key)
        if field is None or not field.unique or fields.is_empty(value):
            continue
        table = process.table
        query = built((table, "unique", key, item_id is not None), partial(_unique_query, table, key, item_id))
        clash = write.connection.execute(query, {"_value": fields.stored_scalar(field, value),
                                                 "_item_id": item_id}).scalar()
        if clash is not None:
            readable = write.connection.execute(sa.select(table.c.id).where(
                table.c.id == clash, table.c.deleted_at.is_(None),
                access.row_filter(write.actor, process, "read"))).first()
            owner = tr("{process} {item}", process=names.process(process), item=clash) if readable \
                else tr("another {process}", process=names.process(process))  # no leak
            if restoring:
                raise InvalidValue(f"cannot restore {process.process.id} {item_id}: field `{key}`: "
                                   f"{fields.plain(value)!r} is now used by {owner}",
                                   f"change `{key}` of {owner} first (values of this field must be unique)",
                                   field=key)
            raise InvalidValue(tr("field {field}: {value} is already used by {owner}", field=names.field(process, key),
                                  value=repr(fields.plain(value)), owner=owner),
                               tr("values of this field must be unique"), field=key)


def _columns(process: CompiledProcess, values: dict[str, Any], shape: _Shape | None = None) -> dict[str, Any]:
    columns: dict[str, Any] = {}
    scaled = (shape or _shape(process)).scaled
    multiple = process.values_tables
    for key, value in values.items():
        found = scaled.get(key)
        if found is not None:  # to minor units (money: and its currency column), as fields.to_stored
            places, currency = found
            if currency is None:
                columns[key] = None if value is None else int(value.scaleb(places))
            elif value is None:
                columns[key] = columns[currency] = None
            else:
                columns[key], columns[currency] = int(value["amount"].scaleb(places)), value["currency"]
        elif key not in multiple:  # those have tables of their own
            columns[key] = value  # stored as it is (fields.stored_scalar)
    return columns


def _write_multiple(write: Write, process: CompiledProcess, item_id: int, values: dict[str, Any]) -> None:
    for key, value in values.items():
        field = process.fields.get(key)
        if field is None or not field.multiple:
            continue
        table = process.values_tables[key]
        write.connection.execute(sa.delete(table).where(table.c.item_id == item_id))
        rows = []
        for position, item in enumerate(value):
            row = {"item_id": item_id, "position": position, "value": fields.stored_scalar(field, item)}
            if field.type == "money":
                row["currency"] = item["currency"]
            rows.append(row)
        if rows:
            write.connection.execute(table.insert(), rows)


HISTORY_COLUMNS = ("process", "item_id", "at", "actor_id", "kind", "field", "old", "new", "via", "definition_version")


def _history(write: Write, process: CompiledProcess, item_id: int, kind: str, field: str | None = None,
             old: Any = None, new: Any = None) -> dict[str, Any]:
    return {"process": process.process.id, "item_id": item_id, "at": write.now, "actor_id": write.actor.id,
            "kind": kind, "field": field, "old": fields.plain(old), "new": fields.plain(new), "via": write.via,
            "definition_version": write.compiled.version}


def _record(write: Write, rows: list[dict[str, Any]]) -> None:
    """History rows (each with every column of sf_history but its id), with one INSERT built once;
    while a change's triggers run, held back to go in with the change's own rows."""
    hold(write, "sf_history", rows)


def hold(write: Write, table_name: str, rows: list[dict[str, Any]]) -> None:
    """Rows for a table nothing reads inside a change (the history, the outbox), each with every
    column but its id: inserted now, or, while a change's triggers run, at the end of the change."""
    if write.held is not None:
        write.held.setdefault(table_name, []).extend(rows)
    elif rows:
        _insert(write, table_name, rows)


def _insert(write: Write, table_name: str, rows: list[dict[str, Any]]) -> None:
    table = write.compiled.tables[table_name]
    write.connection.execute(built((table, "insert"), table.insert), rows)


def _record_then_publish(write: Write, process_id: str, item_id: int, rows: list[dict[str, Any]],
                         events: list[Event], item: dict[str, Any] | None = None) -> None:
    """Record a change's history rows and publish its events. When triggers hear them, the rows are
    held while the triggers run, and every history row of the change and of its actions (and of
    their changes, and so on) goes in at the end with one INSERT, in the order recorded, as do the
    actions' outbox messages: one statement (one round trip) per table instead of one per action.
    Nothing reads these tables inside a change; a failure rolls the whole change back (or its
    savepoint, which this call runs in)."""
    if write.held is not None or not events or not watched(write, process_id):
        _record(write, rows)  # nobody listens, or an outer change holds the rows already
        publish(write, process_id, item_id, events, item)
        return
    held = write.held = {"sf_history": list(rows)}
    try:
        publish(write, process_id, item_id, events, item)
    finally:
        write.held = None
    for table_name, table_rows in held.items():
        if table_rows:
            _insert(write, table_name, table_rows)


# ---- operations --------------------------------------------------------------------


@record
class NewItem:
    """An item checked by every rule of a create and ready to be written: what `create` writes one
    at a time and an import writes many at a time (`insert_new`)."""

    process: CompiledProcess
    pipeline: str
    stage: str
    item: dict[str, Any]  # canonical values: the defaults, then the values given
    row: dict[str, Any]  # the item table's columns, system columns included
    filled: frozenset[str] | None = None  # the keys of item whose values are not empty, when known


def create(write: Write, process_id: str, values: dict[str, Any], *, pipeline: str | None = None,
           stage: str | None = None, typed_text: bool = False, item_id: int | None = None) -> int:
    """A new item; returns its id. item_id: the id it must have (an import keeping another system's
    ids, `data/importer.py`, which checks it is free and advances the ids after: `follow_ids`)."""
    new = new_item(write, process_id, values, pipeline=pipeline, stage=stage, typed_text=typed_text)
    if item_id is not None:
        new.row["id"] = item_id
    table = new.process.table
    result = write.connection.execute(built((table, "insert"), table.insert), new.row)
    item_id = int(result.inserted_primary_key[0])
    _write_multiple(write, new.process, item_id, new.item)
    if new.process.file_fields:  # the files uploaded with the item: theirs from now on
        filestore.claim(write.connection, write.compiled.tables, _file_ids(new.process, new.item), item_id)
    _record_then_publish(write, process_id, item_id, [_created_history(write, new, item_id)],
                         [Event("created"), Event("stage_entered", stage=new.stage)])
    _tell_assigned(write, process_id, {"id": item_id, "title": new.item.get("title")}, new.row.get("assigned_to"))
    return item_id


def _tell_assigned(write: Write, process_id: str, item: dict[str, Any], assignee: int | None) -> None:
    """Tell the user made responsible for an item (by someone else) in their inbox and by e-mail; not
    by an import, which loads many items at once (and writes most of them without `create`)."""
    if assignee is None or assignee == write.actor.id or write.via == "import":
        return
    title = fields.plain(item.get("title"))
    who = notices.author(write)
    notices.tell(write, [assignee], process_id, item, "assigned", tr("You are responsible: {title}", title=title),
                 tr("{author} made you responsible for “{title}”.", author=who, title=title))


def new_item(write: Write, process_id: str, values: dict[str, Any], *, pipeline: str | None = None,
             stage: str | None = None, typed_text: bool = False, unique: bool = True,
             canonical: bool = False) -> NewItem:
    """Check a new item by every rule of a create: rights, pipeline and stage, types, references,
    required fields, the stage's required fields and (into a later stage) a transition into it, and
    unique values (unless unique=False: the caller checks them for many items at once). canonical:
    see `prepare`."""
    process = process_of(write, process_id)
    if access.widest(write.actor, process, "create") == "none":
        raise PermissionDenied(tr("you may not create {process} items", process=names.process(process)),
                               "ask for the `create` right")
    chosen = process.process.pipeline(pipeline) if pipeline else process.process.default_pipeline
    if chosen is None:
        pipelines = [p.id for p in process.process.pipelines]
        raise InvalidValue(tr("{process} has no pipeline {pipeline}", process=names.process(process),
                              pipeline=Name(pipeline or "")),
                           did_you_mean(pipeline or "", pipelines) or f"pipelines: {known_list(pipelines)}",
                           field="pipeline")
    if access.level(write.actor, process, "create", chosen.id) == "none":
        mine = [p for p in write.actor.pipelines_in(process_id)
                if access.level(write.actor, process, "create", p) != "none"]
        raise PermissionDenied(tr("you may not create {process} items in pipeline {pipeline}",
                                  process=names.process(process), pipeline=names.pipeline(process, chosen.id)),
                               tr("your roles allow it in pipelines {pipelines} only",
                                  pipelines=joined(names.pipeline(process, p) for p in mine))
                               if mine else "ask for the `create` right")
    stage_id = stage or chosen.stages[0].id
    target = chosen.stage(stage_id)
    if target is None:
        stages = [s.id for s in chosen.stages]
        raise InvalidValue(f"pipeline `{chosen.id}` has no stage `{stage_id}`",
                           did_you_mean(stage_id, stages) or f"stages: {known_list(stages)}", field="stage")
    if stage_id != chosen.stages[0].id and not access.stage_allowed(write.actor, process, stage_id, chosen.id):
        raise PermissionDenied(tr("you may not put items into stage {stage}",
                                  stage=names.stage(process, stage_id, chosen.id)))
    prepared, filled = _prepare(write, process, values, typed_text, canonical, pipeline=chosen.id)
    shape = _shape(process)
    defaults = _defaults(process, prepared, shape)
    item = {**defaults, **prepared}
    if "title" not in item:
        raise InvalidValue(tr("{field} is required", field=names.field(process, "title")), "give it: --set title=…",
                           field="title")
    _check_required(process, item, shape, write.actor)
    # what the conditions read: the item as it would be created, where it would be put
    placed = {"assigned_to": write.actor.id, **item, "pipeline": chosen.id, "stage": stage_id}
    fieldrules.check_create(process, placed, write.actor, filled)
    empty = [f for f in target.required if fields.is_empty(item.get(f))]
    if empty:
        hidden = access.hidden_fields(write.actor, process)
        raise InvalidValue(tr("stage {stage} requires {fields}", stage=names.stage(process, stage_id, chosen.id),
                              fields=named_fields(process, write.actor, empty)),
                           tr("fill them, or create the item in an earlier stage"),
                           field=empty[0] if empty[0] not in hidden else None)
    if stage_id != chosen.stages[0].id:
        refused = entry_problems(process, placed, write.actor)
        if refused:
            raise TransitionNotAllowed(tr("{process} items cannot be put into stage {stage}: {reasons}",
                                          process=names.process(process), reasons=joined(refused, "; "),
                                          stage=names.stage(process, stage_id, chosen.id)), refused,
                                       f"an item created in a later stage is held to the transitions from "
                                       f"`{chosen.stages[0].id}` to it, taken by you: create it in an earlier stage "
                                       "and let someone who may take them move it, or fill what a condition needs")
    if unique:
        check_unique(write, process, item, None)
    system = {"pipeline": chosen.id, "stage": stage_id, "created_by": write.actor.id, "created_at": write.now,
              "updated_by": write.actor.id, "updated_at": write.now, "version": 1,
              "definition_version": write.compiled.version,
              "assigned_to": item.pop("assigned_to", write.actor.id)}
    if target.final:
        system["closed_at"] = write.now
    kept = filled.union(key for key, value in defaults.items() if not fields.is_empty(value))
    kept.discard("assigned_to")
    row = _columns(process, item, shape)
    row.update(system)
    return NewItem(process, chosen.id, stage_id, item, row, frozenset(kept))


def _created_history(write: Write, new: NewItem, item_id: int) -> dict[str, Any]:
    return _history(write, new.process, item_id, "create", None, None, _snapshot(new))


def _snapshot(new: NewItem) -> dict[str, Any]:
    """What a create's history row records: the values given or defaulted, the pipeline and the stage."""
    if new.filled is not None:
        kept = new.filled
        snapshot = {k: v for k, v in new.item.items() if k in kept}
    else:
        snapshot = {k: v for k, v in new.item.items() if not fields.is_empty(v)}
    snapshot["pipeline"], snapshot["stage"] = new.pipeline, new.stage
    return snapshot


def insert_new(write: Write, news: list[NewItem]) -> list[int]:
    """Write checked new items of one process at once: the item rows, their multiple values and
    their history rows, each table's rows in one driver call (bulkwrite: COPY on PostgreSQL, an
    executemany on SQLite, the ids taken first); returns their ids, in the order given. Triggers
    are the caller's: it publishes each item's events, or runs such items through `create` one at
    a time."""
    if not news:
        return []
    process = news[0].process
    table = process.table
    columns = [c.name for c in table.columns if c.name != "id"]
    given = [new.row.get("id") for new in news]
    ids = [int(i) for i in given] if all(i is not None for i in given) else _new_ids(write, table, len(news))
    if ids is None:  # a database we cannot take ids from first: RETURNING, in the order given
        statement = built((table, "insert_many"), lambda: table.insert().returning(
            table.c.id, sort_by_parameter_order=True))
        rows = [{name: new.row.get(name) for name in columns} for new in news]
        ids = [int(i) for i in write.connection.execute(statement, rows).scalars()]
    else:
        insert_rows(write.connection, table, ["id", *columns],
                    [(item_id, *map(new.row.get, columns)) for item_id, new in zip(ids, news, strict=True)])
    for field_id, values_table in process.values_tables.items():
        field = process.fields[field_id]
        money = field.type == "money"
        value_rows: list[tuple[Any, ...]] = []
        for item_id, new in zip(ids, news, strict=True):
            for position, value in enumerate(new.item.get(field_id) or ()):
                stored = fields.stored_scalar(field, value)
                value_rows.append((item_id, position, stored, value["currency"]) if money
                                  else (item_id, position, stored))
        insert_rows(write.connection, values_table,
                    ["item_id", "position", "value", *(["currency"] if money else [])], value_rows)
    # the rows _created_history gives, but for the values: canonical, which the JSON columns' serialiser
    # (db._json_dumps) writes as fields.plain would
    process_id, kind, now, actor, via, version = process.process.id, "create", write.now, write.actor.id, write.via, \
        write.compiled.version
    history = [(process_id, item_id, now, actor, kind, None, None, _snapshot(new), via, version)
               for item_id, new in zip(ids, news, strict=True)]
    insert_rows(write.connection, write.compiled.tables["sf_history"], HISTORY_COLUMNS, history)
    return ids


def _new_ids(write: Write, table: sa.Table, count: int) -> list[int] | None:
    """count ids for new items of table, increasing, taken before they are written (so the rows go in
    one executemany, which cannot return ids in order on SQLite): on PostgreSQL from the table's
    sequence, as its default would; on SQLite after the largest ever given (the table is
    AUTOINCREMENT; the transaction holds the write lock from its start). None elsewhere."""
    dialect = write.connection.dialect.name
    if dialect == "postgresql":
        found = write.connection.execute(sa.text(
            "SELECT nextval(pg_get_serial_sequence(:table, 'id')) FROM generate_series(1, :count)"),
            {"table": table.name, "count": count}).scalars()
        return sorted(int(i) for i in found)
    if dialect == "sqlite":
        last = write.connection.execute(sa.text(
            f'SELECT max(coalesce((SELECT seq FROM sqlite_sequence WHERE name = :table), 0), '
            f'coalesce((SELECT max(id) FROM "{table.name}"), 0))'), {"table": table.name}).scalar_one()
        return list(range(int(last) + 1, int(last) + 1 + count))
    return None


def follow_ids(write: Write, process_id: str) -> None:
    """After items were written with ids of their own (an import keeping another system's): the next id
    a create takes is above them (`bulkwrite.follow_sequence`)."""
    follow_sequence(write.connection, process_of(write, process_id).table)


def taken_ids(write: Write, process_id: str, wanted: list[int]) -> set[int]:
    """Which of wanted are ids of items of the process already (the recycle bin's too)."""
    if not wanted:
        return set()
    table = process_of(write, process_id).table
    return set(write.connection.execute(sa.select(table.c.id).where(table.c.id.in_(set(wanted)))).scalars())


# what every guarded update sets besides the change's own columns
_UPDATE_KEYS = ("version", "updated_by", "updated_at", "definition_version")


def _guarded_update(write: Write, process: CompiledProcess, item: dict[str, Any], columns: dict[str, Any],
                    expected_version: int | None, *, returning: bool = False,
                    changed: tuple[str, ...] = ()) -> dict[str, Any] | None:
    """Write columns if nobody changed the item since it was read (optimistic lock).

    With returning (when the database can), the same statement returns what it wrote: the keys
    changed (field ids and system keys) and the system columns every update sets, decoded as a read
    decodes them, over the item as read: the item after the change (the rest of the row is as read,
    under the row's lock and the version check; its multiple values are the read item's, so only for
    changes that leave them alone). Triggers then need not read it again."""
    if expected_version is not None and expected_version != item["version"]:
        raise _conflict(process, item)
    table = process.table
    returning = returning and write.connection.dialect.update_returning
    row_reader = reader(process, tuple(sorted({*changed, *_UPDATE_KEYS}))) if returning else None

    def build() -> Any:
        statement = sa.update(table).where(table.c.id == sa.bindparam("_item_id"),
                                           table.c.version == sa.bindparam("_read_version"))
        return statement.returning(*row_reader.columns) if row_reader is not None else statement

    values = {**columns, "version": item["version"] + 1, "updated_by": write.actor.id, "updated_at": write.now,
              "definition_version": write.compiled.version, "_item_id": item["id"], "_read_version": item["version"]}
    statement = built((table, "guarded_update", row_reader.keys if row_reader is not None else None), build)
    result = write.connection.execute(statement, values)
    row = result.first() if row_reader is not None else None
    if (row is None) if row_reader is not None else (result.rowcount != 1):
        current = write.connection.execute(sa.select(table.c.stage, table.c.version)
                                           .where(table.c.id == item["id"])).first()
        raise _conflict(process, {**item, **(dict(current._mapping) if current else {})})
    if row_reader is None:
        return None
    return {**item, **row_reader.decode(row)}


def _conflict(process: CompiledProcess, item: dict[str, Any]) -> ConflictError:
    return ConflictError(tr("{process} {item} was changed by someone else; it is now in stage {stage} "
                            "(version {version})",
                            process=names.process(process), item=item["id"],
                            stage=names.stage(process, item["stage"], item.get("pipeline")), version=item["version"]),
                         tr("reload it and try again"))


def update(write: Write, process_id: str, item_id: int, values: dict[str, Any], *,
           expected_version: int | None = None, typed_text: bool = False,
           pipeline: str | None = None) -> dict[str, Any]:
    """Change fields; returns {field: (old, new)} of what changed. pipeline: the one a move made with
    these values takes the item into, where the people they name must have a right (`check_holder`)."""
    process = process_of(write, process_id)
    item = fetch(write, process, item_id, "update", lock=True)
    if expected_version is not None and expected_version != item["version"]:
        raise _conflict(process, item)  # even when nothing would change: the caller decided on a stale copy
    prepared = prepare(write, process, values, typed_text, current=item,
                       pipeline=pipeline if pipeline is not None and process.process.pipeline(pipeline) else None)
    changes = {k: (item.get(k), v) for k, v in prepared.items() if item.get(k) != v}
    if not changes:
        return {}
    after = {**item, **prepared}
    _check_required(process, after, actor=write.actor)
    fieldrules.check_update(process, item, after, write.actor, set(changes))
    pipeline = process.process.pipeline(item["pipeline"])
    stage = pipeline.stage(item["stage"]) if pipeline is not None else None
    assert stage is not None
    emptied = [f for f in stage.required if f in changes and fields.is_empty(after.get(f))]
    if emptied:
        hidden = access.hidden_fields(write.actor, process)
        raise InvalidValue(tr("stage {stage} requires {fields}; it cannot be emptied here",
                              stage=names.stage(process, stage.id, item["pipeline"]),
                              fields=named_fields(process, write.actor, emptied[:1])),
                           field=emptied[0] if emptied[0] not in hidden else None)
    check_unique(write, process, {k: v for k, (_, v) in changes.items()}, item_id)
    # the item as the update leaves it, for triggers: returned by the update unless a multiple value changed
    returning = watched(write, process_id) and not any(f in changes for f in reader(process).multiple)
    after = _guarded_update(write, process, item, _columns(process, {k: v for k, (_, v) in changes.items()}),
                            expected_version, returning=returning, changed=tuple(changes))
    _write_multiple(write, process, item_id, {k: v for k, (_, v) in changes.items()})
    _record_then_publish(write, process_id, item_id, [_history(write, process, item_id, "update", k, old, new)
                                                      for k, (old, new) in changes.items()],
                         changed_events(changes), after)
    if "assigned_to" in changes:
        title = changes["title"][1] if "title" in changes else item.get("title")
        _tell_assigned(write, process_id, {"id": item_id, "title": title}, changes["assigned_to"][1])
    return changes


def move(write: Write, process_id: str, item_id: int, stage: str, *, pipeline: str | None = None,
         expected_version: int | None = None) -> dict[str, Any]:
    """Move to a stage (of another pipeline with pipeline=); every rule must hold."""
    process = process_of(write, process_id)
    item = fetch(write, process, item_id, "read", lock=True)
    denied = right_problems(process, item, write.actor)
    if denied:  # no right to move this item at all (403); the rules of a move refuse it below (409)
        reach = access.level(write.actor, process, "move", item["pipeline"])
        raise PermissionDenied(tr("you may not move {process} {item}: {reason}", process=names.process(process),
                                  item=item_id, reason=denied[0]),
                               f"your roles allow `move: {reach}`")
    if expected_version is not None and expected_version != item["version"]:
        raise _conflict(process, item)
    if pipeline is not None and process.process.pipeline(pipeline) is None:
        known = [p.id for p in process.process.pipelines]
        raise InvalidValue(f"{process_id} has no pipeline `{pipeline}`",
                           did_you_mean(pipeline, known) or f"pipelines: {known_list(known)}", field="pipeline")
    if stage == item["stage"] and (pipeline is None or pipeline == item["pipeline"]):
        raise ConflictError(tr("{process} {item} is already in stage {stage}", process=names.process(process),
                               item=item_id, stage=names.stage(process, stage, item["pipeline"])),
                            tr("someone may have moved it first; reload it"))
    problems = move_problems(process, item, write.actor, stage, pipeline)
    if problems:
        across = pipeline is not None and pipeline != item["pipeline"]  # name the pipelines of a move between them
        source = f"{item['pipeline']}.{item['stage']}" if across else item["stage"]
        target_name = f"{pipeline}.{stage}" if across else stage
        raise TransitionNotAllowed(tr("{process} {item} cannot move from {source} to {target}: {reasons}",
                                      process=names.process(process), item=item_id, reasons=joined(problems, "; "),
                                      source=Name(source) if across else names.stage(process, source, item["pipeline"]),
                                      target=Name(target_name) if across
                                      else names.stage(process, stage, item["pipeline"])),
                                   problems, f"see `smartflow item explain {process_id} "
                                   f"{item_id} --to {stage}{f' --pipeline {pipeline}' if across else ''}`")
    target_pipeline = pipeline or item["pipeline"]
    target = process.pipelines[target_pipeline].pipeline.stage(stage)
    assert target is not None
    kept = _kept_across(write, process, item, target_pipeline) if target_pipeline != item["pipeline"] else []
    if kept:  # an item nobody there may be responsible for would be out of everyone's reach
        raise TransitionNotAllowed(tr("{process} {item} cannot move into pipeline {pipeline}: {reasons}",
                                      process=names.process(process), item=item_id, reasons=joined(kept, "; "),
                                      pipeline=names.pipeline(process, target_pipeline)), kept,
                                   f"give it someone who works in `{target_pipeline}` with the move: smartflow item "
                                   f"move {process_id} {item_id} {stage} --pipeline {target_pipeline} --set "
                                   f"assigned_to=LOGIN (the API: \"values\": {{\"assigned_to\": LOGIN}})")
    columns: dict[str, Any] = {"stage": stage, "pipeline": target_pipeline, "moved_by": write.actor.id,
                               "moved_at": write.now, "closed_at": write.now if target.final else None}
    _guarded_update(write, process, item, columns, None)
    after = _moved(write, item, columns) if watched(write, process_id) else None
    rows = [_history(write, process, item_id, "move", "stage", item["stage"], stage)]
    if target_pipeline != item["pipeline"]:
        rows.append(_history(write, process, item_id, "move", "pipeline", item["pipeline"], target_pipeline))
    _record_then_publish(write, process_id, item_id, rows, [Event("stage_left", stage=item["stage"]),
                                                             Event("stage_entered", stage=stage)], after)
    return {"from": item["stage"], "to": stage, "pipeline": target_pipeline, "version": item["version"] + 1}


def _moved(write: Write, item: dict[str, Any], columns: dict[str, Any]) -> dict[str, Any] | None:
    """The item as a move left it, for triggers, without reading it again nor returning its row:
    the row as read (under the row's lock, and the move's version check held), with what the move
    wrote. A move writes system columns only: names and ids as they are, and one moment, `now`,
    given as a read gives it back — on SQLite the stored wall-clock time read as UTC, on PostgreSQL
    the same instant in the connection's zone (that of the times the read gave). None on other
    databases: the triggers read the item."""
    if write.sqlite:
        now = _aware(write.now.replace(tzinfo=None)) if write.now is not None else None
    elif write.connection.dialect.name == "postgresql":
        zone = item["created_at"].tzinfo
        now = write.now.astimezone(zone) if write.now is not None and zone is not None else write.now
    else:
        return None
    after = {**item, **columns, "version": item["version"] + 1, "updated_by": write.actor.id, "updated_at": now,
             "definition_version": write.compiled.version}
    after.update((key, now) for key, value in columns.items() if value is write.now)
    return after


def delete(write: Write, process_id: str, item_id: int) -> str:
    """To the recycle bin when the process has one, else for good; returns which."""
    process = process_of(write, process_id)
    item = fetch(write, process, item_id, "delete", lock=True)
    publish(write, process_id, item_id, [Event("deleted")], item)  # heard while the item is still there
    table = process.table
    if process.process.features.recycle_bin:
        _guarded_update(write, process, item, {"deleted_at": write.now}, None)
        outcome = "recycle_bin"
    else:
        write.connection.execute(sa.delete(table).where(table.c.id == item_id))
        if process.file_fields:  # gone for good: its files too (a recycle bin keeps them with the item)
            filestore.discard(write.connection, write.compiled.tables, _file_ids(process, item))
        if write.compiled.listener is not None:  # SQLite may give its id to a new item: its jobs must go
            write.compiled.listener.removed(write, process_id, item_id, "the item was deleted")
        outcome = "deleted"
    _record(write, [_history(write, process, item_id, "delete", None, {"title": item["title"]}, None)])
    return outcome


def restore(write: Write, process_id: str, item_id: int) -> None:
    process = process_of(write, process_id)
    if not process.process.features.recycle_bin:
        raise InvalidValue(f"{process_id} has no recycle bin: deleted items are gone",
                           "turn on `features: {recycle_bin: true}` to keep deleted items")
    item = fetch(write, process, item_id, "delete", lock=True, deleted=True)
    held = {f.id: item.get(f.id) for f in process.process.fields if f.unique and not f.multiple}
    check_unique(write, process, held, item_id, restoring=True)  # taken by another item while in the bin?
    _guarded_update(write, process, item, {"deleted_at": None}, None)
    _record(write, [_history(write, process, item_id, "restore")])
