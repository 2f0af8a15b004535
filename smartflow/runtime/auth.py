"""Who is calling: passwords, API tokens and browser sessions, and throttling of failed logins.

Passwords are kept as scrypt hashes (memory-hard; the salt and the cost parameters are stored
with the hash, so they can be raised later without breaking old ones). Tokens and session ids
are random secrets shown once; only their SHA-256 digest is stored (a secret of 256 random bits
needs no slow hash). Login attempts are counted in the database, atomically and before the
password is checked, so every worker and machine of one deployment throttles the same guesser.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import secrets
import threading
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from smartflow.errors import AuthenticationFailed, InvalidValue, NotFound, PermissionDenied, TooManyAttempts
from smartflow.i18n import Name, tr
from smartflow.records import record
from smartflow.runtime import clock
from smartflow.runtime.access import Actor
from smartflow.runtime.compiled import CompiledDefinition, built, deployed_columns

SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**14, 8, 1  # 16 MiB and about 50 ms a hash: OWASP's scrypt minimum
TOKEN_PREFIX = "sf_"
SESSION_PREFIX = "sfs_"
MAX_FAILURES = 5  # attempts of one login name within FAILURE_WINDOW whose password is checked (a right one resets)
FAILURE_WINDOW = timedelta(minutes=15)
SESSION_LIFETIME = timedelta(hours=12)
MIN_PASSWORD = 8
MIN_STRENGTH = 2  # zxcvbn's score: 2 withstands about 10^8 guesses, far past what throttled logins allow
ZXCVBN_LENGTH = 72  # the characters of a password zxcvbn rates (its own limit)
_RATING = threading.Lock()


@record(frozen=True)
class Caller:
    """Who a credential belongs to, and (for a browser session) the CSRF token its unsafe requests must echo."""

    login: str
    kind: str
    csrf: str | None = None
    # the user's row and role grants, read with the credential (people.resolve_actor needs no query of its own)
    user: dict[str, Any] | None = None
    grants: tuple[tuple[str, str, str], ...] = ()
    # with caller_of(deployed=…): the latest deployed version's id, and whether an event subscription exists
    version: int | None = None
    subscribed: bool = False


def _tables(compiled: CompiledDefinition) -> tuple[sa.Table, sa.Table, sa.Table, sa.Table]:
    tables = compiled.tables
    return tables["sf_users"], tables["sf_passwords"], tables["sf_tokens"], tables["sf_login_failures"]


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def hash_password(password: str) -> str:
    """`scrypt$N$r$p$salt$hash`, salt and hash in base64."""
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode("utf-8"), salt=salt, n=SCRYPT_N, r=SCRYPT_R, p=SCRYPT_P, dklen=32)
    return f"scrypt${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${_b64(salt)}${_b64(digest)}"


def check_password(password: str, stored: str) -> bool:
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        expected = base64.b64decode(digest)
        got = hashlib.scrypt(password.encode("utf-8"), salt=base64.b64decode(salt), n=int(n), r=int(r), p=int(p),
                             dklen=len(expected), maxmem=256 * int(n) * int(r) * int(p) + 2**20)
    except (ValueError, TypeError):
        return False
    return scheme == "scrypt" and hmac.compare_digest(got, expected)


@functools.cache
def _dummy_hash() -> str:
    """What a password is checked against when there is no such user: the same cost as a real check.

    Made on the process's first password check, whoever it names (password_matches asks for it
    either way), so that check costs the same for a known and an unknown login; not at import,
    where a scrypt hash (16 MiB, about 50 ms) would slow every command that opens a database."""
    return hash_password(secrets.token_urlsafe(16))


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def csrf_of(session_secret: str) -> str:
    """The CSRF token of a session: derived from its secret, so no worker needs to store it."""
    return hashlib.sha256(b"csrf:" + session_secret.encode("utf-8")).hexdigest()[:32]


def _user(connection: Any, users: sa.Table, login: str) -> Any:
    row = connection.execute(sa.select(users.c.id, users.c.login, users.c.active).where(users.c.login == login)).first()
    if row is None or not row.active:
        raise NotFound(f"there is no user `{login}`", "run `smartflow user list`, or `smartflow user add`")
    return row


def _may_manage(actor: Actor, user_id: int) -> None:
    """Administrators manage everyone's credentials; anyone else only their own."""
    if actor.is_local_admin or "administrator" in actor.roles or actor.id == user_id:
        return
    raise PermissionDenied("only administrators manage other users' passwords and tokens")


def check_strength(password: str, *personal: str) -> None:
    """Refuse a password that is short, common or trivially guessed (InvalidValue, field `password`).

    zxcvbn (Dropbox's estimator) rates it against lists of common passwords, words and names, keyboard
    patterns, repeats, sequences, dates and the user's own login and name (personal); a score under
    MIN_STRENGTH (of 0–4: about 10^8 guesses) is refused with its reason. Imported here, on the
    one path that sets a password, so no other command pays for its lists (~70 ms)."""
    if len(password) < MIN_PASSWORD:
        raise InvalidValue(tr("the password is shorter than {length} characters", length=MIN_PASSWORD),
                           tr("choose a longer one: a few unrelated words make a good password"), field="password")
    from zxcvbn import zxcvbn

    # zxcvbn's time grows with the length, and a long password is at least as strong as its start;
    # it keeps the user inputs in a module-wide dictionary, so one rating at a time
    with _RATING:
        rated = zxcvbn(password[:ZXCVBN_LENGTH], user_inputs=[part for part in personal if part])
    if rated["score"] < MIN_STRENGTH:
        warning = str(rated["feedback"].get("warning") or "").rstrip(".")
        reason = f" ({warning[:1].lower() + warning[1:]})" if warning else ""
        raise InvalidValue(tr("the password is too easy to guess{reason}", reason=reason),
                           tr("choose a longer one that is not a common word, name, pattern or your login: "
                              "a few unrelated words make a good password"), field="password")


def set_password(connection: Any, compiled: CompiledDefinition, actor: Actor, login: str, password: str,
                 keep_session: str | None = None) -> int:
    """Set login's password and end that user's browser sessions, except keep_session (the session
    making the change stays signed in); the number of sessions ended. API tokens are kept: they are
    credentials of their own, made only from the command line, each revoked with `token revoke`."""
    users, passwords, tokens, _ = _tables(compiled)
    user = _user(connection, users, login)
    _may_manage(actor, user.id)
    name = connection.execute(sa.select(users.c.name).where(users.c.id == user.id)).scalar()
    check_strength(password, login, *(name or "").split(), name or "")
    hashed = hash_password(password)
    updated = connection.execute(passwords.update().where(passwords.c.user_id == user.id)
                                 .values(hash=hashed, updated_at=clock.now()))
    if not updated.rowcount:
        connection.execute(passwords.insert().values(user_id=user.id, hash=hashed, updated_at=clock.now()))
    ending = tokens.update().where(tokens.c.user_id == user.id, tokens.c.kind == "session",
                                   tokens.c.revoked_at.is_(None))
    if keep_session is not None:
        ending = ending.where(tokens.c.digest != digest(keep_session))
    return int(connection.execute(ending.values(revoked_at=clock.now())).rowcount)


def create_token(connection: Any, compiled: CompiledDefinition, actor: Actor, login: str,
                 expires: timedelta | None, kind: str = "token") -> str:
    """A new secret for login, returned once; only its digest is stored."""
    users, _, tokens, _ = _tables(compiled)
    user = _user(connection, users, login)
    if kind == "token":
        _may_manage(actor, user.id)
    secret = (TOKEN_PREFIX if kind == "token" else SESSION_PREFIX) + secrets.token_urlsafe(32)
    now = clock.now()
    connection.execute(tokens.insert().values(user_id=user.id, kind=kind, digest=digest(secret), created_at=now,
                                              expires_at=now + expires if expires else None))
    return secret


def list_tokens(connection: Any, compiled: CompiledDefinition, actor: Actor, login: str | None) -> list[dict[str, Any]]:
    """API tokens (never their secrets): everyone's for an administrator, one's own otherwise."""
    users, _, tokens, _ = _tables(compiled)
    query = (sa.select(tokens.c.id, users.c.login, tokens.c.created_at, tokens.c.expires_at,
                       tokens.c.revoked_at).join(users, users.c.id == tokens.c.user_id)
             .where(tokens.c.kind == "token").order_by(tokens.c.id))
    if login is not None:
        query = query.where(users.c.login == login)
    if not (actor.is_local_admin or "administrator" in actor.roles):
        query = query.where(tokens.c.user_id == actor.id)
    return [dict(row) for row in connection.execute(query).mappings()]


def revoke_token(connection: Any, compiled: CompiledDefinition, actor: Actor, token_id: int) -> None:
    _, _, tokens, _ = _tables(compiled)
    row = connection.execute(sa.select(tokens.c.user_id).where(tokens.c.id == token_id, tokens.c.kind == "token")
                             ).first()
    admin = actor.is_local_admin or "administrator" in actor.roles
    if row is None or not (admin or row.user_id == actor.id):
        raise NotFound(f"there is no token {token_id}", "run `smartflow token list`")
    connection.execute(tokens.update().where(tokens.c.id == token_id).values(revoked_at=clock.now()))


def revoke_secret(connection: Any, compiled: CompiledDefinition, secret: str) -> None:
    """End a session (log out) by its secret."""
    _, _, tokens, _ = _tables(compiled)
    connection.execute(tokens.update().where(tokens.c.digest == digest(secret), tokens.c.revoked_at.is_(None))
                       .values(revoked_at=clock.now()))


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=clock.now().tzinfo)


def caller_of(connection: Any, compiled: CompiledDefinition, secret: str, kind: str,
              deployed: str | None = None) -> Caller:
    """The user a token or session secret belongs to, with their row and role grants (one query: every API
    request asks); AuthenticationFailed when it is unknown, expired or revoked.

    deployed ("version", or "subscriptions" too): the same query also reads the id of the latest deployed
    version (and whether an outbound event subscription exists) into the Caller, which the services layer
    asks on every operation: a round trip less per API request. smartflow's own tables are the same in
    every version, so compiled may be the one cached before."""
    users, _, tokens, _ = _tables(compiled)
    grants = compiled.tables["sf_role_grants"]

    def build() -> Any:
        columns = [tokens.c.expires_at, tokens.c.revoked_at, users.c.id, users.c.login, users.c.name,
                   users.c.active, users.c.department_id, grants.c.role, grants.c.process, grants.c.pipeline]
        if deployed is not None:
            version, subscribed = deployed_columns(deployed == "subscriptions")
            columns.append(version)
            if deployed == "subscriptions":
                columns.append(subscribed)
        return sa.select(*columns).select_from(
            tokens.join(users, users.c.id == tokens.c.user_id).outerjoin(grants, grants.c.user_id == users.c.id)
        ).where(tokens.c.digest == sa.bindparam("_digest"), tokens.c.kind == sa.bindparam("_kind")).order_by(
            grants.c.role)

    statement = built((tokens, "caller_of", deployed), build)
    rows = connection.execute(statement, {"_digest": digest(secret), "_kind": kind}).all()
    row = rows[0] if rows else None
    now = clock.now()
    if (row is None or row.revoked_at is not None or not row.active
            or (row.expires_at is not None and _aware(row.expires_at) <= now)):
        raise AuthenticationFailed("the credential is unknown, expired or revoked",
                                   "log in again, or create a token: smartflow token create LOGIN")
    user = {"id": row.id, "login": row.login, "name": row.name, "active": row.active,
            "department_id": row.department_id}
    held = tuple((found.role, found.process, found.pipeline) for found in rows if found.role is not None)
    version = row._mapping.get("_version") if deployed is not None else None
    return Caller(row.login, kind, csrf_of(secret) if kind == "session" else None, user, held,
                  None if version is None else int(version), bool(row._mapping.get("_subscribed", False)))


def _upsert(connection: Any, table: sa.Table) -> Any:
    """INSERT … ON CONFLICT for the connection's dialect (SQLite and PostgreSQL spell it alike)."""
    if connection.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    return insert(table)


def count_attempt(connection: Any, compiled: CompiledDefinition, login_name: str) -> str | None:
    """Count one login attempt for login_name, before its password is checked, and hand back the
    stored hash to check it against (None when there is no such active user).

    The count is one atomic upsert (INSERT … ON CONFLICT DO UPDATE … RETURNING): however many
    attempts arrive at once, on any number of workers, each sees its own number, so no more than
    MAX_FAILURES passwords of one login are checked within FAILURE_WINDOW; past that TooManyAttempts,
    unchecked. A right password forgets the count (forget_attempts)."""
    users, passwords, _, failures = _tables(compiled)
    now = clock.now()
    moment = sa.literal(now, failures.c.first_at.type)
    expired = failures.c.first_at <= sa.literal(now - FAILURE_WINDOW, failures.c.first_at.type)
    counted = connection.execute(
        _upsert(connection, failures).values(login=login_name, failures=1, first_at=now)
        .on_conflict_do_update(index_elements=[failures.c.login], set_={
            "failures": sa.case((expired, 1), else_=failures.c.failures + 1),
            "first_at": sa.case((expired, moment), else_=failures.c.first_at)})
        .returning(failures.c.failures, failures.c.first_at)).one()
    if counted.failures > MAX_FAILURES:
        wait = FAILURE_WINDOW - (now - _aware(counted.first_at))
        minutes = max(1, int(wait.total_seconds() // 60) + 1)
        raise TooManyAttempts(tr("too many failed logins for {login}", login=Name(login_name)),
                              tr("try again in {minutes} minute(s)", minutes=minutes))
    stored: str | None = connection.execute(
        sa.select(passwords.c.hash).join(users, users.c.id == passwords.c.user_id)
        .where(users.c.login == login_name, users.c.active.is_(True))).scalar()
    return stored


def forget_attempts(connection: Any, compiled: CompiledDefinition, login_name: str) -> None:
    """A right password: the failures counted for login_name start again from nothing."""
    _, _, _, failures = _tables(compiled)
    connection.execute(failures.delete().where(failures.c.login == login_name))


def password_matches(password: str, stored: str | None) -> bool:
    """Whether password is the one stored; with none stored, a check of the same cost that fails
    (an unknown login answers as slowly as a wrong password)."""
    dummy = _dummy_hash()  # asked for whoever the login names: see _dummy_hash
    return check_password(password, stored or dummy) and stored is not None
