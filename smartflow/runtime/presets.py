"""Filters people save for themselves on a process's views ("my presets"): a title and the view's query
string. Each user sees, uses and deletes only their own; the shared presets come from the definition
(`list.presets`) and are not stored here.

What a saved query means is the view's (it is the address the board shows for the filter), so one
saved on the board opens the same filter for the same user on any of the process's views."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from smartflow.errors import InvalidValue, NotDeployed, NotFound
from smartflow.i18n import tr
from smartflow.runtime import fields, names
from smartflow.runtime.items import Write, process_of

TABLE = "sf_presets"
MAX_TITLE = 100  # characters of a preset's title
MAX_QUERY = 2000  # characters of its query string (an address's part a browser keeps whole)
MAX_PER_PROCESS = 50  # presets one user keeps on one process


def has_table(write: Write, cache: dict[str, Any]) -> bool:
    """Whether the database has the presets' table (one deployed before it has not)."""
    if not cache.get("presets"):
        cache["presets"] = sa.inspect(write.connection).has_table(TABLE) or None
    return bool(cache["presets"])


def require_table(write: Write, cache: dict[str, Any]) -> None:
    if not has_table(write, cache):
        raise NotDeployed("this database has no table for saved filters yet",
                          "run `smartflow apply` once to create smartflow's new system tables")


def _table(write: Write) -> sa.Table:
    return write.compiled.tables[TABLE]


# What the preset's texts are called in its refusals.
_WHAT = {"title": tr("preset's title"), "filter": tr("preset's filter")}


def _text(value: Any, what: str, limit: int, field: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise InvalidValue(tr("the {what} is empty", what=_WHAT[what]), f"give the preset a {what}", field=field)
    text = value.strip()
    if len(text) > limit:
        raise InvalidValue(tr("the {what} is longer than {limit} characters", what=_WHAT[what], limit=limit),
                           tr("shorten it"), field=field)
    problem = fields.text_problem(text)
    if problem is not None:
        raise InvalidValue(tr("the {what} {problem}", what=_WHAT[what], problem=problem), "send plain text",
                           field=field)
    return text


def own(write: Write, process_id: str) -> list[dict[str, Any]]:
    """The actor's presets of a process, oldest first: id, title, query."""
    process_of(write, process_id)  # a process they have no right in is missing to them
    table = _table(write)
    rows = write.connection.execute(sa.select(table.c.id, table.c.title, table.c.query).where(
        table.c.user_id == write.actor.id, table.c.process == process_id).order_by(table.c.id))
    return [{"id": row.id, "title": row.title, "query": row.query} for row in rows]


def save(write: Write, process_id: str, title: Any, query: Any) -> dict[str, Any]:
    """Keep a filter for the actor under a title (one of the same title is replaced)."""
    process_of(write, process_id)
    if write.actor.id is None:
        raise InvalidValue(tr("the local administrator has no presets of their own"), tr("sign in as a user"))
    name = _text(title, "title", MAX_TITLE, "title")
    kept = query.strip().lstrip("?") if isinstance(query, str) else query
    if kept == "":
        raise InvalidValue(tr("the preset has no filter"), tr("choose a filter first, then save it"), field="query")
    kept = _text(kept, "filter", MAX_QUERY, "query")
    table = _table(write)
    mine = sa.and_(table.c.user_id == write.actor.id, table.c.process == process_id)
    write.connection.execute(sa.delete(table).where(mine, table.c.title == name))
    held = write.connection.execute(sa.select(sa.func.count()).select_from(table).where(mine)).scalar_one()
    if held >= MAX_PER_PROCESS:
        raise InvalidValue(tr("you keep {count} presets on {process} already, the most there may be", count=held,
                              process=names.process(process_of(write, process_id))),
                           tr("delete one you no longer use"))
    inserted = write.connection.execute(table.insert().values(
        user_id=write.actor.id, process=process_id, title=name, query=kept, created_at=write.now))
    new_id = inserted.inserted_primary_key[0]
    return {"id": int(new_id), "title": name, "query": kept}


def delete(write: Write, process_id: str, preset_id: int) -> None:
    """Delete one of the actor's presets (NotFound alike for another's and a missing one)."""
    table = _table(write)
    gone = write.connection.execute(sa.delete(table).where(
        table.c.id == preset_id, table.c.user_id == write.actor.id, table.c.process == process_id)).rowcount
    if not gone:
        raise NotFound(tr("you have no preset {preset} on {process}", preset=preset_id,
                          process=names.process(process_of(write, process_id))), tr("choose one of your presets"))
