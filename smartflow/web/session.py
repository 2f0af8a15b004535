"""Who is at the browser: the session cookie the API's login sets, its CSRF token, the language,
and the sign-in form's own CSRF token (before there is a session).

The cookie names are the API's (a session started on either door works on both); a page asked
for without a valid session answers with a redirect to the sign-in page.
"""

from __future__ import annotations

import hmac
import secrets
from urllib.parse import quote

from fastapi import Request, Response

from smartflow import errors
from smartflow.i18n import accepted, tr
from smartflow.records import record
from smartflow.services import Engine

SESSION_COOKIE = "smartflow_session"  # the same cookies as POST /api/v1/session
CSRF_COOKIE = "smartflow_csrf"
LANG_COOKIE = "smartflow_lang"
LANGUAGES = ("ru", "en")
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
LOGIN_CSRF_COOKIE = "smartflow_login_csrf"  # `__Host-` in front of it over HTTPS
LOGIN_CSRF_SECONDS = 3600  # how long a sign-in form stays good


class SignInRequired(Exception):
    """No valid session: the page redirects to the sign-in form, coming back to `next` after."""

    def __init__(self, next_path: str) -> None:
        super().__init__(next_path)
        self.next_path = next_path


@record(frozen=True)
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
    return accepted(request.headers.get("accept-language")) or "en"


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
    given = (sent or "").encode("utf-8", "surrogatepass")  # bytes: compare_digest refuses non-ASCII text
    if not found.csrf or not hmac.compare_digest(given, found.csrf.encode("ascii")):
        raise errors.PermissionDenied(tr("the form is out of date or came from another site (its CSRF token is wrong)"),
                                      tr("reload the page and try again"))


def login_csrf_cookie(request: Request) -> str:
    """The sign-in form's cookie name: over HTTPS with the `__Host-` prefix, which browsers accept
    only from this very host (Secure, Path=/, no Domain), so a sibling subdomain cannot plant one."""
    return ("__Host-" if request.url.scheme == "https" else "") + LOGIN_CSRF_COOKIE


def login_csrf(request: Request) -> str:
    """The token the sign-in form carries: the browser's current one, else a new random one.

    Login CSRF (a hostile page posting the attacker's login and password, signing the victim's
    browser in as the attacker) is refused by a double submit: the token is in an HttpOnly,
    SameSite=Strict cookie and in the form's hidden `csrf` field, and a sign-in counts only when
    both are there and equal. Another site can neither read the cookie nor make the browser send
    it with a cross-site post. It is random rather than signed: a stateless deployment has no key
    to sign with, and the cookie's prefix and SameSite keep it from being planted or sent."""
    found = request.cookies.get(login_csrf_cookie(request), "")
    return found if _is_token(found) else secrets.token_urlsafe(32)


def remember_login_csrf(request: Request, response: Response, token: str) -> None:
    secure = request.url.scheme == "https"
    response.set_cookie(login_csrf_cookie(request), token, max_age=LOGIN_CSRF_SECONDS, httponly=True,
                        samesite="strict", secure=secure, path="/")


def forget_login_csrf(request: Request, response: Response) -> None:
    response.delete_cookie(login_csrf_cookie(request), path="/", secure=request.url.scheme == "https",
                           httponly=True, samesite="strict")


def check_login_csrf(request: Request, sent: str) -> None:
    """PermissionDenied unless the sign-in form's token came back in both its field and its cookie."""
    kept = request.cookies.get(login_csrf_cookie(request), "")
    if not (_is_token(kept) and _is_token(sent) and hmac.compare_digest(kept.encode(), sent.encode())):
        raise errors.PermissionDenied(tr("the sign-in form is out of date or came from another site"),
                                      tr("sign in again with this form"))


def _is_token(value: str) -> bool:
    return 32 <= len(value) <= 64 and value.isascii() and all(c.isalnum() or c in "-_" for c in value)
