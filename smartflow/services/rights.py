"""Who may do what: a process's rights per user (and per role), and one user's rights across
processes, computed by the same functions that enforce them (runtime.access)."""

from __future__ import annotations

from typing import Any

from smartflow.definitions.model import ACTIONS
from smartflow.errors import NotFound
from smartflow.i18n import Name, tr
from smartflow.runtime import people
from smartflow.runtime.access import Actor, level, visible
from smartflow.runtime.compiled import CompiledProcess
from smartflow.runtime.items import Write


def _rights(actor: Actor, compiled: CompiledProcess, pipeline: str | None = None) -> dict[str, Any]:
    """What the actor's roles in all of the process (or, with pipeline, in that pipeline) let them do there."""
    roles = actor.roles_in(compiled.process.id, pipeline)
    stages = compiled.grants(roles)[1]
    all_stages = [s.id for p in compiled.process.pipelines if pipeline in (None, p.id) for s in p.stages]
    may_move = level(actor, compiled, "move", pipeline) != "none"
    return {"pipeline": pipeline, "roles": sorted(roles),
            "levels": {action: level(actor, compiled, action, pipeline) for action in ACTIONS},
            "stages": ([s for s in dict.fromkeys(all_stages) if stages is None or s in stages] if may_move else []),
            "hidden_fields": sorted(compiled.hidden(roles) if not actor.is_local_admin else ()),
            "read_only_fields": sorted(compiled.read_only(roles) if not actor.is_local_admin else ())}


def _scopes(actor: Actor, compiled: CompiledProcess) -> list[dict[str, Any]]:
    """The actor's rights in all of the process (when their roles there grant some), then in each
    pipeline where they hold roles of that pipeline only."""
    whole = _rights(actor, compiled)
    found = [whole] if any(reach != "none" for reach in whole["levels"].values()) else []
    return found + [_rights(actor, compiled, pipeline) for pipeline in actor.pipelines_in(compiled.process.id)]


def _actor(user: dict[str, Any], held: people.Held, process_id: str) -> Actor:
    whole, piped = held
    return Actor(int(user["id"]), user["login"], user["name"], frozenset(), scoped=((process_id, whole),),
                 piped=tuple((process_id, pipeline, roles) for pipeline, roles in sorted(piped.items())))


def roles_matrix(compiled: CompiledProcess) -> list[dict[str, Any]]:
    """Per role the process lists (and the administrator), its level per action, stages and hidden fields."""
    rows = []
    for permission in compiled.role_permissions(frozenset({p.role for p in compiled.process.permissions}
                                                          | {"administrator"})):
        rows.append({"role": permission.role, "levels": {a: permission.level(a) for a in ACTIONS},
                     "stages": list(permission.stages) if permission.stages is not None else None,
                     "hidden_fields": list(permission.hidden_fields),
                     "read_only_fields": list(permission.read_only_fields)})
    return rows


def process_report(write: Write, compiled: CompiledProcess) -> dict[str, Any]:
    """Every active user with a right in the process: their roles there and what they let them do, one
    row for all of the process and one per pipeline where they hold roles of that pipeline only
    (`pipeline`: None for all of it)."""
    process_id = compiled.process.id
    everyone = {u["id"]: u for u in people.list_users(write.connection, write.compiled)}
    held = people.grants_in_process(write.connection, write.compiled, process_id)
    users = []
    for user_id, mine in sorted(held.items(), key=lambda pair: everyone[pair[0]]["login"]):
        actor = _actor(everyone[user_id], mine, process_id)
        if visible(actor, compiled):
            users += [{"login": everyone[user_id]["login"], "name": everyone[user_id]["name"], **rights}
                      for rights in _scopes(actor, compiled)]
    matrix = roles_matrix(compiled)
    return {"process": process_id, "actions": list(ACTIONS),
            "stages": [{"pipeline": p.id, "stages": [s.id for s in p.stages]} for p in compiled.process.pipelines],
            "users": users, "roles": matrix, "movers": stage_movers(compiled, matrix, users)}


def _entering_roles(compiled: CompiledProcess, pipeline_id: str, stage_id: str) -> frozenset[str] | None:
    """The roles the transitions into a stage allow: None for any role (a pipeline without transitions,
    or one of them open to all); empty when no transition of the pipeline leads there."""
    rules = compiled.pipelines[pipeline_id]
    if not rules.pipeline.transitions:
        return None
    found: set[str] = set()
    for (_, target), ruled in rules.rules.items():
        if target == stage_id:
            for rule in ruled:
                if rule.transition.roles is None:
                    return None
                found |= set(rule.transition.roles)
    return frozenset(found)


def stage_movers(compiled: CompiledProcess, matrix: list[dict[str, Any]], users: list[dict[str, Any]]
                 ) -> list[dict[str, Any]]:
    """Per stage of each pipeline, who may move an item into it: the roles whose `move` right and
    `stages` allow it and whom a transition into it admits (weighed role by role, as a move is), and
    the users holding such a role there (in all of the process, or in that pipeline). Conditions,
    `forbid_self` and the items a level reaches depend on the item and are left to the move."""
    found = []
    for pipeline in compiled.process.pipelines:
        for stage in pipeline.stages:
            entering = _entering_roles(compiled, pipeline.id, stage.id)
            roles = [row["role"] for row in matrix
                     if row["levels"]["move"] != "none" and (row["stages"] is None or stage.id in row["stages"])
                     and (entering is None or row["role"] in entering)]
            movers = sorted({user["login"] for user in users if user["pipeline"] in (None, pipeline.id)
                             and set(user["roles"]) & set(roles)})
            found.append({"pipeline": pipeline.id, "stage": stage.id, "roles": roles, "users": movers})
    return found


def user_report(write: Write, login: str) -> dict[str, Any]:
    """One user's effective rights in every deployed process (those with none are listed as such): one
    entry for all of a process and one per pipeline of it where they hold roles of that pipeline only."""
    user = next((u for u in people.list_users(write.connection, write.compiled) if u["login"] == login), None)
    if user is None:
        raise NotFound(tr("there is no user {login}", login=Name(login)), "run `smartflow user list`")
    processes = []
    for process_id, compiled in write.compiled.processes.items():
        roles = frozenset(user["roles"]) | frozenset(user["process_roles"].get(process_id, ()))
        piped = {p: frozenset(r) for p, r in user["pipeline_roles"].get(process_id, {}).items()}
        actor = _actor(user, (roles, piped), process_id)
        scopes = _scopes(actor, compiled) or [_rights(actor, compiled)]
        processes += [{"process": process_id, "visible": visible(actor, compiled), **rights} for rights in scopes]
    return {"login": user["login"], "name": user["name"], "active": user["active"], "roles": user["roles"],
            "process_roles": user["process_roles"], "pipeline_roles": user["pipeline_roles"], "processes": processes}
