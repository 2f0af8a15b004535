"""Processes and their items: list, create, card, update, move, delete, restore, history, explain,
kanban, report, export and import. Each route is parse → one service call → JSON."""

from __future__ import annotations

import re
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Header, Path, Query, Response
from pydantic import BaseModel, ConfigDict, Field

from smartflow import errors
from smartflow.http import problems
from smartflow.http.bodies import StrictRoute
from smartflow.http.caller import engine_for, json_body
from smartflow.services import MAX_ID, Engine

router = APIRouter(route_class=StrictRoute)
Crm = Annotated[Engine, Depends(engine_for)]
ItemId = Annotated[int, Path(ge=1, le=MAX_ID)]  # an integer column on every database
PAGE_LIMIT = 500


class Move(BaseModel):
    """Where to move an item: a stage, and a pipeline to move it into another pipeline; values: fields to
    set in the same change (a new responsible person who works in the pipeline it moves into, say)."""

    model_config = ConfigDict(extra="forbid")
    stage: str = Field(min_length=1, max_length=64)
    pipeline: str | None = Field(default=None, min_length=1, max_length=64)
    values: dict[str, Any] | None = None


def _version(if_match: str | None) -> int | None:
    """The item version an If-Match names (`3`, `"3"` or `W/"3"`); None without the header."""
    if if_match is None:
        return None
    found = re.fullmatch(r'\s*(?:W/)?"?(\d{1,9})"?\s*', if_match)
    if found is None:
        raise errors.InvalidValue(f"If-Match {if_match!r} is not an item version", 'send the item\'s ETag, e.g. "3"',
                                  field="If-Match")
    return int(found.group(1))


def item_json(item: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in item.items() if key not in ("deleted_at", "deleted_by")}


def _item_response(item: dict[str, Any], status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return json_body(item_json(item), status, {"ETag": f'"{item.get("version")}"', **(headers or {})})


@router.get("/processes", tags=["processes"])
def list_processes(crm: Crm) -> Response:
    """The deployed processes and what the caller may do in each."""
    return json_body({"version": crm.deployed_version(), "processes": crm.processes()})


@router.get("/processes/{process}", tags=["processes"])
def describe_process(process: str, crm: Crm) -> Response:
    """A process as a client needs it: fields, pipelines and stages, card, the caller's rights."""
    return json_body(crm.describe(process))


def _columns(fields: str | None) -> tuple[str, ...] | None:
    return tuple(f.strip() for f in fields.split(",") if f.strip()) if fields else None


@router.get("/processes/{process}/items", tags=["items"])
def list_items(process: str, crm: Crm,
               where: Annotated[list[str] | None, Query(description="FIELD OP VALUE, as `item list --where`")] = None,
               pipeline: str | None = None, stage: str | None = None, search: str | None = None,
               sort: str | None = None, fields: Annotated[str | None, Query(description="ids, comma-separated")] = None,
               limit: Annotated[int, Query(ge=1, le=PAGE_LIMIT)] = 50,
               after: Annotated[int | None, Query(ge=0, le=MAX_ID, description="`next` of the page before")] = None,
               ) -> Response:
    """A page of items the caller may read; `next` is the cursor of the following page (null at the end)."""
    rows = crm.list(process, pipeline=pipeline, stage=stage, where=tuple(where or ()), search=search, sort=sort,
                    limit=limit, after=after, columns=_columns(fields), files=True)
    following = rows[-1]["id"] if len(rows) == limit else None
    return json_body({"items": [item_json(r) for r in rows], "next": following})


@router.post("/processes/{process}/items", tags=["items"], status_code=201)
def create_item(process: str, crm: Crm, values: Annotated[dict[str, Any], Body()]) -> Response:
    """Create an item from field ids → values (`pipeline` and `stage` choose where it starts)."""
    values = dict(values)
    pipeline, stage = values.pop("pipeline", None), values.pop("stage", None)
    for name, given in (("pipeline", pipeline), ("stage", stage)):
        if given is not None and not isinstance(given, str):
            raise errors.InvalidValue(f"`{name}` must be a string id", field=name)
    new_id = crm.create(process, values, pipeline=pipeline, stage=stage)
    location = {"Location": f"/api/v1/processes/{process}/items/{new_id}"}
    try:
        return _item_response(crm.get(process, new_id, files=True), 201, location)
    except errors.NotFound:  # created by someone who may create but not read: the id alone
        return json_body({"id": new_id}, 201, location)


@router.get("/processes/{process}/items/{item_id}", tags=["items"])
def get_item(process: str, item_id: ItemId, crm: Crm,
             card: Annotated[bool, Query(description="with links both ways and recent history")] = False) -> Response:
    """One item (ETag: its version); with card=true, its card: sections, links both ways, recent history."""
    if not card:
        return _item_response(crm.get_with_titles(process, item_id, files=True))  # `_titles`: linked items' titles
    found = crm.card(process, item_id, files=True)
    item = found["item"]
    sections = [{"id": s.id, "title": s.title, "fields": [f for f in s.fields if f in item]}
                for s in found["process"].card]
    return json_body({"item": item_json(item), "sections": sections, "links": found["links"],
                      "history": found["history"]}, headers={"ETag": f'"{item.get("version")}"'})


@router.patch("/processes/{process}/items/{item_id}", tags=["items"])
def update_item(process: str, item_id: ItemId, crm: Crm, values: Annotated[dict[str, Any], Body()],
                if_match: Annotated[str | None, Header()] = None) -> Response:
    """Change fields; with If-Match (the item's ETag) a stale version answers 412 and changes nothing."""
    expected = _version(if_match)
    try:
        crm.update(process, item_id, values, expected_version=expected)
    except errors.ConflictError as error:
        if expected is None:
            raise
        return problems.from_error(error, stale_version=True)
    return _item_response(crm.get(process, item_id, files=True))


@router.delete("/processes/{process}/items/{item_id}", tags=["items"])
def delete_item(process: str, item_id: ItemId, crm: Crm) -> Response:
    """To the recycle bin when the process has one (restore brings it back), else for good."""
    return json_body({"id": item_id, "outcome": crm.delete(process, item_id)})


@router.post("/processes/{process}/items/{item_id}/restore", tags=["items"])
def restore_item(process: str, item_id: ItemId, crm: Crm) -> Response:
    """Bring an item back from the recycle bin."""
    crm.restore(process, item_id)
    return _item_response(crm.get(process, item_id, files=True))


@router.post("/processes/{process}/items/{item_id}/move", tags=["items"])
def move_item(process: str, item_id: ItemId, crm: Crm, move: Move,
              if_match: Annotated[str | None, Header()] = None) -> Response:
    """Move to a stage (and pipeline); refused by the move's rules → 409 with every reason `explain` gives;
    by a caller whose `move` level does not reach the item → 403."""
    expected = _version(if_match)
    try:
        crm.move(process, item_id, move.stage, pipeline=move.pipeline, expected_version=expected, values=move.values)
    except errors.ConflictError as error:
        if expected is None:
            raise
        return problems.from_error(error, stale_version=True)
    return _item_response(crm.get(process, item_id, files=True))


@router.get("/processes/{process}/items/{item_id}/history", tags=["items"])
def item_history(process: str, item_id: ItemId, crm: Crm) -> Response:
    """Everything that happened to the item: who, when, what, from, to, through which door."""
    return json_body({"history": crm.history(process, item_id)})


@router.get("/processes/{process}/items/{item_id}/explain", tags=["items"])
def explain_move(process: str, item_id: ItemId, crm: Crm, stage: Annotated[str, Query(min_length=1)],
                 pipeline: str | None = None) -> Response:
    """Whether a move would be allowed, and every reason it would not."""
    reasons = crm.explain(process, item_id, stage, pipeline)
    return json_body({"allowed": not reasons, "reasons": reasons})


@router.get("/processes/{process}/kanban", tags=["views"])
def kanban(process: str, crm: Crm, pipeline: str | None = None,
           top: Annotated[int, Query(ge=0, le=100)] = 5) -> Response:
    """Per stage of a pipeline: the count, the money sums and the latest cards."""
    return json_body(crm.kanban(process, pipeline, top))
