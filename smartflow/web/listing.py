"""The list view: the definition's columns, sort by a column, the type-aware filters of web/viewfilter.py
(ranges for dates, numbers and money, options for enums, people for users, mine, presets), search,
keyset paging, and the export of exactly the current filter through the API."""

from __future__ import annotations

from urllib.parse import urlencode

from fastapi import APIRouter, Request, Response

from smartflow.web import session, viewfilter
from smartflow.web.cardparts import remember_titles
from smartflow.web.pages import PageRoute, frame, process_view, render, require_read

router = APIRouter(route_class=PageRoute, include_in_schema=False)
PAGE = 50


@router.get("/processes/{process}/items")
def item_list(request: Request, process: str) -> Response:
    found = session.visitor(request)
    with found.crm.snapshot():  # the rows as of one moment, in one transaction
        live_after = found.crm.feed_position()  # before the rows: a change made meanwhile is told
        view = process_view(found, process)
        require_read(view)
        query: dict[str, list[str]] = {}
        for key, value in request.query_params.multi_items():
            query.setdefault(key, []).append(value)
        narrowed = viewfilter.read(found, view, request.query_params.multi_items(), f"/processes/{process}/items",
                                   (("stage", viewfilter.one(query, "stage")), ("sort", viewfilter.one(query, "sort"))))
        fields, where = narrowed.fields, narrowed.where
        search, sort, stage = narrowed.search or "", viewfilter.one(query, "sort"), viewfilter.one(query, "stage")
        pipeline = viewfilter.one(query, "pipeline") or None
        after = viewfilter.one(query, "after")
        cursor = int(after) if after.isascii() and after.isdigit() and len(after) <= 12 else None
        columns = view.list_columns()
        rows = found.crm.list(process, where=tuple(where), search=search or None, sort=sort or None,
                              stage=stage or None, pipeline=pipeline, limit=PAGE, after=cursor,
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
            stages=[s for p in view.pipelines() for s in p["stages"]], live_after=live_after, filter=narrowed))


def _sort_url(process: str, kept: list[tuple[str, str]], column: str, current: str) -> str:
    direction = "desc" if current == f"{column}:asc" or current == column else "asc"
    rest = [(k, v) for k, v in kept if k != "sort"]
    return f"/processes/{process}/items?{urlencode([*rest, ('sort', f'{column}:{direction}')])}"
