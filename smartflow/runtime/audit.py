"""The audit log: every administrative change (users, roles, passwords, tokens, departments, jobs),
who made it, through which door and when. Item changes have their own history (sf_history)."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from smartflow.runtime import clock
from smartflow.runtime.access import Actor
from smartflow.runtime.compiled import CompiledDefinition


def record(connection: Any, compiled: CompiledDefinition, actor: Actor, via: str, action: str,
           target: str | None, details: dict[str, Any] | None = None) -> None:
    """One entry, written in the transaction of the change it records (both stay, or neither)."""
    table = compiled.tables["sf_audit"]
    connection.execute(table.insert().values(at=clock.now(), actor=actor.login, via=via, action=action,
                                             target=target, details=details or None))


def entries(connection: Any, compiled: CompiledDefinition, limit: int = 100, target: str | None = None
            ) -> list[dict[str, Any]]:
    """The newest entries first (of one target when given)."""
    table = compiled.tables["sf_audit"]
    query = sa.select(table).order_by(table.c.id.desc()).limit(limit)
    if target is not None:
        query = query.where(table.c.target == target)
    return [dict(row) for row in connection.execute(query).mappings()]
