"""The card's timeline (comments, to-dos, field changes and moves, newest first) and its forms: comment,
edit or delete one's own comment, schedule a to-do, mark one done. Every rule is the services' (who may
comment, edit, mark done); this module only shows and posts forms, with no script needed (timeline.js
only shows times in the browser's zone and sends that zone with a to-do's deadline)."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import RedirectResponse
from markupsafe import Markup, escape

from smartflow.services.timeline import MENTION
from smartflow.web import session
from smartflow.web.pages import TEMPLATES, PageRoute
from smartflow.web.present import ProcessView
from smartflow.web.session import Visitor
from smartflow.web.text import title

router = APIRouter(route_class=PageRoute, include_in_schema=False)
LINK = re.compile(r"https?://[^\s<>\"'«»]+", re.IGNORECASE)
TRAILING = ".,;:!?)]}"  # punctuation that ends a sentence, not a link
OFFSET = re.compile(r"^[+-](?:[01]\d|2[0-3]):[0-5]\d$")


def linkify(text: str) -> Markup:
    """Plain text as HTML: everything escaped, http(s) links made clickable and `@login` mentions marked
    (line breaks stay in the text; the timeline's CSS keeps them)."""
    out: list[str] = []
    position = 0
    for match in LINK.finditer(text):
        url = match.group(0)
        trimmed = url.rstrip(TRAILING)
        end = match.start() + len(trimmed)
        out.append(_mentions(text[position:match.start()]))
        out.append(f'<a href="{escape(trimmed)}" rel="noopener noreferrer nofollow ugc" target="_blank">'
                   f"{escape(trimmed)}</a>")
        position = end
    out.append(_mentions(text[position:]))
    return Markup("".join(out))


def _mentions(text: str) -> str:
    """Escaped text with each `@login` in a `<span class="mention">`."""
    out: list[str] = []
    position = 0
    for match in MENTION.finditer(text):
        login = match.group(1).rstrip(".")
        out.append(str(escape(text[position:match.start()])))
        out.append(f'<span class="mention">@{escape(login)}</span>')
        position = match.start() + 1 + len(login)
    out.append(str(escape(text[position:])))
    return "".join(out)


TEMPLATES.filters["linkify"] = linkify


def iso(moment: Any) -> str:
    """A moment as ISO 8601 (what a `<time datetime>` holds and timeline.js shows in the browser's zone)."""
    if isinstance(moment, datetime):
        return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).isoformat()
    if isinstance(moment, date):
        return moment.isoformat()
    return ""


TEMPLATES.globals["iso"] = iso


def card_timeline(found: Visitor, view: ProcessView, item_id: int,
                  present: Callable[[ProcessView, list[dict[str, Any]]], list[dict[str, Any]]]) -> list[dict[str, Any]]:
    """The item's timeline for the card: history rows shown by present (the card's own presenter)."""
    entries = found.crm.timeline(view.id, item_id)
    for entry in entries:
        if entry["kind"] == "history":
            entry["entry"] = present(view, [entry["entry"]])[0]
        entry["trigger_title"] = title(entry["trigger"], view.lang) if entry.get("trigger") is not None else None
    return entries


def responsible_choices(view: ProcessView) -> list[tuple[str, str]]:
    """Whom a to-do may be given to: the active users with a right in the process, (login, name)."""
    return [(view.logins[user_id], name) for user_id, name in view.users.items()
            if user_id in view.pickable and user_id in view.logins]


def _due(form: dict[str, list[str]]) -> str | None:
    """The deadline the to-do form sends: a day, or a day and a time in the browser's zone (its offset sent
    by timeline.js; UTC without it)."""
    day = (form.get("due_date") or [""])[-1].strip()
    moment = (form.get("due_time") or [""])[-1].strip()
    if not day:
        return None
    if not moment:
        return day
    offset = (form.get("tz") or [""])[-1].strip()
    return f"{day}T{moment}{offset if OFFSET.match(offset) else '+00:00'}"


async def _form(request: Request) -> tuple[Visitor, dict[str, list[str]]]:
    found = session.visitor(request)
    data = await request.form()
    form: dict[str, list[str]] = {}
    for key, value in data.multi_items():
        if isinstance(value, str):
            form.setdefault(key, []).append(value)
    session.check_csrf(found, (form.get("csrf") or [""])[-1])
    return found, form


def _back(process: str, item_id: int, anchor: str = "timeline") -> Response:
    return RedirectResponse(f"/processes/{process}/items/{item_id}#{anchor}", status_code=303)


# A refused form (an empty comment, someone else's comment, a deadline that is no date) shows the error page
# with the services' message and hint: the card's own forms make it rare (`required`, own comments only).


@router.post("/processes/{process}/items/{item_id}/comments")
async def post_comment(request: Request, process: str, item_id: int) -> Response:
    found, form = await _form(request)
    found.crm.comment(process, item_id, (form.get("comment") or [""])[-1])
    return _back(process, item_id)


@router.post("/processes/{process}/items/{item_id}/comments/{comment_id}/edit")
async def edit_comment(request: Request, process: str, item_id: int, comment_id: int) -> Response:
    found, form = await _form(request)
    found.crm.edit_comment(process, item_id, comment_id, (form.get("text") or [""])[-1])
    return _back(process, item_id, f"comment-{comment_id}")


@router.post("/processes/{process}/items/{item_id}/comments/{comment_id}/delete")
async def delete_comment(request: Request, process: str, item_id: int, comment_id: int) -> Response:
    found, _ = await _form(request)
    found.crm.delete_comment(process, item_id, comment_id)
    return _back(process, item_id)


@router.post("/processes/{process}/items/{item_id}/todos")
async def post_todo(request: Request, process: str, item_id: int) -> Response:
    found, form = await _form(request)
    found.crm.add_todo(process, item_id, (form.get("todo_title") or [""])[-1], _due(form),
                       (form.get("responsible") or [""])[-1] or None)
    return _back(process, item_id)


@router.post("/processes/{process}/items/{item_id}/todos/{todo_id}/done")
async def todo_done(request: Request, process: str, item_id: int, todo_id: int) -> Response:
    found, form = await _form(request)
    found.crm.set_todo_done(process, item_id, todo_id, (form.get("done") or ["true"])[-1] != "false")
    return _back(process, item_id, f"todo-{todo_id}")
