"""Links, people, observers and the recycle bin: what a link or user picker offers (within the caller's
read rights, a user field's `roles` kept), an item's observers, and a process's deleted items. Each route
is parse → one service call → JSON; the board's pickers call the first two with its session. (An item's
observers are in its JSON, `GET …/items/{id}`.)"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Response
from pydantic import BaseModel, ConfigDict, Field

from smartflow.http.bodies import StrictRoute
from smartflow.http.caller import engine_for, json_body
from smartflow.http.openapi import GENERIC
from smartflow.services import MAX_ID, Engine

router = APIRouter(route_class=StrictRoute)
Crm = Annotated[Engine, Depends(engine_for)]
Search = Annotated[str, Query(max_length=200, description="part of a title (or an id), any case")]
Limit = Annotated[int, Query(ge=1, le=100)]
ItemId = Annotated[int, Path(ge=1, le=MAX_ID)]
User = str | int  # a login, `#id`, or an id
# the same shape in every process: documented once, with `{process}`
DOCUMENTED: dict[str, Any] = {"tags": ["links, people and observers"], "openapi_extra": {GENERIC: True}}


@router.get("/processes/{process}/lookup", **DOCUMENTED)
def lookup(process: str, crm: Crm, search: Search = "", limit: Limit = 20) -> Response:
    """Items whose title contains `search` (or whose id it is) that the caller may read, by title: what a
    link field's picker offers."""
    return json_body({"items": crm.lookup(process, search, limit)})


@router.get("/processes/{process}/people", **DOCUMENTED)
def people(process: str, crm: Crm, field: Annotated[str | None, Query(max_length=64)] = None, search: Search = "",
           limit: Limit = 20, pipeline: Annotated[str | None, Query(max_length=28)] = None) -> Response:
    """The active users a user field (`field`; without it, the responsible person) may hold whose login or
    name contains `search`; a field limited to `roles` offers only users holding one of them; with
    `pipeline`, only users with a right in that pipeline (the item's)."""
    return json_body({"users": crm.pickable_people(process, field, search, limit, pipeline)})


class ObserverChange(BaseModel):
    """Users to add and to remove (by login, `#id` or id); or `observers`: exactly these."""

    model_config = ConfigDict(extra="forbid")
    add: list[User] = Field(default_factory=list, max_length=200)
    remove: list[User] = Field(default_factory=list, max_length=200)
    observers: list[User] | None = Field(default=None, max_length=200)


@router.post("/processes/{process}/items/{item_id}/observers", **DOCUMENTED)
def change_observers(process: str, item_id: ItemId, crm: Crm, change: ObserverChange) -> Response:
    """Add and remove observers (needs the `update` right over the item); the item's observers after."""
    found = crm.change_observers(process, item_id, add=change.add, remove=change.remove, replace=change.observers)
    return json_body({"observers": found})


@router.get("/processes/{process}/recycle-bin", **DOCUMENTED)
def recycle_bin(process: str, crm: Crm, limit: Annotated[int, Query(ge=1, le=1000)] = 200) -> Response:
    """The process's deleted items the caller may restore (`POST …/items/{id}/restore`), newest first."""
    rows: list[dict[str, Any]] = crm.recycle_bin(process, limit)
    return json_body({"items": rows})
