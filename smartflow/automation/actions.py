"""What each trigger action does. Item changes go through the same services people use
(runtime/items.py), as the trigger's identity; messages and webhooks go to the outbox."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from smartflow.automation.compiled import CompiledTrigger, plain_json
from smartflow.definitions.model import Action
from smartflow.errors import AutomationFailed, InvalidValue
from smartflow.runtime import items
from smartflow.runtime.people import user_id

PEOPLE = ("assigned_to", "created_by")


def run_action(write: Any, trigger: CompiledTrigger, index: int, action: Action, item: dict[str, Any],
               values: dict[str, Any]) -> None:
    handler = _HANDLERS[action.kind]
    handler(write, trigger, index, action.params, item, values)


def _value(trigger: CompiledTrigger, index: int, key: str, raw: Any, values: dict[str, Any],
           user_keys: frozenset[str] = frozenset()) -> Any:
    name = f"{index}.{key}"
    if name not in trigger.templates:
        return raw
    text = trigger.text(index, key, values)
    if key.rsplit(".", 1)[-1] in user_keys:
        # templates see users as ids, so a rendered user is an id: `#3`, since plain text is a login
        parts = [part.strip() for part in text.split(",")]
        if parts and all(part.isdigit() for part in parts):
            return ",".join(f"#{part}" for part in parts)
    return text


def _user_keys(write: Any, process_id: str) -> frozenset[str]:
    process = write.compiled.processes[process_id].process
    return frozenset(("assigned_to", *(f.id for f in process.fields if f.type == "user")))


def _set(write: Any, trigger: CompiledTrigger, index: int, params: dict[str, Any], item: dict[str, Any],
         values: dict[str, Any]) -> None:
    users = _user_keys(write, trigger.process.id)
    given = {k: _value(trigger, index, f"set.{k}", v, values, users) for k, v in params.items()}
    items.update(write, trigger.process.id, item["id"], given, typed_text=True)


def _move(write: Any, trigger: CompiledTrigger, index: int, params: Any, item: dict[str, Any],
          values: dict[str, Any]) -> None:
    stage = params if isinstance(params, str) else params["stage"]
    pipeline = None if isinstance(params, str) else params.get("pipeline")
    if stage == item["stage"] and (pipeline is None or pipeline == item["pipeline"]):
        return  # already there: nothing to do
    items.move(write, trigger.process.id, item["id"], stage, pipeline=pipeline)


def _create_item(write: Any, trigger: CompiledTrigger, index: int, params: dict[str, Any], item: dict[str, Any],
                 values: dict[str, Any]) -> None:
    users = _user_keys(write, params["process"])
    given = {k: _value(trigger, index, f"fields.{k}", v, values, users)
             for k, v in (params.get("fields") or {}).items()}
    given["title"] = trigger.text(index, "title", values) if "title" in params else item["title"]
    if params.get("link"):
        given[params["link"]] = item["id"]
    items.create(write, params["process"], given, pipeline=params.get("pipeline"), stage=params.get("stage"),
                 typed_text=True)


def _assign(write: Any, trigger: CompiledTrigger, index: int, params: dict[str, Any], item: dict[str, Any],
            values: dict[str, Any]) -> None:
    if "user" in params:
        items.update(write, trigger.process.id, item["id"], {"assigned_to": params["user"]})
        return
    candidates = _candidates(write, params)
    if not candidates:
        what = f"role `{params['role']}`" if "role" in params else f"department `{params.get('department')}`"
        raise AutomationFailed(f"nobody has the {what} to assign to",
                               "add users with that role or department")
    if params.get("strategy") == "least_busy":
        chosen = _least_busy(write, trigger, candidates, item["id"])
    else:
        chosen = _round_robin(write, f"round_robin:{trigger.name}:{index}", candidates)
    if chosen != item.get("assigned_to"):
        items.update(write, trigger.process.id, item["id"], {"assigned_to": chosen})


def _candidates(write: Any, params: dict[str, Any]) -> list[int]:
    tables = write.compiled.metadata.tables
    users, grants = tables["sf_users"], tables["sf_user_roles"]
    query = sa.select(users.c.id).where(users.c.active.is_(True)).order_by(users.c.id)
    if "role" in params:
        query = query.where(users.c.id.in_(sa.select(grants.c.user_id).where(grants.c.role == params["role"])))
    if "department" in params:
        query = query.where(users.c.department_id == params["department"])
    return [int(i) for i in write.connection.execute(query).scalars()]


def _round_robin(write: Any, key: str, candidates: list[int]) -> int:
    """The candidate after the one this action picked last (by user id), the first if none.

    The last pick is kept in sf_counters, so the rotation advances even when a pick leaves
    the item's assignee unchanged (nothing is then written to the item's history).
    """
    counters = write.compiled.metadata.tables["sf_counters"]
    last = write.connection.execute(sa.select(counters.c.value).where(counters.c.key == key)).scalar()
    chosen = candidates[0]
    if last is not None:
        chosen = next((c for c in candidates if c > last), candidates[0])
    if last is None:
        write.connection.execute(counters.insert().values(key=key, value=chosen))
    else:
        write.connection.execute(sa.update(counters).where(counters.c.key == key).values(value=chosen))
    return chosen


def _least_busy(write: Any, trigger: CompiledTrigger, candidates: list[int], item_id: int) -> int:
    """The candidate with the fewest open items of this process (lowest id on a tie), this one aside."""
    table = write.compiled.processes[trigger.process.id].table
    counts = dict(write.connection.execute(
        sa.select(table.c.assigned_to, sa.func.count()).where(
            table.c.assigned_to.in_(candidates), table.c.closed_at.is_(None), table.c.deleted_at.is_(None),
            table.c.id != item_id)
        .group_by(table.c.assigned_to)).all())
    return min(candidates, key=lambda user: (counts.get(user, 0), user))


def _recipients(write: Any, trigger: CompiledTrigger, params: dict[str, Any], item: dict[str, Any]) -> list[int]:
    tables = write.compiled.metadata.tables
    found: list[int] = []
    for name in params.get("users") or []:
        if name.startswith("@"):

            user = user_id(write.connection, write.compiled, name[1:])
            if user is None:
                raise AutomationFailed(f"there is no user `{name[1:]}` to notify")
            found.append(user)
        elif name == "observers":
            observers = write.compiled.processes[trigger.process.id].observers
            if observers is not None:
                found += list(write.connection.execute(
                    sa.select(observers.c.user_id).where(observers.c.item_id == item["id"])).scalars())
        else:
            value = item.get(name)
            found += value if isinstance(value, list) else ([value] if value is not None else [])
    grants = tables["sf_user_roles"]
    for role in params.get("roles") or []:
        found += list(write.connection.execute(sa.select(grants.c.user_id).where(grants.c.role == role)).scalars())
    return list(dict.fromkeys(int(u) for u in found))


def _notify(write: Any, trigger: CompiledTrigger, index: int, params: dict[str, Any], item: dict[str, Any],
            values: dict[str, Any]) -> None:
    recipients = _recipients(write, trigger, params, item)
    message = trigger.text(index, "message", values)
    subject = trigger.text(index, "subject", values) if "subject" in params else None
    _outbox(write, "notify", {"recipients": recipients, "subject": subject, "message": message,
                              "process": trigger.process.id, "item_id": item["id"], "trigger": trigger.name})


def _webhook(write: Any, trigger: CompiledTrigger, index: int, params: dict[str, Any], item: dict[str, Any],
             values: dict[str, Any]) -> None:
    body = plain_json(trigger.text(index, "body", values)) if "body" in params else {
        "process": trigger.process.id, "item_id": item["id"], "trigger": trigger.name}
    _outbox(write, "webhook", {"url": params["url"], "method": params.get("method", "POST"),
                               "headers": params.get("headers") or {}, "body": body, "trigger": trigger.name})


def _outbox(write: Any, kind: str, payload: dict[str, Any]) -> None:
    outbox = write.compiled.metadata.tables["sf_outbox"]
    write.connection.execute(items.built((outbox, "insert"), outbox.insert), {
        "kind": kind, "payload": payload, "status": "pending", "attempts": 0, "next_attempt_at": write.now,
        "created_at": write.now})


def _comment(write: Any, trigger: CompiledTrigger, index: int, params: str, item: dict[str, Any],
             values: dict[str, Any]) -> None:
    text = trigger.text(index, "comment", values)
    if not text.strip():
        raise InvalidValue("the comment is empty")
    items._record(write, [{"process": trigger.process.id, "item_id": item["id"], "at": write.now, "actor_id": None,
                           "kind": "comment", "field": None, "old": None, "new": text, "via": write.via,
                           "definition_version": write.compiled.version}])


_HANDLERS = {"set": _set, "move": _move, "create_item": _create_item, "assign": _assign, "notify": _notify,
             "webhook": _webhook, "comment": _comment}
