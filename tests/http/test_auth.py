"""Credentials through the services and the CLI: passwords (scrypt, never on the command line),
API tokens (shown once, stored as a digest, expiring, revocable), browser sessions, throttled
failed logins, and a database deployed before the credential tables existed."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from click.testing import CliRunner, Result

from smartflow import Engine
from smartflow.cli.main import EXIT_BAD_VALUE, EXIT_DENIED, EXIT_NOT_DEPLOYED, EXIT_NOT_FOUND, main
from smartflow.errors import AuthenticationFailed, TooManyAttempts
from tests.runtime.support import DOCUMENTS, Db, module_url

__all__ = ["module_url"]


def invoke(url: str, *args: str, as_user: str | None = None, stdin: str | None = None) -> Result:
    runner = CliRunner(env={"SMARTFLOW_USER": None, "SMARTFLOW_DATABASE_URL": None})
    result = runner.invoke(main, [*args, "--db", url, *(["--as", as_user] if as_user else [])], input=stdin)
    assert "Traceback" not in result.output
    return result


@pytest.fixture(scope="module")
def db(module_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Db]:
    database = Db(module_url, tmp_path_factory.mktemp("defs"), *DOCUMENTS)
    database.admin.add_user("ivanova", "Анна Иванова", ["worker"])
    database.admin.add_user("petrov", "Пётр Петров", ["clerk"])
    database.admin.add_user("boss", "Босс", [])
    with database.raw.begin() as connection:
        connection.execute(sa.text("INSERT INTO sf_role_grants (user_id, role, process) "
                                   "SELECT id, 'administrator', '*' FROM sf_users WHERE login = 'boss'"))
    yield database
    database.close()


@pytest.mark.db
def test_password_from_stdin_is_stored_as_a_salted_scrypt_hash(db: Db) -> None:
    result = invoke(db.url, "user", "password", "ivanova", "--password-stdin", stdin="correct horse\n")
    assert result.exit_code == 0, result.output
    assert result.stdout == ""
    with db.raw.connect() as connection:
        stored = connection.execute(sa.text("SELECT p.hash FROM sf_passwords p JOIN sf_users u ON u.id = p.user_id "
                                            "WHERE u.login = 'ivanova'")).scalar_one()
    assert stored.startswith("scrypt$16384$8$1$") and "correct horse" not in stored
    secret, caller = db.admin.start_session("ivanova", "correct horse")
    assert caller.login == "ivanova" and caller.csrf and secret.startswith("sfs_")
    assert db.admin.authenticate(secret, "session").login == "ivanova"
    with pytest.raises(AuthenticationFailed):
        db.admin.authenticate(secret, "token")  # a session id is not an API token
    db.admin.end_session(secret)
    with pytest.raises(AuthenticationFailed):
        db.admin.authenticate(secret, "session")


@pytest.mark.db
def test_password_prompt_rules_and_rights(db: Db) -> None:
    assert invoke(db.url, "user", "password", "petrov", stdin="longenough\nlongenough\n").exit_code == 0
    assert db.admin.start_session("petrov", "longenough")[1].login == "petrov"
    short = invoke(db.url, "user", "password", "petrov", "--password-stdin", stdin="short\n")
    assert short.exit_code == EXIT_BAD_VALUE and "shorter than 8" in short.stderr
    other = invoke(db.url, "user", "password", "ivanova", "--password-stdin", stdin="takeover123\n", as_user="petrov")
    assert other.exit_code == EXIT_DENIED
    own = invoke(db.url, "user", "password", "petrov", "--password-stdin", stdin="newpassword\n", as_user="petrov")
    assert own.exit_code == 0
    missing = invoke(db.url, "user", "password", "nobody", "--password-stdin", stdin="whatever123\n")
    assert missing.exit_code == EXIT_NOT_FOUND and missing.stderr.startswith("error: there is no user `nobody`")


@pytest.mark.db
def test_token_create_prints_it_alone_and_stores_a_digest(db: Db) -> None:
    result = invoke(db.url, "token", "create", "ivanova", "--expires", "90d")
    assert result.exit_code == 0, result.output
    secret = result.stdout.strip()
    assert result.stdout == secret + "\n" and secret.startswith("sf_") and len(secret) > 40
    with db.raw.connect() as connection:
        digests = list(connection.execute(sa.text("SELECT digest FROM sf_tokens")).scalars())
    assert secret not in digests and all(secret not in d for d in digests)
    assert db.admin.authenticate(secret).login == "ivanova"
    listed = invoke(db.url, "token", "list", "--format", "json")
    assert '"login": "ivanova"' in listed.stdout and secret not in listed.stdout
    bad = invoke(db.url, "token", "create", "ivanova", "--expires", "soon")
    assert bad.exit_code == EXIT_BAD_VALUE and "hint: write a number and m, h, d or w" in bad.stderr


@pytest.mark.db
def test_token_rights_and_revoke(db: Db) -> None:
    assert invoke(db.url, "token", "create", "ivanova", as_user="petrov").exit_code == EXIT_DENIED
    own = invoke(db.url, "token", "create", "petrov", as_user="petrov").stdout.strip()
    boss_made = invoke(db.url, "token", "create", "ivanova", as_user="boss")
    assert boss_made.exit_code == 0
    mine = db.as_user("petrov").tokens()
    assert [t["login"] for t in mine] == ["petrov"]
    ivanova_token = next(t["id"] for t in db.admin.tokens("ivanova"))
    assert invoke(db.url, "token", "revoke", str(ivanova_token), as_user="petrov").exit_code == EXIT_NOT_FOUND
    assert invoke(db.url, "token", "revoke", str(mine[0]["id"]), as_user="petrov").exit_code == 0
    with pytest.raises(AuthenticationFailed):
        db.admin.authenticate(own)


@pytest.mark.db
def test_expired_token_and_inactive_user_are_refused(db: Db) -> None:
    secret = db.admin.create_token("ivanova", "1h")
    later = Engine(db.url, clock=lambda: datetime.now(UTC) + timedelta(hours=2))
    try:
        with pytest.raises(AuthenticationFailed):
            later.authenticate(secret)
        assert db.admin.authenticate(secret).login == "ivanova"
    finally:
        later.close()


@pytest.mark.db
def test_repeated_failed_logins_are_throttled_across_engines(db: Db) -> None:
    db.admin.set_password("boss", "the-right-one")
    other = Engine(db.url)  # another worker: the count lives in the database
    try:
        for attempt in range(5):
            with pytest.raises(AuthenticationFailed) as failed:
                (db.admin if attempt % 2 else other).start_session("boss", "wrong")
            assert not isinstance(failed.value, TooManyAttempts)
        with pytest.raises(TooManyAttempts) as throttled:
            other.start_session("boss", "the-right-one")
        assert "try again in" in (throttled.value.hint or "")
        later = Engine(db.url, clock=lambda: datetime.now(UTC) + timedelta(minutes=16))
        try:
            assert later.start_session("boss", "the-right-one")[1].login == "boss"
        finally:
            later.close()
    finally:
        other.close()
    with pytest.raises(AuthenticationFailed):
        db.admin.start_session("nobody-at-all", "whatever")  # no such user: the same answer as a wrong password


@pytest.mark.db
def test_an_older_database_gets_the_credential_tables_from_apply(db: Db, tmp_path_factory: pytest.TempPathFactory,
                                                                  module_url: str) -> None:
    from smartflow.deploy import apply as deploy

    del db  # a database of its own: drop the new tables as if it was deployed by an older smartflow
    engine = sa.create_engine(module_url)
    try:
        with engine.begin() as connection:
            for table in ("sf_passwords", "sf_tokens", "sf_login_failures"):
                connection.execute(sa.text(f"DROP TABLE {table}"))
        refused = invoke(module_url, "token", "create", "ivanova")
        assert refused.exit_code == EXIT_NOT_DEPLOYED
        assert "hint: run `smartflow apply` once" in refused.stderr
        folder = tmp_path_factory.mktemp("again")
        from tests.runtime.support import write_definitions

        plan = deploy.apply(write_definitions(folder, *DOCUMENTS), module_url)
        assert "sf_tokens" in " ".join(op.describe() for op in plan.operations)
        assert invoke(module_url, "token", "create", "ivanova").exit_code == 0
    finally:
        engine.dispose()


@pytest.mark.db
def test_an_engine_acting_for_a_credential_checks_it_in_its_operations(db: Db) -> None:
    from smartflow.errors import PermissionDenied

    token = db.admin.create_token("petrov")
    acting = db.admin.acting_for(token)
    assert acting.whoami() == "petrov"
    assert acting.as_via("import").whoami() == "petrov"  # a derived engine keeps acting for it, never as admin
    with pytest.raises(AuthenticationFailed):
        db.admin.acting_for("sf_wrong").whoami()
    with pytest.raises(AuthenticationFailed):
        db.admin.acting_for(token, "session").whoami()  # an API token is no session
    db.admin.set_password("petrov", "petrov-password")
    session, caller = db.admin.start_session("petrov", "petrov-password")
    assert db.admin.acting_for(session, "session", caller.csrf).whoami() == "petrov"
    assert db.admin.acting_for(session, "session").whoami() == "petrov"  # a safe request: no CSRF token asked
    with pytest.raises(PermissionDenied):
        db.admin.acting_for(session, "session", "wrong").whoami()
