"""/api/v1/users… for administrators: add a user with roles per process, change them, give and
take roles, deactivate (their token answers 401 at once, their items stay), reset a password with a
one-time code that works once; the audit log records every change. On SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

import pytest

from tests.http.support import Api, api
from tests.runtime.support import module_url

__all__ = ["api", "module_url"]
pytestmark = pytest.mark.db
USERS = "/api/v1/users"


def test_only_administrators_manage_users(api: Api) -> None:
    for method, path, body in [("GET", USERS, None), ("POST", USERS, {"login": "x"}), ("GET", f"{USERS}/petrov", None),
                               ("PATCH", f"{USERS}/petrov", {"name": "X"}),
                               ("POST", f"{USERS}/petrov/roles", {"role": "worker"}),
                               ("DELETE", f"{USERS}/petrov/roles/clerk", None),
                               ("POST", f"{USERS}/petrov/deactivate", None), ("POST", f"{USERS}/petrov/reset", None),
                               ("GET", "/api/v1/audit", None), ("GET", "/api/v1/processes/purchase/access", None)]:
        answer = api.call(method, path, "ivanova", **({"json": body} if body else {}))
        assert answer.status_code == 403, (method, path, answer.text)
        assert api.call(method, path, None, **({"json": body} if body else {})).status_code == 401


def test_add_a_user_with_a_role_in_one_process(api: Api) -> None:
    answer = api.call("POST", USERS, "boss", json={"login": "buyer1", "name": "Ольга Новая", "email": "olga@example.ru",
                                                   "roles": ["worker"], "processes": ["purchase"]})
    assert answer.status_code == 201, answer.text
    assert answer.headers["location"] == "/api/v1/users/buyer1"
    user: dict[str, Any] = answer.json()
    assert (user["roles"], user["process_roles"], user["email"], user["active"]) == (
        [], {"purchase": ["worker"]}, "olga@example.ru", True)
    token = api.db.admin.create_token("buyer1")
    seen = api.client.get("/api/v1/processes", headers={"Authorization": f"Bearer {token}"}).json()["processes"]
    assert [p["id"] for p in seen] == ["purchase"]
    claim = api.client.get("/api/v1/processes/claim/items", headers={"Authorization": f"Bearer {token}"})
    nowhere = api.client.get("/api/v1/processes/nowhere/items", headers={"Authorization": f"Bearer {token}"})
    assert claim.status_code == nowhere.status_code == 404
    assert claim.json()["hint"] == nowhere.json()["hint"]
    again = api.call("POST", USERS, "boss", json={"login": "buyer1"})
    assert again.status_code == 422 and again.json()["message"] == "the user `buyer1` already exists"
    bad = api.call("POST", USERS, "boss", json={"login": "buyer2", "roles": ["worker"], "processes": ["purchse"]})
    assert (bad.status_code, bad.json()["message"], bad.json()["hint"]) == (
        422, "there is no process `purchse`", "did you mean `purchase`?")
    assert api.call("GET", f"{USERS}/buyer2", "boss").status_code == 404  # nothing was written


def test_roles_edit_and_the_access_report(api: Api) -> None:
    api.call("POST", USERS, "boss", json={"login": "roly", "name": "Роли"})
    given = api.call("POST", f"{USERS}/roly/roles", "boss", json={"role": "worker", "processes": ["claim", "lot"]})
    assert given.json()["process_roles"] == {"claim": ["worker"], "lot": ["worker"]}
    taken = api.call("DELETE", f"{USERS}/roly/roles/worker", "boss", params={"process": "lot"})
    assert taken.json()["process_roles"] == {"claim": ["worker"]}
    edited = api.call("PATCH", f"{USERS}/roly", "boss", json={"name": "Ролан Ролев", "email": "roly@example.ru"})
    assert (edited.json()["name"], edited.json()["email"]) == ("Ролан Ролев", "roly@example.ru")
    wrong = api.call("PATCH", f"{USERS}/roly", "boss", json={"email": "not an address"})
    assert wrong.status_code == 422 and wrong.json()["field"] == "email"
    report = api.call("GET", "/api/v1/processes/claim/access", "boss").json()
    assert "roly" in [u["login"] for u in report["users"]]
    mine = api.call("GET", f"{USERS}/roly/access", "boss").json()
    assert {p["process"]: p["visible"] for p in mine["processes"]} == {
        "client": False, "purchase": False, "claim": True, "lot": False}
    log = api.call("GET", "/api/v1/audit", "boss", params={"target": "roly"}).json()["entries"]
    assert [e["action"] for e in log] == ["user.edit", "role.remove", "role.add", "user.add"]
    assert log[0]["details"] == {"name": ["Роли", "Ролан Ролев"], "email": [None, "roly@example.ru"]}
    assert {e["actor"] for e in log} == {"boss"} and {e["via"] for e in log} == {"http"}


def test_a_deactivated_users_token_answers_401_at_once_and_their_items_stay(api: Api) -> None:
    api.call("POST", USERS, "boss", json={"login": "leaver", "roles": ["worker"], "processes": ["purchase"]})
    token = {"Authorization": f"Bearer {api.db.admin.create_token('leaver')}"}
    created = api.client.post("/api/v1/processes/purchase/items", headers=token, json={"title": "Моё"})
    assert created.status_code == 201
    off = api.call("POST", f"{USERS}/leaver/deactivate", "boss")
    assert (off.status_code, off.json()["active"]) == (200, False)
    assert api.client.get("/api/v1/processes", headers=token).status_code == 401
    assert api.db.admin.get("purchase", created.json()["id"])["created_by"] is not None
    listed = api.call("GET", "/api/v1/processes/purchase/items", "ivanova").json()["items"]
    assert created.json()["id"] in [i["id"] for i in listed]
    on = api.call("POST", f"{USERS}/leaver/activate", "boss")
    assert on.json()["active"] is True
    assert api.client.get("/api/v1/processes", headers=token).status_code == 200
    assert api.call("POST", f"{USERS}/boss/deactivate", "boss").status_code == 422  # not oneself


def test_a_reset_code_works_once(api: Api) -> None:
    answer = api.call("POST", f"{USERS}/petrov/reset", "boss")
    code = answer.json()["code"]
    assert code.startswith("sfr_")
    short = api.call("POST", "/api/v1/password-reset", None, json={"code": code, "password": "short"})
    assert short.status_code == 422  # refused: the code is still good
    used = api.call("POST", "/api/v1/password-reset", None, json={"code": code, "password": "new-password-9"})
    assert (used.status_code, used.json()) == (200, {"login": "petrov", "password_set": True})
    again = api.call("POST", "/api/v1/password-reset", None, json={"code": code, "password": "other-password-9"})
    assert again.status_code == 401
    session = api.client.post("/api/v1/session", json={"login": "petrov", "password": "new-password-9"})
    assert session.status_code == 200
    api.client.cookies.clear()
    second = api.call("POST", f"{USERS}/petrov/reset", "boss").json()["code"]
    third = api.call("POST", f"{USERS}/petrov/reset", "boss").json()["code"]
    assert api.call("POST", "/api/v1/password-reset", None,
                    json={"code": second, "password": "new-password-9"}).status_code == 401  # replaced by a newer one
    assert api.call("POST", "/api/v1/password-reset", None,
                    json={"code": third, "password": "new-password-9"}).status_code == 200
