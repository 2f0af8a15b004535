"""Maker-checker: `forbid_self` on a transition keeps the user in a named user field from taking it,
on every path (move, explain, automation run as a user), and says why."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from smartflow.errors import TransitionNotAllowed
from tests.runtime.support import Db, module_url

__all__ = ["module_url"]  # the fixture, imported for pytest

ROLES: dict[str, Any] = {"kind": "Roles", "roles": {"buyer": {"title": "Buyer"}, "clerk": {"title": "Clerk"}}}
REQUEST: dict[str, Any] = {
    "kind": "Process", "id": "request", "title": "Request",
    "fields": {"reviewer": {"type": "user"}, "amount": {"type": "money", "currency": "RUB"}},
    "pipelines": {"main": {"title": "Main", "default": True, "stages": {
        "draft": {"title": "Draft"}, "approved": {"title": "Approved"},
        "paid": {"title": "Paid", "semantic": "success"}, "dropped": {"title": "Dropped", "semantic": "failure"}},
        "transitions": [
            {"from": "draft", "to": "approved", "forbid_self": ["created_by"]},
            {"from": "approved", "to": "paid", "forbid_self": ["reviewer", "updated_by"]},
            {"from": "*", "to": "dropped"},
        ]}},
    "permissions": {"buyer": "all", "clerk": {"read": "all", "move": "all", "hidden_fields": ["reviewer"]}},
}


@pytest.fixture(scope="module")
def db(module_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Db]:
    database = Db(module_url, tmp_path_factory.mktemp("defs"), ROLES, REQUEST)
    for login, role in (("author", "buyer"), ("checker", "buyer"), ("payer", "buyer"), ("clerk", "clerk")):
        database.admin.add_user(login, login, [role], None)
    yield database
    database.close()


def test_nobody_approves_their_own_item(db: Db) -> None:
    author, checker = db.as_user("author"), db.as_user("checker")
    item_id = author.create("request", {"title": "laptops", "amount": "1000"})
    reason = ("the transition `draft` → `approved`: the item names you in `created_by`, and someone else must take it "
              "(`forbid_self`)")
    assert author.explain("request", item_id, "approved") == [reason]
    with pytest.raises(TransitionNotAllowed, match="the item names you in `created_by`"):
        author.move("request", item_id, "approved")
    assert db.admin.get("request", item_id)["stage"] == "draft"  # nothing written
    assert author.explain("request", item_id, "dropped") == []  # other transitions are the author's to take
    assert checker.explain("request", item_id, "approved") == []
    checker.move("request", item_id, "approved")
    assert db.admin.get("request", item_id)["stage"] == "approved"


def test_a_user_field_and_updated_by_are_checked_and_a_hidden_field_is_not_named(db: Db) -> None:
    author, checker, payer, clerk = (db.as_user(login) for login in ("author", "checker", "payer", "clerk"))
    item_id = author.create("request", {"title": "chairs", "reviewer": "checker"})
    checker.move("request", item_id, "approved")
    assert checker.explain("request", item_id, "paid") == [  # the move made the checker its last updater too
        "the transition `approved` → `paid`: the item names you in `reviewer` and `updated_by`, and someone else "
        "must take it (`forbid_self`)"]
    # the last to update it may not pay it either; the clerk, who may not see `reviewer`, reads no field name
    clerk_id = db.user_id("clerk")
    db.admin.update("request", item_id, {"reviewer": f"#{clerk_id}"})
    payer.update("request", item_id, {"amount": "10"})
    assert payer.explain("request", item_id, "paid") == [
        "the transition `approved` → `paid`: the item names you in `updated_by`, and someone else must take it "
        "(`forbid_self`)"]
    assert clerk.explain("request", item_id, "paid") == [
        "the transition `approved` → `paid`: the item names you in a field hidden from you, and someone else must "
        "take it (`forbid_self`)"]
    author.move("request", item_id, "paid")  # the author is neither reviewer nor last updater here
    assert db.admin.get("request", item_id)["stage"] == "paid"


def test_the_local_administrator_is_nobodys_maker(db: Db) -> None:
    item_id = db.admin.create("request", {"title": "desks"})
    db.admin.move("request", item_id, "approved")
    assert db.admin.get("request", item_id)["stage"] == "approved"
