"""The list view: the definition's columns, sort by a column, type-aware filters (ranges for dates,
numbers and money, options for enums, people for users), search on the title, keyset paging, and
the export of exactly the current filter through the API."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request, Response

from smartflow.web import session
from smartflow.web.cardparts import remember_titles
from smartflow.web.pages import PageRoute, frame, process_view, render, require_read
from smartflow.web.present import ProcessView

router = APIRouter(route_class=PageRoute, include_in_schema=False)
PAGE = 50
RANGES = ("date", "datetime", "money", "number", "integer")
CHOICES = ("enum", "user", "boolean")


def filter_fields(view: ProcessView) -> list[dict[str, Any]]:
    """The fields the list filters on: its columns that have a filter of their type, then every enum."""
    wanted = [c for c in view.list_columns() if c not in ("title", "stage", "id")]
    wanted += [f["id"] for f in view.data["fields"] if f["type"] == "enum"]
    shown = []
    for field_id in dict.fromkeys(wanted):
        spec = view.field(field_id)
        if spec["type"] in RANGES + CHOICES:
            shown.append({"id": field_id, "spec": spec, "kind": "range" if spec["type"] in RANGES else spec["type"],
                          "title": view.field_title(field_id)})
    return shown


def conditions(view: ProcessView, query: dict[str, list[str]], fields: list[dict[str, Any]]) -> list[str]:
    """The filters the query asks for, in the language of `item list --where`."""
    where: list[str] = []
    for found in fields:
        field_id = found["id"]
        if found["kind"] == "range":
            low, high = _one(query, f"{field_id}__from"), _one(query, f"{field_id}__to")
            if low:
                where.append(f"{field_id} >= {low}")
            if high:
                where.append(f"{field_id} <= {high}")
            continue
        chosen = [v for v in query.get(field_id, []) if v.strip() and "," not in v]
        if not chosen:
            continue
        if found["kind"] == "user":
            where.append(f"{field_id} = {chosen[0]}" if len(chosen) == 1 else f"{field_id} in {','.join(chosen)}")
        elif found["kind"] == "boolean":
            where.append(f"{field_id} = {chosen[-1]}")
        else:
            where.append(f"{field_id} in {','.join(chosen)}")
    return where


def _one(query: dict[str, list[str]], key: str) -> str:
    return (query.get(key) or [""])[-1].strip()


@router.get("/processes/{process}/items")
def item_list(request: Request, process: str) -> Response:
    found = session.visitor(request)
    live_after = found.crm.feed_position()  # before the rows: a change made meanwhile is told
    view = process_view(found, process)
    require_read(view)
    query: dict[str, list[str]] = {}
    for key, value in request.query_params.multi_items():
        query.setdefault(key, []).append(value)
    fields = filter_fields(view)
    where = conditions(view, query, fields)
    search, sort, stage = _one(query, "search"), _one(query, "sort"), _one(query, "stage")
    pipeline = _one(query, "pipeline") or None
    after = _one(query, "after")
    cursor = int(after) if after.isascii() and after.isdigit() and len(after) <= 12 else None
    columns = view.list_columns()
    rows = found.crm.list(process, where=tuple(where), search=search or None, sort=sort or None, stage=stage or None,
                          pipeline=pipeline, limit=PAGE, after=cursor,
                          columns=tuple(dict.fromkeys(("title", *columns))))
    remember_titles(found, view, rows)  # linked items' titles: one query per linked process for the page
    kept = [(k, v) for k, vs in query.items() if k != "after" for v in vs]
    following = rows[-1]["id"] if len(rows) == PAGE else None
    export = [("where", w) for w in where] + [(k, v) for k, v in (("search", search), ("sort", sort),
                                                                    ("stage", stage), ("pipeline", pipeline or ""))
                                              if v] + [("lang", found.lang)]
    current_sort = sort or view.data.get("list_sort") or ""
    return render("list.html", **frame(
        found, view=view, page="list", rows=rows, columns=columns, fields=fields, query=query, search=search,
        stage=stage, sort=current_sort, first_url=f"/processes/{process}/items?{urlencode(kept)}",
        next_url=f"/processes/{process}/items?{urlencode([*kept, ('after', following)])}" if following else None,
        export_query=urlencode(export), sort_url=lambda column: _sort_url(process, kept, column, current_sort),
        stages=[s for p in view.pipelines() for s in p["stages"]], live_after=live_after))


def _sort_url(process: str, kept: list[tuple[str, str]], column: str, current: str) -> str:
    direction = "desc" if current == f"{column}:asc" or current == column else "asc"
    rest = [(k, v) for k, v in kept if k != "sort"]
    return f"/processes/{process}/items?{urlencode([*rest, ('sort', f'{column}:{direction}')])}"
