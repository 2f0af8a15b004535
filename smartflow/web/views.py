"""The deadlines ("Сроки"), calendar and analytics pages of a process: the kanban's cards grouped by a date
field (dragging a card between groups sets the date the group stands for), a month of items by a date,
and the report of `smartflow report` as tables and server-drawn SVG charts. The rules are the services'
(`services.views`, `Engine.report`); this module only lays them out."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from smartflow import errors
from smartflow.i18n import Name, tr
from smartflow.services import views as dated
from smartflow.services.analytics import ReportOptions
from smartflow.web import charts, session, viewfilter
from smartflow.web.board import card_columns, render_cards
from smartflow.web.pages import PageRoute, frame, process_view, render, require_read, status_of
from smartflow.web.present import ProcessView
from smartflow.web.session import Visitor
from smartflow.web.text import word

router = APIRouter(route_class=PageRoute, include_in_schema=False)
MONTHS = {"ru": ("Январь", "Февраль", "Март", "Апрель", "Май", "Июнь", "Июль", "Август", "Сентябрь", "Октябрь",
                 "Ноябрь", "Декабрь"),
          "en": ("January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
                 "November", "December")}
WEEKDAYS = {"ru": ("Пн", "Вт", "Ср", "Чт", "Пт", "Сб", "Вс"), "en": ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")}
Choice = Annotated[str | None, Query(max_length=64)]


def _pipeline(view: ProcessView, pipeline: str | None) -> str | None:
    if pipeline and pipeline not in [p["id"] for p in view.pipelines()]:
        raise errors.NotFound(tr("{process} has no pipeline {pipeline}", pipeline=Name(pipeline),
                                 process=Name(view.id, view.data.get("title"), quote="")),
                              tr("choose one of the board's pipelines"))
    return pipeline or None


def _cards(found: Visitor, view: ProcessView, cards: list[dict[str, Any]]) -> str:
    """Cards as the kanban draws them, without its stage menu (here a card is moved in time, not in stages)."""
    return render_cards(found, view, cards, stage_moves=False)


def _field_choices(view: ProcessView) -> list[dict[str, Any]]:
    return [{"id": f["id"], "title": view.field_title(f["id"])} for f in dated.date_fields(view.data)]


def _dated_view(found: Visitor, process: str, pipeline: str | None) -> tuple[str, ProcessView, str | None]:
    """What the deadlines and the calendar start from: the change feed's position (read before the items, so
    that a change made meanwhile is told to the page), the process the visitor may read, and its pipeline."""
    live_after = found.crm.feed_position()
    view = process_view(found, process)
    require_read(view)
    return live_after, view, _pipeline(view, pipeline)


@router.get("/processes/{process}/deadlines")
def deadlines(request: Request, process: str, field: Choice = None, pipeline: Choice = None) -> Response:
    """The open items by how due they are (overdue, today, this week, next week, later, no date)."""
    found = session.visitor(request)
    with found.crm.snapshot():  # the groups as of one moment, in one transaction
        live_after, view, chosen = _dated_view(found, process, pipeline)
        path = f"/processes/{process}/deadlines"
        keep = (("field", field or ""), ("pipeline", chosen or ""))
        narrowed = viewfilter.read(found, view, request.query_params.multi_items(), path, keep)
        data = dated.deadlines(found.crm, process, field=field, pipeline=chosen, columns=card_columns(view),
                               where=tuple(narrowed.where), search=narrowed.search)
        groups = [{**g, "title": word(f"group_{g['id']}", found.lang), "cards_html": _cards(found, view, g["items"]),
                   "sets_text": view.show(data["field"], g["sets"]) if g["sets"] else ""} for g in data["groups"]]
        return render("deadlines.html", **frame(found, view=view, page="deadlines", data=data, groups=groups,
                                                fields=_field_choices(view), pipeline=chosen,
                                                may_update=view.may["update"] != "none", filter=narrowed,
                                                filter_path=path, filter_keep=keep, live_after=live_after))


class NewDeadline(BaseModel):
    model_config = ConfigDict(extra="forbid")
    group: str = Field(min_length=1, max_length=32)
    field: str | None = Field(default=None, min_length=1, max_length=64)


@router.post("/processes/{process}/deadlines/{item_id}")
def set_deadline(request: Request, process: str, item_id: int, body: NewDeadline) -> Response:
    """Drop a card into a group (JSON, with the X-CSRF-Token header): the item gets the group's day through
    the ordinary update. Refused: the status of the refusal and its reasons, for the card to go back."""
    found = session.visitor(request)
    session.check_csrf(found, request.headers.get("x-csrf-token"))
    view = process_view(found, process)
    try:
        item = dated.set_deadline(found.crm, process, item_id, body.group, field=body.field)
    except errors.SmartflowError as refused:
        reasons = refused.reasons_in_language(found.lang)
        return JSONResponse({"moved": False, "reasons": reasons}, status_code=status_of(refused))
    field = dated.chosen_field(view.data, body.field)["id"]
    return JSONResponse({"moved": True, "card": _cards(found, view, [item]), "value": view.show(field, item.get(field)),
                         "group": body.group})


@router.get("/processes/{process}/calendar")
def calendar(request: Request, process: str, month: Annotated[str | None, Query(max_length=7)] = None,
             field: Choice = None, pipeline: Choice = None) -> Response:
    """A month of the items by a date field, weeks from Monday; each item opens its card."""
    found = session.visitor(request)
    with found.crm.snapshot():  # the month as of one moment, in one transaction
        live_after, view, chosen = _dated_view(found, process, pipeline)
        path = f"/processes/{process}/calendar"
        keep = (("month", month or ""), ("field", field or ""), ("pipeline", chosen or ""))
        narrowed = viewfilter.read(found, view, request.query_params.multi_items(), path, keep)
        data = dated.calendar(found.crm, process, month=month, field=field, pipeline=chosen,
                              where=tuple(narrowed.where), search=narrowed.search)
        first = dated.month_start(data["month"], data["today"])
        kept = [(k, v) for k, v in (("field", field), ("pipeline", chosen)) if v] + narrowed.kept
        link = {name: f"/processes/{process}/calendar?{urlencode([('month', data[name]), *kept])}"
                for name in ("previous", "next")}
        link["today"] = f"/processes/{process}/calendar?{urlencode(kept)}"
        return render("calendar.html", **frame(found, view=view, page="calendar", data=data, link=link,
                                               heading=f"{MONTHS[found.lang][first.month - 1]} {first.year}",
                                               weekdays=WEEKDAYS[found.lang], fields=_field_choices(view),
                                               pipeline=chosen, field=data["field"], filter=narrowed, filter_path=path,
                                               filter_keep=keep, live_after=live_after))


def _day(text: str | None, name: str) -> date | None:
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise errors.InvalidValue(tr("not a day: {value}", value=repr(text)), tr("write it as YYYY-MM-DD"),
                                  field=name) from None


@router.get("/processes/{process}/analytics")
def analytics(request: Request, process: str, pipeline: Choice = None,
              date_from: Annotated[str | None, Query(alias="from", max_length=10)] = None,
              date_to: Annotated[str | None, Query(alias="to", max_length=10)] = None) -> Response:
    """The report of `smartflow report` (Engine.report: the items the user may read) as charts and tables."""
    found = session.visitor(request)
    with found.crm.snapshot():  # the report and its periods in one transaction
        view = process_view(found, process)
        require_read(view)
        chosen = _pipeline(view, pipeline)
        options = ReportOptions(pipeline=chosen, date_from=_day(date_from, "from"), date_to=_day(date_to, "to"),
                                lang=found.lang)
        report = found.crm.report(process, options)
        query = urlencode([(k, v) for k, v in (("pipeline", chosen), ("from", date_from), ("to", date_to),
                                                ("lang", found.lang)) if v])
        ready = [{"id": key, "from": str(first), "to": str(last),
                  "href": f"/processes/{process}/analytics?" + urlencode(
                      [(k, v) for k, v in (("pipeline", pipeline), ("from", str(first)), ("to", str(last))) if v]),
                  "current": (date_from, date_to) == (str(first), str(last))}
                 for key, (first, last) in dated.periods(found.crm, process).items()]
        return render("analytics.html", **frame(
            found, view=view, page="analytics", report=report, pipeline=report["pipeline"], date_from=date_from or "",
            date_to=date_to or "", periods=ready, json_url=f"/api/v1/processes/{process}/report?{query}",
            funnel=charts.funnel(report, found.lang), conversion=charts.conversion(report, found.lang),
            stays=charts.stays(report, found.lang), people=charts.people(report, found.lang),
            duration=lambda seconds: charts.duration(seconds, found.lang), money=charts.money_text(found.lang),
            percent=charts.percent))
