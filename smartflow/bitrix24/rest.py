"""The HTTP door of the facade: `/rest/{user_id}/{token}/{method}` (an inbound webhook, the token a
smartflow API token of that user) and `/rest/{method}` with `auth` in the body or query (OAuth),
each with or without `.json`; GET or POST; JSON, form or query parameters in PHP's nested style.

Never a redirect (b24pysdk reads a 302 as "the portal moved"). Throttling is Bitrix24's leaky
bucket per credential, answered `503 QUERY_LIMIT_EXCEEDED` (what its clients retry); the bucket
lives in the server process, so each worker of `smartflow serve --workers N` keeps its own.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import threading
import time
import urllib.parse
from typing import Any

from smartflow import errors
from smartflow.bitrix24.methods import Download, dispatch
from smartflow.bitrix24.portal import Portal
from smartflow.bitrix24.protocol import BitrixError, from_error, method_not_found, php_json, php_parse, timing
from smartflow.services import Engine

PATH = re.compile(r"^(?:(\d+)/([^/]+)/)?([A-Za-z][A-Za-z0-9_.]*?)(?:\.json)?/?$")
LIMIT_ENV = "SMARTFLOW_BITRIX24_LIMIT"  # "RATE,BURST": requests per second a bucket drains, and its size
DEFAULT_LIMIT = (2.0, 50.0)  # Bitrix24's standard plans


def limits() -> tuple[float, float]:
    raw = os.environ.get(LIMIT_ENV, "")
    try:
        rate, burst = (float(part) for part in raw.split(","))
    except ValueError:
        return DEFAULT_LIMIT
    return (rate, burst) if rate > 0 and burst >= 1 else DEFAULT_LIMIT


class Bucket:
    """A leaky bucket per key: each request adds one, `rate` drain per second, refused when full."""

    def __init__(self, rate: float, burst: float) -> None:
        self.rate, self.burst = rate, burst
        self.levels: dict[str, tuple[float, float]] = {}
        self.lock = threading.Lock()

    def take(self, key: str) -> bool:
        now = time.monotonic()
        with self.lock:
            level, since = self.levels.get(key, (0.0, now))
            level = max(0.0, level - (now - since) * self.rate)
            if level + 1 > self.burst:
                self.levels[key] = (level, now)
                return False
            self.levels[key] = (level + 1, now)
            if len(self.levels) > 10_000:  # forget drained buckets
                self.levels = {k: v for k, v in self.levels.items() if v[0] - (now - v[1]) * self.rate > 0}
            return True


def parameters(query: str, body: bytes, content_type: str) -> dict[str, Any]:
    params = php_parse(query)
    if not body.strip():
        return params
    kind = content_type.split(";")[0].strip().lower()
    if kind == "application/json":
        try:
            data = json.loads(body)
        except ValueError:
            raise BitrixError("INVALID_REQUEST", "the body is not valid JSON") from None
        if not isinstance(data, dict):
            raise BitrixError("INVALID_REQUEST", "the JSON body must be an object of parameters")
        params.update(data)
    elif kind in ("application/x-www-form-urlencoded", ""):
        params.update(php_parse(body.decode("utf-8", "replace")))
    else:
        raise BitrixError("INVALID_REQUEST", f"cannot read a {kind} body: send JSON or form parameters")
    return params


def call(base: Engine, bucket: Bucket, path: str, params: dict[str, Any], site: str = ""
         ) -> tuple[int, dict[str, Any] | Download]:
    """One HTTP request to the facade: (status, JSON body, or a file's content)."""
    started = time.time()
    try:
        found = PATH.match(path)
        if found is None:
            raise method_not_found()
        user_id, token, method = found.groups()
        given = params.pop("auth", None)
        secret = token if token is not None else given
        if not isinstance(secret, str) or not secret:
            raise BitrixError("NO_AUTH_FOUND", "Wrong authorization data", 401)
        if not bucket.take(hashlib.sha256(secret.encode()).hexdigest()):
            raise BitrixError("QUERY_LIMIT_EXCEEDED", "Too many requests", 503)
        crm = base.acting_for(secret, "token", via="bitrix24")
        if user_id is not None:
            login = crm.whoami()
            if not any(u["login"] == login and u["id"] == int(user_id) for u in crm.users()):
                raise BitrixError("NO_AUTH_FOUND", "Wrong authorization data", 401)
        result, nav = dispatch(crm, Portal(crm, site), method, params, site)
        if isinstance(result, Download):
            return 200, result
        return 200, {"result": php_json(result), **nav, "time": timing(started)}
    except BitrixError as error:
        return error.status, error.body()
    except errors.SmartflowError as error:
        refused = from_error(error)
        if isinstance(error, errors.AuthenticationFailed):
            refused = BitrixError("NO_AUTH_FOUND", "Wrong authorization data", 401)
        return refused.status, refused.body()
    except Exception as error:  # never a traceback: the client gets Bitrix's shape of it
        if type(error).__module__.startswith("sqlalchemy"):
            return 503, {"error": "INTERNAL_SERVER_ERROR",
                         "error_description": "the database refused the operation; nothing was changed"}
        return 500, {"error": "INTERNAL_SERVER_ERROR",
                     "error_description": "an unexpected error; nothing was changed"}


def install(app: Any) -> None:
    """Answer `/rest/…` on app (a FastAPI application whose state holds the base engine)."""
    from starlette.concurrency import run_in_threadpool
    from starlette.requests import Request
    from starlette.responses import JSONResponse, Response

    bucket = Bucket(*limits())

    async def rest(request: Request) -> Response:
        try:
            params = parameters(request.url.query, await request.body(), request.headers.get("content-type", ""))
        except BitrixError as error:
            return JSONResponse(error.body(), status_code=error.status)
        site = f"{request.url.scheme}://{request.url.netloc}"
        status, body = await run_in_threadpool(call, request.app.state.engine, bucket,
                                               request.path_params["path"], params, site)
        if isinstance(body, Download):
            quoted = urllib.parse.quote(body.name)
            return Response(body.content, media_type=body.content_type,
                            headers={"Content-Disposition": f"attachment; filename*=UTF-8''{quoted}"})
        return JSONResponse(body, status_code=status)

    app.add_route("/rest/{path:path}", rest, methods=["GET", "POST"], include_in_schema=False)
