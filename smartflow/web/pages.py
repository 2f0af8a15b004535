"""The board's frame: templates, errors as pages, sign-in and sign-out, the language switch and the
process list; `install` mounts every page on the HTTP application."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlsplit

import jinja2
from fastapi import APIRouter, Form, Request, Response
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse
from fastapi.routing import APIRoute

from smartflow import errors
from smartflow.i18n import Name, tr
from smartflow.i18n import render as render_message
from smartflow.services import Engine
from smartflow.services.engine import SESSION_SECONDS
from smartflow.services.home import overview
from smartflow.web import session
from smartflow.web.present import ProcessView
from smartflow.web.session import LANG_COOKIE, LANGUAGES, SignInRequired, Visitor
from smartflow.web.text import title, word

HERE = Path(__file__).resolve().parent
TEMPLATES = jinja2.Environment(loader=jinja2.FileSystemLoader(HERE / "templates"),
                               autoescape=jinja2.select_autoescape(default=True, default_for_string=True),
                               trim_blocks=True, lstrip_blocks=True, undefined=jinja2.StrictUndefined)
TEMPLATES.globals.update(word=word, title=title, in_language=render_message)
STATUS = {errors.AuthenticationFailed: 401, errors.NotFound: 404, errors.NotDeployed: 404,
          errors.PermissionDenied: 403, errors.InvalidValue: 422, errors.TransitionNotAllowed: 409,
          errors.ConflictError: 409, errors.DatabaseUnavailable: 503}


FRAME_DEFAULTS: dict[str, Any] = {"view": None, "page": None, "login": None, "csrf": "", "unread": 0,
                                  "request_path": "/", "live_after": "", "is_admin": False, "section": None,
                                  "done": None, "error": None, "todo_counts": None}


def render(name: str, status: int = 200, headers: dict[str, str] | None = None, **context: Any) -> HTMLResponse:
    html = TEMPLATES.get_template(name).render(**{**FRAME_DEFAULTS, **context})
    return HTMLResponse(html, status_code=status, headers=headers)


def status_of(error: Exception) -> int:
    for kind in type(error).__mro__:
        if kind in STATUS:
            return STATUS[kind]
    return 400


def frame(found: Visitor, **context: Any) -> dict[str, Any]:
    """What every signed-in page shows around its content: the user, the unread count, the CSRF token."""
    unread = len(found.crm.inbox(unread_only=True, limit=100))
    return {"lang": found.lang, "login": found.login, "csrf": found.csrf, "unread": unread,
            "request_path": found.path, "is_admin": found.crm.is_admin(), "todo_counts": todo_counts(found), **context}


def todo_counts(found: Visitor) -> dict[str, int] | None:
    """The visitor's overdue and today's to-dos, for the header (None on a database without to-dos yet)."""
    try:
        return found.crm.todo_counters()
    except errors.NotDeployed:
        return None


class PageRoute(APIRoute):
    """A route whose smartflow errors become a page in the user's language (not problem+json), and
    whose missing session becomes a redirect to the sign-in form."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def page(request: Request) -> Response:
            wants_json = request.headers.get("accept", "").startswith("application/json")
            try:
                return await handler(request)
            except SignInRequired as missing:
                if wants_json:  # a script's request: say so rather than answer with the sign-in page
                    return JSONResponse({"moved": False, "reasons": [word("session_ended", session.language(request))]},
                                        status_code=401)
                return RedirectResponse(session.sign_in_url(missing.next_path), status_code=303)
            except errors.SmartflowError as error:
                lang = session.language(request)
                if wants_json:
                    return JSONResponse({"moved": False, "reasons": error.reasons_in_language(lang)},
                                        status_code=status_of(error))
                return error_page(request, error)

        return page


def error_page(request: Request, error: errors.SmartflowError) -> Response:
    """An error as a page with the way on: back where the user came from, home, and the processes they
    may read, under the signed-in header (inbox, to-dos, sign-out) when there is a session."""
    lang = session.language(request)
    context: dict[str, Any] = {"lang": lang, "message": error.in_language(lang), "hint": error.hint_in_language(lang),
                               "processes": []}
    try:
        found = session.visitor(request)
        context = frame(found, **context)
        context["processes"] = [p for p in found.crm.processes() if p["may"]["read"] != "none"]
    except (SignInRequired, errors.SmartflowError):
        pass  # no session, or the database itself is the error: the page without them
    referer = urlsplit(request.headers.get("referer", ""))
    came_from = referer.path + (f"?{referer.query}" if referer.query else "")
    back = came_from if referer.netloc == request.url.netloc and came_from != session.here(request) else None
    return render("error.html", status_of(error), back=session.local_path(back, "") or None, **context)


def require_read(view: ProcessView) -> None:
    """PermissionDenied for a user whose roles give no right to read the process's items: a page of
    theirs would be an empty board of zeros, which says nothing of why."""
    if view.may.get("read", "none") == "none":
        raise errors.PermissionDenied(tr("your roles do not allow reading the items of {process}",
                                         process=Name(view.title, view.data.get("title"), quote="")),
                                      tr("ask an administrator for the read right in this process"))


router = APIRouter(route_class=PageRoute, include_in_schema=False)


def sign_in_page(request: Request, status: int = 200, next: str | None = None, error: str | None = None,
                 entered: str = "") -> Response:
    """The sign-in form, with its CSRF token in a hidden field and in a cookie (session.login_csrf)."""
    token = session.login_csrf(request)
    response = render("login.html", status, lang=session.language(request), next=session.local_path(next),
                      error=error, entered=entered, csrf=token)
    session.remember_login_csrf(request, response, token)
    return response


@router.get("/login")
def sign_in_form(request: Request, next: str | None = None) -> Response:
    return sign_in_page(request, next=next)


@router.post("/login")
def sign_in(request: Request, login: Annotated[str, Form(max_length=128)],
            password: Annotated[str, Form(max_length=1024)], next: Annotated[str, Form()] = "/",
            csrf: Annotated[str, Form(max_length=128)] = "") -> Response:
    """Start a session with a password: the API's cookies (HttpOnly session, SameSite=Strict, the CSRF one).
    Only from this site's own sign-in form: its CSRF token must come back (session.login_csrf)."""
    base: Engine = request.app.state.engine
    lang = session.language(request)
    try:
        session.check_login_csrf(request, csrf)
    except errors.PermissionDenied:
        return sign_in_page(request, 403, next, word("login_form_stale", lang), login)
    try:
        secret, caller = base.start_session(login, password)
    except errors.AuthenticationFailed as refused:
        message = word("wrong_login", lang) if not isinstance(refused, errors.TooManyAttempts) \
            else refused.in_language(lang)
        return sign_in_page(request, 401, next, message, login)
    response = RedirectResponse(session.local_path(next), status_code=303)
    session.forget_login_csrf(request, response)
    secure = request.url.scheme == "https"
    response.set_cookie(session.SESSION_COOKIE, secret, max_age=SESSION_SECONDS, httponly=True, samesite="strict",
                        secure=secure, path="/")
    response.set_cookie(session.CSRF_COOKIE, caller.csrf or "", max_age=SESSION_SECONDS, httponly=False,
                        samesite="strict", secure=secure, path="/")
    return response


@router.post("/logout")
def sign_out(request: Request, csrf: Annotated[str, Form()] = "") -> Response:
    found = session.visitor(request)
    session.check_csrf(found, csrf)
    request.app.state.engine.end_session(request.cookies[session.SESSION_COOKIE])
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(session.SESSION_COOKIE, path="/")
    response.delete_cookie(session.CSRF_COOKIE, path="/")
    return response


@router.get("/welcome")
def welcome_form(request: Request, code: str = "") -> Response:
    """The first sign-in link (or a password reset code): whose it is, and a form for the new password."""
    base: Engine = request.app.state.engine
    lang = session.language(request)
    try:
        holder = base.code_holder(code) if code else None
    except errors.AuthenticationFailed as refused:
        return render("welcome.html", 401, lang=lang, code="", holder=None, error=refused.in_language(lang),
                      hint=refused.hint_in_language(lang))
    return render("welcome.html", lang=lang, code=code, holder=holder, error=None, hint=None)


@router.post("/welcome")
def welcome(request: Request, code: Annotated[str, Form(max_length=128)],
            password: Annotated[str, Form(max_length=1024)], again: Annotated[str, Form(max_length=1024)]) -> Response:
    """Use the one-time code: set the password, then sign in with it (the code works once)."""
    base: Engine = request.app.state.engine
    lang = session.language(request)
    try:
        holder = base.code_holder(code)
        if password != again:
            raise errors.InvalidValue(word("passwords_differ", lang), field="password")
        login = base.redeem_code(code, password)
        secret, caller = base.start_session(login, password)
    except errors.AuthenticationFailed as refused:
        return render("welcome.html", 401, lang=lang, code="", holder=None, error=refused.in_language(lang),
                      hint=refused.hint_in_language(lang))
    except errors.InvalidValue as refused:
        return render("welcome.html", 422, lang=lang, code=code, holder=holder, error=refused.in_language(lang),
                      hint=refused.hint_in_language(lang))
    response = RedirectResponse("/", status_code=303)
    secure = request.url.scheme == "https"
    response.set_cookie(session.SESSION_COOKIE, secret, max_age=SESSION_SECONDS, httponly=True, samesite="strict",
                        secure=secure, path="/")
    response.set_cookie(session.CSRF_COOKIE, caller.csrf or "", max_age=SESSION_SECONDS, httponly=False,
                        samesite="strict", secure=secure, path="/")
    return response


@router.get("/lang/{code}")
def choose_language(code: str, next: str | None = None) -> Response:
    """Remember the language (a year-long cookie) and go back."""
    response = RedirectResponse(session.local_path(next), status_code=303)
    if code in LANGUAGES:
        response.set_cookie(LANG_COOKIE, code, max_age=365 * 24 * 3600, samesite="lax", path="/")
    return response


@router.get("/")
def home(request: Request) -> Response:
    """The user's day: the processes they may read as tiles with their counts (each opening its board),
    their own open items and their overdue to-dos (services.home)."""
    found = session.visitor(request)
    with found.crm.snapshot():  # one transaction for the page
        data = overview(found.crm)
        views = {tile["id"]: ProcessView(tile["described"], found.lang) for tile in data["tiles"]}
        return render("home.html", **frame(found, tiles=data["tiles"], todos=data["todos"], views=views, view=None))


def process_view(found: Visitor, process: str) -> ProcessView:
    """The process for the visitor: every user's name (a deactivated one's marked so, their items stay
    theirs), and whom its user pickers offer (the active users with a right in it)."""
    with found.crm.snapshot():  # one transaction for the three reads
        people = found.crm.users()
        pickable = [u["id"] for u in found.crm.users(process)]
        described = found.crm.describe(process)
    gone = f" ({word('deactivated', found.lang)})"
    names = {u["id"]: (u.get("name") or u["login"]) + ("" if u.get("active", True) else gone) for u in people}
    return ProcessView(described, found.lang, names, {u["id"]: u["login"] for u in people}, pickable)
