"""Import in the board: upload a CSV or xlsx file, preview its first rows with the column-to-field
mapping (editable), check it with a dry run that lists each row's problems, then import it with a
progress bar. Every step calls the services the CLI's `smartflow import` calls (`import_preview`,
`import_file`), as the signed-in user, so the import right, the create right, hidden fields and every
rule of a create hold as they do there.

An upload is kept in a folder of its own under UPLOADS (the system's temporary folder unless
SMARTFLOW_UPLOADS says otherwise), named by a random token and readable only by the user who sent
it; the import's progress is written there too, so any worker process of `smartflow serve --workers N`
on the same machine answers the progress bar. Uploads are removed after the import, and any left
behind after KEEP.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import tempfile
import threading
import time
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, File, Form, Request, Response, UploadFile
from fastapi.responses import JSONResponse, RedirectResponse

from smartflow import errors
from smartflow.i18n import Message, Name, tr
from smartflow.services import Engine
from smartflow.services.data import DataFileError, ImportOptions, count_rows
from smartflow.web import session
from smartflow.web.pages import PageRoute, frame, process_view, render
from smartflow.web.session import Visitor

router = APIRouter(route_class=PageRoute, include_in_schema=False)
Csrf = Annotated[str, Form()]
MAX_UPLOAD = 50 * 1024 * 1024  # bytes an uploaded file may have
KEEP = 24 * 3600  # seconds an upload not imported is kept
PREVIEW_ROWS = 10
SHOWN_PROBLEMS = 200  # problems a dry run or an import lists on the page (the counts are whole)
TOKEN = re.compile(r"[A-Za-z0-9_-]{16,64}")


def uploads() -> Path:
    return Path(os.environ.get("SMARTFLOW_UPLOADS") or Path(tempfile.gettempdir()) / "smartflow-imports")


class Upload:
    """One uploaded file and what was done with it, in its own folder."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.meta: dict[str, Any] = json.loads((folder / "meta.json").read_text(encoding="utf-8"))

    @property
    def path(self) -> Path:
        return self.folder / f"file{self.meta['suffix']}"

    @property
    def token(self) -> str:
        return self.folder.name

    def progress(self) -> dict[str, Any]:
        try:
            found: dict[str, Any] = json.loads((self.folder / "progress.json").read_text(encoding="utf-8"))
            return found
        except (OSError, ValueError):
            return {"state": "waiting", "rows": 0}

    def save_progress(self, state: dict[str, Any]) -> None:
        partial = self.folder / "progress.json.part"
        partial.write_text(json.dumps(state, ensure_ascii=False), encoding="utf-8")
        partial.replace(self.folder / "progress.json")  # atomic: a reader never sees half of it


def _clean_old() -> None:
    root = uploads()
    if not root.is_dir():
        return
    for folder in root.iterdir():
        try:
            if time.time() - folder.stat().st_mtime > KEEP:
                shutil.rmtree(folder, ignore_errors=True)
        except OSError:
            continue


def _upload(found: Visitor, process: str, token: str) -> Upload:
    """The user's own upload for process; NotFound alike for a token that is not theirs or gone."""
    folder = uploads() / token
    if TOKEN.fullmatch(token) and (folder / "meta.json").is_file():
        upload = Upload(folder)
        if upload.meta.get("login") == found.login and upload.meta.get("process") == process:
            return upload
    raise errors.NotFound(tr("there is no such upload (it was imported, or it expired)"), tr("upload the file again"))


def _importer(request: Request, process: str) -> tuple[Visitor, Any]:
    found = session.visitor(request)
    view = process_view(found, process)
    if view.may.get("import", "none") == "none":
        raise errors.PermissionDenied(tr("you may not import {process} items",
                                         process=Name(process, view.data.get("title"), quote="")),
                                      "ask for the `import` right")
    return found, view


@router.get("/processes/{process}/import")
def import_form(request: Request, process: str) -> Response:
    found, view = _importer(request, process)
    return render("import.html", **frame(found, view=view, page="import", step="upload", preview=None,
                                         result=None, upload=None, progress=None, max_mib=MAX_UPLOAD >> 20))


@router.post("/processes/{process}/import")
def upload_file(request: Request, process: str, csrf: Csrf, file: Annotated[UploadFile, File()]) -> Response:
    found, view = _importer(request, process)
    session.check_csrf(found, csrf)
    suffix = Path(file.filename or "").suffix.lower()
    if suffix not in (".csv", ".xlsx"):
        refused = errors.InvalidValue(tr("the file {name} is neither .csv nor .xlsx", name=repr(file.filename)),
                                      tr("upload a CSV or xlsx file"))
        return render("import.html", 422, **frame(found, view=view, page="import", step="upload", preview=None,
                                                  result=None, upload=None, progress=None,
                                                  max_mib=MAX_UPLOAD >> 20, error=refused))
    _clean_old()
    token = secrets.token_urlsafe(24)
    folder = uploads() / token
    folder.mkdir(parents=True, mode=0o700)
    size = 0
    with (folder / f"file{suffix}").open("wb") as target:
        while chunk := file.file.read(1 << 20):
            size += len(chunk)
            if size > MAX_UPLOAD:
                shutil.rmtree(folder, ignore_errors=True)
                raise errors.InvalidValue(tr("the file is larger than {size} MiB", size=MAX_UPLOAD >> 20),
                                          "split it, or import it with `smartflow import`")
            target.write(chunk)
    name = Path(file.filename or "file").name
    (folder / "meta.json").write_text(json.dumps({"login": found.login, "process": process, "suffix": suffix,
                                                  "name": name, "size": size}, ensure_ascii=False),
                                      encoding="utf-8")
    return RedirectResponse(f"/processes/{process}/import/{token}", status_code=303)


def _mapping(form: Any, headers: list[str]) -> dict[str, str | None]:
    """The mapping the preview's selects chose: `map-N` for the N-th header, a column id or '' (skip)."""
    chosen: dict[str, str | None] = {}
    for index, header in enumerate(headers):
        value = form.get(f"map-{index}")
        if isinstance(value, str):
            chosen[header] = value or None
    return chosen


def _preview(found: Visitor, process: str, upload: Upload, mapping: dict[str, str | None] | None) -> Any:
    try:
        return found.crm.import_preview(process, upload.path, mapping, PREVIEW_ROWS)
    except DataFileError as unreadable:
        said = unreadable.message if isinstance(unreadable.message, Message) \
            else str(unreadable).replace(str(upload.path), upload.meta["name"])  # the upload's name, not our path
        raise errors.InvalidValue(said, unreadable.hint_message) from None


def _page(found: Visitor, view: Any, upload: Upload, preview: Any, result: Any = None, status: int = 200
          ) -> Response:
    return render("import.html", status, **frame(found, view=view, page="import", step="preview", upload=upload,
                                                 preview=preview, result=result, progress=None,
                                                 shown=SHOWN_PROBLEMS, max_mib=MAX_UPLOAD >> 20))


@router.get("/processes/{process}/import/{token}")
def preview_page(request: Request, process: str, token: str) -> Response:
    found, view = _importer(request, process)
    upload = _upload(found, process, token)
    if upload.progress()["state"] != "waiting":
        return RedirectResponse(f"/processes/{process}/import/{token}/run", status_code=303)
    mapping = upload.meta.get("mapping")
    return _page(found, view, upload, _preview(found, process, upload, mapping))


@router.post("/processes/{process}/import/{token}")
async def check_or_import(request: Request, process: str, token: str) -> Response:
    form = await request.form()
    return await _run_in_thread(_check_or_import, request, process, token, form)


async def _run_in_thread(function: Any, *args: Any) -> Response:
    from starlette.concurrency import run_in_threadpool

    response: Response = await run_in_threadpool(function, *args)
    return response


def _check_or_import(request: Request, process: str, token: str, form: Any) -> Response:
    found, view = _importer(request, process)
    session.check_csrf(found, form.get("csrf") if isinstance(form.get("csrf"), str) else None)
    upload = _upload(found, process, token)
    if upload.progress()["state"] != "waiting":
        return RedirectResponse(f"/processes/{process}/import/{token}/run", status_code=303)
    headers = _preview(found, process, upload, None).headers
    mapping = _mapping(form, headers)
    try:
        preview = found.crm.import_preview(process, upload.path, mapping, PREVIEW_ROWS)
    except DataFileError as refused:  # two headers mapped to one field: said on the page, the choice kept
        preview = _preview(found, process, upload, upload.meta.get("mapping"))
        preview.mapping.update(mapping)
        return render("import.html", 422, **frame(found, view=view, page="import", step="preview", upload=upload,
                                                  preview=preview, result=None, progress=None, shown=SHOWN_PROBLEMS,
                                                  max_mib=MAX_UPLOAD >> 20, error=refused))
    upload.meta["mapping"] = mapping
    (upload.folder / "meta.json").write_text(json.dumps(upload.meta, ensure_ascii=False), encoding="utf-8")
    on_error = "abort" if form.get("on_error") == "abort" else "skip"
    if form.get("action") != "import":
        result = found.crm.import_file(process, upload.path, ImportOptions(dry_run=True, on_error=on_error,
                                                                           mapping=mapping))
        return _page(found, view, upload, preview, result)
    upload.save_progress({"state": "running", "rows": 0, "on_error": on_error})
    worker = threading.Thread(target=_import, args=(found.crm, process, upload, mapping, on_error, found.lang),
                              name=f"import-{token[:8]}", daemon=True)
    worker.start()
    return RedirectResponse(f"/processes/{process}/import/{token}/run", status_code=303)


def _import(crm: Engine, process: str, upload: Upload, mapping: dict[str, str | None], on_error: str,
            lang: str) -> None:
    """The import itself, in a thread of its own; its progress and outcome go to the upload's folder."""
    last = [0.0]
    try:
        total = count_rows(upload.path)
        upload.save_progress({"state": "running", "rows": 0, "total": total, "on_error": on_error})

        def progress(rows: int) -> None:
            if time.monotonic() - last[0] >= 0.25:
                last[0] = time.monotonic()
                upload.save_progress({"state": "running", "rows": rows, "total": total, "on_error": on_error})

        result = crm.import_file(process, upload.path, ImportOptions(on_error=on_error, mapping=mapping), progress)
        upload.save_progress({"state": "done", "rows": result.rows, "total": result.rows, "created": result.created,
                              "updated": result.updated, "failed_rows": result.failed_rows,
                              "written": result.written,
                              "problems": [p.render(lang) for p in result.problems[:SHOWN_PROBLEMS]],
                              "more_problems": max(0, len(result.problems) - SHOWN_PROBLEMS)})
    except errors.SmartflowError as refused:
        upload.save_progress({"state": "failed", "rows": 0,
                              "message": refused.in_language(lang).replace(str(upload.path), upload.meta["name"]),
                              "hint": refused.hint_in_language(lang) or ""})
    except Exception:  # never lost silently: the page says it failed, the log has why
        import logging

        logging.getLogger("smartflow.web").exception("the import of %s failed", upload.meta["name"])
        upload.save_progress({"state": "failed", "rows": 0, "message": "the import failed unexpectedly; "
                              "the server's log says why", "hint": ""})
    finally:
        upload.path.unlink(missing_ok=True)  # the file is not needed any more; the outcome stays


@router.get("/processes/{process}/import/{token}/run")
def run_page(request: Request, process: str, token: str) -> Response:
    found, view = _importer(request, process)
    upload = _upload(found, process, token)
    return render("import.html", **frame(found, view=view, page="import", step="run", upload=upload, preview=None,
                                         result=None, progress=upload.progress(), max_mib=MAX_UPLOAD >> 20))


@router.get("/processes/{process}/import/{token}/progress")
def progress_json(request: Request, process: str, token: str) -> Response:
    found, _ = _importer(request, process)
    return JSONResponse(_upload(found, process, token).progress(), headers={"Cache-Control": "no-store"})
