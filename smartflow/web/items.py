"""The item card (sections, type-aware inputs, links both ways, the stage bar, the history timeline,
saves guarded by the item's version) and creating an item with the fields its first stage needs."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import RedirectResponse

from smartflow import errors
from smartflow.i18n import Name, tr
from smartflow.web import files, session
from smartflow.web.cardparts import card_extras, remember_titles
from smartflow.web.forms import currency_choices, input_currency, input_kind, input_value, values_from
from smartflow.web.pages import PageRoute, frame, process_view, render
from smartflow.web.present import ProcessView
from smartflow.web.session import Visitor
from smartflow.web.text import title, word
from smartflow.web.timeline import card_timeline, responsible_choices

router = APIRouter(route_class=PageRoute, include_in_schema=False)
HISTORY_SHOWN = 200  # the newest history rows the timeline shows


async def form_of(request: Request) -> dict[str, list[str]]:
    data = await request.form()
    found: dict[str, list[str]] = {}
    for key, value in data.multi_items():
        if isinstance(value, str):
            found.setdefault(key, []).append(value)
    return found


def number(form: dict[str, list[str]], name: str) -> int:
    """A counter the card form carries (`version`, `seen`): a whole number, 0 when absent; a form
    that was not the card's (`version=abc`) is refused naming it."""
    text = (form.get(name) or [""])[-1].strip()
    if not text:
        return 0
    if not (text.isascii() and text.isdigit() and len(text) <= 9):
        raise errors.InvalidValue(tr("the form's {name} {value} is not a whole number", name=Name(name),
                                     value=repr(text[:20])), tr("reload the card and save again"), field=name)
    return int(text)


def inputs_for(view: ProcessView, item: dict[str, Any], field_ids: list[str],
               sent: dict[str, list[str]] | None = None, pipeline: str | None = None,
               people: dict[str, list[int]] | None = None, refused: errors.SmartflowError | None = None,
               lang: str = "en") -> list[dict[str, Any]]:
    """One input per field: its spec, kind, title and value (what the user sent, when a save failed).
    pipeline: the item's (a create's: the chosen one), whose people a user picker offers; people: per
    multiple user field, whom its list offers (`picker_people`); refused: the error a save met, shown on
    the field it names (in lang)."""
    wrong = getattr(refused, "field", None) if refused is not None else None
    inputs = []
    for field_id in field_ids:
        spec = view.field(field_id)
        value = input_value(spec, item.get(field_id))
        currency = input_currency(spec, item.get(field_id))
        if sent is not None and field_id in sent:
            value = sent[field_id] if spec.get("multiple") and input_kind(spec) in ("enum", "user") \
                else sent[field_id][-1]
            if spec.get("type") == "boolean":
                value = sent[field_id][-1] == "true"
            if input_kind(spec) == "user":  # ids as the pickers hold them (a form sends them back as text)
                value = [_user_id(v) for v in value] if isinstance(value, list) else _user_id(value)
            currency = (sent.get(f"{field_id}__currency") or [currency])[-1]
        inputs.append({"spec": spec, "kind": input_kind(spec), "title": view.field_title(field_id), "value": value,
                       "raw": item.get(field_id), "required": spec.get("required"), "currency": currency,
                       "pipeline": pipeline, "people": (people or {}).get(field_id),
                       "error": refused.in_language(lang) if refused is not None and wrong == field_id else None,
                       "currencies": currency_choices(spec, currency) if spec.get("type") == "money" else []})
    return inputs


def picker_people(found: Visitor, view: ProcessView, field_ids: list[str], pipeline: str) -> dict[str, list[int]]:
    """Per multiple user field among field_ids, whom its list offers: the users it may hold in an item of
    pipeline, as the single pickers ask the API (`…/people?field=…&pipeline=…`)."""
    wanted = [f for f in field_ids if input_kind(view.field(f)) == "user" and view.field(f).get("multiple")]
    return {f: [u["id"] for u in found.crm.pickable_people(view.id, f, "", None, pipeline)] for f in wanted}


def _user_id(text: Any) -> Any:
    return int(text) if isinstance(text, str) and text.isascii() and text.isdigit() and len(text) <= 12 else text


def stage_bar(view: ProcessView, item: dict[str, Any]) -> list[dict[str, Any]]:
    stages = view.pipeline(item["pipeline"])["stages"]
    ids = [s["id"] for s in stages]
    here = ids.index(item["stage"]) if item["stage"] in ids else -1
    return [{"id": s["id"], "title": view.stage_title(s["id"]), "color": s.get("color") or "#b0bec5",
             "semantic": s["semantic"], "state": "current" if n == here else "passed" if n < here and
             s["semantic"] == "process" else ""} for n, s in enumerate(stages)]


def timeline(view: ProcessView, history: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The history rows newest first, values shown as the card shows them."""
    rows = []
    for row in reversed(history[-HISTORY_SHOWN:]):
        field_id = row.get("field") or ""
        shown_field = view.field_title(field_id) if field_id else ""
        if row["kind"] == "move" and field_id in ("stage", "pipeline"):
            old = view.stage_title(row["old"]) if field_id == "stage" else row["old"]
            new = view.stage_title(row["new"]) if field_id == "stage" else row["new"]
        else:
            old, new = view.show(field_id, row.get("old")), view.show(field_id, row.get("new"))
        rows.append({**row, "field_title": shown_field, "old_shown": old or "", "new_shown": new or ""})
    return rows


def card_page(found: Visitor, view: ProcessView, item_id: int, *, status: int = 200, alert: list[str] | None = None,
              stale: list[dict[str, Any]] | None = None, sent: dict[str, list[str]] | None = None,
              notice: str | None = None, refused: errors.SmartflowError | None = None) -> Response:
    """The card; notice: a word key, or text already in the user's language (a move's confirmation)."""
    with found.crm.snapshot():  # one transaction: the feed position, the item, its history and rights agree
        live_after = found.crm.feed_position()  # before the item: a change made meanwhile is told
        card = found.crm.card(view.id, item_id, history_limit=1)
        item = card["item"]
        history = found.crm.history(view.id, item_id)
        rights = found.crm.item_rights(view.id, item_id)
        editable = rights["update"]
        people = picker_people(found, view, list(view.fields()), item["pipeline"]) if editable else {}
        sections = [{"title": section_title(view, section),
                     "inputs": inputs_for(view, item, section["fields"], sent, item["pipeline"], people, refused,
                                         found.lang)}
                    for section in view.data["card"]]
        placed = {f for section in view.data["card"] for f in section["fields"]}
        rest = [f for f in view.fields() if f not in placed]
        if rest:
            sections.append({"title": "", "inputs": inputs_for(view, item, rest, sent, item["pipeline"], people,
                                                               refused, found.lang)})
        files.with_files(found, view, item_id, sections)
        targets = found.crm.move_targets(view.id, [item]).get(item_id, []) if rights["move"] else []
        named = {p["id"]: title(p["title"], found.lang, p["id"]) for p in found.crm.processes()} \
            if card["links"]["in"] else {}
        links = {"out": [{**link, "field_title": view.field_title(link["field"])} for link in card["links"]["out"]],
                 "in": [{**link, "process_title": named.get(link["process"], link["process"])}
                        for link in card["links"]["in"]]}
        extras = card_extras(found, view, item, history, rights)  # people, observers, linked items' titles, delete
        return render("card.html", status, **frame(
            found, view=view, page="card", item=item, sections=sections, editable=editable, seen=len(history),
            history=timeline(view, history), stages=stage_bar(view, item), targets=targets, links=links,
            alert=alert or [], stale=stale, notice=notice, title_input=sent["title"][-1] if sent and "title" in sent
            else item["title"], live_after=live_after, timeline=card_timeline(found, view, item_id, timeline),
            people=responsible_choices(view), **extras))


def section_title(view: ProcessView, section: dict[str, Any]) -> str:
    return title(section.get("title"), view.lang, section["id"])


@router.get("/processes/{process}/items/new")
def new_item(request: Request, process: str, pipeline: str | None = None) -> Response:
    """The create form: the title and the fields the first stage needs (and link fields given in the
    query, `?patient=31`: "create a linked item" from the linked item's card)."""
    found = session.visitor(request)
    with found.crm.snapshot():  # the process, its people and the linked titles in one transaction
        view = process_view(found, process)
        given = {key: [value] for key, value in request.query_params.items() if key in linked_fields(view)}
        return create_page(found, view, view.pipeline(pipeline)["id"], sent=given or None)


def linked_fields(view: ProcessView) -> list[str]:
    """The single link fields of a process: a create form takes them from the query and keeps them."""
    return [f for f, spec in view.fields().items() if spec.get("type") == "link" and not spec.get("multiple")]


def create_fields(view: ProcessView, pipeline_id: str) -> list[str]:
    first = view.pipeline(pipeline_id)["stages"][0]
    wanted = [f["id"] for f in view.data["fields"] if f.get("required")] + list(first.get("required", []))
    return list(dict.fromkeys(wanted))


def create_defaults(view: ProcessView, field_ids: list[str]) -> dict[str, Any]:
    """The definition's defaults a new item's form starts with (an enum's option preselected, a number
    filled in); dates given as `today`/`now` are left to the services, which know the clock."""
    found: dict[str, Any] = {}
    for field_id in field_ids:
        spec = view.field(field_id)
        if "default" in spec and spec.get("type") not in ("date", "datetime", "money", "file", "user", "link"):
            found[field_id] = spec["default"]
    return found


def create_page(found: Visitor, view: ProcessView, pipeline_id: str, status: int = 200,
                alert: list[str] | None = None, sent: dict[str, list[str]] | None = None,
                refused: errors.SmartflowError | None = None) -> Response:
    if view.may["create"] == "none":
        raise errors.PermissionDenied(tr("your roles do not allow creating items of {process}",
                                         process=Name(view.id, view.data.get("title"), quote="")))
    shown = create_fields(view, pipeline_id)
    shown += [f for f in linked_fields(view) if f in (sent or {}) and f not in shown]
    remember_titles(found, view, [{f: int(v[-1]) for f, v in (sent or {}).items()
                                   if f in linked_fields(view) and v and v[-1].isascii() and v[-1].isdigit()}])
    inputs = inputs_for(view, create_defaults(view, shown), shown, sent, pipeline_id,
                        picker_people(found, view, shown, pipeline_id), refused, found.lang)
    return render("create.html", status, **frame(found, view=view, page="create", inputs=inputs, pipeline=pipeline_id,
                                                  alert=alert or [], title_input=(sent or {}).get("title", [""])[-1]))


@router.post("/processes/{process}/items/new")
async def create_item(request: Request, process: str) -> Response:
    found = session.visitor(request)
    form = await form_of(request)
    session.check_csrf(found, (form.get("csrf") or [""])[-1])
    view = process_view(found, process)
    pipeline_id = view.pipeline((form.get("pipeline") or [None])[-1])["id"]
    values = values_from(view, form, create_fields(view, pipeline_id)
                         + [f for f in linked_fields(view) if f in form and f not in create_fields(view, pipeline_id)])
    values["title"] = (form.get("title") or [""])[-1]
    uploads = await files.uploads_of(request, view)
    try:
        new_id = found.crm.create(process, values, pipeline=pipeline_id)
    except (errors.InvalidValue, errors.PermissionDenied, errors.ConflictError) as refused:
        return create_page(found, view, pipeline_id, 422, [refused.in_language(found.lang)], form, refused)
    try:
        files.attach(found, process, new_id, uploads)
    except (errors.InvalidValue, errors.PermissionDenied, errors.ConflictError, errors.NotFound) as refused:
        return card_page(found, view, new_id, status=422, alert=[refused.in_language(found.lang)])
    return RedirectResponse(f"/processes/{process}/items/{new_id}", status_code=303)


@router.get("/processes/{process}/items/{item_id}")
def item_card(request: Request, process: str, item_id: int, saved: bool = False,
              moved: Annotated[str | None, Query(max_length=64)] = None) -> Response:
    """The card; `?saved=1` after a save, `?moved=STAGE` after a move from it, say so."""
    found = session.visitor(request)
    with found.crm.snapshot():  # the process, the item and all around it as of one moment
        view = process_view(found, process)
        notice = "saved" if saved else None
        if moved and view.stage(moved) is not None:
            notice = word("moved_to", found.lang).format(stage=view.stage_title(moved))
        return card_page(found, view, item_id, notice=notice)


@router.post("/processes/{process}/items/{item_id}")
async def save_item(request: Request, process: str, item_id: int) -> Response:
    """Save the card's fields, if the item is still at the version the form was loaded at; else say who
    changed what since, keep what the user typed, and offer a reload."""
    found = session.visitor(request)
    form = await form_of(request)
    session.check_csrf(found, (form.get("csrf") or [""])[-1])
    view = process_view(found, process)
    version = number(form, "version")
    seen = number(form, "seen")
    stored = found.crm.get(process, item_id)  # what the form showed, if still current (else the save is stale)
    values = values_from(view, form, list(view.fields()), stored if stored["version"] == version else None)
    if "title" in form:
        values["title"] = form["title"][-1]
    uploads = await files.uploads_of(request, view)
    try:
        found.crm.update(process, item_id, values, expected_version=version)
        files.attach(found, process, item_id, uploads)
    except errors.ConflictError:
        changes = found.crm.history(process, item_id)[seen:]
        return card_page(found, view, item_id, status=409, stale=timeline(view, changes), sent=form)
    except (errors.InvalidValue, errors.PermissionDenied) as refused:
        return card_page(found, view, item_id, status=422, alert=[refused.in_language(found.lang)], sent=form,
                         refused=refused)
    return RedirectResponse(f"/processes/{process}/items/{item_id}?saved=1", status_code=303)


@router.post("/processes/{process}/items/{item_id}/stage")
async def move_from_card(request: Request, process: str, item_id: int) -> Response:
    """The card's move buttons (a form, no script): moved, or the reasons it was refused."""
    found = session.visitor(request)
    form = await form_of(request)
    session.check_csrf(found, (form.get("csrf") or [""])[-1])
    view = process_view(found, process)
    stage = (form.get("stage") or [""])[-1]
    try:
        found.crm.move(process, item_id, stage)
    except (errors.TransitionNotAllowed, errors.PermissionDenied, errors.InvalidValue, errors.ConflictError) as no:
        return card_page(found, view, item_id, status=409, alert=list(getattr(no, "reasons", None) or [str(no)]))
    return RedirectResponse(f"/processes/{process}/items/{item_id}?{urlencode({'moved': stage})}", status_code=303)


@router.post("/processes/{process}/items/{item_id}/files/{file_id}/remove")
async def remove_file(request: Request, process: str, item_id: int, file_id: int) -> Response:
    """A file's remove button on the card (a form button: no script)."""
    found = session.visitor(request)
    form = await form_of(request)
    session.check_csrf(found, (form.get("csrf") or [""])[-1])
    view = process_view(found, process)
    await files.uploads_of(request, view)  # the card's form came along: files chosen meanwhile are not saved
    try:
        found.crm.remove_file(process, item_id, file_id)
    except (errors.InvalidValue, errors.PermissionDenied, errors.ConflictError) as refused:
        return card_page(found, view, item_id, status=422, alert=[refused.in_language(found.lang)])
    return RedirectResponse(f"/processes/{process}/items/{item_id}?saved=1", status_code=303)
