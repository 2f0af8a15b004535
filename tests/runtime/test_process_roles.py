"""Roles that belong to a process: a user holds a role in every process or only in named ones.

Rights, the process list, round-robin assignment, notifications, user pickers and the inbox all
weigh the roles a user holds *in that process*; a process the user has no right in is missing to
them, as one that does not exist. Also: the shipped examples' teams each read only their own
processes, and a database older than per-process roles keeps its users' roles (as held in every
process) when `smartflow apply` moves them.
"""

from __future__ import annotations

import json
import re
import shlex
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from smartflow import Engine
from smartflow.cli.exits import EXIT_BAD_VALUE, EXIT_DENIED, EXIT_NOT_DEPLOYED
from smartflow.deploy import apply as deploy
from smartflow.errors import InvalidValue, NotDeployed, PermissionDenied
from tests.conftest import PROCESSES, ROOT
from tests.runtime.support import Db, invoke, module_url

__all__ = ["module_url"]

ROLES: dict[str, Any] = {"kind": "Roles", "roles": {"agent": {"title": "Agent"}, "lead": {"title": "Lead"}}}
ORDER: dict[str, Any] = {
    "kind": "Process", "id": "orders", "title": {"ru": "Заказ", "en": "Order"},
    "fields": {"note": {"type": "string"}, "secret": {"type": "string"}},
    "pipelines": {"main": {"title": "Main", "default": True, "stages": {
        "new": {"title": "New"}, "work": {"title": "Work"}, "done": {"title": "Done", "semantic": "success"},
        "lost": {"title": "Lost", "semantic": "failure"}}}},
    "permissions": {"agent": {"read": "all", "create": "all", "update": "own", "delete": "none", "move": "all",
                              "export": "none", "import": "none", "stages": ["work"], "hidden_fields": ["secret"]},
                    "lead": "all"},
    "triggers": [{"id": "route", "on": "created",
                  "do": [{"assign": {"role": "agent", "strategy": "round_robin"}},
                         {"notify": {"roles": ["lead"], "message": "Новый заказ {{ title }}"}}]}],
}
CASE: dict[str, Any] = {
    "kind": "Process", "id": "cases", "title": {"ru": "Обращение", "en": "Case"},
    "fields": {"note": {"type": "string"}},
    "pipelines": {"main": {"title": "Main", "default": True, "stages": {
        "open": {"title": "Open"}, "closed": {"title": "Closed", "semantic": "success"},
        "dropped": {"title": "Dropped", "semantic": "failure"}}}},
    "permissions": {"agent": "all", "lead": "all"},
}


@pytest.fixture(scope="module")
def db(module_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Db]:
    database = Db(module_url, tmp_path_factory.mktemp("defs"), ROLES, ORDER, CASE)
    admin = database.admin
    admin.add_user("anna", "Анна", ["agent"], processes=["orders"])  # an agent of orders only
    admin.add_user("boris", "Борис", ["agent"], processes=["orders"])
    admin.add_user("clara", "Клара", ["agent"], processes=["cases"])  # an agent of cases only
    admin.add_user("lena", "Лена", ["lead"], processes=["orders"])
    admin.add_user("max", "Макс", ["lead"], processes=["cases"])
    admin.add_user("omni", "Омни", ["agent"])  # in every process
    yield database
    database.close()


def test_a_role_scoped_to_one_process_reads_it_and_the_other_is_missing_alike(db: Db) -> None:
    case = db.admin.create("cases", {"title": "Жалоба"})
    anna, omni = db.as_user("anna"), db.as_user("omni")
    order = anna.create("orders", {"title": "Заказ для Анны"})
    assert anna.get("orders", order)["title"] == "Заказ для Анны"
    assert [p["id"] for p in anna.processes()] == ["orders"]
    assert [p["id"] for p in omni.processes()] == ["orders", "cases"]
    assert [p["id"] for p in anna.describe()["processes"]] == ["orders"]
    for call in (lambda p: anna.get(p, case), lambda p: anna.list(p), lambda p: anna.kanban(p),
                 lambda p: anna.create(p, {"title": "x"}), lambda p: anna.describe(p)):
        with pytest.raises(NotDeployed) as hidden:
            call("cases")
        with pytest.raises(NotDeployed) as missing:
            call("nowhere")
        assert str(hidden.value) == "there is no process `cases`"
        assert hidden.value.hint == missing.value.hint
        assert str(missing.value) == "there is no process `nowhere`"
    assert omni.get("cases", case)["title"] == "Жалоба"


def test_hidden_fields_and_stages_follow_the_roles_held_in_the_process(db: Db) -> None:
    anna, lena = db.as_user("anna"), db.as_user("lena")
    assert anna.hidden_fields("orders") == frozenset({"secret"})
    assert lena.hidden_fields("orders") == frozenset()
    item = lena.create("orders", {"title": "Секрет", "secret": "42"})
    assert "secret" not in anna.get("orders", item)
    assert anna.explain("orders", item, "done") == ["your roles may not move items into stage `done`"]


def test_round_robin_and_notifications_take_only_the_roles_held_in_the_process(db: Db) -> None:
    ids = {u["login"]: u["id"] for u in db.admin.users()}
    assigned = [db.admin.get("orders", db.admin.create("orders", {"title": f"Заказ {n}"}))["assigned_to"]
                for n in range(4)]
    # anna, boris (order agents) and omni (agent everywhere) take turns; clara is an agent of cases only
    assert set(assigned) == {ids["anna"], ids["boris"], ids["omni"]}
    assert ids["clara"] not in assigned
    db.admin.work()
    assert [m["message"] for m in db.as_user("lena").inbox(limit=1)] == ["Новый заказ Заказ 3"]
    assert db.as_user("max").inbox() == []  # a lead of cases hears nothing of orders


def test_user_pickers_offer_the_people_with_a_right_in_the_process(db: Db) -> None:
    assert sorted(u["login"] for u in db.admin.users("orders")) == ["anna", "boris", "lena", "omni"]
    assert sorted(u["login"] for u in db.admin.users("cases")) == ["clara", "max", "omni"]
    assert sorted(u["login"] for u in db.as_user("anna").users("orders")) == ["anna", "boris", "lena", "omni"]
    with pytest.raises(NotDeployed):
        db.as_user("anna").users("cases")


def test_grant_and_revoke_per_process_and_everywhere(db: Db) -> None:
    admin = db.admin
    admin.add_user("petra", "Петра", [])
    assert admin.grant_role("petra", "agent", ["cases"])["process_roles"] == {"cases": ["agent"]}
    assert [p["id"] for p in db.as_user("petra").processes()] == ["cases"]
    assert admin.grant_role("petra", "agent", ["orders"])["process_roles"] == {"cases": ["agent"], "orders": ["agent"]}
    everywhere = admin.grant_role("petra", "agent")  # replaces the per-process grants of the role
    assert (everywhere["roles"], everywhere["process_roles"]) == (["agent"], {})
    assert admin.grant_role("petra", "agent", ["cases"])["roles"] == ["agent"]  # held already: nothing changes
    with pytest.raises(InvalidValue, match=r"^`petra` holds `agent` in every process, not per process$") as refused:
        admin.revoke_role("petra", "agent", ["cases"])
    assert refused.value.hint is not None and "smartflow user role remove petra agent" in refused.value.hint
    gone = admin.revoke_role("petra", "agent")
    assert (gone["roles"], gone["process_roles"]) == ([], {})
    assert db.as_user("petra").processes() == []
    with pytest.raises(InvalidValue, match="there is no process `cas`"):
        admin.grant_role("petra", "agent", ["cas"])
    with pytest.raises(InvalidValue, match="there is no role `agnet`"):
        admin.grant_role("petra", "agnet", ["cases"])
    with pytest.raises(PermissionDenied):
        db.as_user("lena").grant_role("petra", "lead", ["orders"])  # a lead of one process is no administrator
    actions = [(e["action"], e["target"], e["details"]) for e in admin.audit_log(target="petra")][:3]
    assert actions == [("role.remove", "petra", {"role": "agent", "processes": None}),
                       ("role.add", "petra", {"role": "agent", "processes": None}),
                       ("role.add", "petra", {"role": "agent", "processes": ["orders"]})]


def test_an_administrator_of_one_process_is_not_an_administrator_of_the_system(db: Db) -> None:
    db.admin.add_user("local_boss", "Локальный", ["administrator"], processes=["cases"])
    boss = db.as_user("local_boss")
    assert [p["id"] for p in boss.processes()] == ["cases"]
    assert boss.processes()[0]["may"]["delete"] == "all"
    with pytest.raises(PermissionDenied):
        boss.directory()


def test_the_cli_contract(db: Db) -> None:
    assert invoke(db.url, "user", "add", "vera", "--name", "Вера").exit_code == 0
    added = invoke(db.url, "user", "role", "add", "vera", "agent", "--process", "orders", "--process", "cases")
    assert (added.stdout, added.exit_code) == ("vera: agent (cases, orders)\n", 0)
    removed = invoke(db.url, "user", "role", "remove", "vera", "agent", "--process", "cases")
    assert (removed.stdout, removed.exit_code) == ("vera: agent (orders)\n", 0)
    hidden = invoke(db.url, "item", "list", "cases", as_user="vera")
    missing = invoke(db.url, "item", "list", "nowhere", as_user="vera")
    assert hidden.exit_code == missing.exit_code == EXIT_NOT_DEPLOYED
    assert hidden.stderr.replace("`cases`", "`X`") == missing.stderr.replace("`nowhere`", "`X`")
    assert invoke(db.url, "user", "role", "add", "vera", "agent").stdout == "vera: agent\n"
    refused = invoke(db.url, "user", "role", "remove", "vera", "agent", "--process", "orders")
    assert refused.exit_code == EXIT_BAD_VALUE
    assert invoke(db.url, "user", "role", "remove", "vera", "agent").stdout == "vera: no roles\n"
    denied = invoke(db.url, "user", "role", "add", "vera", "agent", as_user="anna")
    assert (denied.exit_code, denied.stderr.splitlines()[0]) == (
        EXIT_DENIED, "error: only administrators manage users and departments")


def test_access_report_says_who_may_do_what(db: Db) -> None:
    report = json.loads(invoke(db.url, "access", "orders", "--format", "json").stdout)
    by_login = {u["login"]: u for u in report["users"]}
    assert {"anna", "boris", "lena", "omni"} <= set(by_login) and "clara" not in by_login
    assert by_login["anna"]["levels"]["update"] == "own"
    assert by_login["anna"]["stages"] == ["work"]
    assert by_login["anna"]["hidden_fields"] == ["secret"]
    assert by_login["lena"]["stages"] == ["new", "work", "done", "lost"]
    table = invoke(db.url, "access", "orders")
    assert table.exit_code == 0
    anna_line = next(line for line in table.stdout.splitlines() if line.startswith("anna"))
    assert anna_line.split() == ["anna", "all", "agent", "all", "all", "own", "none", "all", "none", "none", "work",
                                 "secret"]
    mine = json.loads(invoke(db.url, "access", "--user", "clara", "--format", "json").stdout)
    assert {p["process"]: p["visible"] for p in mine["processes"]} == {"orders": False, "cases": True}
    assert invoke(db.url, "access", as_user=None).exit_code == 2
    assert invoke(db.url, "access", "orders", as_user="anna").exit_code == EXIT_DENIED


def test_the_inbox_leaves_out_news_of_a_process_the_user_no_longer_has_a_right_in(db: Db) -> None:
    db.admin.add_user("nora", "Нора", ["lead"], processes=["orders"])
    db.admin.create("orders", {"title": "Для Норы"})
    db.admin.work()
    assert [m["message"] for m in db.as_user("nora").inbox()] == ["Новый заказ Для Норы"]
    db.admin.revoke_role("nora", "lead", ["orders"])
    db.admin.grant_role("nora", "lead", ["cases"])
    assert db.as_user("nora").inbox() == []


# ---- the shipped examples -----------------------------------------------------------------

TEAMS = {"procurement": {"procurement"}, "complaints": {"complaint"}, "hr": {"candidate"},
         "clinic": {"patient", "appointment"}}


def _demo_people(example: str) -> list[list[str]]:
    """The `smartflow department add` and `smartflow user add` commands of an example's demo.sh."""
    text = (ROOT / "examples" / example / "demo.sh").read_text(encoding="utf-8")
    return [shlex.split(line.strip())[1:] for line in text.splitlines()
            if re.match(r"\s*smartflow (department|user) add ", line)]


def test_no_example_user_reads_a_process_their_team_does_not_work_in(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'examples.db'}"
    deploy.apply(deploy.load_desired([PROCESSES]), url)
    team_of: dict[str, str] = {}
    for example in TEAMS:
        for command in _demo_people(example):
            result = invoke(url, *command)
            assert result.exit_code == 0, (command, result.stderr)
            if command[0] == "user":
                team_of[command[2]] = example
    assert len(team_of) >= 12
    with Engine(url) as admin:
        one_item = {}  # an item of each process, written straight to its table (the processes' required fields
        with admin.session(True) as write:  # aside): what matters is who may read it
            for process_id, compiled in write.compiled.processes.items():
                pipeline = compiled.process.default_pipeline
                one_item[process_id] = int(write.connection.execute(compiled.table.insert().values(
                    title="чужое", pipeline=pipeline.id, stage=pipeline.stages[0].id, created_at=datetime.now(UTC),
                    updated_at=datetime.now(UTC), version=1)).inserted_primary_key[0])
        for login, example in team_of.items():
            user = admin.as_user(login)
            seen = {p["id"] for p in user.processes()}
            assert seen and seen <= TEAMS[example], (login, seen)
            for process_id, item_id in one_item.items():
                if process_id not in TEAMS[example]:
                    with pytest.raises(NotDeployed):  # another team's item: missing, as a process that is not
                        user.get(process_id, item_id)


def test_the_board_tests_users_are_the_examples_teams() -> None:
    """tests/web/support.py USERS (the board's tests' people) hold their roles where demo.sh gives them."""
    from tests.web.support import USERS

    given: dict[str, list[str]] = {}
    for example in TEAMS:
        for command in _demo_people(example):
            if command[0] == "user":
                processes = [command[i + 1] for i, word in enumerate(command) if word == "--process"]
                given[command[2]] = processes
    for login, _, _, _, processes in USERS:
        if login in given:
            assert processes == given[login], login
        else:
            assert login == "boss" and processes == []


# ---- a database older than per-process roles ---------------------------------------------------


def test_apply_moves_the_roles_of_an_older_database_as_held_in_every_process(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'old.db'}"
    deploy.apply(deploy.load_desired([PROCESSES]), url)
    engine = sa.create_engine(url)
    with engine.begin() as connection:  # the tables as smartflow made them before roles per process
        connection.execute(sa.text("DROP TABLE sf_role_grants"))
        connection.execute(sa.text("DROP TABLE sf_audit"))
        connection.execute(sa.text("CREATE TABLE sf_user_roles (user_id INTEGER NOT NULL REFERENCES sf_users(id), "
                                   "role VARCHAR(28) NOT NULL, PRIMARY KEY (user_id, role))"))
        connection.execute(sa.text("ALTER TABLE sf_users DROP COLUMN email"))
        connection.execute(sa.text("ALTER TABLE sf_departments DROP COLUMN head_id"))
        connection.execute(sa.text("INSERT INTO sf_users (login, name, active, created_at) "
                                   "VALUES ('petrov', 'Пётр', 1, '2026-01-01 00:00:00')"))
        connection.execute(sa.text("INSERT INTO sf_user_roles SELECT id, 'manager' FROM sf_users"))
    engine.dispose()
    planned = deploy.plan(deploy.load_desired([PROCESSES]), url)
    texts = [op.describe() for op in planned.changes]
    assert any("sf_role_grants" in text and "sf_user_roles" in text for text in texts), texts
    assert "add column(s) email to smartflow's table sf_users" in texts
    deploy.apply(deploy.load_desired([PROCESSES]), url)
    with Engine(url) as admin:
        petrov = admin.directory()["users"][0]
        assert (petrov["login"], petrov["roles"], petrov["process_roles"], petrov["email"]) == (
            "petrov", ["manager"], {}, None)
        assert {p["id"] for p in admin.as_user("petrov").processes()} >= {"procurement", "patient"}
    inspector = sa.inspect(sa.create_engine(url))
    assert not inspector.has_table("sf_user_roles")


def test_a_database_not_yet_brought_up_to_date_says_to_run_apply(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'stale.db'}"
    deploy.apply(deploy.load_desired([PROCESSES]), url)
    with Engine(url) as admin:
        admin.add_user("petrov", "Пётр", ["manager"], processes=["procurement"])
    engine = sa.create_engine(url)
    with engine.begin() as connection:
        connection.execute(sa.text("ALTER TABLE sf_role_grants RENAME TO sf_user_roles_old"))
    engine.dispose()
    result = invoke(url, "item", "list", "procurement", as_user="petrov")
    assert (result.exit_code, result.stderr) == (EXIT_NOT_DEPLOYED, (
        "error: this database's smartflow tables are older than this smartflow\n"
        "  hint: run `smartflow apply` once: it adds the new tables and columns, keeping the data\n"))
