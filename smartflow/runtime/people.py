"""Users, departments and role grants; resolving who an operation runs as."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import sqlalchemy as sa

from smartflow.compile.sql import EVERY_PIPELINE, EVERY_PROCESS
from smartflow.definitions.hints import did_you_mean, known_list
from smartflow.errors import InvalidValue, NotFound, PermissionDenied
from smartflow.i18n import Name, tr
from smartflow.runtime import clock, names
from smartflow.runtime.access import LOCAL_ADMIN, Actor
from smartflow.runtime.bulkwrite import follow_sequence
from smartflow.runtime.compiled import CompiledDefinition, built
from smartflow.runtime.fields import MAX_ID, text_problem


def _tables(compiled: CompiledDefinition) -> tuple[sa.Table, sa.Table, sa.Table]:
    tables = compiled.tables
    return tables["sf_users"], tables["sf_role_grants"], tables["sf_departments"]


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


def resolve_actor(connection: Any, compiled: CompiledDefinition, login: str | None,
                  known: tuple[dict[str, Any], tuple[tuple[str, str, str], ...]] | None = None) -> Actor:
    """The actor for --as LOGIN; the local administrator when no login is given. known: the user's row and
    grants (role, process, pipeline) when already read (auth.caller_of reads them with the credential)."""
    if not login:
        return LOCAL_ADMIN
    users, grants, departments = _tables(compiled)
    held: Iterable[tuple[str, str, str]] | None = None
    if known is not None:
        row, held = known
    else:
        row = connection.execute(built((users, "resolve_actor"), lambda: sa.select(
            users.c.id, users.c.login, users.c.name, users.c.active, users.c.department_id).where(
            users.c.login == sa.bindparam("_login"))), {"_login": login}).mappings().first()
    if row is None:
        raise NotFound(tr("there is no user {login}", login=Name(login)),
                       "run `smartflow user list`, or `smartflow user add`")
    if not row["active"]:
        raise NotFound(tr("the user {login} is deactivated", login=Name(login)),
                       f"an administrator may run `smartflow user activate {login}`")
    everywhere, scoped, piped = _grants_of(connection, grants, row["id"], held)
    colleagues: tuple[int, ...] = (row["id"],)
    if row["department_id"]:
        subtree = _subtree(connection, departments, row["department_id"])
        colleagues = tuple(connection.execute(sa.select(users.c.id).where(users.c.department_id.in_(subtree)))
                           .scalars())
    return Actor(row["id"], row["login"], row["name"], frozenset(everywhere), colleagues,
                 scoped=tuple((process, frozenset(roles)) for process, roles in sorted(scoped.items())),
                 piped=tuple((process, pipeline, frozenset(roles))
                             for (process, pipeline), roles in sorted(piped.items())))


def _grants_of(connection: Any, grants: sa.Table, user: int, held: Iterable[tuple[str, str, str]] | None = None
               ) -> tuple[list[str], dict[str, list[str]], dict[tuple[str, str], list[str]]]:
    """A user's roles held in every process, per process those held in all of it, and per process and
    pipeline those held in that pipeline only; held: their grants (role, process, pipeline) by role, when
    already read."""
    everywhere: list[str] = []
    scoped: dict[str, list[str]] = {}
    piped: dict[tuple[str, str], list[str]] = {}
    if held is None:
        held = connection.execute(built((grants, "grants_of"), lambda: sa.select(
            grants.c.role, grants.c.process, grants.c.pipeline).where(
            grants.c.user_id == sa.bindparam("_user")).order_by(grants.c.role)), {"_user": user})
    for role, process, pipeline in held:
        if pipeline != EVERY_PIPELINE:
            piped.setdefault((process, pipeline), []).append(role)
        elif process == EVERY_PROCESS:
            everywhere.append(role)
        else:
            scoped.setdefault(process, []).append(role)
    return everywhere, scoped, piped


Held = tuple[frozenset[str], dict[str, frozenset[str]]]  # roles in a whole process; per pipeline, those added there


def grants_in_process(connection: Any, compiled: CompiledDefinition, process_id: str,
                      user_ids: list[int] | None = None) -> dict[int, Held]:
    """Per active user (of user_ids, or everyone) with a grant in one process: the roles they hold in
    all of it, and per pipeline those they hold in that pipeline only."""
    users, grants, _ = _tables(compiled)
    query = (sa.select(grants.c.user_id, grants.c.role, grants.c.pipeline).join(users, users.c.id == grants.c.user_id)
             .where(users.c.active.is_(True), grants.c.process.in_((EVERY_PROCESS, process_id))))
    if user_ids is not None:
        query = query.where(grants.c.user_id.in_(user_ids))
    whole: dict[int, set[str]] = {}
    piped: dict[int, dict[str, set[str]]] = {}
    for user, role, pipeline in connection.execute(query):
        whole.setdefault(int(user), set())
        if pipeline == EVERY_PIPELINE:
            whole[int(user)].add(role)
        else:
            piped.setdefault(int(user), {}).setdefault(pipeline, set()).add(role)
    return {user: (frozenset(roles), {p: frozenset(extra) for p, extra in piped.get(user, {}).items()})
            for user, roles in whole.items()}


def roles_in_process(connection: Any, compiled: CompiledDefinition, process_id: str,
                     user_ids: list[int] | None = None, pipeline: str | None = None) -> dict[int, frozenset[str]]:
    """Per active user (of user_ids, or everyone), the roles they hold in one process: in all of it, and
    with a pipeline, those held in that pipeline only as well."""
    held = grants_in_process(connection, compiled, process_id, user_ids)
    found = {user: whole | (piped.get(pipeline, frozenset()) if pipeline is not None else frozenset())
             for user, (whole, piped) in held.items()}
    return {user: roles for user, roles in found.items() if roles}


def role_sets(held: Held) -> list[frozenset[str]]:
    """The role sets a user holds across a process: in all of it, and in each of their pipelines."""
    whole, piped = held
    return [whole] + [whole | extra for extra in piped.values()]


def role_sets_in(held: Held, pipeline: str | None) -> list[frozenset[str]]:
    """The role sets a user holds where an item of pipeline is (None: anywhere in the process)."""
    whole, piped = held
    return [whole | piped.get(pipeline, frozenset())] if pipeline is not None else role_sets(held)


def may_hold(process: Any, held: Held, pipeline: str | None, field_roles: Iterable[str] = ()) -> bool:
    """Whether a user with these grants in a process may be given an item of pipeline (None: of some
    pipeline): made its responsible person, or put in a user field limited to field_roles. Some role set
    of theirs there grants a right in the process, and with field_roles holds one of them. What the user
    pickers offer and what a write takes (`runtime.items`), so the two cannot disagree."""
    wanted = frozenset(field_roles)
    return any(any(reach != "none" for reach in process.grants(roles)[0].values()) and (not wanted or roles & wanted)
               for roles in role_sets_in(held, pipeline))


def holders(connection: Any, compiled: CompiledDefinition, process_id: str, role: str,
            pipeline: str | None = None) -> list[int]:
    """The active users who hold role in a process (in it alone or in every process; with a pipeline,
    in that pipeline only as well), by id: whom automation assigns an item of that pipeline to or
    notifies."""
    return sorted(user for user, roles in roles_in_process(connection, compiled, process_id, None, pipeline).items()
                  if role in roles)


def members(connection: Any, compiled: CompiledDefinition, process_id: str, pipeline: str | None = None) -> list[int]:
    """The active users with some right in a process (those a user picker of it offers), by id: in
    some pipeline of it, or with a pipeline, in that one."""
    process = compiled.processes[process_id]
    return sorted(user for user, held in grants_in_process(connection, compiled, process_id).items()
                  if may_hold(process, held, pipeline))


def is_admin(actor: Actor) -> bool:
    """An administrator of the whole system: the role held in every process (not one process's)."""
    return actor.is_local_admin or "administrator" in actor.roles


def require_admin(actor: Actor, what: str = "manage users and departments") -> None:
    if not is_admin(actor):
        raise PermissionDenied(f"only administrators {what}")


def _check_login(login: str) -> None:
    if not login.strip() or any(c.isspace() for c in login) or len(login) > 128:
        raise InvalidValue(tr("the login {login} is empty, has spaces or is longer than 128 characters",
                              login=repr(login)),
                           "use a single word such as `ivanova`", field="login")


def _check_roles(compiled: CompiledDefinition, roles: list[str], processes: list[str],
                 pipelines: list[str] | None = None) -> None:
    known = compiled.role_ids
    for role in roles:
        if role not in known:
            raise InvalidValue(tr("there is no role {role}", role=Name(role)),
                               did_you_mean(role, known) or f"roles: {known_list(known)}",
                               field="role")
    deployed = list(compiled.processes)
    for process in processes:
        if process not in compiled.processes:
            raise InvalidValue(tr("there is no process {process}", process=Name(process)),
                               did_you_mean(process, deployed) or f"deployed processes: {known_list(deployed)}",
                               field="process")
    if pipelines:
        if len(processes) != 1:
            raise InvalidValue(tr("a role held in named pipelines needs exactly one process, the one they belong to"),
                               "name it: smartflow user role add LOGIN ROLE --process PROCESS --pipeline PIPELINE",
                               field="pipeline")
        ids = [p.id for p in compiled.processes[processes[0]].process.pipelines]
        for pipeline in pipelines:
            if pipeline not in ids:
                raise InvalidValue(tr("{process} has no pipeline {pipeline}", pipeline=Name(pipeline),
                                      process=names.process(compiled.processes[processes[0]])),
                                   did_you_mean(pipeline, ids) or f"pipelines: {known_list(ids)}", field="pipeline")


def _role(compiled: CompiledDefinition, role_id: str) -> Name:
    """A role as a message names it: its id in English, its title for people."""
    return names.titled_role(compiled.definition.roles, role_id)


def _check_department(connection: Any, departments: sa.Table, department: str | None) -> None:
    if department is not None and connection.execute(
            sa.select(departments.c.id).where(departments.c.id == department)).first() is None:
        known = list(connection.execute(sa.select(departments.c.id)).scalars())
        raise InvalidValue(tr("there is no department {department}", department=Name(department)),
                           did_you_mean(department, known) or "add it: smartflow department add …", field="department")


def _check_email(email: str | None) -> None:
    if email is not None and email != "" and (email.count("@") != 1 or any(c.isspace() for c in email)
                                               or len(email) > 254 or email.startswith("@") or email.endswith("@")):
        raise InvalidValue(tr("not an e-mail address: {email}", email=repr(email)), tr("write it as name@example.com"),
                           field="email")


def add_user(connection: Any, compiled: CompiledDefinition, actor: Actor, login: str, name: str,
             roles: list[str], department: str | None, processes: list[str] | None = None,
             email: str | None = None, pipelines: list[str] | None = None, new_id: int | None = None) -> int:
    """A new active user holding roles in processes (None or empty: in every process), and with
    pipelines, in those pipelines of the one process named only. new_id: the id they must have (moving
    people from another system with their ids, such as a Bitrix24 portal's); the ids users take after
    it continue above the largest."""
    require_admin(actor)
    users, grants, departments = _tables(compiled)
    _check_login(login)
    if user_id(connection, compiled, login) is not None:
        raise InvalidValue(tr("the user {login} already exists", login=Name(login)),
                           f"change them: smartflow user edit {login} …",
                           field="login")
    if new_id is not None:
        _check_new_id(connection, users, new_id)
    _check_roles(compiled, roles, processes or [], pipelines)
    _check_department(connection, departments, department)
    _check_email(email)
    result = connection.execute(users.insert().values(login=login, name=name or login, department_id=department,
                                                      email=email or None, active=True, created_at=clock.now(),
                                                      **({"id": new_id} if new_id is not None else {})))
    if new_id is None:
        new_id = int(result.inserted_primary_key[0])
    else:
        follow_sequence(connection, users)
    scopes = ([(processes[0], pipeline) for pipeline in dict.fromkeys(pipelines)] if pipelines and processes
              else [(process, EVERY_PIPELINE) for process in dict.fromkeys(processes or [EVERY_PROCESS])])
    if roles:
        connection.execute(grants.insert(), [{"user_id": new_id, "role": role, "process": process, "pipeline": pipeline}
                                             for role in dict.fromkeys(roles) for process, pipeline in scopes])
    return new_id


def _check_new_id(connection: Any, users: sa.Table, new_id: int) -> None:
    """A user id that may be given: a whole number from 1 to MAX_ID that no user holds (active or not)."""
    if isinstance(new_id, bool) or not isinstance(new_id, int) or not 0 < new_id <= MAX_ID:
        raise InvalidValue(f"{new_id!r} is not a user id", f"give a whole number from 1 to {MAX_ID}", field="id")
    holder = connection.execute(sa.select(users.c.login).where(users.c.id == new_id)).scalar()
    if holder is not None:
        raise InvalidValue(f"the id {new_id} is taken by the user `{holder}`",
                           "leave --id out to give the new user the next free id", field="id")


def _existing(connection: Any, users: sa.Table, login: str) -> Any:
    row = connection.execute(sa.select(users).where(users.c.login == login)).mappings().first()
    if row is None:
        raise NotFound(tr("there is no user {login}", login=Name(login)), "run `smartflow user list`")
    return row


def grant_role(connection: Any, compiled: CompiledDefinition, actor: Actor, login: str, role: str,
               processes: list[str], pipelines: list[str] | None = None) -> bool:
    """Let login hold role in processes (empty: in every process, replacing narrower grants of it), or
    with pipelines, in those pipelines of the one process named only. False when they already held it
    there (or more widely)."""
    require_admin(actor)
    users, grants, _ = _tables(compiled)
    user = _existing(connection, users, login)
    _check_roles(compiled, [role], processes, pipelines)
    mine = sa.and_(grants.c.user_id == user["id"], grants.c.role == role)
    held = {(process, pipeline) for process, pipeline in
            connection.execute(sa.select(grants.c.process, grants.c.pipeline).where(mine))}
    if (EVERY_PROCESS, EVERY_PIPELINE) in held:
        return False
    if not processes:
        connection.execute(grants.delete().where(mine))
        connection.execute(grants.insert().values(user_id=user["id"], role=role, process=EVERY_PROCESS))
        return True
    if pipelines:
        process = processes[0]
        new = [(process, p) for p in dict.fromkeys(pipelines)
               if (process, EVERY_PIPELINE) not in held and (process, p) not in held]
    else:  # in all of a process: its pipeline grants of the role are folded in
        new = [(p, EVERY_PIPELINE) for p in dict.fromkeys(processes) if (p, EVERY_PIPELINE) not in held]
        if new:
            connection.execute(grants.delete().where(mine, grants.c.process.in_([p for p, _ in new])))
    if new:
        connection.execute(grants.insert(), [{"user_id": user["id"], "role": role, "process": process,
                                              "pipeline": pipeline} for process, pipeline in new])
    return bool(new)


def revoke_role(connection: Any, compiled: CompiledDefinition, actor: Actor, login: str, role: str,
                processes: list[str], pipelines: list[str] | None = None) -> bool:
    """Take role from login in processes (empty: everywhere; a process: in all its pipelines), or with
    pipelines, in those pipelines of the one process named. False when they did not hold it there."""
    require_admin(actor)
    users, grants, _ = _tables(compiled)
    user = _existing(connection, users, login)
    _check_roles(compiled, [role], processes, pipelines)
    mine = sa.and_(grants.c.user_id == user["id"], grants.c.role == role)
    held = {(process, pipeline) for process, pipeline in
            connection.execute(sa.select(grants.c.process, grants.c.pipeline).where(mine))}
    if processes and (EVERY_PROCESS, EVERY_PIPELINE) in held:
        raise InvalidValue(tr("{login} holds {role} in every process, not per process", login=Name(login),
                              role=_role(compiled, role)),
                           f"take it everywhere (smartflow user role remove {login} {role}), then give it where it "
                           f"belongs (smartflow user role add {login} {role} --process …)", field="process")
    if pipelines and (processes[0], EVERY_PIPELINE) in held:
        raise InvalidValue(tr("{login} holds {role} in all of {process}, not per pipeline", login=Name(login),
                              role=_role(compiled, role),
                              process=names.process(compiled.processes[processes[0]])),
                           f"take it from the process (smartflow user role remove {login} {role} --process "
                           f"{processes[0]}), then give it where it belongs (… --pipeline …)", field="pipeline")
    if actor.id == user["id"] and role == "administrator" and not processes:
        raise InvalidValue(tr("you may not take the administrator role from yourself"),
                           "ask another administrator, or use the CLI on the server")
    if pipelines:
        gone = held & {(processes[0], p) for p in pipelines}
    else:
        gone = {grant for grant in held if grant[0] in processes} if processes else held
    if gone:
        connection.execute(grants.delete().where(mine, sa.or_(*(
            sa.and_(grants.c.process == process, grants.c.pipeline == pipeline) for process, pipeline in gone))))
    return bool(gone)


def set_active(connection: Any, compiled: CompiledDefinition, actor: Actor, login: str, active: bool) -> bool:
    """Activate or deactivate a user; False when they already were. A deactivated user's items and
    history stay; their sessions and tokens stop (the credential check reads `active`)."""
    require_admin(actor)
    users, _, _ = _tables(compiled)
    user = _existing(connection, users, login)
    if actor.id == user["id"] and not active:
        raise InvalidValue("you may not deactivate yourself", "ask another administrator")
    if bool(user["active"]) == active:
        return False
    connection.execute(users.update().where(users.c.id == user["id"]).values(active=active))
    return True


LANGUAGES = ("ru", "en")  # the languages a user may choose for what smartflow sends them (e-mail)
SETTINGS = ("email_notifications", "language")  # what a user changes of their own


def _settings_values(changes: dict[str, Any]) -> dict[str, Any]:
    """The columns of a user's own settings among changes, checked."""
    values: dict[str, Any] = {}
    if "email_notifications" in changes:
        wanted = changes["email_notifications"]
        if not isinstance(wanted, bool):
            raise InvalidValue(f"email_notifications must be true or false, not {wanted!r}",
                               "send true (e-mail me) or false (the inbox only)", field="email_notifications")
        values["email_notifications"] = wanted
    if "language" in changes:
        language = changes["language"] or None
        if language is not None and language not in LANGUAGES:
            raise InvalidValue(f"there is no language {language!r} to choose",
                               f"choose one of {', '.join(LANGUAGES)}, or none for the server's default",
                               field="language")
        values["language"] = language
    return values


def _apply_changes(connection: Any, users: sa.Table, user: Any, values: dict[str, Any]) -> dict[str, Any]:
    changed = {key: [user[key], value] for key, value in values.items() if user[key] != value}
    if changed:
        connection.execute(users.update().where(users.c.id == user["id"]).values(**values))
    return changed


def settings_of(connection: Any, compiled: CompiledDefinition, actor: Actor) -> dict[str, Any]:
    """The acting user's own settings: their e-mail address, whether e-mail notifications are on
    (unset: on), and their language (None: the server's default)."""
    if actor.id is None:
        raise InvalidValue("the local administrator has no settings of their own", "pass --as USER")
    users, _, _ = _tables(compiled)
    row = _existing(connection, users, actor.login)
    return {"login": row["login"], "email": row["email"],
            "email_notifications": row["email_notifications"] is not False, "language": row["language"]}


def change_settings(connection: Any, compiled: CompiledDefinition, actor: Actor,
                    changes: dict[str, Any]) -> dict[str, Any]:
    """Change the acting user's own settings (any user may); what changed, old → new."""
    if actor.id is None:
        raise InvalidValue("the local administrator has no settings of their own", "pass --as USER")
    unknown = set(changes) - set(SETTINGS)
    if unknown:
        raise InvalidValue(f"a user has no setting `{sorted(unknown)[0]}`", f"change {' or '.join(SETTINGS)}")
    users, _, _ = _tables(compiled)
    return _apply_changes(connection, users, _existing(connection, users, actor.login), _settings_values(changes))


def edit_user(connection: Any, compiled: CompiledDefinition, actor: Actor, login: str,
              changes: dict[str, Any]) -> dict[str, Any]:
    """Change a user's name, e-mail, department (None clears the last two) or settings (SETTINGS); what
    changed, old → new."""
    require_admin(actor)
    users, _, departments = _tables(compiled)
    user = _existing(connection, users, login)
    unknown = set(changes) - {"name", "email", "department", *SETTINGS}
    if unknown:
        raise InvalidValue(f"a user has no `{sorted(unknown)[0]}` to change",
                           "change name, email, department, email_notifications or language")
    values: dict[str, Any] = _settings_values(changes)
    if "name" in changes:
        name = (changes["name"] or "").strip()
        if not name:
            raise InvalidValue("the name is empty", "write the person's full name", field="name")
        values["name"] = name
    if "email" in changes:
        _check_email(changes["email"])
        values["email"] = changes["email"] or None
    if "department" in changes:
        _check_department(connection, departments, changes["department"] or None)
        values["department_id"] = changes["department"] or None
    changed = _apply_changes(connection, users, user, values)
    return {("department" if k == "department_id" else k): v for k, v in changed.items()}


def names_of(connection: Any, compiled: CompiledDefinition, ids: Iterable[int]) -> dict[int, tuple[str, str]]:
    """(login, name) of the users of ids, in one query; unknown ids are left out."""
    users, _, _ = _tables(compiled)
    wanted = sorted(set(ids))
    if not wanted:
        return {}
    query = built((users, "names_of"), lambda: sa.select(users.c.id, users.c.login, users.c.name).where(
        users.c.id.in_(sa.bindparam("_ids", expanding=True))))
    return {row.id: (row.login, row.name) for row in connection.execute(query, {"_ids": wanted})}


def list_users(connection: Any, compiled: CompiledDefinition) -> list[dict[str, Any]]:
    """Every user with the roles they hold in every process (`roles`), per process (`process_roles`) and
    per process and pipeline (`pipeline_roles`: {process: {pipeline: roles}})."""
    users, grants, _ = _tables(compiled)
    roles: dict[int, list[str]] = {}
    scoped: dict[int, dict[str, list[str]]] = {}
    piped: dict[int, dict[str, dict[str, list[str]]]] = {}
    for row in connection.execute(sa.select(grants).order_by(grants.c.role, grants.c.process, grants.c.pipeline)):
        if row.pipeline != EVERY_PIPELINE:
            piped.setdefault(row.user_id, {}).setdefault(row.process, {}).setdefault(row.pipeline, []).append(row.role)
        elif row.process == EVERY_PROCESS:
            roles.setdefault(row.user_id, []).append(row.role)
        else:
            scoped.setdefault(row.user_id, {}).setdefault(row.process, []).append(row.role)
    return [{"id": r.id, "login": r.login, "name": r.name, "email": r.email, "department": r.department_id,
             "roles": roles.get(r.id, []), "process_roles": scoped.get(r.id, {}),
             "pipeline_roles": piped.get(r.id, {}), "active": r.active,
             "email_notifications": r.email_notifications is not False, "language": r.language}
            for r in connection.execute(sa.select(users).order_by(users.c.login))]


def add_department(connection: Any, compiled: CompiledDefinition, actor: Actor, department_id: str, title: str,
                   parent: str | None, head: str | None = None) -> None:
    require_admin(actor)
    _, _, departments = _tables(compiled)
    existing = set(connection.execute(sa.select(departments.c.id)).scalars())
    if department_id in existing:
        raise InvalidValue(f"the department `{department_id}` already exists")
    if parent is not None and parent not in existing:
        raise InvalidValue(f"there is no department `{parent}`",
                           did_you_mean(parent, existing) or f"departments: {known_list(existing)}")
    connection.execute(departments.insert().values(id=department_id, title=title, parent_id=parent,
                                                   head_id=_head(connection, compiled, head)))


def _head(connection: Any, compiled: CompiledDefinition, head: str | None) -> int | None:
    if head is None or head == "":
        return None
    found = user_id(connection, compiled, head)
    if found is None:
        raise InvalidValue(f"there is no user `{head}` to head the department", "run `smartflow user list`",
                           field="head")
    return found


def set_department_head(connection: Any, compiled: CompiledDefinition, actor: Actor, department_id: str,
                        head: str | None) -> None:
    """Name the head of a department (None: nobody)."""
    require_admin(actor)
    _, _, departments = _tables(compiled)
    _check_department(connection, departments, department_id)
    connection.execute(departments.update().where(departments.c.id == department_id)
                       .values(head_id=_head(connection, compiled, head)))


def list_departments(connection: Any, compiled: CompiledDefinition) -> list[dict[str, Any]]:
    _, _, departments = _tables(compiled)
    users, _, _ = _tables(compiled)
    heads = dict(connection.execute(sa.select(users.c.id, users.c.login)
                                    .where(users.c.id.in_(sa.select(departments.c.head_id)))).all())
    return [{"id": r.id, "title": r.title, "parent": r.parent_id, "head": heads.get(r.head_id)}
            for r in connection.execute(sa.select(departments).order_by(departments.c.id))]
