"""What automation keeps between changes lives with the deployed version, and only what the version
decides: compiled templates, the names they read, the trigger's own identity, the fields some role
hides, the keys naming users. A new version brings new ones (the same Engine, without a restart);
a user's roles are asked on every change, so a rights change takes effect at once."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa

from smartflow.deploy import apply as deploy
from tests.runtime.support import Db, module_url, write_definitions

__all__ = ["module_url"]  # the fixture, imported for pytest

ROLES: dict[str, Any] = {"kind": "Roles", "roles": {"hr": {"title": "HR"}, "desk": {"title": "Desk"}}}


def vacancy(version: str, desk_hides: list[str]) -> dict[str, Any]:
    return {
        "kind": "Process", "id": "cvac", "title": "Vacancy",
        "fields": {"salary": {"type": "integer"}, "note": {"type": "string"}, "boss": {"type": "user"}},
        "pipelines": {"main": {"title": "Main", "default": True, "stages": {
            "open": {"title": "Open"}, "work": {"title": "Work"}, "won": {"title": "Won", "semantic": "success"},
            "lost": {"title": "Lost", "semantic": "failure"}}}},
        "triggers": [
            {"id": "told", "on": "stage_entered", "stage": "work", "do": [
                {"comment": f"{version}: {{{{ title }}}} pays {{{{ salary }}}}"},
                {"notify": {"users": ["@clerk"], "message": f"{version}: {{{{ salary }}}}"}}]},
            {"id": "copied", "on": "stage_entered", "stage": "won", "run_as": "clerk", "do": [
                {"set": {"note": f"{version} was {{{{ salary }}}}", "boss": "{{ created_by }}"}}]},
        ],
        "permissions": {"hr": "all", "desk": {"read": "all", "update": "all", "move": "all",
                                              "hidden_fields": desk_hides}},
    }


@pytest.fixture(scope="module")
def db(module_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Db]:
    database = Db(module_url, tmp_path_factory.mktemp("defs"), ROLES, vacancy("v1", []))
    database.admin.add_user("clerk", "Clerk", ["desk"], None)
    yield database
    database.close()


def _messages(db: Db, item_id: int) -> list[str]:
    with db.raw.connect() as connection:
        rows = connection.execute(sa.text("SELECT payload FROM sf_outbox ORDER BY id")).scalars().all()
    payloads = [row if isinstance(row, dict) else json.loads(row) for row in rows]
    return [p["message"] for p in payloads if p.get("item_id") == item_id and p.get("trigger") == "cvac.told"]


def _comments(db: Db, item_id: int) -> list[str]:
    return [h["new"] for h in db.admin.history("cvac", item_id) if h["kind"] == "comment"]


def test_a_new_version_renders_with_its_own_templates_and_hidden_fields(db: Db, tmp_path: Any) -> None:
    deploy.apply(write_definitions(tmp_path / "v1", ROLES, vacancy("v1", [])), db.url)
    item_id = db.admin.create("cvac", {"title": "Engineer", "salary": 100})
    db.admin.move("cvac", item_id, "work")
    assert _comments(db, item_id) == ["v1: Engineer pays 100"]
    assert _messages(db, item_id) == ["v1: 100"]

    # the same Engine, which compiled v1 and its triggers: v2 changes the texts and hides the salary from the desk
    deploy.apply(write_definitions(tmp_path / "v2", ROLES, vacancy("v2", ["salary"])), db.url)
    db.admin.move("cvac", item_id, "open")
    db.admin.move("cvac", item_id, "work")
    assert _comments(db, item_id) == ["v1: Engineer pays 100", "v2: Engineer pays (hidden)"]
    assert _messages(db, item_id) == ["v1: 100", "v2: (hidden)"]

    deploy.apply(write_definitions(tmp_path / "v3", ROLES, vacancy("v3", [])), db.url)  # and back
    db.admin.move("cvac", item_id, "open")
    db.admin.move("cvac", item_id, "work")
    assert _comments(db, item_id)[-1] == "v3: Engineer pays 100"
    assert _messages(db, item_id)[-1] == "v3: 100"


def test_a_rights_change_takes_effect_on_the_next_change(db: Db, tmp_path: Any) -> None:
    deploy.apply(write_definitions(tmp_path / "v1", ROLES, vacancy("v1", ["salary"])), db.url)
    first = db.admin.create("cvac", {"title": "Engineer", "salary": 100})
    db.admin.move("cvac", first, "work")
    db.admin.move("cvac", first, "won")  # `copied` runs as the clerk, who may not see the salary
    assert db.admin.get("cvac", first)["note"] == "v1 was (hidden)"
    assert _messages(db, first) == ["v1: (hidden)"]

    with db.raw.begin() as connection:  # the clerk joins HR: nothing is redeployed
        connection.execute(sa.text("INSERT INTO sf_role_grants (user_id, role, process) VALUES (:user, 'hr', '*')"),
                           {"user": db.user_id("clerk")})
    second = db.admin.create("cvac", {"title": "Designer", "salary": 200})
    db.admin.move("cvac", second, "work")
    db.admin.move("cvac", second, "won")
    assert db.admin.get("cvac", second)["note"] == "v1 was 200"
    assert _messages(db, second) == ["v1: 200"]
    assert db.admin.get("cvac", second)["boss"] == db.admin.get("cvac", second)["created_by"]

    with db.raw.begin() as connection:  # and leaves it again
        connection.execute(sa.text("DELETE FROM sf_role_grants WHERE user_id = :user AND role = 'hr'"),
                           {"user": db.user_id("clerk")})
    third = db.admin.create("cvac", {"title": "Tester", "salary": 300})
    db.admin.move("cvac", third, "work")
    db.admin.move("cvac", third, "won")
    assert db.admin.get("cvac", third)["note"] == "v1 was (hidden)"
    assert _messages(db, third) == ["v1: (hidden)"]


def test_a_process_s_triggers_are_compiled_when_it_first_changes() -> None:
    from smartflow.automation.triggers import Automation
    from tests.conftest import PROCESSES

    processes = list(deploy.load_desired([PROCESSES]).definition.processes)
    automation = Automation(processes)
    assert list(automation.by_process) == [p.id for p in processes]
    assert automation.by_process._built == {}  # type: ignore[attr-defined]  # nothing compiled yet
    procurement = automation.by_process["procurement"]
    assert [t.name for t in procurement] == [f"procurement.{t.id}" for t in processes[
        [p.id for p in processes].index("procurement")].triggers]
    assert automation.by_process["procurement"] is procurement  # compiled once
    assert set(automation.by_process._built) == {"procurement"}  # type: ignore[attr-defined]
    assert automation.by_process.get("nothing") is None and "nothing" not in automation.by_process
    assert len(automation.names) == sum(len(p.triggers) for p in processes)  # every name: all compiled
