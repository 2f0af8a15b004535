"""The inbox page: the user's to-dos, mentions and notifications (each naming its process and item,
unread ones bold until marked read, one at a time or all at once), and the user's own notification
settings (e-mail on or off, the e-mails' language)."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from fastapi.responses import RedirectResponse

from smartflow.web import session
from smartflow.web.pages import PageRoute, frame, render, todo_counts
from smartflow.web.session import Visitor
from smartflow.web.text import WORDS

router = APIRouter(route_class=PageRoute, include_in_schema=False)

WORDS.update({
    "mark_read": "Mark read",
    "mark_all_read": "Mark all read",
    "notification_settings": "E-mail notifications",
    "email_me": "Send notifications by e-mail too",
    "email_to": "Address",
    "no_email_address": "You have no e-mail address, so no e-mail is sent. An administrator sets it.",
    "email_language": "Language of the e-mails",
    "default_language": "the server's default",
    "item_number": "no. {id}",
})


@router.get("/inbox")
def inbox(request: Request) -> Response:
    """The user's to-dos, mentions and notifications (newest first), and their notification settings."""
    found = session.visitor(request)
    with found.crm.snapshot():  # one transaction: showing the inbox marks nothing read (POST /inbox/read does)
        messages = found.crm.inbox(limit=100)
        todos, mentions = (found.crm.my_todos(), found.crm.mentions()) if todo_counts(found) is not None else ([], [])
        return render("inbox.html", **frame(found, view=None, messages=messages, todos=todos, mentions=mentions,
                                            settings=found.crm.settings()))


async def _form(request: Request) -> tuple[Visitor, dict[str, str]]:
    found = session.visitor(request)
    data = await request.form()
    form = {key: value for key, value in data.items() if isinstance(value, str)}
    session.check_csrf(found, form.get("csrf"))
    return found, form


@router.post("/inbox/read")
async def mark_read(request: Request) -> Response:
    """Mark one notification read (its `id`), or all of them (no id)."""
    found, form = await _form(request)
    given = form.get("id", "").strip()
    if not given:
        found.crm.mark_read(None)
    elif given.isdigit() and int(given) < 2**31:  # anything else names no notification of theirs
        found.crm.mark_read([int(given)])
    return RedirectResponse("/inbox#notifications", status_code=303)


@router.post("/inbox/settings")
async def settings(request: Request) -> Response:
    """Turn e-mail notifications on or off and choose their language."""
    found, form = await _form(request)
    found.crm.change_settings(email_notifications=form.get("email_notifications") == "on",
                              language=form.get("language", ""))
    return RedirectResponse("/inbox#settings", status_code=303)
