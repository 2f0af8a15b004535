"""Field-level rules on every write path: `visible_when`, `required_when`, `read_only_when`, a stage's
`read_only` and a role's `read_only_fields` — through create, update, move, explain, import and an
automation `set` — and no message names a field hidden from its reader."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from smartflow.errors import AutomationFailed, InvalidValue, PermissionDenied, TransitionNotAllowed
from tests.runtime.support import Db, module_url
from tests.runtime.test_cli_items import invoke

__all__ = ["module_url"]  # the fixture, imported for pytest

ROLES: dict[str, Any] = {"kind": "Roles", "roles": {"doctor": {"title": "Doctor"}, "nurse": {"title": "Nurse"}}}
VISIT: dict[str, Any] = {
    "kind": "Process", "id": "visit", "title": "Visit",
    "fields": {
        "kind": {"type": "enum", "options": [{"id": "first", "title": "First"}, {"id": "repeat", "title": "Repeat"}]},
        "referral": {"type": "string", "visible_when": "kind == 'repeat'"},
        "diagnosis": {"type": "text", "required_when": "stage == 'done'", "read_only_when": "closed_at"},
        "fee": {"type": "integer", "required_when": "kind == 'first'"},
        "room": {"type": "string"},
        "escalate": {"type": "boolean"},
    },
    "pipelines": {"main": {"title": "Main", "default": True, "stages": {
        "open": {"title": "Open"}, "seen": {"title": "Seen", "read_only": ["kind"]},
        "review": {"title": "Review", "required": ["diagnosis", "room"]},
        "done": {"title": "Done", "semantic": "success"}, "dropped": {"title": "Dropped", "semantic": "failure"}}}},
    "triggers": [{"id": "lock_room", "on": "field_changed", "field": "escalate", "to": True,
                  "do": [{"set": {"kind": "first"}}]}],
    "permissions": {"doctor": "all",
                    "nurse": {"read": "all", "create": "all", "update": "all", "move": "all",
                              "hidden_fields": ["diagnosis"], "read_only_fields": ["fee"]}},
}


@pytest.fixture(scope="module")
def db(module_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Db]:
    database = Db(module_url, tmp_path_factory.mktemp("defs"), ROLES, VISIT)
    database.admin.add_user("house", "Dr House", ["doctor"], None)
    database.admin.add_user("joy", "Nurse Joy", ["nurse"], None)
    yield database
    database.close()


def test_visible_when_decides_whether_a_field_may_be_filled_and_is_on_the_card(db: Db) -> None:
    house = db.as_user("house")
    with pytest.raises(InvalidValue, match=r"field `referral` is not shown on this item \(`visible_when: "
                                           r"kind == 'repeat'` is false\)"):
        house.create("visit", {"title": "t", "referral": "Dr Who"})
    item_id = house.create("visit", {"title": "t", "kind": "repeat", "referral": "Dr Who"})
    assert house.card("visit", item_id)["item"]["referral"] == "Dr Who"
    house.update("visit", item_id, {"kind": "first", "fee": 10})
    assert "referral" not in house.card("visit", item_id)["item"]  # kept, but not on this item's card
    assert house.get("visit", item_id)["referral"] == "Dr Who"


def test_required_when_holds_on_create_update_and_move(db: Db) -> None:
    house = db.as_user("house")
    with pytest.raises(InvalidValue, match="field `fee` is required when `kind == 'first'`, and it is empty"):
        house.create("visit", {"title": "t", "kind": "first"})
    item_id = house.create("visit", {"title": "t", "kind": "repeat"})
    with pytest.raises(InvalidValue, match="field `fee` is required"):
        house.update("visit", item_id, {"kind": "first"})
    assert house.explain("visit", item_id, "done") == [
        "field `diagnosis` is required when `stage == 'done'`, and it is empty"]
    with pytest.raises(TransitionNotAllowed, match="`diagnosis` is required"):
        house.move("visit", item_id, "done")
    # the nurse may not see the diagnosis: the refusal does not name it
    joy = db.as_user("joy")
    assert joy.explain("visit", item_id, "done") == ["a field you may not see is required here, and it is empty"]
    house.update("visit", item_id, {"diagnosis": "flu"})
    house.move("visit", item_id, "done")
    assert db.admin.get("visit", item_id)["stage"] == "done"


def test_read_only_by_condition_stage_and_role(db: Db) -> None:
    house, joy = db.as_user("house"), db.as_user("joy")
    item_id = house.create("visit", {"title": "t", "kind": "repeat", "diagnosis": "cold"})
    with pytest.raises(PermissionDenied, match="you may not set field `fee` of visit: your roles make it read-only"):
        joy.update("visit", item_id, {"fee": 5})
    with pytest.raises(PermissionDenied, match="read-only"):
        joy.create("visit", {"title": "t", "fee": 5})
    joy.create("visit", {"title": "t", "kind": "repeat", "fee": None})  # an empty value sets nothing
    house.update("visit", item_id, {"fee": 5})  # the doctor may
    house.move("visit", item_id, "seen")
    with pytest.raises(PermissionDenied, match="field `kind` may not be changed in stage `seen`"):
        house.update("visit", item_id, {"kind": "first"})
    with pytest.raises(PermissionDenied):  # the local administrator too: it is the process's rule
        db.admin.update("visit", item_id, {"kind": "first"})
    house.update("visit", item_id, {"room": "12"})  # other fields may change
    house.move("visit", item_id, "done")
    with pytest.raises(PermissionDenied, match=r"field `diagnosis` may not be changed while `closed_at`"):
        house.update("visit", item_id, {"diagnosis": "flu"})
    assert db.admin.get("visit", item_id)["diagnosis"] == "cold"


def test_automation_and_import_obey_the_same_rules(db: Db, tmp_path: Path) -> None:
    house = db.as_user("house")
    item_id = house.create("visit", {"title": "t", "kind": "repeat"})
    house.move("visit", item_id, "seen")
    with pytest.raises(AutomationFailed, match="may not be changed in stage `seen`"):
        house.update("visit", item_id, {"escalate": True})  # the trigger's `set: {kind: first}` is refused
    assert db.admin.get("visit", item_id)["kind"] == "repeat"
    sheet = tmp_path / "visits.csv"
    sheet.write_text("title,kind,referral\nok,repeat,Dr Who\nbad,first,Dr Who\n", encoding="utf-8")
    result = invoke(db.url, "import", "visit", str(sheet), as_user="house")
    assert "1 created" in result.stdout and "1 failed" in result.stdout, result.output
    assert "not shown on this item" in result.output


def test_a_refused_move_never_names_a_field_hidden_from_the_mover(db: Db) -> None:
    item_id = db.as_user("house").create("visit", {"title": "t", "kind": "repeat"})
    assert db.as_user("joy").explain("visit", item_id, "review") == [
        "stage `review` requires `room`, a field you may not see, which are empty"]
    assert db.as_user("house").explain("visit", item_id, "review") == [
        "stage `review` requires `diagnosis`, `room`, which are empty"]
    with pytest.raises(TransitionNotAllowed) as refused:
        db.as_user("joy").move("visit", item_id, "review")
    assert "diagnosis" not in str(refused.value) and "diagnosis" not in (refused.value.hint or "")


def test_adding_field_rules_is_a_planned_change_that_goes_live(module_url: str, tmp_path: Path) -> None:
    from copy import deepcopy

    from smartflow import Engine
    from smartflow.deploy import apply as deploy
    from tests.dbutil import database_url
    from tests.runtime.support import write_definitions

    bare = deepcopy(VISIT)
    for raw in bare["fields"].values():
        for key in ("visible_when", "required_when", "read_only_when"):
            raw.pop(key, None)
    bare["pipelines"]["main"]["stages"]["seen"].pop("read_only")
    bare["permissions"]["nurse"].pop("read_only_fields")
    backend = "postgresql" if module_url.startswith("postgresql") else "sqlite"
    for url in database_url(backend, tmp_path):
        deploy.apply(write_definitions(tmp_path / "v1", ROLES, bare), url)
        with Engine(url) as admin:
            item_id = admin.create("visit", {"title": "t", "referral": "x"})  # no rule yet
            desired = write_definitions(tmp_path / "v2", ROLES, VISIT)
            notes = "\n".join(op.describe() for op in deploy.plan(desired, url).operations)
            for word in ("visible_when", "read_only", "read_only_fields"):
                assert word in notes, notes
            deploy.apply(desired, url)
        with Engine(url) as admin, pytest.raises(InvalidValue, match="not shown on this item"):
            admin.update("visit", item_id, {"referral": "y"})


def test_the_fields_a_move_waits_for_include_required_when(db: Db) -> None:
    """What the board's form asks for before a move: the stage's required fields and those whose
    `required_when` holds in the target stage, never a field hidden from the mover."""
    house, joy = db.as_user("house"), db.as_user("joy")
    item_id = house.create("visit", {"title": "t", "kind": "repeat"})
    assert house.missing_required("visit", item_id, "done") == ["diagnosis"]
    assert house.missing_required("visit", item_id, "review") == ["diagnosis", "room"]
    assert house.missing_required("visit", item_id, "seen") == []
    assert joy.missing_required("visit", item_id, "done") == []  # hidden from her: the move says why
    house.update("visit", item_id, {"diagnosis": "flu"})
    assert house.missing_required("visit", item_id, "done") == []
