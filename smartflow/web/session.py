"""Who is at the browser: the session cookie the API's login sets, its CSRF token, the language.

The cookie names are the API's (a session started on either door works on both); a page asked
for without a valid session answers with a redirect to the sign-in page.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from urllib.parse import quote

from fastapi import Request

from smartflow import errors
from smartflow.services import Engine

SESSION_COOKIE = "smartflow_session"  # the same cookies as POST /api/v1/session
CSRF_COOKIE = "smartflow_csrf"
LANG_COOKIE = "smartflow_lang"
LANGUAGES = ("ru", "en")
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class SignInRequired(Exception):
    """No valid session: the page redirects to the sign-in form, coming back to `next` after."""

    def __init__(self, next_path: str) -> None:
        super().__init__(next_path)
        self.next_path = next_path


@dataclass(frozen=True)
class Visitor:
    """The signed-in user of one request: their engine, login, CSRF token and language."""

    crm: Engine
    login: str
    csrf: str
    lang: str
    path: str  # the page asked for, to come back to after a language switch


def language(request: Request) -> str:
    """The language the user chose (a cookie), else the browser's first of ours, else English."""
    chosen = request.cookies.get(LANG_COOKIE)
    if chosen in LANGUAGES:
        return chosen
    for part in request.headers.get("accept-language", "").split(","):
        code = part.split(";")[0].strip().lower()[:2]
        if code in LANGUAGES:
            return code
    return "en"


def local_path(path: str | None, default: str = "/") -> str:
    """A path on this site to go back to (never another site: `//host` or `https://…` are refused)."""
    if not path or not path.startswith("/") or path.startswith("//") or "\\" in path:
        return default
    return path


def here(request: Request) -> str:
    query = request.url.query
    return request.url.path + (f"?{query}" if query else "")


def sign_in_url(next_path: str) -> str:
    return "/login" + (f"?next={quote(next_path, safe='/')}" if next_path != "/" else "")


def visitor(request: Request) -> Visitor:
    """The signed-in user; SignInRequired without a valid session; PermissionDenied for an unsafe
    request without the session's CSRF token (in the X-CSRF-Token header or the form's `csrf`)."""
    base: Engine = request.app.state.engine
    secret = request.cookies.get(SESSION_COOKIE)
    if not secret:
        raise SignInRequired(here(request))
    try:
        caller = base.authenticate(secret, "session")
    except errors.AuthenticationFailed:
        raise SignInRequired(here(request)) from None
    return Visitor(base.as_user(caller.login).as_via("web"), caller.login, caller.csrf or "", language(request),
                   here(request))


def check_csrf(found: Visitor, sent: str | None) -> None:
    if not found.csrf or not hmac.compare_digest(sent or "", found.csrf):
        raise errors.PermissionDenied("the form is out of date or came from another site (its CSRF token is wrong)",
                                      "reload the page and try again")
