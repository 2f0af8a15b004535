"""The OpenAPI 3.1 document, typed per deployed process: every `{process}` path is spelled out for
each process, with its own item schema (money, enum options, dates, links to other processes), so
a client generator gets real types. Built for the caller (fields hidden from them are left out),
and rebuilt when a new definition version is live (the cache is keyed by what it is built from).
"""

from __future__ import annotations

import copy
import hashlib
import json
import threading
from collections import OrderedDict
from pathlib import Path
from typing import Any

from fastapi import Depends, FastAPI
from fastapi.responses import HTMLResponse, JSONResponse
from fastapi.staticfiles import StaticFiles

from smartflow.http.caller import engine_for
from smartflow.http.problems import PROBLEM_TYPE
from smartflow.services import Engine

PREFIX = "/api/v1/processes/{process}"
PROBLEM: dict[str, Any] = {
    "type": "object",
    "required": ["type", "title", "status", "detail", "code", "message"],
    "properties": {
        "type": {"type": "string"}, "title": {"type": "string"}, "status": {"type": "integer"},
        "detail": {"type": "string"}, "code": {"type": "string"}, "message": {"type": "string"},
        "hint": {"type": "string"}, "field": {"type": "string"},
        "reasons": {"type": "array", "items": {"type": "string"}},
        "errors": {"type": "array", "items": {"type": "object"}},
    },
}
DECIMAL = {"type": "string", "pattern": r"^-?\d+(\.\d+)?$"}
SYSTEM_OUT: dict[str, dict[str, Any]] = {
    "id": {"type": "integer"}, "version": {"type": "integer"}, "title": {"type": "string"},
    "assigned_to": {"type": ["integer", "null"]}, "created_by": {"type": ["integer", "null"]},
    "updated_by": {"type": ["integer", "null"]}, "moved_by": {"type": ["integer", "null"]},
    "created_at": {"type": "string", "format": "date-time"},
    "updated_at": {"type": ["string", "null"], "format": "date-time"},
    "moved_at": {"type": ["string", "null"], "format": "date-time"},
    "closed_at": {"type": ["string", "null"], "format": "date-time"},
    "definition_version": {"type": ["integer", "null"]},
}


def _single_out(field: dict[str, Any]) -> dict[str, Any]:
    """The JSON Schema of one stored value as the API answers it."""
    kind = field["type"]
    if kind == "money":
        return {"type": "object", "required": ["amount", "currency"],
                "properties": {"amount": {**DECIMAL, "type": ["string", "null"]},
                               "currency": {"type": "string", **({"default": field["currency"]}
                                                                 if "currency" in field else {})}}}
    if kind == "number":
        return dict(DECIMAL)
    if kind == "integer":
        return {"type": "integer", **{k: field[k] for k in ("min", "max") if k in field and isinstance(field[k], int)}}
    if kind == "boolean":
        return {"type": "boolean"}
    if kind == "date":
        return {"type": "string", "format": "date"}
    if kind == "datetime":
        return {"type": "string", "format": "date-time"}
    if kind == "enum":
        return {"type": "string", "enum": [o["id"] for o in field.get("options", [])]}
    if kind == "link":
        return {"type": "integer", "description": f"the id of a `{field.get('to')}` item", "x-smartflow-link":
                field.get("to")}
    if kind == "user":
        return {"type": "integer", "description": "a user's id"}
    if kind == "file":
        return FILE
    text: dict[str, Any] = {"type": "string"}
    if kind == "email":
        text["format"] = "email"
    if kind == "url":
        text["format"] = "uri"
    return text


def _single_in(field: dict[str, Any]) -> dict[str, Any]:
    """The JSON Schema of a value the API accepts (money and numbers also as plain numbers or text)."""
    kind = field["type"]
    if kind == "money":
        return {"oneOf": [{"type": "number"}, DECIMAL, {
            "type": "object", "required": ["amount"], "additionalProperties": False,
            "properties": {"amount": {"oneOf": [{"type": "number"}, DECIMAL]}, "currency": {"type": "string"}}}]}
    if kind == "number":
        return {"oneOf": [{"type": "number"}, DECIMAL]}
    if kind == "user":
        return {"oneOf": [{"type": "integer"}, {"type": "string", "description": "a login"}]}
    if kind == "file":
        return {"oneOf": [{"type": "integer"}, {"type": "object", "required": ["id"], "properties": {
            "id": {"type": "integer"}}}], "description": "a file this field holds already, by id (or as read); "
                "upload new ones: POST …/items/{id}/files/{field}"}
    return _single_out(field)


FILE = {"type": "object", "required": ["id", "name"], "description": "a file: download it from …/files/{id}",
        "properties": {"id": {"type": "integer"}, "name": {"type": "string"}, "size": {"type": "integer"},
                       "content_type": {"type": ["string", "null"]}}}


def _value(field: dict[str, Any], single: Any) -> dict[str, Any]:
    schema = single(field)
    if field.get("multiple"):
        schema = {"type": "array", "items": schema}
    title = field.get("title") or {}
    schema = {**schema, "title": title.get("en") or next(iter(title.values()), field["id"])} if title else schema
    return schema


def _nullable(schema: dict[str, Any]) -> dict[str, Any]:
    if "oneOf" in schema:
        return {**schema, "oneOf": [*schema["oneOf"], {"type": "null"}]}
    if isinstance(schema.get("type"), str):
        extra = {"enum": [*schema["enum"], None]} if "enum" in schema else {}
        return {**schema, "type": [schema["type"], "null"], **extra}
    return schema


def process_schemas(process: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The component schemas of one process: Item, ListItem, ItemCreate, ItemPatch, Move."""
    name = _name(process["id"])
    pipelines = [p["id"] for p in process["pipelines"]]
    stages = sorted({s["id"] for p in process["pipelines"] for s in p["stages"]})
    out = {**SYSTEM_OUT, "pipeline": {"type": "string", "enum": pipelines}, "stage": {"type": "string", "enum": stages},
           **{f["id"]: _nullable(_value(f, _single_out)) for f in process["fields"]}}
    given = {f["id"]: _nullable(_value(f, _single_in)) for f in process["fields"]}
    given["title"] = {"type": "string", "minLength": 1}
    given["assigned_to"] = {"oneOf": [{"type": "integer"}, {"type": "string"}, {"type": "null"}]}
    required = ["title", *[f["id"] for f in process["fields"] if f.get("required")]]
    title = process["title"].get("en") or next(iter(process["title"].values()), process["id"])
    return {
        f"{name}Item": {"type": "object", "title": f"{title} item", "properties": out,
                        "required": ["id", "version", "pipeline", "stage"], "additionalProperties": True},
        f"{name}ListItem": {"type": "object", "properties": out, "required": ["id"], "additionalProperties": True},
        f"{name}ItemCreate": {"type": "object", "additionalProperties": False, "required": required,
                              "properties": {**given, "pipeline": {"type": "string", "enum": pipelines},
                                             "stage": {"type": "string", "enum": stages}}},
        f"{name}ItemPatch": {"type": "object", "additionalProperties": False, "properties": given},
        f"{name}Move": {"type": "object", "additionalProperties": False, "required": ["stage"],
                        "properties": {"stage": {"type": "string", "enum": stages},
                                       "pipeline": {"type": "string", "enum": pipelines}}},
    }


def _name(process_id: str) -> str:
    return "".join(part.capitalize() for part in process_id.split("_"))


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict[str, Any], description: str = "OK") -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _typed(path: str, method: str, operation: dict[str, Any], name: str) -> None:
    """Put the process's own schemas on the item operations."""
    item = _json(_ref(f"{name}Item"))
    if path.endswith("/items") and method == "get":
        operation["responses"]["200"] = _json({"type": "object", "required": ["items", "next"], "properties": {
            "items": {"type": "array", "items": _ref(f"{name}ListItem")}, "next": {"type": ["integer", "null"]}}})
    elif path.endswith("/items") and method == "post":
        operation["requestBody"] = {"required": True, "content": {"application/json": {
            "schema": _ref(f"{name}ItemCreate")}}}
        operation["responses"] = {"201": _json(_ref(f"{name}Item"), "Created"),
                                  **{k: v for k, v in operation["responses"].items() if k not in ("200", "201")}}
    elif path.endswith("/items/{item_id}") and method == "patch":
        operation["requestBody"] = {"required": True, "content": {"application/json": {
            "schema": _ref(f"{name}ItemPatch")}}}
        operation["responses"]["200"] = item
    elif (path.endswith("/items/{item_id}") and method == "get") or path.endswith(("/move", "/restore")):
        operation["responses"]["200"] = item
        if path.endswith("/move"):
            operation["requestBody"] = {"required": True, "content": {"application/json": {
                "schema": _ref(f"{name}Move")}}}


def _problems(operation: dict[str, Any]) -> None:
    """Errors as problem+json: FastAPI's own 422 shape is not what this API answers."""
    responses = operation.setdefault("responses", {})
    responses.pop("422", None)
    responses["default"] = {"description": "An error (RFC 9457)",
                            "content": {PROBLEM_TYPE: {"schema": _ref("Problem")}}}


GENERIC = "x-smartflow-generic"  # openapi_extra of a route documented once, not once per process


def build(generic: dict[str, Any], catalog: dict[str, Any]) -> dict[str, Any]:
    """The document for one caller: the generic routes, each `{process}` path spelled out per process."""
    document = copy.deepcopy(generic)
    document["info"]["version"] = f"definition version {catalog['version']}"
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    for unused in ("HTTPValidationError", "ValidationError", "Move"):
        schemas.pop(unused, None)
    schemas["Problem"] = PROBLEM
    paths: dict[str, Any] = {}
    for path, operations in generic["paths"].items():
        # a route marked GENERIC (the same shape in every process) stays one operation with `{process}`
        if not path.startswith(PREFIX) or all(op.get(GENERIC) for op in operations.values()):
            for operation in operations.values():
                _problems(operation)
            paths[path] = operations
            continue
        for process in catalog["processes"]:
            schemas.update(process_schemas(process))
            concrete = path.replace("{process}", process["id"])
            copied = copy.deepcopy(operations)
            for method, operation in copied.items():
                operation["operationId"] = f"{operation.get('operationId', method)}__{process['id']}"
                operation["tags"] = [process["id"]]
                operation["parameters"] = [p for p in operation.get("parameters", []) if p.get("name") != "process"]
                _typed(path, method, operation, _name(process["id"]))
                _problems(operation)
            paths[concrete] = copied
    document["paths"] = paths
    document.get("components", {}).setdefault("securitySchemes", {}).update({
        "token": {"type": "http", "scheme": "bearer", "description": "smartflow token create LOGIN"},
        "session": {"type": "apiKey", "in": "cookie", "name": "smartflow_session"}})
    document["security"] = [{"token": []}, {"session": []}]
    return document


class Documents:
    """The documents built so far, by a digest of what each was built from (a few kept)."""

    def __init__(self, size: int = 32) -> None:
        self.size = size
        self.built: OrderedDict[str, dict[str, Any]] = OrderedDict()
        self.lock = threading.Lock()

    def get(self, generic: dict[str, Any], catalog: dict[str, Any]) -> dict[str, Any]:
        key = hashlib.sha256(json.dumps(catalog, sort_keys=True, default=str).encode()).hexdigest()
        with self.lock:
            if key in self.built:
                self.built.move_to_end(key)
                return self.built[key]
        document = build(generic, catalog)
        with self.lock:
            self.built[key] = document
            while len(self.built) > self.size:
                self.built.popitem(last=False)
        return document


def install(app: FastAPI) -> None:
    """Serve the typed document at /api/openapi.json (for the caller) and the interactive docs at /api/docs."""
    documents = Documents()

    @app.get("/api/openapi.json", include_in_schema=False)
    def openapi_document(crm: Engine = Depends(engine_for)) -> JSONResponse:  # noqa: B008  # FastAPI's idiom
        return JSONResponse(documents.get(app.openapi(), crm.describe()))

    @app.get("/api/docs", include_in_schema=False)
    def docs() -> HTMLResponse:
        return HTMLResponse(DOCS_PAGE)

    app.mount("/api/static", StaticFiles(directory=STATIC), name="api-static")


STATIC = Path(__file__).resolve().parent / "static"
# Swagger UI from the package (static/swagger-ui, vendored with its licence), started by a script
# file rather than inline: the page works offline and under the Content-Security-Policy.
DOCS_PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>smartflow API</title>
<link rel="stylesheet" href="/api/static/swagger-ui/swagger-ui.css">
<link rel="icon" type="image/png" href="/api/static/swagger-ui/favicon-32x32.png">
</head>
<body>
<div id="swagger-ui"></div>
<script src="/api/static/swagger-ui/swagger-ui-bundle.js"></script>
<script src="/api/static/docs.js"></script>
</body>
</html>
"""
