"""The wire of Bitrix24's classic REST API: PHP-style parameters in, PHP `json_encode` shapes out,
the `time` object, and errors as `{error, error_description}` with Bitrix's codes and statuses.

Pure functions over plain data: nothing here knows smartflow (methods.py does)."""

from __future__ import annotations

import re
import time
import urllib.parse
from datetime import UTC, datetime
from typing import Any

from smartflow import errors


class BitrixError(Exception):
    """A refusal as Bitrix24 words it: a code, a description, an HTTP status."""

    def __init__(self, code: str, description: str, status: int = 400) -> None:
        super().__init__(description)
        self.code, self.description, self.status = code, description, status

    def body(self) -> dict[str, Any]:
        return {"error": self.code, "error_description": self.description}


def method_not_found() -> BitrixError:
    return BitrixError("ERROR_METHOD_NOT_FOUND", "Method not found!", 404)


# smartflow's errors as Bitrix24 answers them (crm.item.* refuse with 400 and a code; the first match wins)
ERRORS: list[tuple[type[errors.SmartflowError], str, int]] = [
    (errors.TooManyAttempts, "QUERY_LIMIT_EXCEEDED", 503),
    (errors.AuthenticationFailed, "NO_AUTH_FOUND", 401),
    (errors.NotDeployed, "NOT_FOUND", 400),
    (errors.NotFound, "NOT_FOUND", 400),
    (errors.PermissionDenied, "ACCESS_DENIED", 400),
    (errors.InvalidValue, "CRM_FIELD_ERROR_VALUE_NOT_VALID", 400),
    (errors.TransitionNotAllowed, "STAGE_TRANSITION_NOT_ALLOWED", 400),
    (errors.ConflictError, "CONFLICT", 400),
    (errors.AutomationFailed, "AUTOMATION_FAILED", 400),
    (errors.DatabaseUnavailable, "INTERNAL_SERVER_ERROR", 500),
]


def from_error(error: errors.SmartflowError) -> BitrixError:
    code, status = next(((c, s) for kind, c, s in ERRORS if isinstance(error, kind)), ("ERROR_CORE", 400))
    text = str(error)
    reasons = [str(r) for r in getattr(error, "reasons", None) or () if str(r) not in text]
    if reasons:
        text += ": " + "; ".join(reasons)
    if error.hint:
        text += f" ({error.hint})"
    return BitrixError(code, text, status)


def php_parse(query: str) -> dict[str, Any]:
    """PHP's parse_str: `a[b][]=1&a[b][]=2` → {'a': {'b': ['1', '2']}}; keys 0..n-1 become lists."""
    root: dict[str, Any] = {}
    for key, value in urllib.parse.parse_qsl(query, keep_blank_values=True):
        found = re.match(r"^([^\[]+)((?:\[[^\]]*\])*)$", key)
        parts = [found.group(1), *re.findall(r"\[([^\]]*)\]", found.group(2))] if found else [key]
        node = root
        for index, part in enumerate(parts):
            if part == "":
                part = str(len(node))
            if index == len(parts) - 1:
                node[part] = value
            else:
                child = node.get(part)
                if not isinstance(child, dict):
                    child = node[part] = {}
                node = child
    listed = _listify(root)
    return listed if isinstance(listed, dict) else {}


def _listify(value: Any) -> Any:
    if isinstance(value, dict):
        value = {k: _listify(v) for k, v in value.items()}
        if value and list(value) == [str(i) for i in range(len(value))]:
            return list(value.values())
    return value


def php_json(value: Any) -> Any:
    """As PHP's json_encode shapes an array: empty → [], keys 0..n-1 in order → a list."""
    if isinstance(value, dict):
        if not value:
            return []
        if list(map(str, value)) == [str(i) for i in range(len(value))]:
            return [php_json(v) for v in value.values()]
        return {str(k): php_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [php_json(v) for v in value]
    return value


def timing(started: float) -> dict[str, Any]:
    """The `time` object of every answer (b24pysdk needs it whole, date_start included)."""
    finished = time.time()

    def iso(moment: float) -> str:
        return datetime.fromtimestamp(moment, UTC).isoformat(timespec="seconds")

    return {"start": started, "finish": finished, "duration": finished - started,
            "processing": finished - started, "date_start": iso(started), "date_finish": iso(finished)}


def squash(name: str) -> str:
    """A field name in any of Bitrix's spellings, folded: `stageId`, `STAGE_ID` and `stage_id` alike."""
    return name.replace("_", "").lower()


def camel(upper_name: str) -> str:
    """Bitrix's camelCase of an UPPER_SNAKE name: `UF_CRM_6_NAME` → `ufCrm6Name`, `UF_CRM_2_1639` →
    `ufCrm2_1639` (an underscore between two digits stays)."""
    parts = upper_name.lower().split("_")
    out = parts[0]
    for part in parts[1:]:
        if not part:
            continue
        out += ("_" + part) if out[-1:].isdigit() and part[:1].isdigit() else part[:1].upper() + part[1:]
    return out


FILTER_KEY = re.compile(r"^(>=|<=|!@|!=%|!%|=%|%=|!=|@|>|<|%|=|!)?(.+)$")


def id_order(value: Any) -> tuple[int, int, str]:
    """Sort key of Bitrix24's string ids: numbers in numeric order ("9" before "10"), then any other text.
    Only ASCII digits count as a number (`"²".isdigit()` is true, and `int("²")` fails)."""
    text = str(value)
    return (0, int(text), "") if text.isascii() and text.isdigit() else (1, 0, text)


def truthy(value: Any) -> bool:
    """halt=1/true/Y, useOriginalUfNames=Y…"""
    return str(value).strip().lower() in ("1", "true", "y", "yes")
