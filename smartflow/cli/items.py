"""CLI commands for the people who work the items: users, items, kanban.

Thin layers over smartflow.services.Engine: parse → call → print. Every command takes
--db, --as and, where it prints data, --format table|json|csv.
"""

from __future__ import annotations

import csv
import sys
from pathlib import Path
from typing import Any

import click

from smartflow.cli.common import changed, common, emit, engine, history_line, parse_sets
from smartflow.cli.files import item_file, with_uploads
from smartflow.cli.timeline import COMMANDS as timeline_commands
from smartflow.cli.views import item_list, item_show
from smartflow.errors import InvalidValue

# ---- users and departments ------------------------------------------------------


@click.group()
def user() -> None:
    """Users and their roles."""


process_option = click.option("--process", "processes", multiple=True, metavar="PROCESS",
                              help="Only in this process (repeat for several; none: in every process).")
pipeline_option = click.option("--pipeline", "pipelines", multiple=True, metavar="PIPELINE",
                               help="Only in this pipeline of the one --process named (repeat for several; "
                                    "none: in all of it).")


@user.command("add")
@click.argument("login")
@click.option("--name", default="", help="The user's full name.")
@click.option("--role", "roles", multiple=True, help="A role (repeat for several).")
@process_option
@pipeline_option
@click.option("--department", default=None, help="The user's department id.")
@click.option("--email", default=None, help="The user's e-mail address.")
@click.option("--id", "user_id", type=click.IntRange(min=1), default=None, metavar="N",
              help="The id the user must have (one no user holds), e.g. their id in the system they come from; "
                   "users added later take ids above the largest.")
@common(data=False)
def user_add(login: str, name: str, roles: tuple[str, ...], processes: tuple[str, ...], pipelines: tuple[str, ...],
             department: str | None, email: str | None, user_id: int | None, db_url: str | None,
             as_user: str | None) -> None:
    """Add a user with roles, in every process or only in those named (administrators only)."""
    with engine(db_url, as_user) as crm:
        new_id = crm.add_user(login, name, roles, department, processes, email, pipelines, user_id)
    click.echo(f"user {login} added (id {new_id})")


USER_COLUMNS = ("id", "login", "name", "email", "department", "active")


def _people(path: Path) -> list[dict[str, Any]]:
    """The users of a CSV file (a header of USER_COLUMNS, login required; `users.csv` of a Bitrix24 pull)."""
    with path.open(encoding="utf-8-sig", newline="") as sheet:
        reader = csv.DictReader(sheet)
        header = [h.strip().lower() for h in reader.fieldnames or []]
        if "login" not in header or set(header) - set(USER_COLUMNS):
            others = ", ".join(c for c in USER_COLUMNS if c != "login")
            raise InvalidValue(f"{path}: the columns are {', '.join(header) or 'none'}",
                               f"give a header of login and any of {others}")
        reader.fieldnames = header
        found = []
        for line, row in enumerate(reader, start=2):
            cells = {key: (value or "").strip() for key, value in row.items() if key is not None}
            person: dict[str, Any] = {"login": cells["login"], "name": cells.get("name", ""),
                                      "email": cells.get("email") or None,
                                      "department": cells.get("department") or None}
            if cells.get("id"):
                if not cells["id"].isascii() or not cells["id"].isdigit() or len(cells["id"]) > 12:
                    raise InvalidValue(f"{path}, line {line}: the id {cells['id']!r} is not a user id",
                                       "give a whole number from 1, or leave it empty")
                person["id"] = int(cells["id"])
            active = cells.get("active", "").lower()
            if active not in ("", "true", "false", "yes", "no", "1", "0", "y", "n"):
                raise InvalidValue(f"{path}, line {line}: active is {cells['active']!r}", "write true or false")
            person["active"] = active not in ("false", "no", "0", "n")
            found.append(person)
    return found


@user.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--role", "roles", multiple=True, help="A role every user holds (repeat for several).")
@process_option
@common(data=False)
def user_import(file: Path, roles: tuple[str, ...], processes: tuple[str, ...], db_url: str | None,
                as_user: str | None) -> None:
    """Add the users of a CSV file, all or none (administrators only): columns login and any of id, name, email,
    department, active. A row's id is the id the user gets (users.csv of `smartflow bitrix24 pull` gives each
    person their portal id)."""
    found = _people(file)
    with engine(db_url, as_user) as crm:
        crm.add_users(found, roles, processes)
    kept = sum(1 for person in found if "id" in person)
    click.echo(f"{len(found)} users added" + (f" ({kept} with the ids of the file)" if kept else ""))


def roles_text(user: dict[str, Any]) -> str:
    """`buyer, manager (procurement, complaint: claims)`: roles of every process plain, others with their
    processes, and a role held in some pipelines only with them after its process."""
    scoped: dict[str, list[str]] = {}
    for process, roles in user.get("process_roles", {}).items():
        for role in roles:
            scoped.setdefault(role, []).append(process)
    piped: dict[tuple[str, str], list[str]] = {}
    for process, pipelines in user.get("pipeline_roles", {}).items():
        for pipeline, roles in pipelines.items():
            for role in roles:
                piped.setdefault((role, process), []).append(pipeline)
    for (role, process), pipelines in sorted(piped.items()):
        scoped.setdefault(role, []).append(f"{process}: {', '.join(pipelines)}")
    per_process = [f"{role} ({', '.join(found)})" for role, found in sorted(scoped.items())]
    return ", ".join([*user.get("roles", []), *per_process])


@user.command("list")
@common()
def user_list(db_url: str | None, as_user: str | None, output_format: str) -> None:
    """List users (administrators see their roles, per process, and departments too)."""
    with engine(db_url, as_user) as crm:
        rows = crm.users()
    if any("roles" in row for row in rows):
        if output_format != "json":
            rows = [{**row, "roles": roles_text(row)} for row in rows]
        shown = ["id", "login", "name", "email", "department", "roles", "process_roles", "pipeline_roles", "active"] \
            if output_format == "json" else ["id", "login", "name", "department", "roles", "active"]
    else:
        shown = ["id", "login", "name"]
    emit(rows, shown, output_format)


@user.group("role")
def user_role() -> None:
    """Give or take a user's roles, in every process or only in named ones."""


@user_role.command("add")
@click.argument("login")
@click.argument("role")
@process_option
@pipeline_option
@common(data=False)
def user_role_add(login: str, role: str, processes: tuple[str, ...], pipelines: tuple[str, ...], db_url: str | None,
                  as_user: str | None) -> None:
    """Let a user hold a role in the named processes (none named: in every process), or with --pipeline,
    in those pipelines of the one process named only."""
    with engine(db_url, as_user) as crm:
        found = crm.grant_role(login, role, processes, pipelines)
    click.echo(f"{login}: {roles_text(found) or 'no roles'}")


@user_role.command("remove")
@click.argument("login")
@click.argument("role")
@process_option
@pipeline_option
@common(data=False)
def user_role_remove(login: str, role: str, processes: tuple[str, ...], pipelines: tuple[str, ...],
                     db_url: str | None, as_user: str | None) -> None:
    """Take a role from a user in the named processes (none named: everywhere), or with --pipeline, in
    those pipelines of the one process named."""
    with engine(db_url, as_user) as crm:
        found = crm.revoke_role(login, role, processes, pipelines)
    click.echo(f"{login}: {roles_text(found) or 'no roles'}")


@user.command("deactivate")
@click.argument("login")
@common(data=False)
def user_deactivate(login: str, db_url: str | None, as_user: str | None) -> None:
    """Deactivate a user who left: their sessions and tokens stop at once; their items stay."""
    with engine(db_url, as_user) as crm:
        crm.set_active(login, False)
    click.echo(f"user {login} deactivated")


@user.command("activate")
@click.argument("login")
@common(data=False)
def user_activate(login: str, db_url: str | None, as_user: str | None) -> None:
    """Activate a deactivated user again (their API tokens work again; they sign in anew)."""
    with engine(db_url, as_user) as crm:
        crm.set_active(login, True)
    click.echo(f"user {login} activated")


@user.command("edit")
@click.argument("login")
@click.option("--name", default=None, help="The full name.")
@click.option("--email", default=None, help="The e-mail address ('' clears it).")
@click.option("--department", default=None, help="The department id ('' clears it).")
@click.option("--email-notifications/--no-email-notifications", "email_notifications", default=None,
              help="Whether notifications also come by e-mail (on unless turned off; the inbox has them either way).")
@click.option("--language", type=click.Choice(["ru", "en", ""]), default=None,
              help="The language of the e-mails they get ('' for the worker's default, $SMARTFLOW_LANG).")
@common(data=False)
def user_edit(login: str, name: str | None, email: str | None, department: str | None,
              email_notifications: bool | None, language: str | None, db_url: str | None,
              as_user: str | None) -> None:
    """Change a user's name, e-mail, department or notification settings (administrators only;
    anyone may change their own notification settings on their inbox page or with `--as` themselves)."""
    changes = {key: value for key, value in (("name", name), ("email", email), ("department", department),
                                             ("email_notifications", email_notifications), ("language", language))
               if value is not None}
    if not changes:
        raise click.UsageError("nothing to change: give --name, --email, --department, --email-notifications "
                               "or --language")
    with engine(db_url, as_user) as crm:
        if as_user == login and set(changes) <= {"email_notifications", "language"}:
            crm.change_settings(**changes)  # one's own settings: no administrator needed
        else:
            crm.edit_user(login, **changes)
    click.echo(f"user {login} changed: {', '.join(changes)}")


@user.command("reset")
@click.argument("login")
@common(data=False)
def user_reset(login: str, db_url: str | None, as_user: str | None) -> None:
    """Print a one-time code (valid 24 hours, works once) with which a user sets a new password."""
    with engine(db_url, as_user) as crm:
        code = crm.reset_code(login)
    click.echo(code)
    click.echo(f"hand it to {login}: open /welcome?code=CODE on the board (or POST /api/v1/password-reset) "
               "and choose a new password", err=True)


@user.command("password")
@click.argument("login")
@click.option("--password-stdin", is_flag=True, help="Read the password as one line from standard input.")
@common(data=False)
def user_password(login: str, password_stdin: bool, db_url: str | None, as_user: str | None) -> None:
    """Set a user's password, for logging in to the web (administrators, or the user themselves).

    The password is prompted for (or read from stdin), never taken from the command line; it is
    stored as a scrypt hash. Common and easily guessed passwords are refused. The user's browser
    sessions end (they sign in again); their API tokens are kept (`smartflow token revoke`)."""
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    with engine(db_url, as_user) as crm:
        ended = crm.set_password(login, password)
    click.echo(f"password of {login} set; browser sessions ended: {ended} (API tokens are kept)", err=True)


@click.group()
def token() -> None:
    """API tokens for the HTTP API (`Authorization: Bearer TOKEN`)."""


@token.command("create")
@click.argument("login")
@click.option("--expires", default=None, metavar="DURATION", help="Lifetime such as 90d, 12h or 2w (default: none).")
@common(data=False)
def token_create(login: str, expires: str | None, db_url: str | None, as_user: str | None) -> None:
    """Create an API token for a user and print it alone: it is shown only this once (stored hashed)."""
    with engine(db_url, as_user) as crm:
        secret = crm.create_token(login, expires)
    click.echo(secret)


@token.command("list")
@click.option("--login", default=None, help="Only this user's tokens.")
@common()
def token_list(login: str | None, db_url: str | None, as_user: str | None, output_format: str) -> None:
    """List API tokens (never their secrets): everyone's for administrators, your own otherwise."""
    with engine(db_url, as_user) as crm:
        rows = crm.tokens(login)
    emit(rows, ["id", "login", "created_at", "expires_at", "revoked_at"], output_format)


@token.command("revoke")
@click.argument("token_id", type=int, metavar="ID")
@common(data=False)
def token_revoke(token_id: int, db_url: str | None, as_user: str | None) -> None:
    """Revoke an API token by its id (from `token list`); requests with it answer 401 from now on."""
    with engine(db_url, as_user) as crm:
        crm.revoke_token(token_id)
    click.echo(f"token {token_id} revoked")


@click.group()
def department() -> None:
    """Departments (a tree: a department may have a parent)."""


@department.command("add")
@click.argument("department_id", metavar="ID")
@click.option("--title", required=True, help="The department's name.")
@click.option("--parent", default=None, help="The parent department's id.")
@click.option("--head", default=None, metavar="LOGIN", help="The department's head.")
@common(data=False)
def department_add(department_id: str, title: str, parent: str | None, head: str | None, db_url: str | None,
                   as_user: str | None) -> None:
    """Add a department (administrators only)."""
    with engine(db_url, as_user) as crm:
        crm.add_department(department_id, title, parent, head)
    click.echo(f"department {department_id} added")


@department.command("head")
@click.argument("department_id", metavar="ID")
@click.argument("login", required=False)
@common(data=False)
def department_head(department_id: str, login: str | None, db_url: str | None, as_user: str | None) -> None:
    """Name a department's head (no LOGIN: nobody)."""
    with engine(db_url, as_user) as crm:
        crm.set_department_head(department_id, login)
    click.echo(f"department {department_id}: head {login or 'none'}")


@department.command("list")
@common()
def department_list(db_url: str | None, as_user: str | None, output_format: str) -> None:
    """List departments with their parent and head (administrators only)."""
    with engine(db_url, as_user) as crm:
        rows = crm.directory()["departments"]
    emit(rows, ["id", "title", "parent", "head"], output_format)


# ---- who may do what -------------------------------------------------------------


@click.command("access")
@click.argument("process", required=False)
@click.option("--user", "login", default=None, metavar="LOGIN", help="One user's rights in every process.")
@common()
def access(process: str | None, login: str | None, db_url: str | None, as_user: str | None,
           output_format: str) -> None:
    """Who may do what: a process's users with their levels, stages and hidden fields, or one user's rights."""
    if (process is None) == (login is None):
        raise click.UsageError("name a PROCESS, or give --user LOGIN")
    import json

    with engine(db_url, as_user) as crm:
        report = crm.access_report(process) if process is not None else crm.user_access(login or "")
    if output_format == "json":
        click.echo(json.dumps(report, ensure_ascii=False, indent=2, default=str))
        return
    actions = ["read", "create", "update", "delete", "move", "export", "import"]
    if process is not None:
        rows = [{"user": u["login"], "pipeline": u["pipeline"] or "all", "roles": ", ".join(u["roles"]),
                 **u["levels"], "stages": _stages(u["stages"], report, u["pipeline"]),
                 "hidden": ", ".join(u["hidden_fields"])}
                for u in report["users"]]
        emit(rows, ["user", "pipeline", "roles", *actions, "stages", "hidden"], output_format)
        return
    rows = [{"process": p["process"], "pipeline": p["pipeline"] or "all", "roles": ", ".join(p["roles"]) or "-",
             **p["levels"], "stages": ", ".join(p["stages"]), "hidden": ", ".join(p["hidden_fields"])}
            for p in report["processes"]]
    if not report["active"]:
        click.echo(f"{report['login']} is deactivated: none of these rights is in force", err=True)
    emit(rows, ["process", "pipeline", "roles", *actions, "stages", "hidden"], output_format)


def _stages(stages: list[str], report: dict[str, Any], pipeline: str | None) -> str:
    every = [s for p in report["stages"] if pipeline in (None, p["pipeline"]) for s in p["stages"]]
    return "all" if stages and set(stages) >= set(every) else ", ".join(stages)


# ---- items -----------------------------------------------------------------------


@click.group()
def item() -> None:
    """Create, show, list, change, move and delete items."""


sets_option = click.option("--set", "sets", multiple=True, metavar="FIELD=VALUE",
                           help="A field value, typed per field (repeat for several).")
json_option = click.option("--json", "json_text", metavar="JSON|@FILE", help="Field values as a JSON object.")


@item.command("create")
@click.argument("process")
@click.option("--pipeline", default=None)
@click.option("--stage", default=None)
@sets_option
@json_option
@common(data=False)
def item_create(process: str, pipeline: str | None, stage: str | None, sets: tuple[str, ...], json_text: str | None,
                db_url: str | None, as_user: str | None) -> None:
    """Create an item and print its id."""
    values = parse_sets(sets, json_text)
    with engine(db_url, as_user) as crm:
        values = with_uploads(crm, process, values) if "@" in repr(values) else values
        click.echo(crm.create(process, values, pipeline=pipeline, stage=stage, typed_text=True))


@item.command("update")
@click.argument("process")
@click.argument("item_id", type=int, metavar="ID")
@sets_option
@json_option
@click.option("--if-version", type=int, default=None, help="Refuse if the item's version is not this one.")
@common(data=False)
def item_update(process: str, item_id: int, sets: tuple[str, ...], json_text: str | None, if_version: int | None,
                db_url: str | None, as_user: str | None) -> None:
    """Change an item's fields."""
    values = parse_sets(sets, json_text)
    with engine(db_url, as_user) as crm:
        values = with_uploads(crm, process, values) if "@" in repr(values) else values
        changes = crm.update(process, item_id, values, expected_version=if_version, typed_text=True)
    if not changes:
        click.echo("no changes")
    for field_id, (old, new) in changes.items():
        click.echo(f"{field_id}: {changed(old)} → {changed(new)}")


@item.command("move")
@click.argument("process")
@click.argument("item_id", type=int, metavar="ID")
@click.argument("stage")
@click.option("--pipeline", default=None, help="Move into this pipeline (its own operation).")
@sets_option
@click.option("--if-version", type=int, default=None, help="Refuse if the item's version is not this one.")
@common(data=False)
def item_move(process: str, item_id: int, stage: str, pipeline: str | None, sets: tuple[str, ...],
              if_version: int | None, db_url: str | None, as_user: str | None) -> None:
    """Move an item to a stage; --set changes fields in the same step (a stage's required fields, or a new
    responsible person who works in the pipeline it moves into)."""
    values = parse_sets(sets, None)
    with engine(db_url, as_user) as crm:
        moved = crm.move(process, item_id, stage, pipeline=pipeline, expected_version=if_version,
                         values=values or None, typed_text=True)
    click.echo(f"{process} {item_id}: {moved['from']} → {moved['to']}")


@item.command("delete")
@click.argument("process")
@click.argument("item_id", type=int, metavar="ID")
@common(data=False)
def item_delete(process: str, item_id: int, db_url: str | None, as_user: str | None) -> None:
    """Delete an item (to the recycle bin when the process has one)."""
    with engine(db_url, as_user) as crm:
        outcome = crm.delete(process, item_id)
    where = "moved to the recycle bin" if outcome == "recycle_bin" else "deleted"
    click.echo(f"{process} {item_id} {where}")


@item.command("restore")
@click.argument("process")
@click.argument("item_id", type=int, metavar="ID")
@common(data=False)
def item_restore(process: str, item_id: int, db_url: str | None, as_user: str | None) -> None:
    """Bring an item back from the recycle bin."""
    with engine(db_url, as_user) as crm:
        crm.restore(process, item_id)
    click.echo(f"{process} {item_id} restored")


@item.command("history")
@click.argument("process")
@click.argument("item_id", type=int, metavar="ID")
@common()
def item_history(process: str, item_id: int, db_url: str | None, as_user: str | None, output_format: str) -> None:
    """Everything that happened to an item: who, when, from, to."""
    with engine(db_url, as_user) as crm:
        rows = crm.history(process, item_id)
    if output_format == "table":

        rows = [{"at": str(r["at"])[:19], "who": r["who"], "what": history_line(r), "via": r["via"]} for r in rows]
        emit(rows, ["at", "who", "what", "via"], "table")
        return
    emit(rows, ["at", "who", "kind", "field", "old", "new", "via"], output_format)


@item.command("explain")
@click.argument("process")
@click.argument("item_id", type=int, metavar="ID")
@click.option("--to", "stage", required=True, help="The stage the item would move to.")
@click.option("--pipeline", default=None)
@common(data=False)
def item_explain(process: str, item_id: int, stage: str, pipeline: str | None, db_url: str | None,
                 as_user: str | None) -> None:
    """Why a move would be refused: every failing rule at once. Exits 1 when it would be."""
    with engine(db_url, as_user) as crm:
        problems = crm.explain(process, item_id, stage, pipeline)
    if not problems:
        click.echo(f"{process} {item_id} may move to `{stage}`")
        return
    click.echo(f"{process} {item_id} cannot move to `{stage}`:")
    for problem in problems:
        click.echo(f"  - {problem}")
    raise SystemExit(1)


item.add_command(item_show)
item.add_command(item_file)
item.add_command(item_list)
for _command in timeline_commands:  # comments and to-dos
    item.add_command(_command)


from smartflow.cli.linking import item_bin, item_observers  # noqa: E402  (commands of this group kept apart)

item.add_command(item_observers)
item.add_command(item_bin)
