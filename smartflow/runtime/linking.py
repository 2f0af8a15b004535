"""Links and people as a user finds them: the titles of linked items (one query per linked process for
a whole page), a link picker's search of a process's titles, a user picker's search of people (a field's
`roles` kept), and the recycle bin's items — each within the actor's read rights (`access.row_filter`).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import sqlalchemy as sa

from smartflow.definitions.hints import did_you_mean, known_list
from smartflow.errors import InvalidValue, NotFound
from smartflow.runtime import access, fields, people
from smartflow.runtime.items import Write, process_of
from smartflow.runtime.query import casefold, visible

PICK_LIMIT = 20  # the options a picker offers at most


def _ids(value: Any) -> list[int]:
    values = value if isinstance(value, list) else [value]
    return [v for v in values if isinstance(v, int) and not isinstance(v, bool) and 0 < v <= fields.MAX_ID]


def titles(write: Write, process_id: str, items: Iterable[dict[str, Any]],
           extra: Iterable[tuple[str, Any]] = ()) -> dict[str, dict[int, str]]:
    """The titles of the items the link fields of items point to, by linked process and id: one query per
    linked process, however many items and fields. Fields hidden from the actor are left out; a linked item
    the actor may not read (or deleted) is not in the answer — it shows as its id. extra: more
    (field id, value) pairs to resolve (history rows)."""
    process = process_of(write, process_id)
    hidden = access.hidden_fields(write.actor, process)
    links = {f.id: f.to for f in process.process.fields if f.type == "link" and f.to and f.id not in hidden}
    wanted: dict[str, set[int]] = {}
    if links:
        for item in items:
            for field_id, target in links.items():
                wanted.setdefault(target, set()).update(_ids(item.get(field_id)))
        for field_id, value in extra:
            if field_id in links:
                wanted.setdefault(links[field_id], set()).update(_ids(value))
    found: dict[str, dict[int, str]] = {}
    for target_id, ids in wanted.items():
        target = write.compiled.processes.get(target_id)
        if not ids or target is None or not access.visible(write.actor, target):
            continue
        table = target.table
        rows = write.connection.execute(sa.select(table.c.id, table.c.title)
                                        .where(table.c.id.in_(sorted(ids)), visible(write, target)))
        found[target_id] = {row.id: row.title for row in rows}
    return found


def _pattern(text: str) -> str:
    escaped = text.casefold().replace("/", "//").replace("%", "/%").replace("_", "/_")
    return f"%{escaped}%"


def lookup(write: Write, process_id: str, text: str = "", limit: int = PICK_LIMIT) -> list[dict[str, Any]]:
    """Items of a process whose title contains text (any case), or whose id it is (`31`, `#31`), that the
    actor may read: what a link picker offers, by title."""
    process = process_of(write, process_id)
    text = (text or "").strip()
    if len(text) > 200:
        raise InvalidValue("a search is at most 200 characters", field="search")
    table = process.table
    query = sa.select(table.c.id, table.c.title).where(visible(write, process))
    if text:
        found = [casefold(write.connection, table.c.title).like(_pattern(text), escape="/")]
        number = text.removeprefix("#")
        if number.isascii() and number.isdigit() and 0 < int(number) <= fields.MAX_ID:
            found.append(table.c.id == int(number))
        query = query.where(sa.or_(*found))
    rows = write.connection.execute(query.order_by(table.c.title, table.c.id).limit(max(1, min(limit, 100))))
    return [{"id": row.id, "title": row.title} for row in rows]


def pickable_people(write: Write, process_id: str, field_id: str | None = None, text: str = "",
                    limit: int | None = PICK_LIMIT, pipeline: str | None = None) -> list[dict[str, Any]]:
    """The active users a user field (or the responsible person, without field_id) of a process may hold,
    whose login or name contains text: the members of the process (of its pipeline, when given), and
    of a field with `roles` only those holding one of them there (`people.may_hold`, which writes check
    too). limit: at most 100; None: all (a list the board fills whole)."""
    process = process_of(write, process_id)
    field_roles: tuple[str, ...] = ()
    if field_id and field_id not in ("assigned_to", "observers"):
        field = process.fields.get(field_id)
        if field is None or field.type != "user" or field_id in access.hidden_fields(write.actor, process):
            raise InvalidValue(f"{process_id} has no user field `{field_id}`", field="field")
        field_roles = field.roles
    if pipeline is not None and process.process.pipeline(pipeline) is None:
        known = [p.id for p in process.process.pipelines]
        raise InvalidValue(f"{process_id} has no pipeline `{pipeline}`",
                           did_you_mean(pipeline, known) or f"pipelines: {known_list(known)}", field="pipeline")
    members = [user for user, held in people.grants_in_process(write.connection, write.compiled, process_id).items()
               if people.may_hold(process, held, pipeline, field_roles)]
    if not members:
        return []
    users = write.compiled.tables["sf_users"]
    rows = write.connection.execute(sa.select(users.c.id, users.c.login, users.c.name)
                                    .where(users.c.id.in_(members)).order_by(users.c.name, users.c.login))
    wanted = (text or "").strip().casefold()
    found = [{"id": r.id, "login": r.login, "name": r.name or r.login} for r in rows
             if not wanted or wanted in r.login.casefold() or wanted in (r.name or "").casefold()]
    return found if limit is None else found[:max(1, min(limit, 100))]


def recycle_bin(write: Write, process_id: str, limit: int = 200) -> list[dict[str, Any]]:
    """The deleted items of a process the actor may restore (read them, and their `delete` level reaches
    them), most recently deleted first."""
    process = process_of(write, process_id)
    if not process.process.features.recycle_bin:
        raise InvalidValue(f"{process_id} has no recycle bin: deleted items are gone",
                           "turn on `features: {recycle_bin: true}` to keep deleted items")
    table = process.table
    rows = write.connection.execute(
        sa.select(table.c.id, table.c.title, table.c.stage, table.c.pipeline, table.c.deleted_at,
                  table.c.assigned_to)
        .where(table.c.deleted_at.is_not(None), access.row_filter(write.actor, process, "read"),
               access.row_filter(write.actor, process, "delete"))
        .order_by(table.c.deleted_at.desc(), table.c.id.desc()).limit(max(1, min(limit, 1000))))
    return [dict(row._mapping) for row in rows]


def linked_from(write: Write, process_id: str) -> list[dict[str, Any]]:
    """The (process, single link field) pairs pointing to process whose items the actor may create with that
    field set: what a card offers as "create a linked item"."""
    process_of(write, process_id)
    found: list[dict[str, Any]] = []
    for definition in write.compiled.definition.processes:
        pointing = [f for f in definition.fields if f.type == "link" and f.to == process_id and not f.multiple]
        if not pointing:
            continue  # (its tables are built only when a process is used)
        other = write.compiled.processes[definition.id]
        if not access.visible(write.actor, other) or access.widest(write.actor, other, "create") == "none":
            continue
        hidden = access.hidden_fields(write.actor, other) | access.read_only_fields(write.actor, other)
        found += [{"process": definition.id, "field": f.id, "process_title": dict(definition.title.values),
                   "field_title": dict(f.title.values) if f.title else None} for f in pointing if f.id not in hidden]
    return found


class Linked(int):
    """A link field's value in a notification's text: the id (it compares and computes as the id) that prints
    as the linked item's title with its id, "Иванов Пётр (#31)" — for a reader who may read that item."""

    title: str = ""

    def __new__(cls, value: int, title: str) -> Linked:
        made = super().__new__(cls, value)
        made.title = title
        return made

    def __str__(self) -> str:
        return f"{self.title} (#{int(self)})"

    __repr__ = __str__


def titles_for_readers(write: Write, process_id: str, item: dict[str, Any], field_ids: Iterable[str],
                       user_ids: list[int]) -> dict[int, dict[str, Any]]:
    """Per reader, the item's single link fields among field_ids as `Linked` values where the reader may read
    the linked item (the others stay ids): one query per linked process and reader, for the few people a
    notification goes to."""
    process = write.compiled.processes[process_id]
    wanted = {f.id: (f.to, item.get(f.id)) for f in process.process.fields
              if f.id in set(field_ids) and f.type == "link" and not f.multiple and f.to and _ids(item.get(f.id))}
    if not wanted or not user_ids:
        return {user: {} for user in user_ids}
    users = write.compiled.tables["sf_users"]
    logins = dict(write.connection.execute(sa.select(users.c.id, users.c.login).where(users.c.id.in_(user_ids))).all())
    found: dict[int, dict[str, Any]] = {}
    for user in user_ids:
        login = logins.get(user)
        try:
            reader = people.resolve_actor(write.connection, write.compiled, login) if login else None
        except NotFound:  # deactivated: reads no title
            reader = None
        if reader is None:
            found[user] = {}
            continue
        shown: dict[str, Any] = {}
        for target_id in {target for target, _ in wanted.values()}:
            target = write.compiled.processes.get(target_id or "")
            if target is None or not access.visible(reader, target):
                continue
            ids = [value for to, value in wanted.values() if to == target_id]
            table = target.table
            titles = dict(write.connection.execute(sa.select(table.c.id, table.c.title).where(
                table.c.id.in_(ids), table.c.deleted_at.is_(None),
                access.row_filter(reader, target, "read"))).all())
            shown.update({field_id: Linked(value, titles[value]) for field_id, (to, value) in wanted.items()
                          if to == target_id and value in titles})
        found[user] = shown
    return found
