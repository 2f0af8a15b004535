"""Observers of an item (`features: observers`): the people who follow it without being responsible.

An observer reads the item whatever their read level short of `none` says (`access.row_filter`, the
one place read rights are decided), is told in their inbox when they are added, and is notified by
the process's `notify` actions that name `observers`. Adding or removing one is a change to the item:
it needs the `update` right over it, and is written in its history (field `observers`).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import sqlalchemy as sa

from smartflow.errors import InvalidValue
from smartflow.i18n import tr
from smartflow.runtime import fields, notices
from smartflow.runtime.compiled import CompiledProcess
from smartflow.runtime.items import Write, _history, _record, fetch, process_of
from smartflow.runtime.people import members, user_id

FIELD = "observers"  # the name observers go by in history rows and in the values of a create or update


def _table(process: CompiledProcess) -> sa.Table:
    if process.observers is None:
        raise InvalidValue(f"{process.process.id} has no observers",
                           "turn on `features: {observers: true}` in its definition and apply it", field=FIELD)
    return process.observers


def held(write: Write, process: CompiledProcess, item_id: int) -> list[int]:
    """The ids of the item's observers, in the order of their ids (the item read already)."""
    table = _table(process)
    rows = write.connection.execute(sa.select(table.c.user_id).where(table.c.item_id == item_id)
                                    .order_by(table.c.user_id))
    return [int(user) for user in rows.scalars()]


def of_item(write: Write, process_id: str, item_id: int) -> list[dict[str, Any]]:
    """The item's observers (id, login, name); NotFound when the actor may not read the item."""
    process = process_of(write, process_id)
    fetch(write, process, item_id)
    ids = held(write, process, item_id)
    users = write.compiled.tables["sf_users"]
    rows = write.connection.execute(sa.select(users.c.id, users.c.login, users.c.name)
                                    .where(users.c.id.in_(ids)).order_by(users.c.login)) if ids else []
    return [{"id": r.id, "login": r.login, "name": r.name or r.login} for r in rows]


def people_of(value: Any) -> list[Any]:
    """The users a value names: a list, or text with logins (or `#id`s) separated by commas."""
    if value is None or value == "":
        return []
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    if isinstance(value, (list, tuple)):
        return list(value)
    return [value]


def _user(write: Write, value: Any) -> int:
    found = user_id(write.connection, write.compiled, value)
    if found is None:
        named = f"#{value}" if isinstance(value, int) else repr(value)
        raise InvalidValue(f"field `{FIELD}`: there is no user {named}", "run `smartflow user list`; "
                           "a user is given by login, or by id as `#12`", field=FIELD)
    return found


def _check_new(write: Write, process: CompiledProcess, found: int, value: Any, pipeline: str) -> None:
    """A new observer is an active user with some right in the process, for the item's pipeline (one who
    could not see it would observe nothing)."""
    users = write.compiled.tables["sf_users"]
    active = write.connection.execute(sa.select(users.c.active).where(users.c.id == found)).scalar()
    if not active:
        raise InvalidValue(f"field `{FIELD}`: user {value!r} is deactivated", "choose an active user", field=FIELD)
    if found not in members(write.connection, write.compiled, process.process.id, pipeline):
        raise InvalidValue(f"field `{FIELD}`: user {value!r} has no role in {process.process.id}, so could not see it",
                           f"give them a role first: smartflow user role add LOGIN ROLE --process {process.process.id}",
                           field=FIELD)


def change(write: Write, process_id: str, item_id: int, *, add: Iterable[Any] = (), remove: Iterable[Any] = (),
           replace: Iterable[Any] | None = None) -> list[int]:
    """Add and remove observers (or, with replace, make them exactly those); returns the observers after.
    Needs the `update` right over the item; the added ones find a note in their inbox."""
    process = process_of(write, process_id)
    table = _table(process)
    item = fetch(write, process, item_id, "update", lock=True)
    before = held(write, process, item_id)
    given = {_user(write, u): u for u in (replace if replace is not None else add)}
    if replace is not None:
        wanted = list(given)
    else:
        dropped = {_user(write, u) for u in remove}
        wanted = [u for u in before if u not in dropped] + [u for u in given if u not in before]
    gone = [u for u in before if u not in wanted]
    new = [u for u in wanted if u not in before]
    for user in new:
        _check_new(write, process, user, given[user], item["pipeline"])
    if not gone and not new:
        return before
    if gone:
        write.connection.execute(sa.delete(table).where(table.c.item_id == item_id, table.c.user_id.in_(gone)))
    if new:
        write.connection.execute(table.insert(), [{"item_id": item_id, "user_id": u} for u in new])
        _tell(write, process, item, new)
    after = sorted(wanted)
    _record(write, [_history(write, process, item_id, "update", FIELD, before, after)])
    return after


def _tell(write: Write, process: CompiledProcess, item: dict[str, Any], users: list[int]) -> None:
    """A note in the inbox of each user made an observer (not of one who added themselves)."""
    title = fields.plain(item.get("title"))
    notices.tell(write, [user for user in users if user != write.actor.id], process.process.id, item, "observer",
                 tr("You observe: {title}", title=title),
                 tr("{author} made you an observer of “{title}”.", author=notices.author(write), title=title))
