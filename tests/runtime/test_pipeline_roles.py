"""Roles held in named pipelines of a process only: `smartflow user role add LOGIN ROLE --process P
--pipeline A`. Such a role grants nothing on the items of the process's other pipelines: they answer
404 as missing items do, lists, counts, the board, exports and search leave them out, a move into
another pipeline is refused, and round-robin assignment, notifications and user pickers take only
the holders of a role for the item's pipeline. The rule lives in the runtime's row filter, so the
engine, the CLI and the HTTP API (tested here) answer alike. A database whose role grants predate
pipelines keeps every grant when `smartflow apply` rebuilds the table. On SQLite and PostgreSQL.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from smartflow import Engine
from smartflow.cli.exits import EXIT_BAD_VALUE, EXIT_NOT_FOUND
from smartflow.data.export import ExportOptions
from smartflow.deploy import apply as deploy
from smartflow.errors import InvalidValue, NotFound, PermissionDenied, TransitionNotAllowed
from smartflow.http.app import create_app
from tests.conftest import PROCESSES
from tests.runtime.support import Db, invoke, module_url

__all__ = ["module_url"]
pytestmark = pytest.mark.db

ROLES: dict[str, Any] = {"kind": "Roles", "roles": {"buyer": {"title": "Buyer"}, "chief": {"title": "Chief"}}}
STAGES: dict[str, Any] = {"new": {"title": "New"}, "contract": {"title": "Contract"},
                          "done": {"title": "Done", "semantic": "success"},
                          "cancelled": {"title": "Cancelled", "semantic": "failure"}}
PURCHASES: dict[str, Any] = {
    "kind": "Process", "id": "purchases", "title": {"ru": "Закупка", "en": "Purchase"},
    "fields": {"price": {"type": "number"}},
    "pipelines": {"materials": {"title": "Materials", "default": True, "stages": STAGES},
                  "equipment": {"title": "Equipment", "stages": copy.deepcopy(STAGES)}},
    "permissions": {"buyer": {"read": "all", "create": "all", "update": "all", "delete": "none", "move": "all",
                              "export": "all", "import": "none"},
                    "chief": "all"},
    "triggers": [{"id": "route", "on": "created",
                  "do": [{"assign": {"role": "buyer", "strategy": "round_robin"}},
                         {"notify": {"roles": ["chief"], "message": "Новая закупка {{ title }}"}}]}],
}


@pytest.fixture(scope="module")
def db(module_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Db]:
    database = Db(module_url, tmp_path_factory.mktemp("defs"), ROLES, PURCHASES)
    admin = database.admin
    admin.add_user("anna", "Анна", ["buyer"], processes=["purchases"], pipelines=["materials"])
    admin.add_user("boris", "Борис", ["buyer"], processes=["purchases"], pipelines=["materials"])
    admin.add_user("egor", "Егор", ["buyer"], processes=["purchases"], pipelines=["equipment"])
    admin.add_user("olga", "Ольга", ["buyer"], processes=["purchases"])  # in every pipeline of purchases
    admin.add_user("max", "Макс", ["chief"], processes=["purchases"], pipelines=["equipment"])
    yield database
    database.close()


def _items(db: Db) -> tuple[int, int]:
    """A new item of each pipeline, created by the local administrator."""
    return (db.admin.create("purchases", {"title": "Кирпич"}, pipeline="materials"),
            db.admin.create("purchases", {"title": "Станок"}, pipeline="equipment"))


def test_a_role_in_one_pipeline_reads_it_and_the_others_items_are_missing_alike(db: Db) -> None:
    brick, lathe = _items(db)
    anna = db.as_user("anna")
    assert anna.get("purchases", brick)["title"] == "Кирпич"
    with pytest.raises(NotFound) as hidden:
        anna.get("purchases", lathe)
    with pytest.raises(NotFound) as missing:
        anna.get("purchases", 2**31 - 1)
    assert str(hidden.value).replace(str(lathe), "N") == str(missing.value).replace(str(2**31 - 1), "N")
    assert hidden.value.hint == missing.value.hint
    for call in (lambda i: anna.update("purchases", i, {"price": 5}), lambda i: anna.move("purchases", i, "contract"),
                 lambda i: anna.card("purchases", i), lambda i: anna.history("purchases", i)):
        with pytest.raises(NotFound):
            call(lathe)
    assert [p["id"] for p in anna.processes()] == ["purchases"]
    assert [p["id"] for p in anna.describe("purchases")["pipelines"]] == ["materials"]  # the other is not offered
    assert [p["id"] for p in db.as_user("olga").describe("purchases")["pipelines"]] == ["materials", "equipment"]


def test_lists_counts_the_board_search_and_exports_leave_the_other_pipeline_out(db: Db, tmp_path: Path) -> None:
    brick, lathe = _items(db)
    anna, olga = db.as_user("anna"), db.as_user("olga")
    mine = {i["id"] for i in anna.list("purchases")}
    assert brick in mine and lathe not in mine
    assert {i["pipeline"] for i in anna.list("purchases")} == {"materials"}
    assert anna.count("purchases") == len(olga.list("purchases", pipeline="materials", limit=500))
    assert anna.count("purchases") < olga.count("purchases")
    assert anna.list("purchases", pipeline="equipment") == []
    assert anna.list("purchases", search="Станок") == []
    equipment_board = anna.kanban("purchases", "equipment")
    assert sum(column["count"] for column in equipment_board["columns"]) == 0
    assert sum(column["count"] for column in olga.kanban("purchases", "equipment")["columns"]) >= 1
    target = tmp_path / "mine.csv"
    anna.export("purchases", target, ExportOptions())
    text = target.read_text(encoding="utf-8-sig")
    assert "Кирпич" in text and "Станок" not in text


def test_a_move_into_another_pipeline_is_refused_to_a_role_of_one_pipeline(db: Db) -> None:
    brick, _ = _items(db)
    anna, olga = db.as_user("anna"), db.as_user("olga")
    assert db.admin.explain("purchases", brick, "new", "equipment") == []  # the move itself is allowed
    assert anna.explain("purchases", brick, "new", "equipment") == [
        "your roles may not move items into stage `new` of pipeline `equipment`"]
    with pytest.raises((PermissionDenied, TransitionNotAllowed)):
        anna.move("purchases", brick, "new", pipeline="equipment")
    assert db.admin.get("purchases", brick)["pipeline"] == "materials"
    olga.move("purchases", brick, "new", pipeline="equipment")  # a buyer of every pipeline may
    assert db.admin.get("purchases", brick)["pipeline"] == "equipment"
    with pytest.raises(PermissionDenied, match="in pipeline `equipment`"):
        anna.create("purchases", {"title": "Не моё"}, pipeline="equipment")


def test_round_robin_and_notifications_take_the_holders_for_the_items_pipeline(db: Db) -> None:
    ids = {u["login"]: u["id"] for u in db.admin.users()}
    materials = [db.admin.get("purchases", db.admin.create("purchases", {"title": f"М{n}"}))["assigned_to"]
                 for n in range(6)]
    equipment = [db.admin.get("purchases", db.admin.create("purchases", {"title": f"О{n}"}, pipeline="equipment"))[
        "assigned_to"] for n in range(4)]
    assert set(materials) == {ids["anna"], ids["boris"], ids["olga"]}  # egor is a buyer of equipment only
    assert set(equipment) == {ids["egor"], ids["olga"]}  # anna and boris, of materials only
    db.admin.work()
    heard = [m["message"] for m in db.as_user("max").inbox(limit=50)]
    assert "Новая закупка О3" in heard and not any(m.startswith("Новая закупка М") for m in heard)


def test_user_pickers_offer_the_people_with_a_right_in_the_pipeline(db: Db) -> None:
    anna = db.as_user("anna")
    everyone = {u["login"] for u in anna.pickable_people("purchases")}
    assert {"anna", "boris", "egor", "olga", "max"} <= everyone
    assert {u["login"] for u in anna.pickable_people("purchases", pipeline="equipment")} == {"egor", "olga", "max"}
    assert {u["login"] for u in anna.pickable_people("purchases", pipeline="materials")} == {"anna", "boris", "olga"}


def test_grant_and_revoke_per_pipeline(db: Db) -> None:
    admin = db.admin
    admin.add_user("petra", "Петра", [])
    given = admin.grant_role("petra", "buyer", ["purchases"], ["equipment"])
    assert (given["roles"], given["process_roles"], given["pipeline_roles"]) == (
        [], {}, {"purchases": {"equipment": ["buyer"]}})
    assert admin.grant_role("petra", "buyer", ["purchases"], ["materials"])["pipeline_roles"] == {
        "purchases": {"equipment": ["buyer"], "materials": ["buyer"]}}
    whole = admin.grant_role("petra", "buyer", ["purchases"])  # all of the process folds the pipelines in
    assert (whole["process_roles"], whole["pipeline_roles"]) == ({"purchases": ["buyer"]}, {})
    with pytest.raises(InvalidValue, match=r"^`petra` holds `buyer` in all of purchases, not per pipeline$"):
        admin.revoke_role("petra", "buyer", ["purchases"], ["equipment"])
    admin.revoke_role("petra", "buyer", ["purchases"])
    admin.grant_role("petra", "buyer", ["purchases"], ["equipment"])
    assert admin.revoke_role("petra", "buyer", ["purchases"], ["equipment"])["pipeline_roles"] == {}
    with pytest.raises(InvalidValue, match="needs exactly one process") as alone:
        admin.grant_role("petra", "buyer", [], ["equipment"])
    assert alone.value.hint == "name it: smartflow user role add LOGIN ROLE --process PROCESS --pipeline PIPELINE"
    with pytest.raises(InvalidValue, match="purchases has no pipeline `equipmnt`") as typo:
        admin.grant_role("petra", "buyer", ["purchases"], ["equipmnt"])
    assert typo.value.hint == "did you mean `equipment`?"
    assert admin.user("petra")["pipeline_roles"] == {}  # refusals wrote nothing
    logged = [e["details"] for e in admin.audit_log(target="petra")][:2]
    assert logged == [{"role": "buyer", "processes": ["purchases"], "pipelines": ["equipment"]}] * 2


def test_the_cli_and_the_access_report_show_the_pipeline(db: Db) -> None:
    assert invoke(db.url, "user", "add", "vera", "--name", "Вера").exit_code == 0
    added = invoke(db.url, "user", "role", "add", "vera", "buyer", "--process", "purchases",
                   "--pipeline", "equipment")
    assert (added.stdout, added.exit_code) == ("vera: buyer (purchases: equipment)\n", 0)
    lonely = invoke(db.url, "user", "role", "add", "vera", "buyer", "--pipeline", "equipment")
    assert lonely.exit_code == EXIT_BAD_VALUE
    assert lonely.stderr.splitlines()[0] == ("error: a role held in named pipelines needs exactly one process, "
                                             "the one they belong to")
    _, lathe = _items(db)
    brick = db.admin.create("purchases", {"title": "Песок"})
    assert invoke(db.url, "item", "show", "purchases", str(lathe), as_user="vera").exit_code == 0
    hidden = invoke(db.url, "item", "show", "purchases", str(brick), as_user="vera")
    missing = invoke(db.url, "item", "show", "purchases", str(2**31 - 1), as_user="vera")
    assert hidden.exit_code == missing.exit_code == EXIT_NOT_FOUND
    assert hidden.stderr.replace(str(brick), "N") == missing.stderr.replace(str(2**31 - 1), "N")
    report = json.loads(invoke(db.url, "access", "purchases", "--format", "json").stdout)
    rows = [(u["login"], u["pipeline"]) for u in report["users"]]
    assert ("vera", "equipment") in rows and ("olga", None) in rows and ("vera", None) not in rows
    vera = next(u for u in report["users"] if u["login"] == "vera")
    assert vera["stages"] == ["new", "contract", "done", "cancelled"] and vera["levels"]["read"] == "all"
    table = invoke(db.url, "access", "purchases").stdout.splitlines()
    assert next(line for line in table if line.startswith("vera")).split()[:4] == ["vera", "equipment", "buyer",
                                                                                   "all"]
    mine = json.loads(invoke(db.url, "access", "--user", "vera", "--format", "json").stdout)
    assert [(p["process"], p["pipeline"], p["levels"]["read"]) for p in mine["processes"]] == [
        ("purchases", "equipment", "all")]
    assert "purchases  equipment" in invoke(db.url, "access", "--user", "vera").stdout
    removed = invoke(db.url, "user", "role", "remove", "vera", "buyer", "--process", "purchases",
                     "--pipeline", "equipment")
    assert (removed.stdout, removed.exit_code) == ("vera: no roles\n", 0)


def test_the_api_grants_a_role_per_pipeline_and_answers_404_alike(db: Db) -> None:
    db.admin.add_user("api_boss", "Босс", ["administrator"])
    db.admin.add_user("ivan", "Иван", [])
    brick, lathe = _items(db)
    with TestClient(create_app(engine=db.admin), raise_server_exceptions=False) as client:
        def call(method: str, path: str, login: str, **kwargs: Any) -> Any:
            token = tokens.setdefault(login, db.admin.create_token(login))
            return client.request(method, path, headers={"Authorization": f"Bearer {token}"}, **kwargs)

        tokens: dict[str, str] = {}
        given = call("POST", "/api/v1/users/ivan/roles", "api_boss",
                     json={"role": "buyer", "processes": ["purchases"], "pipelines": ["materials"]})
        assert given.status_code == 200, given.text
        assert given.json()["pipeline_roles"] == {"purchases": {"materials": ["buyer"]}}
        items = "/api/v1/processes/purchases/items"
        assert call("GET", f"{items}/{brick}", "ivan").status_code == 200
        hidden, missing = call("GET", f"{items}/{lathe}", "ivan"), call("GET", f"{items}/{2**31 - 1}", "ivan")
        assert hidden.status_code == missing.status_code == 404
        assert hidden.json()["hint"] == missing.json()["hint"]
        listed = call("GET", items, "ivan").json()
        assert lathe not in {i["id"] for i in listed["items"]} and brick in {i["id"] for i in listed["items"]}
        bad = call("POST", "/api/v1/users/ivan/roles", "api_boss", json={"role": "buyer", "pipelines": ["materials"]})
        assert bad.status_code == 422 and "needs exactly one process" in bad.json()["message"]
        taken = call("DELETE", "/api/v1/users/ivan/roles/buyer", "api_boss",
                     params={"process": "purchases", "pipeline": "materials"})
        assert taken.status_code == 200 and taken.json()["pipeline_roles"] == {}
        assert call("GET", f"{items}/{brick}", "ivan").status_code == 404


# ---- a database whose role grants predate pipelines ---------------------------------------------------


def test_apply_rebuilds_the_grants_of_an_older_database_keeping_every_grant(db_url: str) -> None:
    deploy.apply(deploy.load_desired([PROCESSES]), db_url)
    with Engine(db_url) as admin:
        admin.add_user("petrov", "Пётр", ["buyer"], processes=["procurement"])
        admin.add_user("sidorov", "Сидор", ["administrator"])
        admin.add_user("kozlova", "Анна", ["doctor", "registrar"], processes=["patient", "appointment"])
        before = sorted((u["login"], u["roles"], u["process_roles"]) for u in admin.directory()["users"])
    engine = sa.create_engine(db_url)
    with engine.begin() as connection:  # the table as smartflow made it before roles per pipeline
        rows = connection.execute(sa.text("SELECT user_id, role, process FROM sf_role_grants")).all()
        connection.execute(sa.text("DROP TABLE sf_role_grants"))
        connection.execute(sa.text(
            "CREATE TABLE sf_role_grants (user_id INTEGER NOT NULL REFERENCES sf_users(id) ON DELETE CASCADE, "
            "role VARCHAR(28) NOT NULL, process VARCHAR(28) DEFAULT '*' NOT NULL, "
            "PRIMARY KEY (user_id, role, process))"))
        for row in rows:
            connection.execute(sa.text("INSERT INTO sf_role_grants VALUES (:u, :r, :p)"),
                               {"u": row.user_id, "r": row.role, "p": row.process})
    engine.dispose()
    stale = invoke(db_url, "item", "list", "procurement", as_user="petrov")
    assert "older than this smartflow" in stale.stderr
    planned = deploy.plan(deploy.load_desired([PROCESSES]), db_url)
    assert [op.describe() for op in planned.changes][:1] == [
        "rebuild smartflow's table sf_role_grants with a pipeline column (roles held in some pipelines only); "
        "every existing grant is kept, in every pipeline as before"]
    deploy.apply(deploy.load_desired([PROCESSES]), db_url)
    with Engine(db_url) as admin:
        after = sorted((u["login"], u["roles"], u["process_roles"]) for u in admin.directory()["users"])
        assert after == before
        assert all(u["pipeline_roles"] == {} for u in admin.directory()["users"])
        assert [p["id"] for p in admin.as_user("petrov").processes()] == ["procurement"]
        admin.grant_role("petrov", "buyer", ["patient"], ["treatment"])  # the rebuilt table takes pipelines
    engine = sa.create_engine(db_url)
    with engine.connect() as connection:
        inspector = sa.inspect(connection)
        assert "pipeline" in {c["name"] for c in inspector.get_columns("sf_role_grants")}
        assert not inspector.has_table("sf_role_grants_before_pipelines")
    engine.dispose()
    assert deploy.plan(deploy.load_desired([PROCESSES]), db_url).changes == []
