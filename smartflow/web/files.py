"""The card's files: each file field lists its files (a download link, a thumbnail for an image, a
remove button) above `<input type="file" name="<field id>">`; the card's save uploads what was
chosen. Downloads and thumbnails are the API's route (the session cookie works there); every rule
is the services' (Engine.attach_files, remove_file)."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from starlette.datastructures import UploadFile

from smartflow.web.present import ProcessView
from smartflow.web.session import Visitor

THUMBNAILS = ("image/png", "image/jpeg", "image/gif", "image/webp")  # never SVG: a document that can carry script


def href(process: str, item_id: int, file_id: int) -> str:
    return f"/api/v1/processes/{process}/items/{item_id}/files/{file_id}"


def with_files(found: Visitor, view: ProcessView, item_id: int, sections: list[dict[str, Any]]) -> None:
    """Give each file input of the card's sections its files (name, size, link, thumbnail)."""
    inputs = [i for s in sections for i in s["inputs"] if i["kind"] == "file"]
    if not inputs:
        return
    listed = found.crm.files(view.id, item_id)
    view.files.update((f["id"], f["name"]) for field_files in listed.values() for f in field_files)  # the timeline's
    for entry in inputs:
        entry["files"] = [{**f, "href": href(view.id, item_id, f["id"]),
                           "thumbnail": href(view.id, item_id, f["id"]) + "?inline=true"
                           if f.get("content_type") in THUMBNAILS else None, "size_shown": size(f["size"], view.lang)}
                          for f in listed.get(entry["spec"]["id"], [])]
        entry["item_id"] = item_id


def size(count: int, lang: str) -> str:
    """A file's size as people read it: 48 B, 1.2 MB (in Russian 48 Б, 1,2 МБ)."""
    units = ("Б", "КБ", "МБ") if lang == "ru" else ("B", "KB", "MB")
    for unit, step in ((units[2], 1_000_000), (units[1], 1_000)):
        if count >= step:
            shown = f"{count / step:.1f}"
            return f"{shown.replace('.', ',') if lang == 'ru' else shown} {unit}"
    return f"{count} {units[0]}"


async def uploads_of(request: Request, view: ProcessView) -> dict[str, list[tuple[str, bytes]]]:
    """The files a form carries, by file field (inputs left empty send a part without a name); every
    part is closed (a part over a megabyte waits in a temporary file)."""
    form = await request.form()
    found: dict[str, list[tuple[str, bytes]]] = {}
    fields = {f for f in view.fields() if view.field(f).get("type") == "file"}
    for key, value in form.multi_items():
        if isinstance(value, UploadFile):
            if key in fields and value.filename:
                found.setdefault(key, []).append((value.filename, await value.read()))
            await value.close()
    return found


def attach(found: Visitor, process: str, item_id: int, uploads: dict[str, list[tuple[str, bytes]]]) -> None:
    """Upload each field's files (a multiple field appends them; a single one's file is replaced)."""
    for field_id, files in uploads.items():
        found.crm.attach_files(process, item_id, field_id, files)
