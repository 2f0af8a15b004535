"""Notifications: how a user hears that something happened to an item, and their inbox.

Every notification goes through `tell`: a mention (runtime.timeline), a to-do given to someone else
or just gone overdue (runtime.timeline), an assignment (runtime.items), an observer added (runtime.observers) and the
`notify` action (delivered by the worker). It writes a line in each active recipient's inbox and,
for each who has an e-mail address and has not turned e-mail off (`sf_users.email_notifications`,
unset: on), an `email` message in sf_outbox. Both are written in the transaction of the change
that caused them, so the worker sends the e-mail only after that change committed, and a slow or
failing mail server never holds up or undoes it (automation/mail.py sends it; its retries and
failures show with the other outbox messages).
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from smartflow.errors import InvalidValue
from smartflow.i18n import Message
from smartflow.runtime import access, fields

EVENTS = ("mention", "assigned", "todo", "overdue", "observer", "notify")  # what an e-mail says happened


def author(write: Any) -> str:
    """Who did it, as a recipient reads it: a person's name (or login), else smartflow itself."""
    if write.actor.id is None:
        return "smartflow"
    return str(write.actor.name or write.actor.login)


def tell(write: Any, user_ids: list[int], process_id: str | None, item: dict[str, Any] | None, event: str,
         subject: str | None, message: str, *, outbox_id: int | None = None,
         details: dict[str, Any] | None = None) -> list[int]:
    """Notify users (the active ones among user_ids, each once) of event on item: a line in their inbox,
    and an e-mail to send for those who have an address and e-mail on. Returns whom it told.

    subject and message written by smartflow are Messages (`tr`, plain parameters): the inbox keeps
    their English and their msgid and parameters, and shows them in each reader's language (`inbox`).
    details: what the e-mail names besides (a to-do's title and deadline, the comment's id)."""
    assert event in EVENTS, event
    wanted = list(dict.fromkeys(int(u) for u in user_ids))
    if not wanted:
        return []
    tables = write.compiled.tables
    users, inbox = tables["sf_users"], tables["sf_inbox"]
    rows = write.connection.execute(sa.select(users.c.id, users.c.email, users.c.email_notifications).where(
        users.c.id.in_(wanted), users.c.active.is_(True))).all()
    told = [row.id for row in rows]
    if not told:
        return []
    item_id = item["id"] if item is not None else None
    write.connection.execute(inbox.insert(), [
        {"user_id": user, "outbox_id": outbox_id, "process": process_id, "item_id": item_id, "subject": subject,
         "message": message, "created_at": write.now, "localized": _localized(subject=subject, message=message)}
        for user in told])
    mailed = [row.id for row in rows if row.email and row.email_notifications is not False]
    if mailed:
        payload = {"event": event, "process": process_id, "item_id": item_id,
                   "item_title": fields.plain(item.get("title")) if item is not None else None,
                   "author": author(write), "subject": subject, "message": message, **(details or {})}
        write.connection.execute(tables["sf_outbox"].insert(), [
            {"kind": "email", "payload": {**payload, "user_id": user}, "status": "pending", "attempts": 0,
             "next_attempt_at": write.now, "created_at": write.now} for user in mailed])
    return told


def _localized(**texts: str | None) -> dict[str, Any] | None:
    """The Messages among texts as the inbox keeps them: name → [msgid, parameters as plain values]."""
    kept = {name: [text.msgid, {key: _plain(value) for key, value in text.params.items()}]
            for name, text in texts.items() if isinstance(text, Message)}
    return kept or None


def _plain(value: Any) -> Any:
    return value if isinstance(value, int | float) and not isinstance(value, bool) else str(value)


def shown(row: dict[str, Any]) -> dict[str, Any]:
    """An inbox row whose subject and message smartflow wrote as Messages again: the English text
    still, rendered in another language with `smartflow.i18n.render`."""
    for name, (msgid, params) in (row.pop("localized", None) or {}).items():
        if name in ("subject", "message") and isinstance(msgid, str) and isinstance(params, dict):
            row[name] = Message(msgid, **params)
    return row


# ---- the inbox ------------------------------------------------------------------------


def _require_user(write: Any) -> None:
    if write.actor.id is None:
        raise InvalidValue("the local administrator has no inbox", "pass --as USER")


def _titles(write: Any, rows: list[dict[str, Any]]) -> dict[tuple[str, int], str]:
    """The titles of the items rows name that the actor may read (not in the recycle bin)."""
    by_process: dict[str, set[int]] = {}
    for row in rows:
        if row["process"] is not None and row["item_id"] is not None:
            by_process.setdefault(row["process"], set()).add(row["item_id"])
    found: dict[tuple[str, int], str] = {}
    for process_id, ids in by_process.items():
        process = write.compiled.processes[process_id]
        table = process.table
        for item_id, title in write.connection.execute(sa.select(table.c.id, table.c.title).where(
                table.c.id.in_(ids), table.c.deleted_at.is_(None), access.row_filter(write.actor, process, "read"))):
            found[(process_id, item_id)] = title
    return found


def inbox(write: Any, unread_only: bool, limit: int, mark_read: bool) -> list[dict[str, Any]]:
    """The acting user's notifications, newest first, each with its process's title (`process_title`,
    a definition text) and its item's title (`item_title`, None when they may not read it now)."""
    _require_user(write)
    table = write.compiled.tables["sf_inbox"]
    query = sa.select(table).where(table.c.user_id == write.actor.id).order_by(table.c.id.desc()).limit(limit)
    if unread_only:
        query = query.where(table.c.read_at.is_(None))
    processes = write.compiled.processes  # news of a process the user has no right in (any more) is not theirs
    rows = [shown(dict(row)) for row in write.connection.execute(query).mappings() if row.process is None
            or (row.process in processes and access.visible(write.actor, processes[row.process]))]
    titles = _titles(write, rows)
    for row in rows:
        process = processes.get(row["process"]) if row["process"] is not None else None
        row["process_title"] = process.process.title.to_data() if process is not None else None
        row["item_title"] = titles.get((row["process"], row["item_id"]))
    if mark_read and rows:
        mark(write, [row["id"] for row in rows])
    return rows


def mark(write: Any, ids: list[int] | None, read: bool = True) -> int:
    """Mark the acting user's notifications read (or unread again): those of ids, or all of them with
    None. Someone else's ids are not theirs to mark, and are left alone. Returns how many changed."""
    _require_user(write)
    table = write.compiled.tables["sf_inbox"]
    mine = sa.and_(table.c.user_id == write.actor.id,
                   table.c.read_at.is_(None) if read else table.c.read_at.is_not(None))
    if ids is not None:
        if not ids:
            return 0
        mine = sa.and_(mine, table.c.id.in_(ids))
    changed = write.connection.execute(sa.update(table).where(mine).values(read_at=write.now if read else None))
    return int(changed.rowcount or 0)
