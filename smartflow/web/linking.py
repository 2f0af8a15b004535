"""The card's and the list's people and recycle bin: change the responsible person, add and remove
observers, delete to the recycle bin and restore, and the recycle bin of a process — each a form (no
script needed) posting to one service call, which decides the rights."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from fastapi.responses import RedirectResponse

from smartflow import errors
from smartflow.web import session
from smartflow.web.items import card_page, form_of
from smartflow.web.pages import PageRoute, frame, process_view, render

router = APIRouter(route_class=PageRoute, include_in_schema=False)
REFUSED = (errors.InvalidValue, errors.PermissionDenied, errors.ConflictError)


def _one(form: dict[str, list[str]], name: str) -> str:
    return (form.get(name) or [""])[-1].strip()


def _user(text: str) -> int | str | None:
    """A picker's value: a user's id (digits), else a login; None when empty."""
    if not text:
        return None
    return int(text) if text.isascii() and text.isdigit() and len(text) <= 12 else text


@router.post("/processes/{process}/items/{item_id}/assign")
async def assign(request: Request, process: str, item_id: int) -> Response:
    """Change the responsible person (the services decide whether the user may)."""
    found = session.visitor(request)
    form = await form_of(request)
    session.check_csrf(found, _one(form, "csrf"))
    view = process_view(found, process)
    try:
        found.crm.update(process, item_id, {"assigned_to": _user(_one(form, "assigned_to"))})
    except REFUSED as refused:
        return card_page(found, view, item_id, status=422, alert=[refused.in_language(found.lang)])
    return RedirectResponse(f"/processes/{process}/items/{item_id}?saved=1", status_code=303)


@router.post("/processes/{process}/items/{item_id}/observers")
async def observers(request: Request, process: str, item_id: int) -> Response:
    """Add (`add`) or remove (`remove`) observers."""
    found = session.visitor(request)
    form = await form_of(request)
    session.check_csrf(found, _one(form, "csrf"))
    view = process_view(found, process)
    add = [u for u in (_user(v.strip()) for v in form.get("add", [])) if u is not None]
    remove = [u for u in (_user(v.strip()) for v in form.get("remove", [])) if u is not None]
    try:
        found.crm.change_observers(process, item_id, add=add, remove=remove)
    except REFUSED as refused:
        return card_page(found, view, item_id, status=422, alert=[refused.in_language(found.lang)])
    return RedirectResponse(f"/processes/{process}/items/{item_id}?saved=1", status_code=303)


@router.post("/processes/{process}/items/{item_id}/delete")
async def delete(request: Request, process: str, item_id: int) -> Response:
    """Delete (to the recycle bin when the process has one): back to the list (`back=list`), else to the
    recycle bin, where it can be restored."""
    found = session.visitor(request)
    form = await form_of(request)
    session.check_csrf(found, _one(form, "csrf"))
    view = process_view(found, process)
    try:
        outcome = found.crm.delete(process, item_id)
    except REFUSED as refused:
        return card_page(found, view, item_id, status=422, alert=[refused.in_language(found.lang)])
    if _one(form, "back") == "list" or outcome != "recycle_bin":
        return RedirectResponse(f"/processes/{process}/items", status_code=303)
    return RedirectResponse(f"/processes/{process}/recycle-bin?deleted={item_id}", status_code=303)


@router.post("/processes/{process}/items/{item_id}/restore")
async def restore(request: Request, process: str, item_id: int) -> Response:
    """Bring an item back from the recycle bin, and open its card."""
    found = session.visitor(request)
    form = await form_of(request)
    session.check_csrf(found, _one(form, "csrf"))
    view = process_view(found, process)
    try:
        found.crm.restore(process, item_id)
    except REFUSED as refused:
        return bin_page(request, view.id, status=422, alert=[refused.in_language(found.lang)])
    return RedirectResponse(f"/processes/{process}/items/{item_id}?saved=1", status_code=303)


@router.get("/processes/{process}/recycle-bin")
def recycle_bin(request: Request, process: str) -> Response:
    """The process's deleted items the user may restore, each with a restore button."""
    return bin_page(request, process)


def bin_page(request: Request, process: str, status: int = 200, alert: list[str] | None = None) -> Response:
    found = session.visitor(request)
    view = process_view(found, process)
    rows = found.crm.recycle_bin(process)
    deleted = request.query_params.get("deleted", "")
    return render("recycle_bin.html", status, **frame(found, view=view, page="recycle_bin", rows=rows,
                                                      alert=alert or [], deleted=deleted))
