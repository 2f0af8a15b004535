"""Users, departments and role grants; resolving who an operation runs as."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from smartflow.definitions.diagnostics import did_you_mean, known_list
from smartflow.errors import InvalidValue, NotFound, PermissionDenied
from smartflow.runtime import clock
from smartflow.runtime.access import LOCAL_ADMIN, Actor
from smartflow.runtime.compiled import CompiledDefinition, built
from smartflow.runtime.fields import MAX_ID, text_problem


def _tables(compiled: CompiledDefinition) -> tuple[sa.Table, sa.Table, sa.Table]:
    tables = compiled.metadata.tables
    return tables["sf_users"], tables["sf_user_roles"], tables["sf_departments"]


def id_form(value: Any) -> int | None:
    """The user id a value names explicitly: an int, or text `#12`; None for a login.

    Text is always a login, even when it is all digits (`1001` is the login `1001`); `#12` is
    the user whose id is 12.
    """
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("#") and text[1:].isascii() and text[1:].isdigit():
            return int(text[1:])
    return None


def user_id(connection: Any, compiled: CompiledDefinition, value: Any) -> int | None:
    """The id of a user given by login, by `#id` or as an int id; None when there is no such user."""

    users, _, _ = _tables(compiled)
    explicit = id_form(value)
    by_id = explicit is not None
    if not (0 < explicit <= MAX_ID if explicit is not None else text_problem(str(value)) is None):
        return None  # no row holds it: asking the database would only make it refuse the value
    column = users.c.id if by_id else users.c.login
    query = built((users, "user_id", by_id), lambda: sa.select(users.c.id).where(column == sa.bindparam("_user")))
    found = connection.execute(query, {"_user": explicit if by_id else str(value).strip()}).scalar()
    return int(found) if found is not None else None


def _subtree(connection: Any, departments: sa.Table, root: str) -> set[str]:
    children: dict[str | None, list[str]] = {}
    for row in connection.execute(sa.select(departments.c.id, departments.c.parent_id)):
        children.setdefault(row.parent_id, []).append(row.id)
    found, frontier = {root}, [root]
    while frontier:
        for child in children.get(frontier.pop(), []):
            if child not in found:
                found.add(child)
                frontier.append(child)
    return found


def resolve_actor(connection: Any, compiled: CompiledDefinition, login: str | None) -> Actor:
    """The actor for --as LOGIN; the local administrator when no login is given."""
    if not login:
        return LOCAL_ADMIN
    users, grants, departments = _tables(compiled)
    row = connection.execute(sa.select(users).where(users.c.login == login)).mappings().first()
    if row is None or not row["active"]:
        raise NotFound(f"there is no user `{login}`", "run `smartflow user list`, or `smartflow user add`")
    roles = frozenset(connection.execute(sa.select(grants.c.role).where(grants.c.user_id == row["id"])).scalars())
    colleagues: tuple[int, ...] = (row["id"],)
    if row["department_id"]:
        subtree = _subtree(connection, departments, row["department_id"])
        colleagues = tuple(connection.execute(sa.select(users.c.id).where(users.c.department_id.in_(subtree)))
                           .scalars())
    return Actor(row["id"], row["login"], row["name"], roles, colleagues)


def is_admin(actor: Actor) -> bool:
    return actor.is_local_admin or "administrator" in actor.roles


def require_admin(actor: Actor) -> None:
    if not is_admin(actor):
        raise PermissionDenied("only administrators manage users and departments")


def add_user(connection: Any, compiled: CompiledDefinition, actor: Actor, login: str, name: str,
             roles: list[str], department: str | None) -> int:
    require_admin(actor)
    users, grants, departments = _tables(compiled)
    if not login.strip() or any(c.isspace() for c in login):
        raise InvalidValue(f"the login {login!r} is empty or has spaces", "use a single word such as `ivanova`")
    if user_id(connection, compiled, login) is not None:
        raise InvalidValue(f"the user `{login}` already exists")
    known = compiled.role_ids
    for role in roles:
        if role not in known:
            raise InvalidValue(f"there is no role `{role}`", did_you_mean(role, known) or f"roles: {known_list(known)}")
    if department is not None and connection.execute(
            sa.select(departments.c.id).where(departments.c.id == department)).first() is None:
        raise InvalidValue(f"there is no department `{department}`", "add it: smartflow department add …")
    result = connection.execute(users.insert().values(login=login, name=name or login, department_id=department,
                                                      active=True, created_at=clock.now()))
    new_id = int(result.inserted_primary_key[0])
    if roles:
        connection.execute(grants.insert(), [{"user_id": new_id, "role": role} for role in dict.fromkeys(roles)])
    return new_id


def list_users(connection: Any, compiled: CompiledDefinition) -> list[dict[str, Any]]:
    users, grants, _ = _tables(compiled)
    roles: dict[int, list[str]] = {}
    for row in connection.execute(sa.select(grants).order_by(grants.c.role)):
        roles.setdefault(row.user_id, []).append(row.role)
    return [{"id": r.id, "login": r.login, "name": r.name, "department": r.department_id,
             "roles": roles.get(r.id, []), "active": r.active}
            for r in connection.execute(sa.select(users).order_by(users.c.login))]


def add_department(connection: Any, compiled: CompiledDefinition, actor: Actor, department_id: str, title: str,
                   parent: str | None) -> None:
    require_admin(actor)
    _, _, departments = _tables(compiled)
    existing = set(connection.execute(sa.select(departments.c.id)).scalars())
    if department_id in existing:
        raise InvalidValue(f"the department `{department_id}` already exists")
    if parent is not None and parent not in existing:
        raise InvalidValue(f"there is no department `{parent}`",
                           did_you_mean(parent, existing) or f"departments: {known_list(existing)}")
    connection.execute(departments.insert().values(id=department_id, title=title, parent_id=parent))


def list_departments(connection: Any, compiled: CompiledDefinition) -> list[dict[str, Any]]:
    _, _, departments = _tables(compiled)
    return [{"id": r.id, "title": r.title, "parent": r.parent_id}
            for r in connection.execute(sa.select(departments).order_by(departments.c.id))]
