"""Who calls: the engine acting as the caller of a request (API token or the browser session's
cookie, with its CSRF token), and plain data as the JSON a route answers with.

The cookie names are the board's (smartflow.web.session): a session started on either door works
on both.
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse

from smartflow import errors
from smartflow.services import Engine, Text, plain
from smartflow.web.session import CSRF_COOKIE, SAFE_METHODS, SESSION_COOKIE

__all__ = ["CSRF_COOKIE", "CSRF_HEADER", "SESSION_COOKIE", "engine_for", "json_body", "jsonable"]

CSRF_HEADER = "x-csrf-token"


def _bearer(request: Request) -> str | None:
    header = request.headers.get("authorization")
    if not header:
        return None
    scheme, _, secret = header.partition(" ")
    if scheme.lower() != "bearer" or not secret.strip():
        raise errors.AuthenticationFailed("the Authorization header is not `Bearer TOKEN`",
                                          "create a token: smartflow token create LOGIN")
    return secret.strip()


def engine_for(request: Request) -> Engine:
    """The engine acting as the caller: by API token, else by session cookie (with its CSRF token on
    unsafe methods). The credential is checked inside the operation's own transaction: a wrong one
    answers 401 (AuthenticationFailed), a wrong CSRF token 403, and nothing is written."""
    base: Engine = request.app.state.engine
    secret = _bearer(request)
    if secret is not None:
        return base.acting_for(secret, "token", via="http")
    session = request.cookies.get(SESSION_COOKIE)
    if session is not None:
        csrf = None if request.method in SAFE_METHODS else request.headers.get(CSRF_HEADER, "")
        return base.acting_for(session, "session", csrf, via="http")
    raise errors.AuthenticationFailed("no credential: this API needs a token or a session",
                                      "send `Authorization: Bearer TOKEN` (smartflow token create LOGIN), "
                                      "or log in: POST /api/v1/session")


def json_body(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> JSONResponse:
    """Plain data as a JSON response (values as `plain` renders them: decimals as strings, ISO dates)."""
    return JSONResponse(jsonable(data), status_code=status, headers=headers)


def jsonable(value: Any) -> Any:
    if isinstance(value, Text):
        return dict(value.values)
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    result = plain(value)
    if result is value and not isinstance(value, (str, int, float, bool, type(None))):
        return json.loads(json.dumps(value, default=str))
    return result

