"""Who is acting, and what their roles let them reach.

Levels (as in Bitrix24): `own` — items assigned to or created by the user (and, to read, those
they observe); `department` — items of anyone in the user's department and its sub-departments; `all`; `none`. With
several roles the highest level wins. A user who may not read an item gets the same answer
as for an item that does not exist. Fields a role lists in `hidden_fields` are hidden from a
user when every role of theirs that may read the process hides them: the services leave them
out of what they return and refuse them in filters, sorting, exports, imports and writes.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from smartflow.errors import PermissionDenied
from smartflow.runtime.compiled import CompiledProcess


@dataclass(frozen=True)
class Actor:
    """The user an operation runs as; the local administrator when id is None.

    `roles` are held in every process (the `administrator` among them manages users, jobs and the
    outbox); `scoped` adds, per process id, the roles held in that process only."""

    id: int | None
    login: str
    name: str
    roles: frozenset[str]
    colleagues: tuple[int, ...] = ()  # users of the department subtree, the actor included
    service: bool = False  # a trigger's own identity: rights of its roles, not the local administrator's
    scoped: tuple[tuple[str, frozenset[str]], ...] = ()  # (process id, the roles held there only)

    def roles_in(self, process_id: str) -> frozenset[str]:
        """The roles the actor holds in one process: those of every process and those of this one."""
        for scope, extra in self.scoped:
            if scope == process_id:
                return self.roles | extra
        return self.roles

    @property
    def is_local_admin(self) -> bool:
        return self.id is None and not self.service

    @property
    def label(self) -> str:
        return self.login if self.id is not None else "local administrator"


LOCAL_ADMIN = Actor(None, "admin", "Local administrator", frozenset({"administrator"}))


def level(actor: Actor, process: CompiledProcess, action: str) -> str:
    if actor.is_local_admin:
        return "all"
    return process.grants(actor.roles_in(process.process.id))[0][action]


def visible(actor: Actor, process: CompiledProcess) -> bool:
    """Whether the actor has any right in the process: one without is told it does not exist."""
    if actor.is_local_admin:
        return True
    return any(reach != "none" for reach in process.grants(actor.roles_in(process.process.id))[0].values())


def may_take(actor: Actor, process: CompiledProcess, transition_roles: Iterable[str] | None) -> bool:
    """Whether a transition's `roles` (None: anyone's) include one the actor holds in the process."""
    if transition_roles is None or actor.is_local_admin:
        return True
    return bool(actor.roles_in(process.process.id) & set(transition_roles))


def hidden_fields(actor: Actor, process: CompiledProcess) -> frozenset[str]:
    """The fields of process the actor may not see, filter on, sort by, export, import or set."""
    if actor.is_local_admin:
        return frozenset()
    return process.hidden(actor.roles_in(process.process.id))


def read_only_fields(actor: Actor, process: CompiledProcess) -> frozenset[str]:
    """The fields of process the actor may see but not set (`read_only_fields` of their roles)."""
    if actor.is_local_admin:
        return frozenset()
    return process.read_only(actor.roles_in(process.process.id))


def refuse_hidden(actor: Actor, process: CompiledProcess, field_ids: Iterable[str], doing: str) -> None:
    """PermissionDenied when one of field_ids is hidden from the actor (`doing`: what they tried)."""
    hidden = hidden_fields(actor, process)
    if hidden:
        for field_id in field_ids:
            if field_id in hidden:
                raise PermissionDenied(f"you may not {doing} field `{field_id}` of {process.process.id}: "
                                       "your roles hide it", "ask for a role that may see it (`hidden_fields`)")


def shown(actor: Actor, process: CompiledProcess, item: dict[str, Any]) -> dict[str, Any]:
    """The item without the fields hidden from the actor."""
    hidden = hidden_fields(actor, process)
    return {k: v for k, v in item.items() if k not in hidden} if hidden else item


def stage_allowed(actor: Actor, process: CompiledProcess, stage: str) -> bool:
    if actor.is_local_admin:
        return True
    stages = process.grants(actor.roles_in(process.process.id))[1]
    return stages is None or stage in stages


def row_filter(actor: Actor, process: CompiledProcess, action: str, table: Any = None) -> Any:
    """An SQL condition selecting the items the actor may take action on; false() for none
    (on table: the process's item table, or an alias of it)."""
    table = process.table if table is None else table
    reach = level(actor, process, action)
    if reach == "all":
        return sa.true()
    if reach == "own":
        return sa.or_(table.c.assigned_to == actor.id, table.c.created_by == actor.id,
                      *_observing(actor, process, action, table))
    if reach == "department":
        people = list(actor.colleagues) or [actor.id]
        return sa.or_(table.c.assigned_to.in_(people), table.c.created_by.in_(people),
                      *_observing(actor, process, action, table))
    return sa.false()


def _observing(actor: Actor, process: CompiledProcess, action: str, table: Any) -> list[Any]:
    """An observer of an item may read it (`features: observers`), whatever their read level short of
    `none` says: the condition that the actor observes the item, for a read, when the process has observers."""
    observers = process.observers
    if action != "read" or observers is None or actor.id is None:
        return []
    return [sa.exists().where(observers.c.item_id == table.c.id, observers.c.user_id == actor.id)]


def reaches(actor: Actor, process: CompiledProcess, action: str, item: dict[str, Any]) -> bool:
    """Whether the actor's level for action covers this item (a row as a mapping)."""
    reach = level(actor, process, action)
    if reach == "all":
        return True
    people = {item.get("assigned_to"), item.get("created_by")}
    if reach == "own":
        return actor.id in people
    if reach == "department":
        return bool(people & set(actor.colleagues or (actor.id,)))
    return False


def _level_reaches(actor: Actor, reach: str, item: dict[str, Any]) -> bool:
    people = {item.get("assigned_to"), item.get("created_by")}
    if reach == "all":
        return True
    if reach == "own":
        return actor.id in people
    if reach == "department":
        return bool(people & set(actor.colleagues or (actor.id,)))
    return False


def may_move_into(actor: Actor, process: CompiledProcess, item: dict[str, Any], stage: str) -> bool:
    """Whether one of the actor's roles both reaches the item and may move items into stage.

    Roles are weighed one by one: `move: own, stages: [lost]` in one role and `move: all,
    stages: [work]` in another let the user move their own items into `lost`, not anyone's.
    """
    if actor.is_local_admin:
        return True
    return any(
        _level_reaches(actor, permission.level("move"), item)
        and (permission.stages is None or stage in permission.stages)
        for permission in process.role_permissions(actor.roles_in(process.process.id))
    )
