"""Comments and to-dos of an item, and its timeline. Each route is parse → one service call → JSON;
a comment or to-do of an item the caller may not read answers 404 exactly as a missing one."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Response
from pydantic import BaseModel, ConfigDict, Field

from smartflow.http.bodies import StrictRoute
from smartflow.http.caller import engine_for, json_body
from smartflow.http.openapi import GENERIC
from smartflow.services import MAX_ID, Engine

router = APIRouter(route_class=StrictRoute)
Crm = Annotated[Engine, Depends(engine_for)]
# documented once with `{process}` (their bodies are alike in every process): spelled out per process, the
# typed document grows past what Swagger UI renders (about 140 operations)
DOCUMENTED: dict[str, Any] = {"tags": ["comments and to-dos"], "openapi_extra": {GENERIC: True}}
ItemId = Annotated[int, Path(ge=1, le=MAX_ID)]
RowId = Annotated[int, Path(ge=1, le=MAX_ID)]


class CommentBody(BaseModel):
    """A comment: plain text (line breaks kept; `@login` mentions notify that user)."""

    model_config = ConfigDict(extra="forbid")
    text: str = Field(max_length=20_000)


class TodoBody(BaseModel):
    """A to-do: its title, a deadline (`2026-12-31`, `2026-12-31T15:00+03:00`, or `+2wd`) and the responsible
    user's login (none: the caller)."""

    model_config = ConfigDict(extra="forbid")
    title: str = Field(max_length=500)
    due: str | None = Field(default=None, max_length=64)
    responsible: str | None = Field(default=None, max_length=128)


class TodoChange(BaseModel):
    """Mark a to-do done (true) or open again (false)."""

    model_config = ConfigDict(extra="forbid")
    done: bool


@router.post("/processes/{process}/items/{item_id}/comments", **DOCUMENTED, status_code=201)
def add_comment(process: str, item_id: ItemId, crm: Crm, body: CommentBody) -> Response:
    """Comment on an item the caller may read; the comment."""
    return json_body(crm.comment(process, item_id, body.text), 201)


@router.get("/processes/{process}/items/{item_id}/comments", **DOCUMENTED)
def list_comments(process: str, item_id: ItemId, crm: Crm) -> Response:
    """The item's comments, oldest first."""
    return json_body({"comments": crm.comments(process, item_id)})


@router.get("/processes/{process}/items/{item_id}/comments/{comment_id}", **DOCUMENTED)
def get_comment(process: str, item_id: ItemId, comment_id: RowId, crm: Crm) -> Response:
    """One comment."""
    return json_body(crm.get_comment(process, item_id, comment_id))


@router.patch("/processes/{process}/items/{item_id}/comments/{comment_id}", **DOCUMENTED)
def edit_comment(process: str, item_id: ItemId, comment_id: RowId, crm: Crm, body: CommentBody) -> Response:
    """Change the caller's own comment (403 for anyone else's); the earlier text stays in the item's history."""
    return json_body(crm.edit_comment(process, item_id, comment_id, body.text))


@router.delete("/processes/{process}/items/{item_id}/comments/{comment_id}", **DOCUMENTED)
def delete_comment(process: str, item_id: ItemId, comment_id: RowId, crm: Crm) -> Response:
    """Delete the caller's own comment (403 for anyone else's); its text stays in the item's history."""
    crm.delete_comment(process, item_id, comment_id)
    return json_body({"id": comment_id, "deleted": True})


@router.post("/processes/{process}/items/{item_id}/todos", **DOCUMENTED, status_code=201)
def add_todo(process: str, item_id: ItemId, crm: Crm, body: TodoBody) -> Response:
    """A to-do on an item the caller may read; the to-do."""
    return json_body(crm.add_todo(process, item_id, body.title, body.due, body.responsible), 201)


@router.get("/processes/{process}/items/{item_id}/todos", **DOCUMENTED)
def list_todos(process: str, item_id: ItemId, crm: Crm) -> Response:
    """The item's to-dos, oldest first, each with its state: open, today, overdue or done."""
    return json_body({"todos": crm.todos(process, item_id)})


@router.get("/processes/{process}/items/{item_id}/todos/{todo_id}", **DOCUMENTED)
def get_todo(process: str, item_id: ItemId, todo_id: RowId, crm: Crm) -> Response:
    """One to-do."""
    return json_body(crm.get_todo(process, item_id, todo_id))


@router.patch("/processes/{process}/items/{item_id}/todos/{todo_id}", **DOCUMENTED)
def change_todo(process: str, item_id: ItemId, todo_id: RowId, crm: Crm, body: TodoChange) -> Response:
    """Mark a to-do done or open again: its responsible person, its author, or whoever may update the item."""
    return json_body(crm.set_todo_done(process, item_id, todo_id, body.done))


@router.get("/processes/{process}/items/{item_id}/timeline", **DOCUMENTED)
def item_timeline(process: str, item_id: ItemId, crm: Crm) -> Response:
    """Comments, to-dos, field changes and moves in one list, newest first."""
    entries: list[dict[str, Any]] = crm.timeline(process, item_id)
    return json_body({"timeline": entries})
