"""The administration section of the board (administrators only): users with their roles per
process, activation and password reset codes; the deployed processes read-only (fields, each
pipeline's stage graph, rights, versions); automation health (jobs and outbox, retry and cancel);
and the audit log. Every page calls the same services as its JSON twin under /api/v1; every
change is a plain form POST with the session's CSRF token, answered by a redirect (no script)."""

from __future__ import annotations

import html
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Form, Request, Response
from fastapi.responses import RedirectResponse
from markupsafe import Markup

from smartflow import errors
from smartflow.i18n import tr
from smartflow.web import session
from smartflow.web.pages import PageRoute, frame, render
from smartflow.web.session import Visitor
from smartflow.web.text import word

router = APIRouter(route_class=PageRoute, include_in_schema=False)
Csrf = Annotated[str, Form()]
STATUSES = ("pending", "running", "failed", "dropped", "cancelled", "done", "sent")


def administrator(request: Request) -> Visitor:
    """The signed-in visitor, who must be an administrator (PermissionDenied otherwise: a 403 page)."""
    found = session.visitor(request)
    if not found.crm.is_admin():
        raise errors.PermissionDenied(tr("only administrators open the administration pages"),
                                      tr("ask an administrator for the administrator role"))
    return found


def changed(request: Request, csrf: str) -> Visitor:
    """An administrator's form POST, its CSRF token checked."""
    found = administrator(request)
    session.check_csrf(found, csrf)
    return found


def back(path: str, done: str = "saved") -> RedirectResponse:
    return RedirectResponse(f"{path}{'&' if '?' in path else '?'}done={quote(done)}", status_code=303)


def admin_page(found: Visitor, name: str, section: str, request: Request, **context: Any) -> Response:
    done = request.query_params.get("done")
    return render(name, **frame(found, section=section, done=done, **context))


# ---- users ------------------------------------------------------------------------------


@router.get("/admin")
def admin_home(request: Request) -> Response:
    administrator(request)
    return RedirectResponse("/admin/users", status_code=303)


@router.get("/admin/users")
def users_page(request: Request) -> Response:
    found = administrator(request)
    directory = found.crm.directory()
    return admin_page(found, "admin_users.html", "users", request, users=directory["users"],
                      departments=directory["departments"], roles=_roles(found), processes=_processes(found),
                      error=None, entered={})


@router.post("/admin/users")
def add_user(request: Request, csrf: Csrf, login: Annotated[str, Form(max_length=128)],
             name: Annotated[str, Form(max_length=256)] = "", email: Annotated[str, Form(max_length=254)] = "",
             department: Annotated[str, Form(max_length=64)] = "", role: Annotated[str, Form(max_length=28)] = "",
             process: Annotated[list[str] | None, Form()] = None) -> Response:
    found = changed(request, csrf)
    try:
        found.crm.add_user(login.strip(), name.strip(), [role] if role else [], department or None, process or [],
                           email.strip() or None)
    except errors.InvalidValue as refused:
        directory = found.crm.directory()
        return render("admin_users.html", 422, **frame(
            found, section="users", done=None, users=directory["users"], departments=directory["departments"],
            roles=_roles(found), processes=_processes(found), error=refused,
            entered={"login": login, "name": name, "email": email, "department": department, "role": role,
                     "process": process or []}))
    return back(f"/admin/users/{quote(login.strip())}", "user_added")


@router.get("/admin/users/{login}")
def user_page(request: Request, login: str) -> Response:
    found = administrator(request)
    return _user_page(found, request, login)


def _user_page(found: Visitor, request: Request, login: str, status: int = 200, error: Exception | None = None,
               code: str | None = None, token: str | None = None) -> Response:
    user = found.crm.user(login)
    context = frame(found, section="users", done=request.query_params.get("done"), user=user,
                    departments=found.crm.directory()["departments"], roles=_roles(found),
                    processes=_processes(found), pipelines=_pipelines(found), access=found.crm.user_access(login),
                    error=error, code=code,
                    audit=found.crm.audit_log(20, login), tokens=found.crm.tokens(login), token=token)
    return render("admin_user.html", status, **context)


@router.post("/admin/users/{login}/edit")
def edit_user(request: Request, login: str, csrf: Csrf, name: Annotated[str, Form(max_length=256)] = "",
              email: Annotated[str, Form(max_length=254)] = "",
              department: Annotated[str, Form(max_length=64)] = "",
              email_notifications: Annotated[str, Form(max_length=8)] = "",
              language: Annotated[str, Form(max_length=8)] = "") -> Response:
    found = changed(request, csrf)
    try:
        found.crm.edit_user(login, name=name, email=email, department=department,
                            email_notifications=email_notifications == "on", language=language)
    except errors.InvalidValue as refused:
        return _user_page(found, request, login, 422, refused)
    return back(f"/admin/users/{quote(login)}")


@router.post("/admin/users/{login}/roles")
def grant_role(request: Request, login: str, csrf: Csrf, role: Annotated[str, Form(max_length=28)],
               process: Annotated[list[str] | None, Form()] = None,
               pipeline: Annotated[list[str] | None, Form()] = None) -> Response:
    """Give a role in every process, in the ticked processes, or in the ticked pipelines (each ticked
    as `process/pipeline`: their process is the one the role is given in)."""
    found = changed(request, csrf)
    pipelines = [value.partition("/") for value in pipeline or []]
    processes = list(dict.fromkeys([*(process or []), *(owner for owner, _, _ in pipelines)]))
    try:
        found.crm.grant_role(login, role, processes, [name for _, _, name in pipelines])
    except errors.InvalidValue as refused:
        return _user_page(found, request, login, 422, refused)
    return back(f"/admin/users/{quote(login)}")


@router.post("/admin/users/{login}/roles/remove")
def revoke_role(request: Request, login: str, csrf: Csrf, role: Annotated[str, Form(max_length=28)],
                process: Annotated[str, Form(max_length=28)] = "",
                pipeline: Annotated[str, Form(max_length=28)] = "") -> Response:
    found = changed(request, csrf)
    try:
        found.crm.revoke_role(login, role, [process] if process else [], [pipeline] if pipeline else [])
    except errors.InvalidValue as refused:
        return _user_page(found, request, login, 422, refused)
    return back(f"/admin/users/{quote(login)}")


@router.post("/admin/users/{login}/active")
def set_active(request: Request, login: str, csrf: Csrf, active: Annotated[str, Form()]) -> Response:
    found = changed(request, csrf)
    try:
        found.crm.set_active(login, active == "true")
    except errors.InvalidValue as refused:
        return _user_page(found, request, login, 422, refused)
    return back(f"/admin/users/{quote(login)}", "activated" if active == "true" else "deactivated")


@router.post("/admin/users/{login}/reset")
def reset(request: Request, login: str, csrf: Csrf) -> Response:
    """A one-time code, shown on this answer only (it is stored as a digest)."""
    found = changed(request, csrf)
    code = found.crm.reset_code(login)
    return _user_page(found, request, login, code=code)


@router.post("/admin/users/{login}/tokens")
def create_token(request: Request, login: str, csrf: Csrf,
                 expires: Annotated[str, Form(max_length=16)] = "") -> Response:
    """A new API token for the user, shown on this answer only (it is stored as a digest)."""
    found = changed(request, csrf)
    try:
        secret = found.crm.create_token(login, expires or None)
    except errors.InvalidValue as refused:
        return _user_page(found, request, login, 422, refused)
    return _user_page(found, request, login, token=secret)


@router.post("/admin/users/{login}/tokens/{token_id}/revoke")
def revoke_token(request: Request, login: str, token_id: int, csrf: Csrf) -> Response:
    found = changed(request, csrf)
    found.crm.revoke_token(token_id)
    return back(f"/admin/users/{quote(login)}", "token_revoked")


# ---- processes, read-only ------------------------------------------------------------------


@router.get("/admin/processes")
def processes_page(request: Request) -> Response:
    found = administrator(request)
    return admin_page(found, "admin_processes.html", "processes", request, processes=found.crm.processes(),
                      versions=found.crm.versions())


@router.get("/admin/processes/{process}")
def process_page(request: Request, process: str) -> Response:
    found = administrator(request)
    overview = found.crm.process_overview(process, found.lang)
    pictures = {p["pipeline"]: stage_svg(p, found.lang) for p in overview["pipelines"]}
    stage_titles = {(p["pipeline"], s["id"]): s["title"] for p in overview["pipelines"] for s in p["stages"]}
    pipeline_titles = {p["pipeline"]: p["title"] for p in overview["pipelines"]}
    names = {u["login"]: u["name"] for u in overview["access"]["users"]}
    return admin_page(found, "admin_process.html", "processes", request, process=overview, pictures=pictures,
                      stage_titles=stage_titles, pipeline_titles=pipeline_titles, names=names)


def stage_svg(pipeline: dict[str, Any], lang: str) -> Markup:
    """A pipeline's stage graph as an inline SVG picture: stages top to bottom in their order, each
    transition an arc on the right (its title, condition and roles as the arc's tooltip), moves
    from any stage as arrows from the left. The same nodes and edges `smartflow graph` draws."""
    stages = pipeline["stages"]
    longest = max((len(stage["title"]) + 2 for stage in stages), default=10)
    row, box_w, box_h, left = 46, max(190, 20 + int(longest * 7.8)), 30, 70
    index = {stage["id"]: n for n, stage in enumerate(stages)}
    fills = {"process": "#e3f2fd", "success": "#c8e6c9", "failure": "#ffcdd2"}
    marks = {"process": "", "success": "✓ ", "failure": "✗ "}
    edges = [e for e in pipeline["transitions"] if e["to"] in index]
    spans = [abs(index.get(e["from"], 0) - index[e["to"]]) for e in edges if e["from"] in index]
    width = left + box_w + 40 + 22 * (max(spans) if spans else 1) + 20
    height = 16 + row * len(stages)
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" class="stage-graph" viewBox="0 0 {width} {height}" '
             f'width="{width}" height="{height}" role="img" aria-label="{html.escape(_words(pipeline, lang))}">',
             '<defs><marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" '
             'orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="#555"/></marker></defs>']
    for edge in edges:
        target = index[edge["to"]]
        ty = 10 + target * row + box_h / 2
        tip = html.escape(" · ".join(edge["label"]))
        if edge["from"] not in index:  # from any stage
            parts.append(f'<path d="M{left - 56},{ty} L{left - 2},{ty}" stroke="#888" stroke-dasharray="4 3" '
                         f'fill="none" marker-end="url(#arrow)"><title>{html.escape(word("any_stage", lang))}: '
                         f'{tip}</title></path>')
            continue
        source = index[edge["from"]]
        sy = 10 + source * row + box_h / 2
        bend = left + box_w + 24 + 22 * abs(source - target)
        x0 = left + box_w
        colour = "#2e7d32" if target > source else "#c77700"
        parts.append(f'<path d="M{x0},{sy - 4} C{bend},{sy - 4} {bend},{ty + 4} {x0 + 2},{ty + 4}" '
                     f'stroke="{colour}" fill="none" marker-end="url(#arrow)"><title>{html.escape(edge["from"])} → '
                     f'{html.escape(edge["to"])}: {tip}</title></path>')
    for n, stage in enumerate(stages):
        y = 10 + n * row
        if stage["id"] == pipeline["first"]:
            parts.append(f'<circle cx="{left - 14}" cy="{y + box_h / 2}" r="5" fill="#333"/>')
        parts.append(f'<rect x="{left}" y="{y}" width="{box_w}" height="{box_h}" rx="6" '
                     f'fill="{fills.get(stage["semantic"], "#e3f2fd")}" stroke="#90a4ae"/>'
                     f'<text x="{left + 10}" y="{y + 20}" font-size="13">'
                     f'{html.escape(marks.get(stage["semantic"], "") + stage["title"])}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))


def _words(pipeline: dict[str, Any], lang: str) -> str:
    stages = " → ".join(stage["title"] for stage in pipeline["stages"])
    return f"{word('pipeline', lang)}: {stages}"


# ---- automation health and the audit log -------------------------------------------------------


@router.get("/admin/automation")
def automation_page(request: Request, status: str | None = None) -> Response:
    found = administrator(request)
    chosen = status if status in STATUSES else None
    return admin_page(found, "admin_automation.html", "automation", request, jobs=found.crm.jobs(chosen, 100),
                      messages=found.crm.outbox(chosen, 100), chosen=chosen, statuses=STATUSES)


@router.post("/admin/automation/{kind}/{row_id}/{what}")
def retry_or_cancel(request: Request, kind: str, row_id: int, what: str, csrf: Csrf) -> Response:
    found = changed(request, csrf)
    if kind not in ("job", "message") or what not in ("retry", "cancel"):
        raise errors.NotFound(tr("there is no such automation action"), tr("use the buttons of the automation page"))
    (found.crm.retry if what == "retry" else found.crm.cancel)(kind, row_id)
    return back("/admin/automation", f"{kind}_{what}")


@router.get("/admin/audit")
def audit_page(request: Request) -> Response:
    found = administrator(request)
    return admin_page(found, "admin_audit.html", "audit", request, entries=found.crm.audit_log(200))


def _roles(found: Visitor) -> list[dict[str, Any]]:
    return found.crm.roles()


def _processes(found: Visitor) -> list[dict[str, Any]]:
    return found.crm.processes()


def _pipelines(found: Visitor) -> list[dict[str, Any]]:
    """The processes with several pipelines, each with them: where a role may be given per pipeline."""
    return [{"id": p["id"], "title": p["title"], "pipelines": p["pipelines"]}
            for p in found.crm.describe()["processes"] if len(p["pipelines"]) > 1]
