"""Errors as `application/problem+json` (RFC 9457), carrying what the CLI prints: the message, the
hint, the field, the reasons of a refused move, and a stable `code` for programs.

A request with `Accept-Language` naming ru or en gets the message, hint and reasons in that language,
fields and stages named by their titles (`Content-Language` says which); without it, the English text
the CLI prints, naming them by id."""

from __future__ import annotations

import logging
from http import HTTPStatus
from typing import Any

from fastapi.responses import JSONResponse

from smartflow import errors
from smartflow.i18n import accepted, render, tr

PROBLEM_TYPE = "application/problem+json"
LOG = logging.getLogger("smartflow.http")

# (error class, status, code): the first that matches wins, so subclasses come first
STATUSES: list[tuple[type[errors.SmartflowError], int, str]] = [
    (errors.TooManyAttempts, 429, "too-many-attempts"),
    (errors.AuthenticationFailed, 401, "unauthenticated"),
    (errors.NotDeployed, 404, "not-deployed"),
    (errors.NotFound, 404, "not-found"),
    (errors.PermissionDenied, 403, "permission-denied"),
    (errors.InvalidValue, 422, "invalid-value"),
    (errors.TransitionNotAllowed, 409, "move-refused"),
    (errors.ConflictError, 409, "conflict"),
    (errors.AutomationFailed, 422, "automation-failed"),
    (errors.DatabaseUnavailable, 503, "database-unavailable"),
]


def problem(status: int, code: str, message: str, hint: str | None = None, field: str | None = None,
            headers: dict[str, str] | None = None, **extra: Any) -> JSONResponse:
    body: dict[str, Any] = {"type": "about:blank", "title": HTTPStatus(status).phrase, "status": status,
                            "detail": message, "code": code, "message": message}
    if hint:
        body["hint"] = hint
    if field:
        body["field"] = field
    body.update({k: v for k, v in extra.items() if v is not None})
    return JSONResponse(body, status_code=status, media_type=PROBLEM_TYPE, headers=headers)


def from_error(error: errors.SmartflowError, stale_version: bool = False, accept_language: str | None = None
               ) -> JSONResponse:
    """The answer to one of smartflow's errors (stale_version: a conflict of an If-Match → 412), in the
    language of accept_language (the request's header) when it names one of ours."""
    status, code = next(((s, c) for kind, s, c in STATUSES if isinstance(error, kind)), (400, "refused"))
    if isinstance(error, errors.ConflictError) and stale_version:
        status, code = 412, "stale-version"
    lang = accepted(accept_language)
    headers = {"WWW-Authenticate": 'Bearer realm="smartflow"'} if status == 401 else {}
    if lang:
        headers["Content-Language"] = lang
    message = error.in_language(lang)
    if isinstance(error, errors.DatabaseUnavailable):  # the driver's words stay in the server's log
        LOG.warning("%s", str(error))
        message = render(tr("the database cannot be used now; nothing was changed"), lang)
    reasons = error.reasons_in_language(lang) if isinstance(error, errors.TransitionNotAllowed) \
        else getattr(error, "reasons", None)
    return problem(status, code, message, error.hint_in_language(lang), getattr(error, "field", None),
                   headers=headers or None, reasons=reasons)


def validation(errors_found: list[Any]) -> JSONResponse:
    """A request whose shape is wrong (malformed JSON, a wrong type, an unknown field): 422 naming it."""
    first = errors_found[0] if errors_found else {"loc": (), "msg": "invalid request"}
    location = [str(part) for part in first.get("loc", ())]
    where = location[0] if location[:1] in (["body"], ["query"], ["path"], ["header"]) else None
    field = ".".join(location[1:] if where else location)
    if first.get("type") == "json_invalid" or not field:
        field = where or "body"  # the body as a whole: not JSON, or not an object
    message = f"{field or 'the request'}: {first.get('msg', 'invalid')}"
    hint = "send a JSON object of field ids to values" if where == "body" else None
    return problem(422, "invalid-request", message, hint, field,
                   errors=[{"field": ".".join(str(p) for p in e.get("loc", ())[1:]), "message": e.get("msg")}
                           for e in errors_found])
