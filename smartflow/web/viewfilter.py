"""The filter of the list, the board, the deadlines and the calendar views: my items, the responsible
person, any field by type (filter_fields and conditions: the one reading of a filter form, in the
language of `item list --where`), a search, and a preset — shared from the definition (`?preset=ID`,
read by the services) or saved by the user (a saved query string: choosing one opens its address). The
address holds the whole filter, so a filtered board can be shared as a link."""

from __future__ import annotations

from dataclasses import field
from typing import Any
from urllib.parse import parse_qsl, urlencode

from fastapi import APIRouter, Request, Response
from fastapi.responses import RedirectResponse

from smartflow.records import record
from smartflow.services import presets
from smartflow.web import session
from smartflow.web.pages import PageRoute
from smartflow.web.present import ProcessView
from smartflow.web.session import Visitor
from smartflow.web.text import title

router = APIRouter(route_class=PageRoute, include_in_schema=False)
OWN_KEYS = ("search", "mine", "preset")  # the filter's parameters besides its fields'
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
            low, high = one(query, f"{field_id}__from"), one(query, f"{field_id}__to")
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


def one(query: dict[str, list[str]], key: str) -> str:
    return (query.get(key) or [""])[-1].strip()


@record
class ViewFilter:
    """One view's filter as the address gives it: the form's fields, and what the services are asked."""

    fields: list[dict[str, Any]]
    query: dict[str, list[str]]
    kept: list[tuple[str, str]]  # the filter's own parameters, in the address's order
    where: list[str]
    search: str | None
    mine: bool
    preset: str
    shared: list[dict[str, Any]] = field(default_factory=list)  # {id, title, url, current}
    own: list[dict[str, Any]] = field(default_factory=list)  # {id, title, url, current}

    @property
    def encoded(self) -> str:
        """The filter as a query string (what a saved preset keeps, what the board's scripts pass on)."""
        return urlencode(self.kept)

    @property
    def active(self) -> int:
        """How many of its parts are on (the filter button shows the number)."""
        return len({key.split("__")[0] for key, value in self.kept if value})

    def one(self, key: str) -> str:
        return one(self.query, key)

    def url(self, path: str, *extra: tuple[str, str]) -> str:
        """The view at path with this filter (and extra parameters, such as the pipeline)."""
        return address(path, [*extra, *self.kept])

    @staticmethod
    def bare(path: str, *extra: tuple[str, str]) -> str:
        """The view at path without a filter (with extra parameters, such as the pipeline)."""
        return address(path, list(extra))


def address(path: str, pairs: list[tuple[str, str]]) -> str:
    given = [(key, value) for key, value in pairs if value]
    return f"{path}?{urlencode(given)}" if given else path


def query_of(pairs: list[tuple[str, str]]) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for key, value in pairs:
        found.setdefault(key, []).append(value)
    return found


def fields_of(view: ProcessView) -> list[dict[str, Any]]:
    """The list's filter fields, and always the responsible person (a board is so often filtered by them)."""
    shown = filter_fields(view)
    if "assigned_to" not in {f["id"] for f in shown}:
        shown.insert(0, {"id": "assigned_to", "spec": view.field("assigned_to"), "kind": "user",
                         "title": view.field_title("assigned_to")})
    return shown


def read(found: Visitor, view: ProcessView, pairs: list[tuple[str, str]], path: str,
         keep: tuple[tuple[str, str], ...] = ()) -> ViewFilter:
    """The filter the address asks for on view (pairs: its query), with the presets to offer, whose
    addresses keep the view's other parameters (keep: the pipeline, the date field, the month)."""
    query = query_of(pairs)
    shown = fields_of(view)
    names = {*OWN_KEYS, *(f["id"] for f in shown), *(f"{f['id']}__{end}" for f in shown for end in ("from", "to"))}
    kept = [(key, value) for key, value in pairs if key in names and value.strip()]
    where = conditions(view, query, shown)
    search = (query.get("search") or [""])[-1].strip() or None
    mine = (query.get("mine") or [""])[-1] in ("1", "true", "on")
    if mine:
        where.insert(0, presets.mine(found.login))
    preset = (query.get("preset") or [""])[-1].strip()
    if preset:
        extra, preset_search = found.crm.preset_filter(view.id, preset)
        where += extra
        search = search or preset_search
    chosen = ViewFilter(shown, query, kept, where, search, mine, preset)
    offered = found.crm.presets(view.id)
    chosen.shared = [{"id": p["id"], "title": title(p["title"], found.lang, p["id"]),
                      "url": address(path, [*keep, ("preset", p["id"])]), "current": p["id"] == preset
                      and [k for k, _ in kept] == ["preset"]} for p in offered["shared"]]
    chosen.own = [{"id": p["id"], "title": p["title"], "url": address(path, [*keep, *parse_qsl(p["query"])]),
                   "current": sorted(parse_qsl(p["query"])) == sorted(kept)} for p in offered["own"]]
    return chosen


def from_text(found: Visitor, view: ProcessView, text: str | None, path: str) -> ViewFilter:
    """The filter a script passes on as a query string (ViewFilter.encoded)."""
    return read(found, view, parse_qsl(text or ""), path)


@router.post("/processes/{process}/presets")
async def save_preset(request: Request, process: str) -> Response:
    """Save the view's filter (its query string) as one of the user's presets, and go back to the view."""
    found = session.visitor(request)
    form = await request.form()
    session.check_csrf(found, str(form.get("csrf") or ""))
    back = session.local_path(str(form.get("back") or ""), f"/processes/{process}/kanban")
    found.crm.save_preset(process, str(form.get("title") or ""), str(form.get("query") or ""))
    return RedirectResponse(back, status_code=303)


@router.post("/processes/{process}/presets/{preset_id}/delete")
async def delete_preset(request: Request, process: str, preset_id: int) -> Response:
    found = session.visitor(request)
    form = await request.form()
    session.check_csrf(found, str(form.get("csrf") or ""))
    back = session.local_path(str(form.get("back") or ""), f"/processes/{process}/kanban")
    found.crm.delete_preset(process, preset_id)
    return RedirectResponse(back, status_code=303)
