"""The application: limits, errors as problem+json, the routers and the board (the caller is
settled per request in caller.py).

Stateless by design: every request authenticates against the database and acts through a fresh
`Engine.as_user`, so any number of workers or machines over one PostgreSQL answer alike.
"""

from __future__ import annotations

import logging
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from smartflow import bitrix24, errors, web
from smartflow.http import (
    live,
    openapi,
    problems,
    routes_admin,
    routes_files,
    routes_items,
    routes_links,
    routes_more,
    routes_timeline,
    routes_views,
)
from smartflow.http.headers import SecurityHeaders
from smartflow.services import Engine
from smartflow.web.session import SAFE_METHODS

LOG = logging.getLogger("smartflow.http")
UNAVAILABLE = frozenset({"OperationalError", "InterfaceError", "TimeoutError", "DisconnectionError"})  # sqlalchemy's
JSON_LIMIT = 1024 * 1024  # bytes of a JSON request body
UPLOAD_LIMIT = 64 * 1024 * 1024  # bytes of an import upload
# the paths that take files (the API's upload, the card's save): bodies up to UPLOAD_LIMIT
FILE_PATHS = re.compile(r"^(?:/api/v1/processes/[^/]+/items/\d+/files/[^/]+|/processes/[^/]+/items/(?:\d+|new))/?$")


class BodyLimit:
    """413 for a request body over its limit, before the application reads it: by Content-Length
    when given, else by counting (a body without a length is read up to the limit, then refused)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = UPLOAD_LIMIT if scope["path"].endswith("/import") or FILE_PATHS.match(scope["path"]) else JSON_LIMIT
        headers = dict(scope["headers"])
        length = headers.get(b"content-length")
        if length is not None:
            if not length.isdigit() or int(length) > limit:
                await _too_large(scope, receive, send, limit)
                return
            await self.app(scope, receive, send)
            return
        if scope["method"] in SAFE_METHODS:
            await self.app(scope, receive, send)
            return
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return
            chunks.append(message.get("body", b""))
            size += len(chunks[-1])
            if size > limit:
                await _too_large(scope, receive, send, limit)
                return
            if not message.get("more_body"):
                break
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if replayed:
                return await receive()
            replayed = True
            return {"type": "http.request", "body": b"".join(chunks), "more_body": False}

        await self.app(scope, replay, send)


async def _too_large(scope: Scope, receive: Receive, send: Send, limit: int) -> None:
    response = problems.problem(413, "too-large", f"the request body is over the limit of {limit} bytes",
                                "send less: split an import into several files")
    await response(scope, receive, send)


def create_app(url: str | None = None, *, engine: Engine | None = None) -> FastAPI:
    """The HTTP API on a database (url, else $SMARTFLOW_DATABASE_URL, else ./smartflow.db)."""
    # a server keeps its connections open: SQLAlchemy's default pool keeps five and would open (and close)
    # one per request beyond them, a new PostgreSQL backend each time
    base = engine or Engine(url, via="http", server=True)

    @asynccontextmanager
    async def lifespan(started: FastAPI) -> AsyncIterator[None]:
        yield
        started.state.live.stop()
        if engine is None:
            base.close()

    app = _Application(title="smartflow", version="1", openapi_url=None, docs_url=None, redoc_url=None,
                       lifespan=lifespan,
                       description="CRM smart processes over HTTP: one typed item schema per process.")
    app.state.engine = base
    app.include_router(routes_items.router, prefix="/api/v1")
    app.include_router(routes_more.router, prefix="/api/v1")
    app.include_router(routes_admin.router, prefix="/api/v1")
    app.include_router(routes_files.router, prefix="/api/v1")
    app.include_router(routes_timeline.router, prefix="/api/v1")
    app.include_router(routes_views.router, prefix="/api/v1")
    app.include_router(routes_links.router, prefix="/api/v1")
    live.install(app)
    app.add_exception_handler(errors.SmartflowError, _smartflow_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected)
    openapi.install(app)
    bitrix24.install(app)  # Bitrix24's REST API at /rest/ (the host root, as its clients expect)
    web.install(app)  # the board's pages at / (after the API, so /api/… stays the API's)
    app.add_middleware(_BodyLimitMiddleware)
    return app


class _Application(FastAPI):
    """FastAPI with the security headers around everything, Starlette's error middleware included
    (middleware added with add_middleware runs inside it: a 500 would go out without them)."""

    def build_middleware_stack(self) -> ASGIApp:
        return SecurityHeaders(super().build_middleware_stack())


class _BodyLimitMiddleware(BodyLimit):
    """BodyLimit as Starlette middleware (outermost of the application's: nothing reads a body before it)."""


async def _smartflow_error(request: Request, error: Exception) -> Response:
    assert isinstance(error, errors.SmartflowError)
    return problems.from_error(error, accept_language=request.headers.get("accept-language"))


async def _validation_error(_: Request, error: Exception) -> Response:
    assert isinstance(error, RequestValidationError)
    return problems.validation(list(error.errors()))


async def _http_error(_: Request, error: Exception) -> Response:
    """Starlette's own refusals (no such path, a method the path does not take, a body it cannot
    parse) as problem+json too."""
    assert isinstance(error, StarletteHTTPException)
    status = error.status_code
    code = {404: "not-found", 405: "method-not-allowed"}.get(status, "bad-request" if status == 400 else "refused")
    return problems.problem(status, code, str(error.detail), headers=dict(error.headers or {}) or None)


async def _unexpected(request: Request, error: Exception) -> Response:
    """Anything no handler expected: logged with the request, answered without internals (no
    exception text, no database message). The transaction it happened in was rolled back."""
    LOG.error("%s %s failed", request.method, request.url.path, exc_info=error)
    if type(error).__name__ in UNAVAILABLE and type(error).__module__.startswith("sqlalchemy"):
        return problems.problem(503, "database-unavailable",
                                "the database cannot be used right now; nothing was changed",
                                "try again later; if it persists, tell the administrator")
    return problems.problem(500, "internal-error", "an unexpected error; nothing was changed",
                            "report it with the request that caused it")
