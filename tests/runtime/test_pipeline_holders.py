"""Whom an item may be given to, where roles are held in named pipelines only: its responsible person
(`assigned_to`) must be an active user with a right in the item's pipeline, and a user field limited to
`roles` takes only a user holding one of them there — the test the user pickers apply, on every path
(the engine, the HTTP API, the CLI and an import here; the board in tests/web/test_pipeline_pickers.py).
A move into another pipeline whose people have no right there is refused naming them, unless the move
sets a new responsible person. A user the item holds already is kept when other fields change. On SQLite
and PostgreSQL.
"""

from __future__ import annotations

import copy
import csv
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from smartflow.cli.exits import EXIT_BAD_VALUE, EXIT_MOVE_REFUSED
from smartflow.data.importer import ImportOptions
from smartflow.errors import InvalidValue, TransitionNotAllowed
from smartflow.http.app import create_app
from tests.runtime.support import Db, invoke, module_url

__all__ = ["module_url"]
pytestmark = pytest.mark.db

ROLES: dict[str, Any] = {"kind": "Roles", "roles": {"buyer": {"title": "Buyer"}, "chief": {"title": "Chief"}}}
STAGES: dict[str, Any] = {"new": {"title": {"ru": "Новая", "en": "New"}},
                          "done": {"title": "Done", "semantic": "success"},
                          "lost": {"title": "Lost", "semantic": "failure"}}
ORDERS: dict[str, Any] = {
    "kind": "Process", "id": "orders", "title": {"ru": "Заказ", "en": "Order"},
    "fields": {"price": {"type": "number"},
               "checker": {"type": "user", "title": {"ru": "Проверяющий", "en": "Checker"}, "roles": ["chief"]}},
    "pipelines": {"materials": {"title": {"ru": "Материалы", "en": "Materials"}, "default": True, "stages": STAGES},
                  "equipment": {"title": {"ru": "Оборудование", "en": "Equipment"}, "stages": copy.deepcopy(STAGES)}},
    "permissions": {"buyer": {"read": "all", "create": "all", "update": "all", "delete": "none", "move": "all",
                              "export": "all", "import": "all"},
                    "chief": "all"},
}


@pytest.fixture(scope="module")
def db(module_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Db]:
    database = Db(module_url, tmp_path_factory.mktemp("defs"), ROLES, ORDERS)
    admin = database.admin
    admin.add_user("anna", "Анна", ["buyer"], processes=["orders"], pipelines=["materials"])
    admin.add_user("boris", "Борис", ["buyer"], processes=["orders"], pipelines=["materials"])
    admin.add_user("egor", "Егор", ["buyer"], processes=["orders"], pipelines=["equipment"])
    admin.add_user("olga", "Ольга", ["buyer"], processes=["orders"])  # in every pipeline of orders
    admin.add_user("max", "Макс", ["chief"], processes=["orders"], pipelines=["equipment"])
    admin.add_user("zoe", "Зоя", ["buyer"], processes=["orders"])
    admin.add_user("left", "Ушедший", ["buyer"], processes=["orders"])
    admin.set_active("left", False)
    yield database
    database.close()


def test_the_responsible_person_must_have_a_right_in_the_items_pipeline(db: Db) -> None:
    before = db.count("sf_history")
    with pytest.raises(InvalidValue) as refused:
        db.admin.create("orders", {"title": "Кирпич", "assigned_to": "egor"}, pipeline="materials")
    assert str(refused.value) == "field `assigned_to`: user `egor` has no right in pipeline `materials` of orders"
    assert refused.value.field == "assigned_to"
    assert refused.value.hint is not None and "smartflow user role add egor ROLE --process orders --pipeline " \
        "materials" in refused.value.hint
    assert refused.value.in_language("ru").startswith(
        "поле «Ответственный»: у пользователя «Егор» нет прав в воронке «Материалы» процесса «Заказ»")
    assert db.count("sf_history") == before  # nothing written
    brick = db.admin.create("orders", {"title": "Кирпич", "assigned_to": "anna"}, pipeline="materials")
    lathe = db.as_user("olga").create("orders", {"title": "Станок", "assigned_to": "egor"}, pipeline="equipment")
    assert db.admin.get("orders", lathe)["assigned_to"] == db.admin.user("egor")["id"]
    with pytest.raises(InvalidValue, match="user `anna` has no right in pipeline `equipment` of orders"):
        db.as_user("olga").update("orders", lathe, {"assigned_to": "anna"})
    with pytest.raises(InvalidValue, match="user `egor` has no right in pipeline `materials`"):
        db.admin.update("orders", brick, {"assigned_to": "#" + str(db.admin.user("egor")["id"])})
    assert db.admin.get("orders", brick)["assigned_to"] == db.admin.user("anna")["id"]
    with pytest.raises(InvalidValue, match=r"^field `assigned_to`: user `left` is deactivated$"):
        db.admin.create("orders", {"title": "Ушедшему", "assigned_to": "left"})


def test_a_field_with_roles_takes_a_holder_of_the_role_in_the_items_pipeline(db: Db) -> None:
    with pytest.raises(InvalidValue) as refused:
        db.admin.create("orders", {"title": "Проверить кирпич", "checker": "max"}, pipeline="materials")
    assert str(refused.value) == ("field `checker`: user `max` does not hold the role `chief` in pipeline "
                                  "`materials` of orders")
    assert refused.value.field == "checker"
    assert refused.value.hint is not None and refused.value.hint.endswith(
        "smartflow user role add max chief --process orders --pipeline materials")
    lathe = db.admin.create("orders", {"title": "Проверить станок", "checker": "max"}, pipeline="equipment")
    assert db.admin.get("orders", lathe)["checker"] == db.admin.user("max")["id"]
    offered = {u["login"] for u in db.as_user("olga").pickable_people("orders", "checker", pipeline="materials")}
    assert offered == set()  # the picker offers whom a write takes: nobody is a chief of materials
    assert {u["login"] for u in db.as_user("olga").pickable_people("orders", "checker", pipeline="equipment")} == {
        "max"}


def test_a_person_the_item_holds_already_is_kept_when_other_fields_change(db: Db) -> None:
    item_id = db.admin.create("orders", {"title": "Гвозди", "assigned_to": "zoe"})
    db.admin.revoke_role("zoe", "buyer", ["orders"])  # zoe leaves the team; her item stays hers
    try:
        item = db.admin.get("orders", item_id)
        db.admin.update("orders", item_id, {"price": 5, "assigned_to": item["assigned_to"]})  # a form sends it back
        assert db.admin.get("orders", item_id)["price"] == 5
        with pytest.raises(InvalidValue, match="user `zoe` has no right in pipeline `materials`"):
            db.admin.create("orders", {"title": "Шурупы", "assigned_to": "zoe"})
    finally:
        db.admin.grant_role("zoe", "buyer", ["orders"])


def test_a_move_into_a_pipeline_where_the_responsible_has_no_right_is_refused_unless_it_sets_one(db: Db) -> None:
    olga = db.as_user("olga")
    brick = db.admin.create("orders", {"title": "Кирпич в оборудование", "assigned_to": "anna"})
    with pytest.raises(TransitionNotAllowed) as refused:
        olga.move("orders", brick, "new", pipeline="equipment")
    assert str(refused.value) == (f"orders {brick} cannot move into pipeline `equipment`: its responsible person "
                                  "`anna` has no right there")
    assert [str(r) for r in refused.value.reasons] == ["its responsible person `anna` has no right there"]
    assert "--set assigned_to=LOGIN" in (refused.value.hint or "")
    assert refused.value.in_language("ru").startswith(
        f"элемент «Заказ» № {brick} нельзя переместить в воронку «Оборудование»: ответственный «Анна» не имеет прав")
    assert db.admin.get("orders", brick)["pipeline"] == "materials"
    with pytest.raises(InvalidValue, match="user `boris` has no right in pipeline `equipment`"):
        olga.move("orders", brick, "new", pipeline="equipment", values={"assigned_to": "boris"})
    assert db.admin.get("orders", brick)["assigned_to"] == db.admin.user("anna")["id"]  # the refusal changed nothing
    olga.move("orders", brick, "new", pipeline="equipment", values={"assigned_to": "egor"})
    moved = db.admin.get("orders", brick)
    assert (moved["pipeline"], moved["assigned_to"]) == ("equipment", db.admin.user("egor")["id"])
    # a field limited to roles is weighed there too
    checked = db.admin.create("orders", {"title": "Проверенный станок", "checker": "max", "assigned_to": "olga"},
                              pipeline="equipment")
    with pytest.raises(TransitionNotAllowed, match="field `checker` holds `max`, who does not hold the role "
                                                   "`chief` there"):
        olga.move("orders", checked, "new", pipeline="materials")
    olga.move("orders", checked, "new", pipeline="materials", values={"checker": None})
    assert db.admin.get("orders", checked)["pipeline"] == "materials"


def test_an_import_refuses_the_row_naming_someone_without_a_right_there(db: Db, tmp_path: Path) -> None:
    sheet = tmp_path / "orders.csv"
    with sheet.open("w", encoding="utf-8", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(["title", "pipeline", "assigned_to"])
        writer.writerow(["Импорт: свой", "materials", "anna"])
        writer.writerow(["Импорт: чужой", "materials", "egor"])
        writer.writerow(["Импорт: оборудование", "equipment", "egor"])
    result = db.as_user("olga").import_file("orders", sheet, ImportOptions())
    assert result.created == 2
    assert [str(p) for p in result.problems] == [
        p for p in map(str, result.problems) if "user `egor` has no right in pipeline `materials` of orders" in p]
    assert len(result.problems) == 1
    assert {i["title"] for i in db.admin.list("orders", search="Импорт")} == {"Импорт: свой", "Импорт: оборудование"}


def test_the_api_answers_422_and_409_naming_the_person_and_the_pipeline(db: Db) -> None:
    with TestClient(create_app(engine=db.admin), raise_server_exceptions=False) as client:
        token = db.admin.create_token("olga")
        auth = {"Authorization": f"Bearer {token}"}
        items = "/api/v1/processes/orders/items"
        refused = client.post(items, json={"title": "API", "pipeline": "equipment", "assigned_to": "anna"},
                              headers=auth)
        assert refused.status_code == 422, refused.text
        assert refused.json()["message"] == ("field `assigned_to`: user `anna` has no right in pipeline `equipment` "
                                             "of orders")
        russian = client.post(items, json={"title": "API", "pipeline": "equipment", "assigned_to": "anna"},
                              headers={**auth, "Accept-Language": "ru"})
        assert "«Анна» нет прав в воронке «Оборудование»" in russian.json()["message"]
        created = client.post(items, json={"title": "API", "assigned_to": "anna"}, headers=auth)
        assert created.status_code == 201
        item_id = created.json()["id"]
        moved = client.post(f"{items}/{item_id}/move", json={"stage": "new", "pipeline": "equipment"}, headers=auth)
        assert moved.status_code == 409
        assert moved.json()["reasons"] == ["its responsible person `anna` has no right there"]
        handed = client.post(f"{items}/{item_id}/move", headers=auth, json={
            "stage": "new", "pipeline": "equipment", "values": {"assigned_to": "egor"}})
        assert handed.status_code == 200, handed.text
        assert handed.json()["pipeline"] == "equipment"
        people = client.get("/api/v1/processes/orders/people", params={"pipeline": "equipment"}, headers=auth)
        assert {u["login"] for u in people.json()["users"]} == {"egor", "olga", "max", "zoe"}
        typo = client.get("/api/v1/processes/orders/people", params={"pipeline": "equipmnt"}, headers=auth)
        assert typo.status_code == 422 and typo.json()["hint"] == "did you mean `equipment`?"


def test_the_cli_refuses_with_one_line_and_a_move_may_set_the_new_responsible(db: Db) -> None:
    refused = invoke(db.url, "item", "create", "orders", "--set", "title=CLI", "--set", "assigned_to=egor",
                     as_user="olga")
    assert refused.exit_code == EXIT_BAD_VALUE
    assert refused.stderr.splitlines()[0] == ("error: field `assigned_to`: user `egor` has no right in pipeline "
                                              "`materials` of orders")
    created = invoke(db.url, "item", "create", "orders", "--set", "title=CLI", "--set", "assigned_to=anna",
                     as_user="olga")
    item_id = created.stdout.strip()
    stuck = invoke(db.url, "item", "move", "orders", item_id, "new", "--pipeline", "equipment", as_user="olga")
    assert stuck.exit_code == EXIT_MOVE_REFUSED
    assert "its responsible person `anna` has no right there" in stuck.stderr
    moved = invoke(db.url, "item", "move", "orders", item_id, "new", "--pipeline", "equipment",
                   "--set", "assigned_to=egor", as_user="olga")
    assert moved.exit_code == 0, moved.output
    assert db.admin.get("orders", int(item_id))["assigned_to"] == db.admin.user("egor")["id"]
