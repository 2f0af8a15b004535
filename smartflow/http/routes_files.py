"""An item's files: upload (multipart, one or more `file` parts), download and remove. The rules —
the item's rights, the field's visibility and writability, `extensions`, `max_size` and the upload
limit — are the services'; a file of an item the caller may not read answers 404 as a missing one."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Depends, File, Path, UploadFile
from fastapi.responses import Response

from smartflow import errors
from smartflow.http.bodies import StrictRoute
from smartflow.http.caller import engine_for, json_body
from smartflow.services import MAX_ID, Engine

router = APIRouter(route_class=StrictRoute)
Crm = Annotated[Engine, Depends(engine_for)]
ItemId = Annotated[int, Path(ge=1, le=MAX_ID)]
FileId = Annotated[int, Path(ge=1, le=MAX_ID)]


def content_disposition(name: str, disposition: str = "attachment") -> str:
    """The header naming a download: an ASCII fallback, and the UTF-8 name as RFC 5987/6266 give it
    (`filename*=UTF-8''…`), which every current browser prefers."""
    fallback = "".join(c if 32 <= ord(c) < 127 and c not in '"\\;' else "_" for c in name) or "file"
    return f"{disposition}; filename=\"{fallback}\"; filename*=UTF-8''{quote(name, safe='')}"


@router.post("/processes/{process}/items/{item_id}/files/{field}", tags=["files"])
async def upload_files(process: str, item_id: ItemId, field: str, crm: Crm,
                       file: Annotated[list[UploadFile], File(description="one or more files")]) -> Response:
    """Upload files into a file field (a multiple field appends them, a single one's file is replaced);
    answers the field's files, `[{id, name, size, content_type}]`. The media type is read from the bytes."""
    limit = crm.upload_limit()
    uploads = []
    for part in file:
        content = await part.read(limit + 1)
        name = part.filename or "file"
        if len(content) > limit:
            raise errors.InvalidValue(f"field `{field}`: {name} is over the upload limit of {limit:,} bytes",
                                      "send a smaller file", field=field)
        uploads.append((name, content))
    return json_body(crm.attach_files(process, item_id, field, uploads))


@router.get("/processes/{process}/items/{item_id}/files", tags=["files"])
def list_files(process: str, item_id: ItemId, crm: Crm) -> Response:
    """The files of each file field of the item the caller may see, by field id."""
    return json_body(crm.files(process, item_id))


@router.get("/processes/{process}/items/{item_id}/files/{file_id}", tags=["files"], response_class=Response,
            responses={200: {"description": "the file's bytes, as the media type read from them when it was "
                             "uploaded", "content": {"*/*": {"schema": {
                                 "type": "string", "format": "binary"}}}}})
def download_file(process: str, item_id: ItemId, file_id: FileId, crm: Crm, inline: bool = False) -> Response:
    """A file's bytes, with its original name and the media type sniffed when it was uploaded
    (`inline=true`: shown in the page, as the card's thumbnails are)."""
    found, content = crm.file(process, item_id, file_id)
    headers = {"Content-Disposition": content_disposition(found["name"], "inline" if inline else "attachment"),
               "X-Content-Type-Options": "nosniff", "Cache-Control": "private, no-cache"}
    return Response(content, media_type=found["content_type"] or "application/octet-stream", headers=headers)


@router.delete("/processes/{process}/items/{item_id}/files/{file_id}", tags=["files"])
def delete_file(process: str, item_id: ItemId, file_id: FileId, crm: Crm) -> Response:
    """Take a file off the item (its field's rules hold); answers the field and its files now."""
    return json_body(crm.remove_file(process, item_id, file_id))
