"""Automation texts never carry a value hidden from their reader: a notification renders once per set
of recipients who see the same fields, a comment with what every reader of the item may see, a
webhook body and `set` values with the rights of the trigger's identity (`run_as`)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa

from tests.runtime.support import Db, module_url

__all__ = ["module_url"]  # the fixture, imported for pytest

CANARY = "987654"
ROLES: dict[str, Any] = {"kind": "Roles", "roles": {"hr": {"title": "HR"}, "desk": {"title": "Desk"}}}
VACANCY: dict[str, Any] = {
    "kind": "Process", "id": "vacancy", "title": "Vacancy",
    "fields": {"salary": {"type": "integer"}, "note": {"type": "string"}, "go": {"type": "boolean"},
               "copy": {"type": "boolean"}, "hook": {"type": "boolean"}},
    "pipelines": {"main": {"title": "Main", "default": True, "stages": {
        "open": {"title": "Open"}, "won": {"title": "Won", "semantic": "success"},
        "lost": {"title": "Lost", "semantic": "failure"}}}},
    "triggers": [
        {"id": "tell", "on": "field_changed", "field": "go", "to": True, "do": [
            {"notify": {"users": ["@hrboss", "@clerk"], "subject": "Offer {{ salary }}",
                        "message": "{{ title }}: {{ salary }}, doubled {{ salary * 2 }}"}},
            {"comment": "salary set to {{ salary }}"}]},
        {"id": "copy_it", "on": "field_changed", "field": "copy", "to": True, "run_as": "clerk",
         "do": [{"set": {"note": "was {{ salary }}"}}]},
        {"id": "hook_it", "on": "field_changed", "field": "hook", "to": True, "run_as": "clerk",
         "do": [{"webhook": {"url": "https://hooks.example.com/v", "body": '{"salary": "{{ salary }}"}'}}]},
    ],
    "permissions": {"hr": "all", "desk": {"read": "all", "update": "all", "hidden_fields": ["salary"]}},
}


@pytest.fixture(scope="module")
def db(module_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Db]:
    database = Db(module_url, tmp_path_factory.mktemp("defs"), ROLES, VACANCY)
    database.admin.add_user("hrboss", "HR boss", ["hr"], None)
    database.admin.add_user("clerk", "Clerk", ["desk"], None)
    yield database
    database.close()


def _outbox(db: Db, trigger: str) -> list[dict[str, Any]]:
    with db.raw.connect() as connection:
        rows = connection.execute(sa.text("SELECT payload FROM sf_outbox ORDER BY id")).scalars().all()
    payloads = [row if isinstance(row, dict) else __import__("json").loads(row) for row in rows]
    return [p for p in payloads if p.get("trigger") == trigger]


def test_a_notification_never_carries_a_value_hidden_from_its_reader(db: Db) -> None:
    item_id = db.admin.create("vacancy", {"title": "Engineer", "salary": int(CANARY)})
    db.admin.update("vacancy", item_id, {"go": True})
    by_reader = {tuple(p["recipients"]): p for p in _outbox(db, "vacancy.tell") if p["item_id"] == item_id}
    boss, clerk = db.user_id("hrboss"), db.user_id("clerk")
    assert by_reader[(boss,)]["message"] == f"Engineer: {CANARY}, doubled {int(CANARY) * 2}"
    assert by_reader[(boss,)]["subject"] == f"Offer {CANARY}"
    assert by_reader[(clerk,)]["subject"] == "Offer (hidden)"
    assert by_reader[(clerk,)]["message"] == "(trigger `vacancy.tell`: this text uses a field hidden from you)"
    comments = [h for h in db.admin.history("vacancy", item_id) if h["kind"] == "comment"]
    assert [c["new"] for c in comments] == ["salary set to (hidden)"]  # the desk reads the history too


def test_set_and_webhook_render_with_the_rights_of_the_triggers_identity(db: Db) -> None:
    item_id = db.admin.create("vacancy", {"title": "Designer", "salary": int(CANARY)})
    db.admin.update("vacancy", item_id, {"copy": True, "hook": True})
    assert db.as_user("clerk").get("vacancy", item_id)["note"] == "was (hidden)"
    bodies = [p["body"] for p in _outbox(db, "vacancy.hook_it")]
    assert bodies and all(body == {"salary": "(hidden)"} for body in bodies)
    everything = repr(db.as_user("clerk").card("vacancy", item_id)) + repr(bodies)
    assert CANARY not in everything
