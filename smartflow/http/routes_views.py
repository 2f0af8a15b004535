"""The deadlines and calendar views as JSON: the twins of the board's pages, from the same services
(`services.views`); the analytics page's twin is the report route. Moving a card in time is an ordinary
item update (PATCH the item with the day `sets` names)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Response

from smartflow.http.bodies import StrictRoute
from smartflow.http.caller import engine_for, json_body
from smartflow.http.openapi import GENERIC
from smartflow.services import Engine
from smartflow.services import views as dated

router = APIRouter(route_class=StrictRoute)
Crm = Annotated[Engine, Depends(engine_for)]
Choice = Annotated[str | None, Query(max_length=64)]
DOCUMENTED: dict[str, Any] = {"tags": ["views"], "openapi_extra": {GENERIC: True}}  # one shape in every process


@router.get("/processes/{process}/deadlines", **DOCUMENTED)
def deadlines(process: str, crm: Crm, field: Choice = None, pipeline: Choice = None,
              limit: Annotated[int, Query(ge=1, le=500)] = dated.GROUP_LIMIT) -> Response:
    """The open items the caller may read grouped by a date field (default: `deadline`, else the first date
    field): overdue, today, this week, next week, later, none; each group with its count, the day an item
    moved into it gets (`sets`), and its first items by that date."""
    return json_body(dated.deadlines(crm, process, field=field, pipeline=pipeline, limit=limit))


@router.get("/processes/{process}/calendar", **DOCUMENTED)
def calendar(process: str, crm: Crm, month: Annotated[str | None, Query(max_length=7, description="YYYY-MM")] = None,
             field: Choice = None, pipeline: Choice = None) -> Response:
    """A month (weeks from Monday) of the items the caller may read, by the day of a date or date-time field."""
    return json_body(dated.calendar(crm, process, month=month, field=field, pipeline=pipeline))
