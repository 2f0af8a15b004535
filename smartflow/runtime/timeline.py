"""What people write on an item besides its fields: comments (with `@login` mentions) and to-dos
("дела": a title, a deadline, a responsible person, done or not), and the item's timeline, which
merges them with its history.

Rights, decided here once for every door (the board, the API, the CLI, automation):

- whoever may read an item reads its comments and to-dos, and may comment and add to-dos (an
  observer or a colleague who may only read still takes part in the discussion, as in Bitrix24);
  a comment or to-do of an item the actor may not read is missing to them, exactly as the item is;
- only a comment's author edits or deletes it; the earlier text stays in the item's history
  (rows `comment.edit` and `comment.delete` of sf_history);
- a to-do is marked done (or open again) by its responsible person, its author, or whoever may
  update the item;
- a mention notifies the mentioned user (runtime.notices: their inbox, and e-mail) only when they are
  active and may read the item; a mention of nobody stays plain text; a to-do given to someone else
  notifies them the same way.

"Overdue" and "today" are by the operation's clock (runtime.clock), in UTC like `today` elsewhere.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import sqlalchemy as sa

from smartflow.definitions.calendars import Calendar
from smartflow.definitions.durations import DURATION, shift
from smartflow.errors import InvalidValue, NotDeployed, NotFound, PermissionDenied
from smartflow.i18n import tr
from smartflow.records import record
from smartflow.runtime import access, fields, notices, people
from smartflow.runtime.items import Write, _record, built, fetch, process_of

MAX_COMMENT = 20_000  # characters of one comment
MAX_TITLE = 500  # characters of a to-do's title
INBOX_EXCERPT = 500  # characters of a comment a mention's inbox message carries
TABLES = ("sf_comments", "sf_comment_mentions", "sf_todos")
# `@login` after a start, a space or an opening bracket (so `a@b.ru` is no mention); trailing
# punctuation is not part of the login
MENTION = re.compile(r"(?:(?<=^)|(?<=[\s(\[{«\"'>]))@([^\s@,;:!?()\[\]{}<>\"'«»]+)")


def _tables(write: Write) -> tuple[sa.Table, sa.Table, sa.Table]:
    tables = write.compiled.tables
    return tables["sf_comments"], tables["sf_comment_mentions"], tables["sf_todos"]


def has_tables(write: Write, cache: dict[str, Any]) -> bool:
    """Whether the database has the tables of comments and to-dos (one deployed before them has not)."""
    if not cache.get("timeline"):
        inspector = sa.inspect(write.connection)
        cache["timeline"] = all(inspector.has_table(name) for name in TABLES) or None
    return bool(cache["timeline"])


def require_tables(write: Write, cache: dict[str, Any]) -> None:
    """NotDeployed when the database was deployed before comments and to-dos (apply adds their tables)."""
    if not has_tables(write, cache):
        raise NotDeployed("this database has no tables for comments and to-dos yet",
                          "run `smartflow apply` once to create smartflow's new system tables")


# what a text is, as a refusal names it
_WHAT = {"comment": tr("comment"), "to-do's title": tr("to-do's title")}


def _text(text: Any, what: str, limit: int, field: str) -> str:
    if not isinstance(text, str):
        raise InvalidValue(f"the {what} must be text", "send a string", field=field)
    text = text.replace("\r\n", "\n").replace("\r", "\n").strip()
    if not text:
        raise InvalidValue(tr("the {what} is empty", what=_WHAT.get(what, what)), f"write the {what}", field=field)
    if len(text) > limit:
        raise InvalidValue(tr("the {what} is longer than {limit} characters", what=_WHAT.get(what, what), limit=limit),
                           tr("shorten it"), field=field)
    problem = fields.text_problem(text)
    if problem is not None:
        raise InvalidValue(tr("the {what} {problem}", what=_WHAT.get(what, what), problem=problem), "send plain text",
                           field=field)
    return text


def _readable(write: Write, process_id: str, item_id: int) -> dict[str, Any]:
    """The item, as the actor may read it: NotFound (alike for a missing one) otherwise."""
    return fetch(write, process_of(write, process_id), item_id)


def _users(write: Write, ids: set[int]) -> dict[int, tuple[str, str]]:
    return people.names_of(write.connection, write.compiled, ids)


def _who(users: dict[int, tuple[str, str]], user_id: int | None, via: str | None) -> str:
    if user_id is not None and user_id in users:
        return users[user_id][0]
    if via and via.startswith("trigger:"):
        return via
    return "local administrator"


# ---- comments ---------------------------------------------------------------------------


def mentioned_logins(text: str) -> list[str]:
    """The logins a text mentions with `@login`, in order, once each."""
    found = [m.group(1).rstrip(".") for m in MENTION.finditer(text)]
    return list(dict.fromkeys(login for login in found if login))


def _may_read(write: Write, process_id: str, item_id: int, user: int, login: str) -> bool:
    """Whether an active user may read the item (whom a mention may notify)."""
    try:
        actor = people.resolve_actor(write.connection, write.compiled, login)
    except NotFound:  # deactivated
        return False
    process = write.compiled.processes[process_id]
    if actor.id != user or not access.visible(actor, process):
        return False
    table = process.table
    found = write.connection.execute(sa.select(table.c.id).where(
        table.c.id == item_id, table.c.deleted_at.is_(None), access.row_filter(actor, process, "read"))).first()
    return found is not None


def _mention(write: Write, process_id: str, item: dict[str, Any], comment_id: int, text: str,
             already: frozenset[int] = frozenset()) -> list[str]:
    """Record whom text mentions and notify those who may read the item (each once per comment)."""
    _, mentions, _ = _tables(write)
    users = write.compiled.tables["sf_users"]
    logins = mentioned_logins(text)
    if not logins:
        return []
    rows = write.connection.execute(sa.select(users.c.id, users.c.login).where(users.c.login.in_(logins))).all()
    notified = []
    for row in rows:
        if row.id in already or row.id == write.actor.id:
            continue
        if not _may_read(write, process_id, item["id"], row.id, row.login):
            continue
        write.connection.execute(mentions.insert().values(comment_id=comment_id, user_id=row.id))
        author = write.actor.login if write.actor.id is not None else "smartflow"
        excerpt = text if len(text) <= INBOX_EXCERPT else text[:INBOX_EXCERPT - 1] + "…"
        notices.tell(write, [row.id], process_id, item, "mention", f"@{author} → {item['title']}", excerpt,
                     details={"anchor": f"comment-{comment_id}"})
        notified.append(row.login)
    return notified


def add_comment(write: Write, process_id: str, item_id: int, text: Any) -> dict[str, Any]:
    """A new comment on an item the actor may read; mentioned readers are notified."""
    item = _readable(write, process_id, item_id)
    body = _text(text, "comment", MAX_COMMENT, "text")
    comments, _, _ = _tables(write)
    comment_id = write.connection.execute(comments.insert().values(
        process=process_id, item_id=item_id, author_id=write.actor.id, text=body, created_at=write.now,
        via=write.via)).inserted_primary_key[0]
    _mention(write, process_id, item, int(comment_id), body)
    return _one_comment(write, process_id, item_id, int(comment_id))


def _comment_row(write: Write, process_id: str, item_id: int, comment_id: int) -> Any:
    comments, _, _ = _tables(write)
    row = write.connection.execute(sa.select(comments).where(
        comments.c.id == comment_id, comments.c.process == process_id, comments.c.item_id == item_id,
        comments.c.deleted_at.is_(None))).first() if isinstance(comment_id, int) and 0 < comment_id < 2**31 else None
    if row is None:
        raise NotFound(f"{process_id} {item_id} has no comment {comment_id}",
                       f"list them: smartflow item comments {process_id} {item_id}")
    return row


def _own(write: Write, row: Any, doing: str) -> None:
    if row.author_id is None or row.author_id != write.actor.id:
        raise PermissionDenied(f"you may not {doing} comment {row.id}: only its author may",
                               "write a new comment instead")


def edit_comment(write: Write, process_id: str, item_id: int, comment_id: int, text: Any) -> dict[str, Any]:
    """Change one's own comment; the earlier text stays in the item's history."""
    item = _readable(write, process_id, item_id)
    row = _comment_row(write, process_id, item_id, comment_id)
    _own(write, row, "edit")
    body = _text(text, "comment", MAX_COMMENT, "text")
    if body != row.text:
        comments, mentions, _ = _tables(write)
        write.connection.execute(sa.update(comments).where(comments.c.id == row.id).values(
            text=body, edited_at=write.now))
        _record(write, [_history_row(write, process_id, item_id, "comment.edit", {"id": row.id, "text": row.text},
                                     {"id": row.id, "text": body})])
        before = frozenset(write.connection.execute(sa.select(mentions.c.user_id).where(
            mentions.c.comment_id == row.id)).scalars())
        _mention(write, process_id, item, row.id, body, before)
    return _one_comment(write, process_id, item_id, row.id)


def delete_comment(write: Write, process_id: str, item_id: int, comment_id: int) -> None:
    """Delete one's own comment: it leaves the timeline; its text stays in the item's history."""
    _readable(write, process_id, item_id)
    row = _comment_row(write, process_id, item_id, comment_id)
    _own(write, row, "delete")
    comments, _, _ = _tables(write)
    write.connection.execute(sa.update(comments).where(comments.c.id == row.id).values(deleted_at=write.now))
    _record(write, [_history_row(write, process_id, item_id, "comment.delete", {"id": row.id, "text": row.text},
                                 None)])


def _history_row(write: Write, process_id: str, item_id: int, kind: str, old: Any, new: Any) -> dict[str, Any]:
    return {"process": process_id, "item_id": item_id, "at": write.now, "actor_id": write.actor.id, "kind": kind,
            "field": None, "old": old, "new": new, "via": write.via, "definition_version": write.compiled.version}


def _comment_json(row: Any, users: dict[int, tuple[str, str]], mentioned: list[str]) -> dict[str, Any]:
    return {"id": row.id, "process": row.process, "item_id": row.item_id, "text": row.text,
            "author": _who(users, row.author_id, row.via), "author_name": users.get(row.author_id, ("", ""))[1]
            if row.author_id is not None else "",
            "created_at": _aware(row.created_at), "edited_at": _aware(row.edited_at), "mentions": mentioned}


def _aware(moment: datetime | None) -> datetime | None:
    if moment is None:
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _listed_comments(write: Write, rows: list[Any]) -> list[dict[str, Any]]:
    _, mentions, _ = _tables(write)
    users = _users(write, {r.author_id for r in rows if r.author_id is not None})
    mentioned: dict[int, list[int]] = {}
    if rows:
        for comment_id, user in write.connection.execute(sa.select(mentions.c.comment_id, mentions.c.user_id).where(
                mentions.c.comment_id.in_([r.id for r in rows]))):
            mentioned.setdefault(comment_id, []).append(user)
    people_named = _users(write, {u for found in mentioned.values() for u in found})
    return [_comment_json(r, users, sorted(people_named[u][0] for u in mentioned.get(r.id, []) if u in people_named))
            for r in rows]


def _one_comment(write: Write, process_id: str, item_id: int, comment_id: int) -> dict[str, Any]:
    return _listed_comments(write, [_comment_row(write, process_id, item_id, comment_id)])[0]


def comments(write: Write, process_id: str, item_id: int, *, read: bool = False) -> list[dict[str, Any]]:
    """The item's comments, oldest first (NotFound when the actor may not read the item); read: the caller
    has just read it, as this actor, in this transaction."""
    if not read:
        _readable(write, process_id, item_id)
    table, _, _ = _tables(write)
    rows = write.connection.execute(sa.select(table).where(
        table.c.process == process_id, table.c.item_id == item_id, table.c.deleted_at.is_(None))
        .order_by(table.c.id)).all()
    return _listed_comments(write, list(rows))


def get_comment(write: Write, process_id: str, item_id: int, comment_id: int) -> dict[str, Any]:
    _readable(write, process_id, item_id)
    return _one_comment(write, process_id, item_id, comment_id)


# ---- to-dos -------------------------------------------------------------------------------


@record(frozen=True)
class Due:
    """A deadline: a day, or a moment (aware, UTC); neither for a to-do without one."""

    day: date | None = None
    moment: datetime | None = None


OFFSET = re.compile(r"^\s*(?:now|today|([a-z][a-z0-9_]*))?\s*([-+])\s*(\d+(?:m|h|d|w|wd|wh))\s*$")
DAY_UNITS = ("d", "w", "wd")


def parse_due(raw: Any, now: datetime, calendar: Calendar | None = None, item: dict[str, Any] | None = None) -> Due:
    """A deadline as given: `2026-12-31` (a day), `2026-12-31T15:00` or with an offset (a moment; without
    one, UTC), `+2wd`/`+3d`/`+1w` (a day: working days by the process's calendar), `+4h`/`+2wh`/`+30m`
    (a moment), a date or date-time field of item (with an offset: `deadline - 1wd`); empty: none."""
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return Due()
    if isinstance(raw, datetime):
        return Due(moment=_utc(raw))
    if isinstance(raw, date):
        return Due(day=raw)
    if not isinstance(raw, str):
        raise InvalidValue(tr("the deadline {value} is not a date", value=repr(raw)),
                           tr("write 2026-12-31, 2026-12-31T15:00 or +2wd"),
                           field="due")
    text = raw.strip()
    match = OFFSET.match(text)
    if match is None and (item is None or text not in item):
        return _literal_due(text)
    name = match.group(1) if match else text
    if name and item is None:  # a field's name, where there is no item to read it from (a person's form)
        return _literal_due(text)
    base: Any = (item or {}).get(name) if name else now
    if base is None:
        return Due()
    if match is None:
        return parse_due(base, now, calendar, item)
    duration = DURATION.match(match.group(3))
    assert duration is not None  # OFFSET only matches durations
    amount = int(duration.group(1)) * (-1 if match.group(2) == "-" else 1)
    unit = duration.group(2)
    cal = calendar or Calendar.of(None)
    if isinstance(base, date) and not isinstance(base, datetime):
        base = cal.morning(base)  # a day's working morning, as delayed triggers count from it
    moment = shift(_utc(base), amount, unit, cal)
    if unit in DAY_UNITS:
        return Due(day=moment.astimezone(cal.zone).date())
    return Due(moment=_utc(moment))


def _literal_due(text: str) -> Due:
    try:
        if len(text) == 10:
            return Due(day=date.fromisoformat(text))
        return Due(moment=_utc(datetime.fromisoformat(text.replace(" ", "T", 1))))
    except ValueError:
        raise InvalidValue(tr("the deadline {value} is not a date", value=repr(text)),
                           tr("write 2026-12-31, 2026-12-31T15:00 or +2wd"),
                           field="due") from None


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _responsible(write: Write, raw: Any, item: dict[str, Any] | None) -> int | None:
    """A user named by login (`ivanova` or `@ivanova`), `#id`, an id, or a user field of item
    (`assigned_to`); None for nobody."""
    if raw is None or raw == "":
        return None
    if isinstance(raw, str) and item is not None and raw in item and not raw.startswith("@"):
        value = item.get(raw)
        return int(value) if isinstance(value, int) else None
    name = raw[1:] if isinstance(raw, str) and raw.startswith("@") else raw
    found = people.user_id(write.connection, write.compiled, name)
    if found is None:
        raise InvalidValue(f"there is no user {raw!r} to be responsible", "name a user by login",
                           field="responsible")
    return found


def _todo_row(write: Write, process_id: str, item_id: int, todo_id: int) -> Any:
    _, _, todos = _tables(write)
    valid = isinstance(todo_id, int) and 0 < todo_id < 2**31
    row = write.connection.execute(sa.select(todos).where(
        todos.c.id == todo_id, todos.c.process == process_id, todos.c.item_id == item_id)).first() if valid else None
    if row is None:
        raise NotFound(f"{process_id} {item_id} has no to-do {todo_id}",
                       f"list them: smartflow item todos {process_id} {item_id}")
    return row


def create_todo(write: Write, process_id: str, item: dict[str, Any], title: str, due: Due,
                responsible: int | None) -> int:
    """Write a to-do of item (checked already: the actor may read it, or automation acts)."""
    _, _, todos = _tables(write)
    new_id = write.connection.execute(todos.insert().values(
        process=process_id, item_id=item["id"], title=title, due_date=due.day, due_at=due.moment,
        responsible_id=responsible, created_by=write.actor.id, created_at=write.now,
        via=write.via)).inserted_primary_key[0]
    if responsible is not None and responsible != write.actor.id:
        _tell_responsible(write, process_id, item, int(new_id), title, due, responsible)
    return int(new_id)


def _deadline(day: date | None, moment: datetime | None) -> str | None:
    """A to-do's deadline as a notification reads it: a day, or a moment in UTC."""
    if day is not None:
        return day.isoformat()
    found = _aware(moment)
    return found.strftime("%Y-%m-%d %H:%M UTC") if found is not None else None


def _tell_responsible(write: Write, process_id: str, item: dict[str, Any], todo_id: int, title: str, due: Due,
                      responsible: int) -> None:
    """Tell whom someone else gave a to-do, if they may read its item (in their inbox and by e-mail)."""
    login = _users(write, {responsible}).get(responsible, ("", ""))[0]
    if not _may_read(write, process_id, item["id"], responsible, login):
        return
    deadline = _deadline(due.day, due.moment)
    who = notices.author(write)
    notices.tell(write, [responsible], process_id, item, "todo", tr("To-do: {todo}", todo=title),
                 tr("{author} gave you a to-do: “{todo}”, due {due}.", author=who, todo=title, due=deadline)
                 if deadline else tr("{author} gave you a to-do: “{todo}”.", author=who, todo=title),
                 details={"todo": title, "due": deadline, "anchor": f"todo-{todo_id}"})


def add_todo(write: Write, process_id: str, item_id: int, title: Any, due: Any = None,
             responsible: Any = None) -> dict[str, Any]:
    """A new to-do on an item the actor may read; responsible: a login (none given: the actor)."""
    item = _readable(write, process_id, item_id)
    name = _text(title, "to-do's title", MAX_TITLE, "title").replace("\n", " ")
    process = write.compiled.processes[process_id]
    deadline = parse_due(due, write.now or datetime.now(UTC), Calendar.of(process.process.working_hours))
    who = _responsible(write, responsible, None) if responsible not in (None, "") else write.actor.id
    if who is not None and who != write.actor.id:
        login = _users(write, {who}).get(who, ("", ""))[0]
        if not _may_read(write, process_id, item_id, who, login):
            raise InvalidValue(f"{login} may not read {process_id} {item_id}, so cannot be responsible for its to-do",
                               "give it to someone with a right to read the item", field="responsible")
    todo_id = create_todo(write, process_id, item, name, deadline, who)
    return _one_todo(write, process_id, item_id, todo_id)


def set_done(write: Write, process_id: str, item_id: int, todo_id: int, done: bool) -> dict[str, Any]:
    """Mark a to-do done (or open again): its responsible person, its author, or whoever may update the item."""
    item = _readable(write, process_id, item_id)
    row = _todo_row(write, process_id, item_id, todo_id)
    mine = write.actor.id is not None and write.actor.id in (row.responsible_id, row.created_by)
    process = write.compiled.processes[process_id]
    if not mine and not access.reaches(write.actor, process, "update", item):
        raise PermissionDenied(f"you may not change to-do {todo_id}: it is neither yours nor may you update "
                               f"{process_id} {item_id}", "ask its responsible person")
    if (row.done_at is not None) != done:
        _, _, todos = _tables(write)
        write.connection.execute(sa.update(todos).where(todos.c.id == row.id).values(
            done_at=write.now if done else None, done_by=write.actor.id if done else None))
    return _one_todo(write, process_id, item_id, row.id)


def _state(row: Any, now: datetime) -> str:
    """done, overdue, today or open."""
    if row.done_at is not None:
        return "done"
    today = now.date()
    if row.due_at is not None:
        due = _aware(row.due_at)
        assert due is not None
        return "overdue" if due < now else "today" if due.date() == today else "open"
    if row.due_date is not None:
        return "overdue" if row.due_date < today else "today" if row.due_date == today else "open"
    return "open"


def _listed_todos(write: Write, rows: list[Any]) -> list[dict[str, Any]]:
    ids = {u for r in rows for u in (r.responsible_id, r.created_by, r.done_by) if u is not None}
    users = _users(write, ids)
    now = _utc(write.now or datetime.now(UTC))
    out = []
    for r in rows:
        out.append({"id": r.id, "process": r.process, "item_id": r.item_id, "title": r.title,
                    "due": r.due_date if r.due_date is not None else _aware(r.due_at),
                    "responsible": users[r.responsible_id][0] if r.responsible_id in users else None,
                    "responsible_name": users[r.responsible_id][1] if r.responsible_id in users else "",
                    "created_by": _who(users, r.created_by, r.via), "created_at": _aware(r.created_at),
                    "done": r.done_at is not None, "done_at": _aware(r.done_at),
                    "done_by": users[r.done_by][0] if r.done_by in users else None, "state": _state(r, now),
                    "via": r.via})
    return out


def _one_todo(write: Write, process_id: str, item_id: int, todo_id: int) -> dict[str, Any]:
    return _listed_todos(write, [_todo_row(write, process_id, item_id, todo_id)])[0]


def todos(write: Write, process_id: str, item_id: int, *, read: bool = False) -> list[dict[str, Any]]:
    """The item's to-dos, oldest first (NotFound when the actor may not read the item; read: as comments)."""
    if not read:
        _readable(write, process_id, item_id)
    _, _, table = _tables(write)
    rows = write.connection.execute(sa.select(table).where(
        table.c.process == process_id, table.c.item_id == item_id).order_by(table.c.id)).all()
    return _listed_todos(write, list(rows))


def get_todo(write: Write, process_id: str, item_id: int, todo_id: int) -> dict[str, Any]:
    _readable(write, process_id, item_id)
    return _one_todo(write, process_id, item_id, todo_id)


# ---- the user's own: inbox, counters, overdue cards ---------------------------------------


def _overdue_sql(todos: sa.Table, now: datetime) -> Any:
    return sa.and_(todos.c.done_at.is_(None), sa.or_(todos.c.due_at < now, todos.c.due_date < now.date()))


def _today_sql(todos: sa.Table, now: datetime) -> Any:
    start = datetime.combine(now.date(), time(), tzinfo=UTC)
    return sa.and_(todos.c.done_at.is_(None), sa.or_(
        sa.and_(todos.c.due_at >= now, todos.c.due_at < start + timedelta(days=1)), todos.c.due_date == now.date()))


def _readable_ids(write: Write, pairs: set[tuple[str, int]]) -> set[tuple[str, int]]:
    """The (process, item id) pairs among pairs the actor may read (not in the recycle bin)."""
    found: set[tuple[str, int]] = set()
    by_process: dict[str, list[int]] = {}
    for process_id, item_id in pairs:
        by_process.setdefault(process_id, []).append(item_id)
    for process_id, ids in by_process.items():
        process = write.compiled.processes.get(process_id)
        if process is None or not access.visible(write.actor, process):
            continue
        table = process.table
        rows = write.connection.execute(sa.select(table.c.id).where(
            table.c.id.in_(ids), table.c.deleted_at.is_(None), access.row_filter(write.actor, process, "read")))
        found |= {(process_id, row.id) for row in rows}
    return found


def _titles(write: Write, pairs: set[tuple[str, int]]) -> dict[tuple[str, int], str]:
    by_process: dict[str, list[int]] = {}
    for process_id, item_id in pairs:
        by_process.setdefault(process_id, []).append(item_id)
    found = {}
    for process_id, ids in by_process.items():
        table = write.compiled.processes[process_id].table
        for row in write.connection.execute(sa.select(table.c.id, table.c.title).where(table.c.id.in_(ids))):
            found[(process_id, row.id)] = row.title
    return found


def my_todos(write: Write, open_only: bool = True, limit: int = 100) -> list[dict[str, Any]]:
    """The actor's to-dos (open ones by default) on items they may read, most urgent first."""
    _, _, todos = _tables(write)
    if write.actor.id is None:
        return []
    query = sa.select(todos).where(todos.c.responsible_id == write.actor.id)
    if open_only:
        query = query.where(todos.c.done_at.is_(None))
    rows = list(write.connection.execute(query.order_by(todos.c.id.desc()).limit(limit * 4)))
    readable = _readable_ids(write, {(r.process, r.item_id) for r in rows})
    rows = [r for r in rows if (r.process, r.item_id) in readable]
    listed = _listed_todos(write, rows)
    titles = _titles(write, readable)
    for todo in listed:
        todo["item_title"] = titles.get((todo["process"], todo["item_id"]), "")
    order = {"overdue": 0, "today": 1, "open": 2, "done": 3}
    far = datetime.max.replace(tzinfo=UTC)

    def urgency(todo: dict[str, Any]) -> tuple[int, datetime, int]:
        due = todo["due"]
        moment = far if due is None else due if isinstance(due, datetime) else \
            datetime.combine(due, time.max, tzinfo=UTC)
        return order[todo["state"]], moment, todo["id"]

    return sorted(listed, key=urgency)[:limit]


def counters(write: Write) -> dict[str, int]:
    """The actor's open to-dos overdue and due today (on items they may read)."""
    if write.actor.id is None:
        return {"overdue": 0, "today": 0}
    _, _, todos = _tables(write)
    now = _utc(write.now or datetime.now(UTC))
    rows = write.connection.execute(sa.select(todos.c.process, todos.c.item_id, _overdue_sql(todos, now))
                                    .where(todos.c.responsible_id == write.actor.id,
                                           sa.or_(_overdue_sql(todos, now), _today_sql(todos, now)))).all()
    readable = _readable_ids(write, {(r[0], r[1]) for r in rows})
    counts = {"overdue": 0, "today": 0}
    for process_id, item_id, overdue in rows:
        if (process_id, item_id) in readable:
            counts["overdue" if overdue else "today"] += 1
    return counts


def my_mentions(write: Write, limit: int = 50) -> list[dict[str, Any]]:
    """The comments that mention the actor, newest first, on items they may read."""
    comments, mentions, _ = _tables(write)
    if write.actor.id is None:
        return []
    rows = list(write.connection.execute(sa.select(comments).join(mentions, mentions.c.comment_id == comments.c.id)
                                         .where(mentions.c.user_id == write.actor.id, comments.c.deleted_at.is_(None))
                                         .order_by(comments.c.id.desc()).limit(limit * 4)))
    readable = _readable_ids(write, {(r.process, r.item_id) for r in rows})
    rows = [r for r in rows if (r.process, r.item_id) in readable][:limit]
    listed = _listed_comments(write, rows)
    titles = _titles(write, readable)
    for comment in listed:
        comment["item_title"] = titles.get((comment["process"], comment["item_id"]), "")
    return listed


def overdue_items(write: Write, process_id: str, item_ids: list[int]) -> set[int]:
    """Which of the items (of a page the actor was shown) have an open to-do past its deadline."""
    _, _, todos = _tables(write)
    if not item_ids:
        return set()
    now = _utc(write.now or datetime.now(UTC))
    query = built((todos, "overdue_items"), lambda: sa.select(todos.c.item_id).where(
        todos.c.process == sa.bindparam("_process"), todos.c.item_id.in_(sa.bindparam("_ids", expanding=True)),
        todos.c.done_at.is_(None), sa.or_(todos.c.due_at < sa.bindparam("_now"),
                                          todos.c.due_date < sa.bindparam("_today"))).distinct())
    return set(write.connection.execute(query, {"_process": process_id, "_ids": list(item_ids), "_now": now,
                                                "_today": now.date()}).scalars())


# ---- overdue reminders (the worker's) ------------------------------------------------------

REMIND_WITHIN = timedelta(days=1)  # how soon after going overdue a to-do is reminded of (not every old one)


def remind_overdue(write: Write, limit: int) -> int:
    """Tell the responsible person of each open to-do that went overdue within REMIND_WITHIN (a moment
    passed, or the day of a to-do due on a day ended, in UTC), once (`reminded_at`), if they may read its
    item; returns how many to-dos were handled. Several workers may run it: rows are taken SKIP LOCKED."""
    _, _, todos = _tables(write)
    now = _utc(write.now or datetime.now(UTC))
    query = sa.select(todos).where(
        todos.c.done_at.is_(None), todos.c.reminded_at.is_(None), todos.c.responsible_id.is_not(None),
        sa.or_(sa.and_(todos.c.due_at <= now, todos.c.due_at > now - REMIND_WITHIN),
               # a day's to-do went overdue when its day ended: at the start of the next one
               sa.and_(todos.c.due_date < now.date(),
                       todos.c.due_date >= (now - REMIND_WITHIN).date() - timedelta(days=1)))
    ).order_by(todos.c.id).limit(limit)
    rows = list(write.connection.execute(query if write.sqlite else query.with_for_update(skip_locked=True)))
    if not rows:
        return 0
    write.connection.execute(sa.update(todos).where(todos.c.id.in_([r.id for r in rows])).values(reminded_at=now))
    live = _live_titles(write, {(r.process, r.item_id) for r in rows})
    logins = _users(write, {r.responsible_id for r in rows})
    for row in rows:
        title = live.get((row.process, row.item_id))
        login = logins.get(row.responsible_id, ("", ""))[0]
        if title is None or not _may_read(write, row.process, row.item_id, row.responsible_id, login):
            continue
        deadline = _deadline(row.due_date, row.due_at)
        notices.tell(write, [row.responsible_id], row.process, {"id": row.item_id, "title": title}, "overdue",
                     tr("Overdue: {todo}", todo=row.title),
                     tr("The to-do “{todo}” is overdue (due {due}).", todo=row.title, due=deadline),
                     details={"todo": row.title, "due": deadline, "anchor": f"todo-{row.id}"})
    return len(rows)


def _live_titles(write: Write, pairs: set[tuple[str, int]]) -> dict[tuple[str, int], str]:
    """The titles of the items of pairs that exist and are not in the recycle bin."""
    found: dict[tuple[str, int], str] = {}
    for process_id, item_id in pairs:
        process = write.compiled.processes.get(process_id)
        if process is None:
            continue
        table = process.table
        title = write.connection.execute(sa.select(table.c.title).where(
            table.c.id == item_id, table.c.deleted_at.is_(None))).scalar()
        if title is not None:
            found[(process_id, item_id)] = title
    return found


# ---- the timeline -------------------------------------------------------------------------


def trigger_title(write: Write, via: str | None) -> Any:
    """The title of the trigger a `trigger:process.id` via names (its id when it has none); None otherwise."""
    if not via or not via.startswith("trigger:"):
        return None
    process_id, _, trigger_id = via.removeprefix("trigger:").partition(".")
    process = write.compiled.processes.get(process_id)
    if process is None:
        return trigger_id or via
    for trigger in process.process.triggers:
        if trigger.id == trigger_id:
            return trigger.title or trigger_id
    return trigger_id


def timeline(write: Write, process_id: str, item_id: int, history: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Comments, to-dos and the item's history (as the actor may read it, given: reading it checked that the
    actor may read the item, which is not read again) in one list, newest first: each entry {"kind":
    "comment" | "todo" | "history", "at", "entry": the comment, to-do or history row}; an automated entry's
    `trigger` is its trigger's title."""
    entries: list[dict[str, Any]] = []
    for comment in comments(write, process_id, item_id, read=True):
        entries.append({"kind": "comment", "at": comment["created_at"], "entry": comment, "order": (2, comment["id"])})
    for todo in todos(write, process_id, item_id, read=True):
        entries.append({"kind": "todo", "at": todo["created_at"], "entry": todo, "order": (1, todo["id"])})
    for position, row in enumerate(history):  # oldest first: at one moment, the later row is the newer
        if row["kind"] in ("comment.edit",):
            continue  # the comment shows it was edited; its earlier text is in the history
        entries.append({"kind": "history", "at": _aware(row["at"]), "entry": row, "order": (0, position),
                        "trigger": trigger_title(write, row.get("via"))})
    entries.sort(key=lambda e: (e["at"], e["order"]), reverse=True)
    for entry in entries:
        del entry["order"]
        entry.setdefault("trigger", trigger_title(write, entry["entry"].get("via")) if entry["kind"] == "todo"
                         else None)
    return entries
