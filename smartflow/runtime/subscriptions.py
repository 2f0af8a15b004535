"""Outbound event subscriptions: a URL that hears when items are created, updated or deleted.

An administrator binds one (through the Bitrix24 facade's `event.bind` today) as themselves: the
subscription hears only the changes to items its user may read, and says only the item's id and
type. A change that a subscription hears leaves a message in `sf_outbox`, in the change's own
transaction, which the worker delivers after commit with a webhook's guarantees (retries with
back-off, an idempotency key, the outbound policy of `automation.outbound`): a rolled-back change
sends nothing and a committed one is sent until it is taken.

Every path that writes items through the runtime is heard (the API, the board, the CLI, an import
that runs triggers, automation's own changes); a write that switches triggers off (an import with
`--no-triggers`) is silent here too.

Whether any subscription exists is read with the deployed version's id, in the same query
(`services.engine`), so a change pays nothing for this when none does.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa

from smartflow.compile.numbers import entity_type_id
from smartflow.errors import InvalidValue, NotFound
from smartflow.runtime import access, items, people
from smartflow.runtime.events import Event

TABLE = "sf_event_bindings"
KINDS = ("created", "updated", "deleted")  # what a subscription hears
FORMATS = ("bitrix24",)
MAX_HANDLER = 2048


def kinds_of(events: list[Event]) -> set[str]:
    """What a change's events are to a subscription: created, updated (a field or a stage), deleted."""
    found = {e.kind for e in events}
    if "created" in found:
        return {"created"}
    if "deleted" in found:
        return {"deleted"}
    return {"updated"} if found & {"updated", "stage_entered", "stage_left", "field_changed"} else set()


# ---- binding -------------------------------------------------------------------------------------

def _table(write: Any) -> sa.Table:
    return write.compiled.tables[TABLE]


def bind(write: Any, kind: str, name: str, handler: str, format_: str, details: dict[str, Any]) -> dict[str, Any]:
    """Subscribe the acting user's handler to kind; the subscription as listed. InvalidValue when the same
    user has bound the same name to the same handler already."""
    if kind not in KINDS or format_ not in FORMATS:
        raise InvalidValue(f"cannot subscribe to `{kind}` in the `{format_}` format",
                           f"subscribe to one of {', '.join(KINDS)}")
    if len(handler) > MAX_HANDLER:
        raise InvalidValue(f"the handler URL is longer than {MAX_HANDLER} characters", "give a shorter URL")
    table = _table(write)
    user_id = write.actor.id
    same = write.connection.execute(sa.select(table.c.id).where(
        table.c.name == name, table.c.handler == handler,
        table.c.user_id.is_(None) if user_id is None else table.c.user_id == user_id)).first()
    if same is not None:
        raise InvalidValue(f"the handler {handler} is bound to {name} already", "unbind it first to bind it again")
    row = {"kind": kind, "name": name, "handler": handler, "user_id": user_id, "format": format_,
           "details": details, "created_at": write.now}
    row["id"] = write.connection.execute(table.insert().values(row)).inserted_primary_key[0]
    return _listed(row)


def unbind(write: Any, name: str, handler: str | None) -> int:
    """Remove the acting user's subscriptions of name (to handler, or to any); how many went."""
    table = _table(write)
    where = [table.c.name == name,
             table.c.user_id.is_(None) if write.actor.id is None else table.c.user_id == write.actor.id]
    if handler:
        where.append(table.c.handler == handler)
    return int(write.connection.execute(sa.delete(table).where(*where)).rowcount or 0)


def listed(write: Any, everyone: bool = False) -> list[dict[str, Any]]:
    """The acting user's subscriptions (everyone's, for an administrator's overview), oldest first."""
    table = _table(write)
    query = sa.select(table).order_by(table.c.id)
    if not everyone:
        query = query.where(table.c.user_id.is_(None) if write.actor.id is None else table.c.user_id == write.actor.id)
    return [_listed(dict(row)) for row in write.connection.execute(query).mappings()]


def _listed(row: dict[str, Any]) -> dict[str, Any]:
    created = row["created_at"]
    return {"id": row["id"], "kind": row["kind"], "name": row["name"], "handler": row["handler"],
            "user_id": row["user_id"], "format": row["format"], "details": row["details"],
            "created_at": created.isoformat() if isinstance(created, datetime) else created}


# ---- hearing a change ------------------------------------------------------------------------------

def heard(write: Any, process_id: str, item_id: int, events: list[Event], item: dict[str, Any] | None) -> None:
    """Leave an outbox message for each subscription that hears this change (inside the change)."""
    kinds = kinds_of(events)
    if not kinds:
        return
    table = _table(write)
    bindings = write.connection.execute(sa.select(table).where(table.c.kind.in_(kinds)).order_by(table.c.id)
                                        ).mappings().all()
    if not bindings:
        return
    process = write.compiled.processes[process_id]
    readers: dict[Any, bool] = {}
    messages = []
    for binding in bindings:
        # once per subscription, item and kind in a transaction: a move given values (an update, then the
        # move) is one update to its handler, as it is one request to Bitrix24
        once = ("subscription", binding["id"], process_id, item_id, binding["kind"])
        if once in write.found:
            continue
        user_id = binding["user_id"]
        if user_id not in readers:
            readers[user_id] = _reads(write, process, item_id, user_id)
        if readers[user_id]:
            write.found[once] = 1
            messages.append(_message(write, dict(binding), process_id, item_id))
    if messages:
        items.hold(write, "sf_outbox", [{"kind": "webhook", "payload": m, "status": "pending", "attempts": 0,
                                         "next_attempt_at": write.now, "created_at": write.now} for m in messages])


def _reads(write: Any, process: Any, item_id: int, user_id: int | None) -> bool:
    """Whether the subscription's user may read the item now (deleted items: as they were)."""
    if user_id is None:
        return True  # the local administrator
    users = write.compiled.tables["sf_users"]
    login = write.connection.execute(sa.select(users.c.login).where(users.c.id == user_id,
                                                                    users.c.active.is_(True))).scalar()
    if login is None:
        return False  # deactivated: their subscriptions fall silent
    try:
        actor = people.resolve_actor(write.connection, write.compiled, login)
    except NotFound:
        return False
    table = process.table
    query = sa.select(table.c.id).where(table.c.id == item_id, access.row_filter(actor, process, "read"))
    return write.connection.execute(query).first() is not None


def _message(write: Any, binding: dict[str, Any], process_id: str, item_id: int) -> dict[str, Any]:
    """The outbox payload of one subscription hearing one change (only the format `bitrix24` so far)."""
    table = write.compiled.tables["sf_numbers"]
    numbers: dict[str, dict[str, int]] = {}
    for kind, number in write.connection.execute(sa.select(table.c.kind, table.c.number).where(
            table.c.kind.in_(("entity", "type")), table.c.key == process_id)):
        numbers[kind] = {process_id: number}
    entity = entity_type_id(numbers, process_id)
    details = binding["details"] or {}
    form = {"event": binding["name"], "event_handler_id": binding["id"],
            "data": {"FIELDS": {"ID": item_id,
                                "ENTITY_TYPE_ID": entity if entity is not None else process_id}},
            "ts": int(write.now.timestamp()),
            "auth": {"domain": details.get("domain", ""), "client_endpoint": details.get("client_endpoint", ""),
                     "server_endpoint": "", "member_id": details.get("member_id", ""),
                     "application_token": details.get("application_token", "")}}
    return {"url": binding["handler"], "method": "POST", "form": form}
