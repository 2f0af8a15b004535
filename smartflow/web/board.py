"""The kanban: a column per stage with its count and money sums, cards paged by keyset on scroll,
and moves by drag-and-drop or a "Move to…" menu through `Engine.move` (the API's rules)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from smartflow import errors
from smartflow.i18n import Name, tr
from smartflow.i18n import render as render_in
from smartflow.services import MAX_ID
from smartflow.web import session, viewfilter
from smartflow.web.cardparts import remember_titles
from smartflow.web.forms import sent_fields, values_from
from smartflow.web.items import inputs_for, picker_people
from smartflow.web.pages import TEMPLATES, PageRoute, frame, process_view, render, require_read, status_of
from smartflow.web.present import ProcessView, amount
from smartflow.web.session import Visitor
from smartflow.web.text import word
from smartflow.web.viewfilter import ViewFilter

router = APIRouter(route_class=PageRoute, include_in_schema=False)
PAGE = 20  # cards a column shows before it is scrolled
CARD_KEYS = ("title", "stage", "pipeline", "assigned_to", "created_by")  # what a card needs besides its columns


def card_columns(view: ProcessView) -> tuple[str, ...]:
    return tuple(dict.fromkeys((*CARD_KEYS, *view.card_fields())))


def column_cards(found: Visitor, view: ProcessView, pipeline: str, stage: str, chosen: ViewFilter,
                 after: int | None = None) -> list[dict[str, Any]]:
    """A page of a column's cards that the filter leaves, newest first (by id: the primary key pages any
    column cheaply), after the card `after` (keyset)."""
    return found.crm.list(view.id, pipeline=pipeline, stage=stage, sort="id:desc", limit=PAGE, after=after,
                          columns=card_columns(view), where=tuple(chosen.where), search=chosen.search)


def sums_text(sums: dict[str, Any], lang: str) -> list[str]:
    return [amount(total, currency, lang) for currency, total in sorted(sums.items())]


def column_sums(view: ProcessView, column: dict[str, Any], money_fields: list[str], lang: str) -> list[str]:
    """A column's money, per field and currency: the amounts alone when the process shows one money
    field, each named by its field when it shows several."""
    if len(money_fields) <= 1:
        return sums_text(column["sums"], lang)
    totals = column.get("totals") or {}
    return [f"{view.field_title(field_id)}: {text}" for field_id in money_fields
            for text in sums_text(totals.get(field_id, {}), lang)]


def columns_of(found: Visitor, view: ProcessView, pipeline: dict[str, Any], chosen: ViewFilter
               ) -> list[dict[str, Any]]:
    """Each stage of the pipeline with its count and sums of the items the filter leaves (from the
    services' kanban), in order."""
    board = found.crm.kanban(view.id, pipeline["id"], top=0, where=tuple(chosen.where), search=chosen.search)
    totals = {c["stage"]: c for c in board["columns"]}
    fields = list(board.get("money_fields") or [])
    money = view.field_title(board["money_field"]) if board.get("money_field") and len(fields) <= 1 else None
    return [{**stage, "title": view.stage_title(stage["id"]), "count": totals[stage["id"]]["count"],
             "sums": column_sums(view, totals[stage["id"]], fields, found.lang), "money": money}
            for stage in pipeline["stages"]]


def render_cards(found: Visitor, view: ProcessView, cards: list[dict[str, Any]], stage_moves: bool = True) -> str:
    """Cards as the kanban draws them; without stage_moves, without their "Move to…" menu (the deadlines view)."""
    targets = found.crm.move_targets(view.id, cards) if cards and stage_moves else {}
    remember_titles(found, view, cards)  # linked items' titles: one query per linked process for the page
    overdue = found.crm.overdue_items(view.id, [card["id"] for card in cards]) if cards else set()
    return TEMPLATES.get_template("cards.html").render(cards=cards, targets=targets, view=view, lang=found.lang,
                                                       overdue=overdue)


@router.get("/processes/{process}/kanban")
def kanban(request: Request, process: str, pipeline: str | None = None) -> Response:
    """The board of a pipeline (the default one without `pipeline`)."""
    found = session.visitor(request)
    with found.crm.snapshot():  # the board as of one moment, in one transaction
        live_after = found.crm.feed_position()  # before the board's data: a change made meanwhile is told
        view = process_view(found, process)
        require_read(view)
        chosen = view.pipeline(pipeline)
        if pipeline is not None and chosen["id"] != pipeline:
            raise errors.NotFound(tr("{process} has no pipeline {pipeline}", pipeline=Name(pipeline),
                                     process=Name(process, view.data.get("title"), quote="")),
                                  tr("choose one of the board's pipelines"))
        narrowed = viewfilter.read(found, view, request.query_params.multi_items(), f"/processes/{process}/kanban")
        columns = columns_of(found, view, chosen, narrowed)
        for column in columns:
            cards = column_cards(found, view, chosen["id"], column["id"], narrowed)
            column["cards_html"] = render_cards(found, view, cards)
            column["after"] = cards[-1]["id"] if len(cards) == PAGE else None
        return render("kanban.html", **frame(found, view=view, pipeline=chosen, columns=columns, page="kanban",
                                             live_after=live_after, filter=narrowed,
                                             filter_path=f"/processes/{process}/kanban"))


@router.get("/processes/{process}/kanban/cards")
def more_cards(request: Request, process: str, stage: Annotated[str, Query(max_length=64)],
               after: Annotated[int, Query(ge=1, le=MAX_ID)], pipeline: str | None = None) -> Response:
    """The next page of a column's cards, as HTML; `X-Next-After` names the cursor after it (empty at the end)."""
    found = session.visitor(request)
    with found.crm.snapshot():  # one transaction
        view = process_view(found, process)
        require_read(view)
        chosen = view.pipeline(pipeline)
        narrowed = viewfilter.read(found, view, request.query_params.multi_items(), f"/processes/{process}/kanban")
        cards = column_cards(found, view, chosen["id"], stage, narrowed, after)
        following = str(cards[-1]["id"]) if len(cards) == PAGE else ""
        return Response(render_cards(found, view, cards), media_type="text/html", headers={"X-Next-After": following})


@router.get("/processes/{process}/items/{item_id}/explain")
def explain(request: Request, process: str, item_id: int,
            stage: Annotated[str, Query(min_length=1, max_length=64)]) -> Response:
    """Why a card may not be moved to stage (every reason a move there would be refused), as JSON:
    what the board says while a card is held over a column it may not enter."""
    found = session.visitor(request)
    reasons = found.crm.explain(process, item_id, stage)
    return JSONResponse({"reasons": [render_in(reason, found.lang) for reason in reasons]})


class Move(BaseModel):
    model_config = ConfigDict(extra="forbid")
    stage: str = Field(min_length=1, max_length=64)
    pipeline: str | None = Field(default=None, min_length=1, max_length=64)
    values: dict[str, list[str]] | None = None  # the required-fields form, as it was submitted
    filter: str | None = Field(default=None, max_length=4000)  # the board's filter (its counts are of it)


@router.post("/processes/{process}/items/{item_id}/move")
def move(request: Request, process: str, item_id: int, body: Move) -> Response:
    """Move a card (JSON, with the X-CSRF-Token header). Refused: 409 with the reasons `explain`
    gives and, when the stage waits for fields the user can fill, a form for exactly those."""
    found = session.visitor(request)
    session.check_csrf(found, request.headers.get("x-csrf-token"))
    view = process_view(found, process)
    values = values_from(view, body.values, sent_fields(body.values)) if body.values else None
    try:
        found.crm.move(process, item_id, body.stage, pipeline=body.pipeline, values=values)
    except errors.SmartflowError as refused:
        reasons = refused.reasons_in_language(found.lang)
        missing = found.crm.missing_required(process, item_id, body.stage, body.pipeline) \
            if isinstance(refused, (errors.TransitionNotAllowed, errors.InvalidValue)) else []
        blocked = found.crm.unfillable(process, item_id, missing) if missing else {}
        if blocked:  # the move can never pass for this user: say why rather than ask for the fields again
            reasons += [word(f"cannot_fill_{why}", found.lang).format(field=view.field_title(field_id))
                        for field_id, why in blocked.items()]
        form = required_form(found, view, item_id, body.stage, missing, body.values) \
            if missing and not blocked else None
        return JSONResponse({"moved": False, "reasons": reasons, "form": form}, status_code=status_of(refused))
    try:
        item = [found.crm.get(process, item_id)]
    except errors.NotFound:  # moved where the user may no longer read it
        item = []
    pipeline = view.pipeline(body.pipeline or (item[0]["pipeline"] if item else None))
    narrowed = viewfilter.from_text(found, view, body.filter, f"/processes/{process}/kanban")
    columns = {c["id"]: {"count": c["count"], "sums": c["sums"]} for c in columns_of(found, view, pipeline, narrowed)}
    return JSONResponse({"moved": True, "card": render_cards(found, view, item), "columns": columns})


def required_form(found: Visitor, view: ProcessView, item_id: int, stage: str, missing: list[str],
                  sent: dict[str, list[str]] | None = None) -> str:
    """The fields a move waits for, as the card's inputs, with what the user typed when a try was refused."""
    item = found.crm.get(view.id, item_id)
    pipeline = item["pipeline"]
    inputs = inputs_for(view, item, missing, sent, pipeline, picker_people(found, view, missing, pipeline))
    return TEMPLATES.get_template("required.html").render(
        inputs=inputs, stage_title=view.stage_title(stage), lang=found.lang, view=view, item=item)
