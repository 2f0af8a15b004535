"""Administration over HTTP (administrators only, but for redeeming a one-time code): users and
their roles per process, activation, password reset codes, who may do what, the audit log, and
retrying or cancelling jobs and outbox messages. Each route is parse → one service call → JSON."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from smartflow.http.caller import engine_for, json_body
from smartflow.services import Engine

router = APIRouter()
Crm = Annotated[Engine, Depends(engine_for)]
Login = Annotated[str, Path(min_length=1, max_length=128)]
RowId = Annotated[int, Path(ge=1, le=2**31 - 1)]


class NewUser(BaseModel):
    model_config = ConfigDict(extra="forbid")
    login: str = Field(min_length=1, max_length=128)
    name: str = Field(default="", max_length=256)
    email: str | None = Field(default=None, max_length=254)
    department: str | None = Field(default=None, max_length=64)
    roles: list[str] = Field(default_factory=list, max_length=50)
    processes: list[str] = Field(default_factory=list, max_length=200, description="none: the roles hold everywhere")
    pipelines: list[str] = Field(default_factory=list, max_length=50,
                                 description="only in these pipelines of the one process named (none: in all of it)")


class UserChanges(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str | None = Field(default=None, min_length=1, max_length=256)
    email: str | None = Field(default=None, max_length=254, description="\"\" clears it")
    department: str | None = Field(default=None, max_length=64, description="\"\" clears it")
    email_notifications: bool | None = Field(default=None, description="notifications by e-mail too")
    language: Literal["ru", "en", ""] | None = Field(default=None, description="of their e-mails; \"\": the default")


class Grant(BaseModel):
    model_config = ConfigDict(extra="forbid")
    role: str = Field(min_length=1, max_length=28)
    processes: list[str] = Field(default_factory=list, max_length=200, description="none: in every process")
    pipelines: list[str] = Field(default_factory=list, max_length=50,
                                 description="only in these pipelines of the one process named (none: in all of it)")


class Redeem(BaseModel):
    model_config = ConfigDict(extra="forbid")
    code: str = Field(min_length=1, max_length=128)
    password: str = Field(min_length=1, max_length=1024)


@router.post("/users", tags=["administration"], status_code=201)
def add_user(user: NewUser, crm: Crm) -> Response:
    """Add a user holding roles in the named processes (none named: in every process)."""
    crm.add_user(user.login, user.name, user.roles, user.department, user.processes, user.email, user.pipelines)
    return json_body(crm.user(user.login), 201, {"Location": f"/api/v1/users/{user.login}"})


@router.get("/users/{login}", tags=["administration"])
def one_user(login: Login, crm: Crm) -> Response:
    """A user with their roles (in every process, per process, and per process and pipeline), department and
    e-mail."""
    return json_body(crm.user(login))


@router.patch("/users/{login}", tags=["administration"])
def edit_user(login: Login, changes: UserChanges, crm: Crm) -> Response:
    """Change a user's name, e-mail, department or notification settings."""
    return json_body(crm.edit_user(login, **changes.model_dump(exclude_unset=True)))


@router.post("/users/{login}/roles", tags=["administration"])
def grant_role(login: Login, grant: Grant, crm: Crm) -> Response:
    """Let the user hold a role in the named processes (none named: in every process), or with `pipelines`,
    in those pipelines of the one process named only."""
    return json_body(crm.grant_role(login, grant.role, grant.processes, grant.pipelines))


@router.delete("/users/{login}/roles/{role}", tags=["administration"])
def revoke_role(login: Login, role: Annotated[str, Path(min_length=1, max_length=28)], crm: Crm,
                process: Annotated[list[str] | None, Query(description="repeat; none: everywhere")] = None,
                pipeline: Annotated[list[str] | None, Query(description="repeat; of the one process named")] = None
                ) -> Response:
    """Take a role from the user in the named processes (none named: everywhere), or with `pipeline`, in
    those pipelines of the one process named."""
    return json_body(crm.revoke_role(login, role, process or [], pipeline or []))


@router.post("/users/{login}/deactivate", tags=["administration"])
def deactivate(login: Login, crm: Crm) -> Response:
    """Deactivate a user: their tokens and sessions answer 401 from the next request; their items stay."""
    return json_body(crm.set_active(login, False))


@router.post("/users/{login}/activate", tags=["administration"])
def activate(login: Login, crm: Crm) -> Response:
    """Activate a deactivated user again."""
    return json_body(crm.set_active(login, True))


@router.post("/users/{login}/reset", tags=["administration"])
def reset(login: Login, crm: Crm) -> Response:
    """A one-time code (24 hours, works once) with which the user sets a new password."""
    return json_body({"login": login, "code": crm.reset_code(login), "expires_in_hours": 24})


@router.get("/users/{login}/access", tags=["administration"])
def user_access(login: Login, crm: Crm) -> Response:
    """The user's effective rights in every process."""
    return json_body(crm.user_access(login))


@router.get("/processes/{process}/access", tags=["administration"])
def process_access(process: str, crm: Crm) -> Response:
    """Who may do what in a process: users × actions × levels, stages and hidden fields."""
    return json_body(crm.access_report(process))


@router.get("/audit", tags=["administration"])
def audit_log(crm: Crm, limit: Annotated[int, Query(ge=1, le=500)] = 100,
              target: Annotated[str | None, Query(max_length=160)] = None) -> Response:
    """Administrative changes, newest first: who, what, when, through which door."""
    return json_body({"entries": crm.audit_log(limit, target)})


@router.post("/jobs/{row_id}/retry", tags=["administration"])
def retry_job(row_id: RowId, crm: Crm) -> Response:
    """Queue a failed, dropped or cancelled job again, due now."""
    crm.retry("job", row_id)
    return json_body({"job": row_id, "status": "pending"})


@router.post("/jobs/{row_id}/cancel", tags=["administration"])
def cancel_job(row_id: RowId, crm: Crm) -> Response:
    """Cancel a pending or failed job: the worker never runs it."""
    crm.cancel("job", row_id)
    return json_body({"job": row_id, "status": "cancelled"})


@router.post("/outbox/{row_id}/retry", tags=["administration"])
def retry_message(row_id: RowId, crm: Crm) -> Response:
    """Queue a failed or cancelled message again, due now."""
    crm.retry("message", row_id)
    return json_body({"message": row_id, "status": "pending"})


@router.post("/outbox/{row_id}/cancel", tags=["administration"])
def cancel_message(row_id: RowId, crm: Crm) -> Response:
    """Cancel a pending or failed message: it is never sent."""
    crm.cancel("message", row_id)
    return json_body({"message": row_id, "status": "cancelled"})


@router.post("/password-reset", tags=["session"])
def redeem(request: Request, body: Redeem) -> Response:
    """Set a new password with a one-time code (from `smartflow user reset`, or the link `smartflow
    serve` prints for the first sign-in); the code is the credential, and it works once."""
    base: Engine = request.app.state.engine
    return json_body({"login": base.redeem_code(body.code, body.password), "password_set": True})
