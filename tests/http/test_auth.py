"""Credentials through the services and the CLI: passwords (scrypt, never on the command line),
API tokens (shown once, stored as a digest, expiring, revocable), browser sessions, throttled
failed logins, and a database deployed before the credential tables existed."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from click.testing import CliRunner, Result

from smartflow import Engine
from smartflow.cli.main import EXIT_BAD_VALUE, EXIT_DENIED, EXIT_NOT_DEPLOYED, EXIT_NOT_FOUND, main
from smartflow.errors import AuthenticationFailed, InvalidValue, TooManyAttempts
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
    assert invoke(db.url, "user", "password", "petrov", stdin="long enough phrase\nlong enough phrase\n").exit_code == 0
    assert db.admin.start_session("petrov", "long enough phrase")[1].login == "petrov"
    short = invoke(db.url, "user", "password", "petrov", "--password-stdin", stdin="short\n")
    assert short.exit_code == EXIT_BAD_VALUE and "shorter than 8" in short.stderr
    other = invoke(db.url, "user", "password", "ivanova", "--password-stdin", stdin="takeover123\n", as_user="petrov")
    assert other.exit_code == EXIT_DENIED
    own = invoke(db.url, "user", "password", "petrov", "--password-stdin", stdin="new pass phrase\n",
                 as_user="petrov")
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


@pytest.mark.db
def test_parallel_wrong_passwords_check_no_more_than_the_limit(db: Db) -> None:
    """60 guesses at once for one login (threads, one engine as one server's workers): each attempt
    is counted by one atomic upsert before its password is checked, so at most MAX_FAILURES are
    checked; every other one is throttled, and none fails on a race (a conflict or database text)."""
    import threading
    from concurrent.futures import ThreadPoolExecutor

    from smartflow.runtime.auth import MAX_FAILURES

    db.admin.add_user("racer", "Гонщик", [])
    db.admin.set_password("racer", "racer-right-one")
    start = threading.Barrier(60)

    def guess(number: int) -> str:
        start.wait()
        try:
            db.admin.start_session("racer", f"wrong-guess-{number}")
        except TooManyAttempts as refused:
            assert str(refused) == "too many failed logins for `racer`", refused
            return "throttled"
        except AuthenticationFailed as refused:
            assert str(refused) == "wrong login or password", refused
            return "checked"
        return "signed in"

    with ThreadPoolExecutor(max_workers=60) as pool:
        answers = list(pool.map(guess, range(60)))
    assert answers.count("checked") <= MAX_FAILURES
    assert answers.count("checked") + answers.count("throttled") == 60, answers
    with pytest.raises(TooManyAttempts):
        db.admin.start_session("racer", "racer-right-one")  # the right one too, until the window passes
    with db.raw.connect() as connection:
        counted = connection.execute(sa.text("SELECT failures FROM sf_login_failures WHERE login = 'racer'")).scalar()
    assert counted is not None and counted >= MAX_FAILURES


@pytest.mark.db
def test_a_right_password_clears_the_count(db: Db) -> None:
    db.admin.add_user("forgetful", "Забывчивый", [])
    db.admin.set_password("forgetful", "forgetful-right-one")
    for _ in range(4):
        with pytest.raises(AuthenticationFailed):
            db.admin.start_session("forgetful", "nope")
    assert db.admin.start_session("forgetful", "forgetful-right-one")[1].login == "forgetful"
    for _ in range(4):  # a fresh count: four more wrong ones are checked, not throttled
        with pytest.raises(AuthenticationFailed) as failed:
            db.admin.start_session("forgetful", "nope")
        assert not isinstance(failed.value, TooManyAttempts)


@pytest.mark.db
@pytest.mark.parametrize(("password", "why"), [
    ("password", "top-10 common password"), ("12345678", "top-10 common password"),
    ("aaaaaaaa", "repeats like"), ("abcdefgh", "sequences like"), ("qwertyuiop", "common password"),
    ("P@ssw0rd1", "similar to a commonly used password"), ("ivanova2026", ""),
])
def test_common_and_trivial_passwords_are_refused_with_the_reason(db: Db, password: str, why: str) -> None:
    result = invoke(db.url, "user", "password", "ivanova", "--password-stdin", stdin=password + "\n")
    assert result.exit_code == EXIT_BAD_VALUE, result.output
    first = result.stderr.splitlines()[0]
    assert first.startswith("error: the password is too easy to guess") and why in first, result.stderr
    assert "hint: choose a longer one" in result.stderr
    with pytest.raises(InvalidValue) as refused:
        db.admin.set_password("ivanova", password)  # the same rule through the services
    assert refused.value.field == "password"


@pytest.mark.db
def test_strong_passwords_in_any_script_are_taken(db: Db) -> None:
    long_one = "a long sentence about a blue teapot on the windowsill, " * 4
    for password in ("пароль для Анны 2026", "correct horse battery", long_one):
        db.admin.set_password("ivanova", password)
        assert db.admin.start_session("ivanova", password)[1].login == "ivanova"


@pytest.mark.db
def test_a_password_change_ends_the_other_sessions_and_keeps_api_tokens(db: Db) -> None:
    db.admin.add_user("changer", "Сменщик", [])
    db.admin.set_password("changer", "first pass phrase")
    laptop, caller = db.admin.start_session("changer", "first pass phrase")
    phone, _ = db.admin.start_session("changer", "first pass phrase")
    stolen, _ = db.admin.start_session("changer", "first pass phrase")
    token = db.admin.create_token("changer")
    # the user changes it from the laptop's session: that one stays, the other two end
    assert db.admin.acting_for(laptop, "session", caller.csrf).set_password("changer", "second pass phrase") == 2
    assert db.admin.authenticate(laptop, "session").login == "changer"
    for ended in (phone, stolen):
        with pytest.raises(AuthenticationFailed):
            db.admin.authenticate(ended, "session")
    assert db.admin.authenticate(token).login == "changer"  # tokens are separate credentials
    # an administrator's change (the CLI) ends every session of the user
    result = invoke(db.url, "user", "password", "changer", "--password-stdin", stdin="third pass phrase\n")
    assert result.exit_code == 0 and "browser sessions ended: 1 (API tokens are kept)" in result.stderr
    with pytest.raises(AuthenticationFailed):
        db.admin.authenticate(laptop, "session")
    assert db.admin.authenticate(token).login == "changer"


def test_an_api_request_reads_the_deployed_version_with_its_credential(db_url: str, tmp_path: Path,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """One query checks an API request's credential and reads the deployed version (and whether an event
    subscription exists): a version deployed meanwhile, or a subscription made meanwhile, is still seen by
    the very next request."""
    from smartflow.deploy import apply as deploy
    from smartflow.services import engine as engine_module
    from tests.runtime.support import ORDER, write_definitions

    database = Db(db_url, tmp_path / "defs", *DOCUMENTS)
    try:
        database.admin.add_user("petrov", "Пётр Петров", ["clerk"])
        token = database.admin.create_token("petrov")
        first = database.admin.deployed_version()
        assert database.admin.acting_for(token).whoami() == "petrov"
        asked: list[bool] = []
        real = engine_module._latest_version
        monkeypatch.setattr(engine_module, "_latest_version", lambda *a: asked.append(True) or real(*a))
        assert database.admin.acting_for(token).deployed_version() == first
        assert asked == []  # read with the credential, in the same query
        noted = {**ORDER, "fields": {**ORDER["fields"], "remark": {"type": "text"}}}
        deploy.apply(write_definitions(tmp_path / "next", *(d if d is not ORDER else noted for d in DOCUMENTS)),
                     db_url)
        acting = database.admin.acting_for(token)
        assert acting.deployed_version() == first + 1
        assert "remark" in {field.id for field in acting.process("purchase").fields}
        with database.admin.acting_for(token).session(False) as write:
            assert not write.subscribed
        database.admin.subscribe("updated", "onCrmDynamicItemUpdate", "http://127.0.0.1:9/hook",
                                 allow_hosts={"127.0.0.1"})
        with database.admin.acting_for(token).session(False) as write:
            assert write.subscribed
        with pytest.raises(AuthenticationFailed):
            database.admin.acting_for("sf_wrong").deployed_version()
    finally:
        database.close()
