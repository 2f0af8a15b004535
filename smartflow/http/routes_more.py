"""Report, export, import; the caller's inbox; jobs, outbox, users and departments for
administrators; browser sessions (log in, who am I, log out)."""

from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, File, Form, Header, Query, Request, Response, UploadFile
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, ConfigDict, Field

from smartflow import errors
from smartflow.errors import printable
from smartflow.http import streams
from smartflow.http.bodies import StrictRoute
from smartflow.http.caller import CSRF_COOKIE, SESSION_COOKIE, engine_for, json_body
from smartflow.http.routes_items import PAGE_LIMIT
from smartflow.i18n import accepted, render, tr
from smartflow.services import Engine
from smartflow.services.analytics import ReportOptions
from smartflow.services.data import DataFileError, ExportOptions, ImportOptions
from smartflow.services.engine import SESSION_SECONDS

router = APIRouter(route_class=StrictRoute)
Crm = Annotated[Engine, Depends(engine_for)]
Where = Annotated[list[str] | None, Query(description="FIELD OP VALUE, as `item list --where`")]
Limit = Annotated[int, Query(ge=1, le=PAGE_LIMIT)]
MEDIA = {"csv": "text/csv; charset=utf-8",
         "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}


@router.get("/processes/{process}/report", tags=["views"])
def report(process: str, crm: Crm, pipeline: str | None = None,
           date_from: Annotated[date | None, Query(alias="from")] = None,
           date_to: Annotated[date | None, Query(alias="to")] = None, lang: str | None = None) -> Response:
    """The funnel over the items the caller may read: per stage, counts, sums, time spent, conversion."""
    options = ReportOptions(pipeline=pipeline, date_from=date_from, date_to=date_to, lang=lang)
    return json_body(crm.report(process, options))


@router.get("/processes/{process}/export", tags=["data"], response_class=StreamingResponse,
            responses={200: {"content": {MEDIA["csv"]: {}, MEDIA["xlsx"]: {}}}})
async def export(process: str, crm: Crm, format: Literal["csv", "xlsx"] = "csv",
                 where: Where = None, pipeline: str | None = None, stage: str | None = None,
                 search: str | None = None, sort: str = "id", columns: str | None = None,
                 lang: str | None = None,
                 delimiter: Annotated[Literal[",", ";", "tab"] | None, Query(
                     description="the CSV's delimiter; by default `;` with lang=ru (what Excel with Russian "
                                 "settings expects), else `,`")] = None) -> Response:
    """The items of the current filter the caller may export, streamed as CSV (UTF-8 with a BOM) or xlsx."""
    chosen = delimiter or (";" if lang == "ru" else ",")
    options = ExportOptions(format=format, columns=columns, lang=lang, pipeline=pipeline, stage=stage,
                            where=tuple(where or ()), search=search, sort=sort,
                            delimiter="\t" if chosen == "tab" else chosen)
    headers = {"Content-Disposition": f'attachment; filename="{process}.{format}"'}
    if format == "csv":
        body = await run_in_threadpool(streams.csv_stream, lambda stream: crm.export(process, stream, options))
        return StreamingResponse(body, media_type=MEDIA["csv"], headers=headers)
    path = streams.temporary_file(".xlsx")
    try:
        await run_in_threadpool(crm.export, process, path, options)
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    return StreamingResponse(streams.file_chunks(path), media_type=MEDIA["xlsx"], headers=headers)


@router.post("/processes/{process}/import", tags=["data"])
def import_items(process: str, crm: Crm, file: Annotated[UploadFile, File(description="a CSV or xlsx file")],
                 dry_run: Annotated[bool, Form()] = False,
                 on_error: Annotated[Literal["skip", "abort"], Form()] = "skip",
                 key: Annotated[str | None, Form()] = None,
                 accept_language: Annotated[str | None, Header()] = None) -> Response:
    """Create (or, with key, update) items from a file, through the same rules as create; per-row problems
    (their messages in the Accept-Language language, English with ids without it)."""
    suffix = Path(file.filename or "").suffix.lower()
    if suffix not in (".csv", ".xlsx"):
        raise errors.InvalidValue(tr("the file {name} is neither .csv nor .xlsx", name=repr(file.filename)),
                                  tr("upload a CSV or xlsx file"), field="file")
    upload = streams.temporary_file(suffix)
    try:
        with upload.open("wb") as target:
            shutil.copyfileobj(file.file, target, 1024 * 1024)
        result = crm.import_file(process, upload, ImportOptions(dry_run=dry_run, on_error=on_error, key=key))
    except DataFileError as unreadable:  # the file as a whole: named as the caller sent it, not as stored here
        name = printable(Path(file.filename or "").name) or "the file"
        raise errors.InvalidValue(str(unreadable).replace(upload.name, name), unreadable.hint, field="file") from None
    finally:
        upload.unlink(missing_ok=True)
    lang = accepted(accept_language)
    return json_body({"process": result.process, "dry_run": result.dry_run, "written": result.written,
                      "rows": result.rows, "created": result.created, "updated": result.updated,
                      "unchanged": result.unchanged, "failed_rows": result.failed_rows,
                      "problems": [{"row": p.row, "column": p.column, "value": p.value,
                                    "message": render(p.message, lang)} for p in result.problems],
                      "ignored_columns": [column for column, _ in result.ignored]},
                     headers={"Content-Language": lang} if lang else None)


@router.get("/inbox", tags=["people"])
def inbox(crm: Crm, unread: bool = False, limit: Limit = 50,
          accept_language: Annotated[str | None, Header()] = None) -> Response:
    """The caller's notifications, newest first; the comments that mention them and their open to-dos (most
    urgent first), with counts of those overdue and due today. What smartflow wrote itself (an assignment,
    a to-do given or overdue, an observer added) comes in the Accept-Language language (English without)."""
    lang = accepted(accept_language)
    messages = [{**row, "subject": render(row["subject"], lang) if row["subject"] is not None else None,
                 "message": render(row["message"], lang)} for row in crm.inbox(unread_only=unread, limit=limit)]
    return json_body({"messages": messages, "mentions": crm.mentions(limit), "todos": crm.my_todos(limit=limit),
                      "counts": crm.todo_counters()}, headers={"Content-Language": lang} if lang else None)


class MarkRead(BaseModel):
    model_config = ConfigDict(extra="forbid")
    ids: list[Annotated[int, Field(ge=1, le=2**31 - 1)]] | None = Field(
        default=None, max_length=1000, description="the notifications to mark; none given: all of the caller's")
    read: bool = Field(default=True, description="false marks them unread again")


@router.post("/inbox/read", tags=["people"])
def mark_read(body: MarkRead, crm: Crm) -> Response:
    """Mark the caller's notifications read (or unread): those listed, or all of them."""
    return json_body({"changed": crm.mark_read(body.ids, body.read)})


class Settings(BaseModel):
    model_config = ConfigDict(extra="forbid")
    email_notifications: bool | None = Field(default=None, description="notifications by e-mail too (on by default)")
    language: Literal["ru", "en", ""] | None = Field(default=None, description="of the e-mails; \"\": the default")


@router.get("/settings", tags=["people"])
def settings(crm: Crm) -> Response:
    """The caller's own settings: e-mail address, e-mail notifications on or off, language."""
    return json_body(crm.settings())


@router.patch("/settings", tags=["people"])
def change_settings(body: Settings, crm: Crm) -> Response:
    """Change the caller's own settings (any user may)."""
    return json_body(crm.change_settings(**body.model_dump(exclude_none=True)))


@router.get("/jobs", tags=["administration"])
def jobs(crm: Crm, status: str | None = None, limit: Limit = 50) -> Response:
    """Delayed trigger jobs (administrators)."""
    return json_body({"jobs": crm.jobs(status, limit)})


@router.get("/outbox", tags=["administration"])
def outbox(crm: Crm, status: str | None = None, limit: Limit = 50) -> Response:
    """Outgoing notifications and webhooks (administrators)."""
    return json_body({"messages": crm.outbox(status, limit)})


@router.get("/users", tags=["administration"])
def users(crm: Crm) -> Response:
    """Users with their roles and departments (administrators)."""
    return json_body({"users": crm.directory()["users"]})


@router.get("/departments", tags=["administration"])
def departments(crm: Crm) -> Response:
    """The departments tree (administrators)."""
    return json_body({"departments": crm.directory()["departments"]})


class Login(BaseModel):
    model_config = ConfigDict(extra="forbid")
    login: str = Field(min_length=1, max_length=128)
    password: str = Field(min_length=1, max_length=1024)


@router.post("/session", tags=["session"])
def log_in(request: Request, credentials: Login) -> Response:
    """Log in with a password: sets the session cookie (HttpOnly, SameSite=Strict, 12 hours) and the
    CSRF cookie whose value unsafe requests send in X-CSRF-Token. Repeated failures answer 429."""
    base: Engine = request.app.state.engine
    secret, caller = base.start_session(credentials.login, credentials.password)
    response = json_body({"login": caller.login, "csrf_token": caller.csrf})
    secure = request.url.scheme == "https"
    lifetime = SESSION_SECONDS
    response.set_cookie(SESSION_COOKIE, secret, max_age=lifetime, httponly=True, samesite="strict", secure=secure,
                        path="/")
    response.set_cookie(CSRF_COOKIE, caller.csrf or "", max_age=lifetime, httponly=False, samesite="strict",
                        secure=secure, path="/")
    return response


@router.get("/session", tags=["session"])
def who_am_i(crm: Crm) -> Response:
    """The user the credential acts as."""
    return json_body({"login": crm.whoami()})


@router.delete("/session", tags=["session"])
def log_out(request: Request, crm: Crm) -> Response:
    """End the browser session (needs its CSRF token, like every unsafe request)."""
    login = crm.whoami()  # the credential (and a session's CSRF token) checked first
    session = request.cookies.get(SESSION_COOKIE)
    if session:
        request.app.state.engine.end_session(session)
    response = json_body({"login": login, "logged_out": True})
    response.delete_cookie(SESSION_COOKIE, path="/")
    response.delete_cookie(CSRF_COOKIE, path="/")
    return response
