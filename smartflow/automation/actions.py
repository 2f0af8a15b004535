"""What each trigger action does. Item changes go through the same services people use
(runtime/items.py), as the trigger's identity; messages and webhooks go to the outbox."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from jinja2.sandbox import SecurityError

from smartflow.automation.compiled import CompiledTrigger, plain_json
from smartflow.definitions.model import Action
from smartflow.errors import AutomationFailed, InvalidValue
from smartflow.runtime import items, linking, people, timeline
from smartflow.runtime.access import hidden_fields
from smartflow.runtime.people import user_id

PEOPLE = ("assigned_to", "created_by")


def run_action(write: Any, trigger: CompiledTrigger, index: int, action: Action, item: dict[str, Any],
               values: dict[str, Any]) -> None:
    handler = _HANDLERS[action.kind]
    handler(write, trigger, index, action.params, item, values)


def _value(trigger: CompiledTrigger, index: int, key: str, raw: Any, values: dict[str, Any],
           user_keys: frozenset[str] = frozenset(), hidden: frozenset[str] = frozenset()) -> Any:
    name = f"{index}.{key}"
    if name not in trigger.templates:
        return raw
    text = _masked_text(trigger, index, key, values, hidden)
    if key.rsplit(".", 1)[-1] in user_keys:
        # templates see users as ids, so a rendered user is an id: `#3`, since plain text is a login
        parts = [part.strip() for part in text.split(",")]
        if parts and all(part.isdigit() for part in parts):
            return ",".join(f"#{part}" for part in parts)
    return text


def _user_keys(write: Any, process_id: str) -> frozenset[str]:
    """The keys of a process that name users (once per deployed version)."""
    compiled = write.compiled.processes[process_id]
    found: frozenset[str] = items.built((compiled.table, "user_keys"), lambda: frozenset(
        ("assigned_to", *(f.id for f in compiled.process.fields if f.type == "user"))))
    return found


def _set(write: Any, trigger: CompiledTrigger, index: int, params: dict[str, Any], item: dict[str, Any],
         values: dict[str, Any]) -> None:
    users = _user_keys(write, trigger.process.id)
    hidden = hidden_fields(write.actor, write.compiled.processes[trigger.process.id])  # the trigger identity's
    given = {k: _value(trigger, index, f"set.{k}", v, values, users, hidden) for k, v in params.items()}
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
    hidden = hidden_fields(write.actor, write.compiled.processes[trigger.process.id])
    given = {k: _value(trigger, index, f"fields.{k}", v, values, users, hidden)
             for k, v in (params.get("fields") or {}).items()}
    given["title"] = _masked_text(trigger, index, "title", values, hidden) if "title" in params else item["title"]
    if params.get("link"):
        given[params["link"]] = item["id"]
    items.create(write, params["process"], given, pipeline=params.get("pipeline"), stage=params.get("stage"),
                 typed_text=True)


def _assign(write: Any, trigger: CompiledTrigger, index: int, params: dict[str, Any], item: dict[str, Any],
            values: dict[str, Any]) -> None:
    if "user" in params:
        items.update(write, trigger.process.id, item["id"], {"assigned_to": params["user"]})
        return
    candidates = _candidates(write, trigger.process.id, params, item["pipeline"])
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


def _candidates(write: Any, process_id: str, params: dict[str, Any], pipeline: str) -> list[int]:
    """The active users to assign to: the holders of a role in this process (for the item's pipeline),
    or a department's people with a right in the item's pipeline (whom an item may be given to)."""
    users = write.compiled.tables["sf_users"]
    query = sa.select(users.c.id).where(users.c.active.is_(True)).order_by(users.c.id)
    if "role" in params:
        query = query.where(users.c.id.in_(people.holders(write.connection, write.compiled, process_id,
                                                          params["role"], pipeline) or [-1]))
    if "department" in params:
        query = query.where(users.c.department_id == params["department"], users.c.id.in_(
            people.members(write.connection, write.compiled, process_id, pipeline) or [-1]))
    return [int(i) for i in write.connection.execute(query).scalars()]


def _round_robin(write: Any, key: str, candidates: list[int]) -> int:
    """The candidate after the one this action picked last (by user id), the first if none.

    The last pick is kept in sf_counters, so the rotation advances even when a pick leaves
    the item's assignee unchanged (nothing is then written to the item's history).
    """
    counters = write.compiled.tables["sf_counters"]
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
                query = items.built((observers, "observers_of"), lambda table=observers: sa.select(
                    table.c.user_id).where(table.c.item_id == sa.bindparam("_item_id")))
                found += list(write.connection.execute(query, {"_item_id": item["id"]}).scalars())
        else:
            value = item.get(name)
            found += value if isinstance(value, list) else ([value] if value is not None else [])
    for role in params.get("roles") or []:  # who holds the role in this process, for the item's pipeline
        found += people.holders(write.connection, write.compiled, trigger.process.id, role, item.get("pipeline"))
    return list(dict.fromkeys(int(u) for u in found))


# What a text shows in place of a field hidden from its reader.
HIDDEN_TEXT = "(hidden)"


class _Hidden:
    """A hidden value in a template: prints as `(hidden)`; computing or comparing with it fails."""

    __slots__ = ()

    def __str__(self) -> str:
        return HIDDEN_TEXT

    __repr__ = __str__


_HIDDEN = _Hidden()


def _masked_text(trigger: CompiledTrigger, index: int, key: str, values: dict[str, Any],
                 hidden: frozenset[str]) -> str:
    """A template rendered for a reader who may not see hidden: those fields read `(hidden)`."""
    if not hidden:
        return trigger.text(index, key, values)
    masked = {k: _HIDDEN if k in hidden else v for k, v in values.items()}
    try:
        return trigger.text(index, key, masked)
    except SecurityError:
        raise
    except Exception:  # the template computes with a hidden value: say so rather than fail the change
        return f"(trigger `{trigger.name}`: this text uses a field hidden from you)"


def _hidden_from_users(write: Any, process_id: str, user_ids: list[int], pipeline: str | None
                       ) -> dict[int, frozenset[str]]:
    """Per user, the fields of process hidden from them (by their roles for the item's pipeline); a user
    with no role there is hidden every field some role hides."""
    held = (people.roles_in_process(write.connection, write.compiled, process_id, user_ids, pipeline)
            if user_ids else {})
    process = write.compiled.processes[process_id]  # asked on every change: a user's roles may change at any time
    roles = {user: held.get(user, frozenset()) for user in user_ids}
    return {user: (process.hidden(mine) if process.role_permissions(mine) else hidden_by_any_role(process))
            for user, mine in roles.items()}


def hidden_by_any_role(process: Any) -> frozenset[str]:
    """Every field some role of the process hides: what a text read by all of them may not show
    (found once per deployed version: the roles' hidden fields are part of the definition)."""
    found: frozenset[str] = items.built((process.table, "hidden_by_any_role"), lambda: frozenset(
        f for p in process.process.permissions for f in p.hidden_fields))
    return found


def _notify(write: Any, trigger: CompiledTrigger, index: int, params: dict[str, Any], item: dict[str, Any],
            values: dict[str, Any]) -> None:
    """One outbox message per set of recipients who see the same fields: a notification never
    carries a value hidden from the user who reads it."""
    recipients = _recipients(write, trigger, params, item)
    used = trigger.names_used(index, "subject", "message")
    # a linked item reads as its title (with its id) to whoever may read it, as its id to anyone else
    linked = linking.titles_for_readers(write, trigger.process.id, item, used, recipients)
    groups: dict[tuple[frozenset[str], tuple[tuple[str, str], ...]], list[int]] = {}
    for user, hidden in _hidden_from_users(write, trigger.process.id, recipients, item.get("pipeline")).items():
        shown = tuple(sorted((k, str(v)) for k, v in linked.get(user, {}).items() if k not in hidden))
        groups.setdefault((hidden & used, shown), []).append(user)  # one message for all who see what it uses
    for (hidden, _), readers in (groups or {(frozenset(), ()): []}).items():
        titled = {**values, **{k: v for k, v in linked.get(readers[0], {}).items() if k not in hidden}} \
            if readers else values
        message = _masked_text(trigger, index, "message", titled, hidden)
        subject = _masked_text(trigger, index, "subject", titled, hidden) if "subject" in params else None
        _outbox(write, "notify", {"recipients": readers, "subject": subject, "message": message,
                                  "process": trigger.process.id, "item_id": item["id"], "trigger": trigger.name})


def _webhook(write: Any, trigger: CompiledTrigger, index: int, params: dict[str, Any], item: dict[str, Any],
             values: dict[str, Any]) -> None:
    """The body renders with the rights of the trigger's identity (its `run_as` user's hidden fields read
    `(hidden)`; the trigger's own identity sees every field)."""
    hidden = hidden_fields(write.actor, write.compiled.processes[trigger.process.id])
    body = plain_json(_masked_text(trigger, index, "body", values, hidden)) if "body" in params else {
        "process": trigger.process.id, "item_id": item["id"], "trigger": trigger.name}
    _outbox(write, "webhook", {"url": params["url"], "method": params.get("method", "POST"),
                               "headers": params.get("headers") or {}, "body": body, "trigger": trigger.name})


def _outbox(write: Any, kind: str, payload: dict[str, Any]) -> None:
    # delivered after commit: held with the change's history rows while its triggers run
    items.hold(write, "sf_outbox", [{"kind": kind, "payload": payload, "status": "pending", "attempts": 0,
                                     "next_attempt_at": write.now, "created_at": write.now}])


def _comment(write: Any, trigger: CompiledTrigger, index: int, params: str, item: dict[str, Any],
             values: dict[str, Any]) -> None:
    # the history is read by every role that may read the item: no field any of them may not see
    text = _masked_text(trigger, index, "comment", values, hidden_by_any_role(write.compiled.processes[
        trigger.process.id]))
    if not text.strip():
        raise InvalidValue("the comment is empty")
    items._record(write, [{"process": trigger.process.id, "item_id": item["id"], "at": write.now, "actor_id": None,
                           "kind": "comment", "field": None, "old": None, "new": text, "via": write.via,
                           "definition_version": write.compiled.version}])


def _todo(write: Any, trigger: CompiledTrigger, index: int, params: dict[str, Any], item: dict[str, Any],
          values: dict[str, Any]) -> None:
    """A to-do on the item: its title rendered (read by every role that may read the item, like a comment),
    due after a duration by the process's calendar or at a date field, for one of the item's people."""
    hidden = hidden_by_any_role(write.compiled.processes[trigger.process.id])
    title = " ".join(_masked_text(trigger, index, "title", values, hidden).split())[:timeline.MAX_TITLE]
    if not title:
        raise InvalidValue("the to-do's title is empty")
    due = timeline.parse_due(params.get("due"), write.now, trigger.calendar, item)
    responsible = params.get("responsible", "assigned_to")
    if responsible.startswith("@"):
        who = user_id(write.connection, write.compiled, responsible[1:])
        if who is None:
            raise AutomationFailed(f"there is no user `{responsible[1:]}` to be responsible for the to-do")
    else:
        value = item.get(responsible)
        who = int(value) if isinstance(value, int) else None
    timeline.create_todo(write, trigger.process.id, item, title, due, who)


_HANDLERS = {"set": _set, "move": _move, "create_item": _create_item, "assign": _assign, "notify": _notify,
             "webhook": _webhook, "comment": _comment,
             "todo": _todo}
