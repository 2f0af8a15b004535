"""Who may do what: a process's rights per user (and per role), and one user's rights across
processes, computed by the same functions that enforce them (runtime.access)."""

from __future__ import annotations

from typing import Any

from smartflow.definitions.model import ACTIONS
from smartflow.errors import NotFound
from smartflow.runtime import people
from smartflow.runtime.access import Actor, hidden_fields, level, read_only_fields, visible
from smartflow.runtime.compiled import CompiledProcess
from smartflow.runtime.items import Write


def _rights(actor: Actor, compiled: CompiledProcess) -> dict[str, Any]:
    stages = compiled.grants(actor.roles_in(compiled.process.id))[1]
    all_stages = [s.id for p in compiled.process.pipelines for s in p.stages]
    may_move = level(actor, compiled, "move") != "none"
    return {"roles": sorted(actor.roles_in(compiled.process.id)),
            "levels": {action: level(actor, compiled, action) for action in ACTIONS},
            "stages": ([s for s in dict.fromkeys(all_stages) if stages is None or s in stages] if may_move else []),
            "hidden_fields": sorted(hidden_fields(actor, compiled)),
            "read_only_fields": sorted(read_only_fields(actor, compiled))}


def _actor(user: dict[str, Any], roles: frozenset[str], process_id: str) -> Actor:
    return Actor(int(user["id"]), user["login"], user["name"], frozenset(), scoped=((process_id, roles),))


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
    """Every active user with a right in the process: their roles there and what they let them do."""
    process_id = compiled.process.id
    everyone = {u["id"]: u for u in people.list_users(write.connection, write.compiled)}
    held = people.roles_in_process(write.connection, write.compiled, process_id)
    users = []
    for user_id, roles in sorted(held.items(), key=lambda pair: everyone[pair[0]]["login"]):
        actor = _actor(everyone[user_id], roles, process_id)
        if visible(actor, compiled):
            users.append({"login": everyone[user_id]["login"], "name": everyone[user_id]["name"],
                          **_rights(actor, compiled)})
    return {"process": process_id, "actions": list(ACTIONS),
            "stages": [{"pipeline": p.id, "stages": [s.id for s in p.stages]} for p in compiled.process.pipelines],
            "users": users, "roles": roles_matrix(compiled)}


def user_report(write: Write, login: str) -> dict[str, Any]:
    """One user's effective rights in every deployed process (those with none are listed as such)."""
    user = next((u for u in people.list_users(write.connection, write.compiled) if u["login"] == login), None)
    if user is None:
        raise NotFound(f"there is no user `{login}`", "run `smartflow user list`")
    processes = []
    for process_id, compiled in write.compiled.processes.items():
        roles = frozenset(user["roles"]) | frozenset(user["process_roles"].get(process_id, ()))
        actor = _actor(user, roles, process_id)
        processes.append({"process": process_id, "visible": visible(actor, compiled), **_rights(actor, compiled)})
    return {"login": user["login"], "name": user["name"], "active": user["active"], "roles": user["roles"],
            "process_roles": user["process_roles"], "processes": processes}
