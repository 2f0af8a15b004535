"""JSON request bodies read strictly, so that no value of a body can reach the services in a form
that breaks below them:

- `Infinity`, `-Infinity` and `NaN` (not JSON, but Python's reader takes them), numbers past a
  float (`1e400`) and integers of thousands of digits are read as Decimal, so the field they are
  given for refuses them by name (`field qty: Infinity is not a whole number`);
- a string holding a NUL character or a lone surrogate (`"\\ud800"`), as a value or a key, is
  refused here with the path to it (`body.title`): no database stores it alike, and no answer
  could quote it as UTF-8;
- a body that is not UTF-8, or that nests too deeply for Python's reader, is refused as such.

Each refusal is a RequestValidationError, the 422 problem+json of any other malformed body.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Coroutine
from decimal import Decimal
from typing import Any

from fastapi import Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute

from smartflow.services import text_problem

DIGITS = 4000  # an integer of more digits is read as Decimal (Python's int() stops at 4300)


class Refused(ValueError):
    """A body that reads as JSON but holds a value no field could take; loc is where it stands."""

    def __init__(self, loc: tuple[str | int, ...], message: str) -> None:
        super().__init__(message)
        self.loc = loc


def _float(text: str) -> float | Decimal:
    number = float(text)
    return number if math.isfinite(number) else Decimal(text)  # 1e400: too large, and the field says so


def _int(text: str) -> int | Decimal:
    return int(text) if len(text) <= DIGITS else Decimal(text)


def read(body: bytes) -> Any:
    """The body's JSON value, read strictly (see the module); json.JSONDecodeError or Refused."""
    try:
        text = body.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise Refused((), f"the body is not UTF-8 (byte {error.start})") from None
    try:
        value = json.loads(text, parse_constant=Decimal, parse_float=_float, parse_int=_int)
        _check(value, ())
    except RecursionError:
        raise Refused((), "the body nests arrays or objects too deeply") from None
    return value


def _check(value: Any, loc: tuple[str | int, ...]) -> None:
    if isinstance(value, str):
        problem = text_problem(value)
        if problem:
            raise Refused(loc, problem)
    elif isinstance(value, dict):
        for key, inner in value.items():
            problem = text_problem(key)
            if problem:
                raise Refused(loc, f"a key {problem}")
            _check(inner, (*loc, key))
    elif isinstance(value, list):
        for index, inner in enumerate(value):
            _check(inner, (*loc, index))


def is_json(request: Request) -> bool:
    """Whether FastAPI reads the body as JSON: so typed, or not typed at all."""
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    return not kind or (kind.startswith("application/") and (kind.endswith("/json") or kind.endswith("+json")))


class StrictRequest(Request):
    """A request whose `json()` is `read`."""

    async def json(self) -> Any:
        if not hasattr(self, "_strict"):
            self._strict = read(await self.body())
        return self._strict


class StrictRoute(APIRoute):
    """A route whose JSON body is read by `read`: a refusal is a 422 naming where it stands."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def strict(request: Request) -> Response:
            request = StrictRequest(request.scope, request.receive)
            if request.method not in ("GET", "HEAD", "OPTIONS") and is_json(request):
                try:
                    if await request.body():
                        await request.json()
                except Refused as refused:
                    raise RequestValidationError([{"type": "value_error", "loc": ("body", *refused.loc),
                                                   "msg": str(refused), "input": None}]) from None
                except json.JSONDecodeError:
                    pass  # FastAPI answers it as any malformed body (json_invalid)
            return await handler(request)

        return strict
