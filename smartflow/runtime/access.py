"""Who is acting, and what their roles let them reach.

Levels (as in Bitrix24): `own` — items assigned to or created by the user (and, to read, those
they observe); `department` — items of anyone in the user's department and its sub-departments; `all`; `none`. With
several roles the highest level wins. A role may be held in every process, in one process, or in
named pipelines of one process only: such a role counts for the items of those pipelines alone
(`row_filter` and `reaches` weigh an item by its pipeline). A user who may not read an item gets the same answer
as for an item that does not exist. Fields a role lists in `hidden_fields` are hidden from a
user when every role of theirs that may read the process hides them (with roles held in some
pipelines only, a field hidden in any of their pipelines is hidden throughout the process): the
services leave them out of what they return and refuse them in filters, sorting, exports, imports
and writes.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import sqlalchemy as sa

from smartflow.errors import PermissionDenied
from smartflow.i18n import Message, tr
from smartflow.records import record
from smartflow.runtime import names
from smartflow.runtime.compiled import CompiledProcess


@record(frozen=True)
class Actor:
    """The user an operation runs as; the local administrator when id is None.

    `roles` are held in every process (the `administrator` among them manages users, jobs and the
    outbox); `scoped` adds, per process id, the roles held in that process only, and `piped`, per
    process and pipeline, the roles held in that pipeline only."""

    id: int | None
    login: str
    name: str
    roles: frozenset[str]
    colleagues: tuple[int, ...] = ()  # users of the department subtree, the actor included
    service: bool = False  # a trigger's own identity: rights of its roles, not the local administrator's
    scoped: tuple[tuple[str, frozenset[str]], ...] = ()  # (process id, the roles held there only)
    piped: tuple[tuple[str, str, frozenset[str]], ...] = ()  # (process id, pipeline id, roles held there only)

    def roles_in(self, process_id: str, pipeline: str | None = None) -> frozenset[str]:
        """The roles the actor holds in one process: those of every process and those of this one; with
        a pipeline, those held in that pipeline only as well."""
        roles = self.roles
        for scope, extra in self.scoped:
            if scope == process_id:
                roles = roles | extra
                break
        if pipeline is not None:
            for scope, pipe, extra in self.piped:
                if scope == process_id and pipe == pipeline:
                    roles = roles | extra
        return roles

    def pipelines_in(self, process_id: str) -> tuple[str, ...]:
        """The pipelines of a process where the actor holds roles held in that pipeline only."""
        return tuple(pipe for scope, pipe, _ in self.piped if scope == process_id)

    @property
    def is_local_admin(self) -> bool:
        return self.id is None and not self.service

    @property
    def label(self) -> str:
        return self.login if self.id is not None else "local administrator"


LOCAL_ADMIN = Actor(None, "admin", "Local administrator", frozenset({"administrator"}))


LEVELS = ("none", "own", "department", "all")  # narrowest first


def level(actor: Actor, process: CompiledProcess, action: str, pipeline: str | None = None) -> str:
    """The actor's level for action on the items of one pipeline (None: those the roles held in the
    whole process reach, which a role held in some pipelines only does not widen)."""
    if actor.is_local_admin:
        return "all"
    return process.grants(actor.roles_in(process.process.id, pipeline))[0][action]


def widest(actor: Actor, process: CompiledProcess, action: str) -> str:
    """The highest level the actor has for action in some pipeline of the process: whether they may
    take it at all (on the items of which pipelines, `row_filter` and `reaches` tell)."""
    found = level(actor, process, action)
    for pipeline in actor.pipelines_in(process.process.id):
        found = max(found, level(actor, process, action, pipeline), key=LEVELS.index)
    return found


def _role_sets(actor: Actor, process: CompiledProcess) -> list[frozenset[str]]:
    """The role sets the actor holds across the process: in all of it, and in each pipeline of theirs."""
    process_id = process.process.id
    return [actor.roles_in(process_id)] + [actor.roles_in(process_id, p) for p in actor.pipelines_in(process_id)]


def visible(actor: Actor, process: CompiledProcess) -> bool:
    """Whether the actor has any right in the process (in some pipeline of it, at least): one without
    is told it does not exist."""
    if actor.is_local_admin:
        return True
    return any(reach != "none" for roles in _role_sets(actor, process) for reach in process.grants(roles)[0].values())


def in_pipeline(actor: Actor, process: CompiledProcess, pipeline: str) -> bool:
    """Whether the actor has any right in one pipeline of the process: one without is not shown it."""
    if actor.is_local_admin:
        return True
    return any(reach != "none" for reach in process.grants(actor.roles_in(process.process.id, pipeline))[0].values())


def may_take(actor: Actor, process: CompiledProcess, transition_roles: Iterable[str] | None,
             pipeline: str | None = None) -> bool:
    """Whether a transition's `roles` (None: anyone's) include one the actor holds in the process (in
    the pipeline of the item, when given)."""
    if transition_roles is None or actor.is_local_admin:
        return True
    return bool(actor.roles_in(process.process.id, pipeline) & set(transition_roles))


def _per_scope(actor: Actor, process: CompiledProcess, pipeline: str | None, fields: Any) -> frozenset[str]:
    """fields (process.hidden or process.read_only) of the actor's roles: in one pipeline when given;
    else, with roles held in some pipelines only, those of any of their role sets that grants a right."""
    if pipeline is not None or not actor.pipelines_in(process.process.id):
        return fields(actor.roles_in(process.process.id, pipeline))
    sets = [roles for roles in _role_sets(actor, process) if process.role_permissions(roles)]
    return frozenset().union(*(fields(roles) for roles in sets)) if sets else frozenset()


def hidden_fields(actor: Actor, process: CompiledProcess, pipeline: str | None = None) -> frozenset[str]:
    """The fields of process the actor may not see, filter on, sort by, export, import or set."""
    if actor.is_local_admin:
        return frozenset()
    return _per_scope(actor, process, pipeline, process.hidden)


def read_only_fields(actor: Actor, process: CompiledProcess, pipeline: str | None = None) -> frozenset[str]:
    """The fields of process the actor may see but not set (`read_only_fields` of their roles)."""
    if actor.is_local_admin:
        return frozenset()
    return _per_scope(actor, process, pipeline, process.read_only)


# What a refusal of a hidden field says the user tried (refuse_hidden's `doing`), one message each: the
# verb governs the field's case in Russian.
HIDING: dict[str, Message] = {
    "see": tr("you may not see field {field} of {process}: your roles hide it"),
    "set": tr("you may not set field {field} of {process}: your roles hide it"),
    "filter on": tr("you may not filter on field {field} of {process}: your roles hide it"),
    "sort by": tr("you may not sort by field {field} of {process}: your roles hide it"),
    "export": tr("you may not export field {field} of {process}: your roles hide it"),
    "match items by": tr("you may not match items by field {field} of {process}: your roles hide it"),
}


def refuse_hidden(actor: Actor, process: CompiledProcess, field_ids: Iterable[str], doing: str) -> None:
    """PermissionDenied when one of field_ids is hidden from the actor (`doing`: what they tried)."""
    hidden = hidden_fields(actor, process)
    if hidden:
        for field_id in field_ids:
            if field_id in hidden:
                raise PermissionDenied(Message(HIDING[doing].msgid, field=names.field(process, field_id),
                                               process=names.process(process)),
                                       "ask for a role that may see it (`hidden_fields`)")


def shown(actor: Actor, process: CompiledProcess, item: dict[str, Any]) -> dict[str, Any]:
    """The item without the fields hidden from the actor."""
    hidden = hidden_fields(actor, process)
    return {k: v for k, v in item.items() if k not in hidden} if hidden else item


def stage_allowed(actor: Actor, process: CompiledProcess, stage: str, pipeline: str | None = None) -> bool:
    """Whether the actor's roles (in pipeline, when given) may move items into stage."""
    if actor.is_local_admin:
        return True
    stages = process.grants(actor.roles_in(process.process.id, pipeline))[1]
    return stages is None or stage in stages


def row_filter(actor: Actor, process: CompiledProcess, action: str, table: Any = None) -> Any:
    """An SQL condition selecting the items the actor may take action on; false() for none
    (on table: the process's item table, or an alias of it). Every read and write path builds its
    query with it, so a role held in some pipelines only reaches their items alone, everywhere."""
    table = process.table if table is None else table
    reach = level(actor, process, action)
    condition = _level_filter(actor, process, action, reach, table)
    if reach == "all":
        return condition
    wider = [(pipeline, level(actor, process, action, pipeline)) for pipeline in actor.pipelines_in(process.process.id)]
    wider = [(pipeline, other) for pipeline, other in wider if other != reach]
    if not wider:
        return condition
    return sa.or_(condition, *(sa.and_(table.c.pipeline == pipeline,
                                       _level_filter(actor, process, action, other, table))
                               for pipeline, other in wider))


def _level_filter(actor: Actor, process: CompiledProcess, action: str, reach: str, table: Any) -> Any:
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
    """Whether the actor's level for action covers this item (a row as a mapping, its pipeline
    included: without one, only the roles held in the whole process count)."""
    reach = level(actor, process, action, item.get("pipeline"))
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


def may_move_into(actor: Actor, process: CompiledProcess, item: dict[str, Any], stage: str,
                  pipeline: str | None = None) -> bool:
    """Whether one of the actor's roles both reaches the item and may move items into stage (of
    pipeline, when the move leaves the item's own: then the role must be held in both pipelines).

    Roles are weighed one by one: `move: own, stages: [lost]` in one role and `move: all,
    stages: [work]` in another let the user move their own items into `lost`, not anyone's.
    """
    if actor.is_local_admin:
        return True
    roles = actor.roles_in(process.process.id, item.get("pipeline"))
    if pipeline is not None and pipeline != item.get("pipeline"):
        roles = roles & actor.roles_in(process.process.id, pipeline)
    return any(
        _level_reaches(actor, permission.level("move"), item)
        and (permission.stages is None or stage in permission.stages)
        for permission in process.role_permissions(roles)
    )
