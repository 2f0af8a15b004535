"""One-time codes: a password reset an administrator hands a user, and the first sign-in link
`smartflow serve` prints while no administrator has a password.

A code is a random secret shown once; only its SHA-256 digest is stored, as a credential of kind
`reset` in sf_tokens (so it expires and is revoked like the others). Redeeming it sets the user's
password and revokes it in the same transaction: it works once. Issuing a new code revokes the
user's earlier unused ones.
"""

from __future__ import annotations

import secrets
from datetime import timedelta
from typing import Any

import sqlalchemy as sa

from smartflow.errors import AuthenticationFailed, NotFound
from smartflow.i18n import tr
from smartflow.runtime import auth, clock
from smartflow.runtime.compiled import CompiledDefinition

KIND = "reset"
PREFIX = "sfr_"
LIFETIME = timedelta(hours=24)


def issue(connection: Any, compiled: CompiledDefinition, login: str, lifetime: timedelta = LIFETIME) -> str:
    """A new one-time code for login (an active user), returned once."""
    tables = compiled.tables
    users, tokens = tables["sf_users"], tables["sf_tokens"]
    user = connection.execute(sa.select(users.c.id).where(users.c.login == login, users.c.active.is_(True))).scalar()
    if user is None:
        raise NotFound(f"there is no active user `{login}`", "run `smartflow user list`")
    now = clock.now()
    connection.execute(tokens.update().where(tokens.c.user_id == user, tokens.c.kind == KIND,
                                             tokens.c.revoked_at.is_(None)).values(revoked_at=now))
    code = PREFIX + secrets.token_urlsafe(24)
    connection.execute(tokens.insert().values(user_id=user, kind=KIND, digest=auth.digest(code), created_at=now,
                                              expires_at=now + lifetime))
    return code


def holder(connection: Any, compiled: CompiledDefinition, code: str) -> str:
    """The login a valid code belongs to (without using it up); AuthenticationFailed otherwise."""
    try:
        return auth.caller_of(connection, compiled, code.strip(), KIND).login
    except AuthenticationFailed:
        raise AuthenticationFailed(tr("the one-time code is unknown, expired or already used"),
                                   "ask an administrator for a new one: smartflow user reset LOGIN") from None


def redeem(connection: Any, compiled: CompiledDefinition, code: str) -> str:
    """Use a code up: the login it belongs to. The caller sets the password in the same transaction."""
    tokens = compiled.tables["sf_tokens"]
    login = holder(connection, compiled, code)
    used = connection.execute(tokens.update().where(tokens.c.digest == auth.digest(code.strip()),
                                                    tokens.c.kind == KIND,
                                                    tokens.c.revoked_at.is_(None)).values(revoked_at=clock.now()))
    if used.rowcount != 1:  # a concurrent request used it first
        raise AuthenticationFailed(tr("the one-time code is unknown, expired or already used"),
                                   "ask an administrator for a new one: smartflow user reset LOGIN")
    return login


def admins_without_password(connection: Any, compiled: CompiledDefinition) -> tuple[list[str], bool]:
    """The active administrators (of every process) with no password, and whether any has one."""
    tables = compiled.tables
    users, grants, passwords = tables["sf_users"], tables["sf_role_grants"], tables["sf_passwords"]
    rows = connection.execute(
        sa.select(users.c.login, passwords.c.user_id).join(grants, grants.c.user_id == users.c.id)
        .outerjoin(passwords, passwords.c.user_id == users.c.id)
        .where(users.c.active.is_(True), grants.c.role == "administrator", grants.c.process == "*")
        .order_by(users.c.id)).all()
    return [row.login for row in rows if row.user_id is None], any(row.user_id is not None for row in rows)
