"""A deployed database behind the HTTP API, with users of every kind and their tokens.

The order process of the runtime tests, with roles for the rights matrix: `worker` (everything),
`clerk` (reads, updates and moves only their own items), `restricted` (reads all, moves only their
own), `peeker` (reads all; `supplier` and `note` hidden), `outsider` (a role the process grants
nothing), and an administrator.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from smartflow.http.app import create_app
from tests.runtime.support import CLAIM, CLIENT, LOT, ORDER, Db

ROLES: dict[str, Any] = {"kind": "Roles", "roles": {
    "worker": {"title": "Worker"}, "approver": {"title": "Approver"}, "clerk": {"title": "Clerk"},
    "restricted": {"title": "Restricted"}, "peeker": {"title": "Peeker"}, "outsider": {"title": "Outsider"},
}}
PURCHASE = copy.deepcopy(ORDER)
PURCHASE["permissions"] = {
    "worker": "all", "approver": "all",
    "clerk": {"read": "own", "create": "all", "update": "own", "move": "own", "delete": "own", "export": "own"},
    "restricted": {"read": "all", "move": "own", "stages": ["approved"]},
    "peeker": {"read": "all", "export": "all", "hidden_fields": ["supplier", "note"]},
}
DOCUMENTS = (ROLES, CLIENT, PURCHASE, CLAIM, LOT)
USERS = {"ivanova": ["worker"], "petrov": ["clerk"], "sidorov": ["restricted"], "peek": ["peeker"],
         "stranger": ["outsider"], "boss": ["administrator"]}
CANARIES = ("CANARY-supplier-7f3a", "CANARY-note-91bc")


class Api:
    """The database, an in-process client, and a token per user."""

    def __init__(self, url: str, folder: Path) -> None:
        self.db = Db(url, folder, *DOCUMENTS)
        for login, roles in USERS.items():
            self.db.admin.add_user(login, login.title(), roles)
        self.tokens = {login: self.db.admin.create_token(login) for login in USERS}
        self.client = TestClient(create_app(engine=self.db.admin), raise_server_exceptions=False)

    def headers(self, login: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[login]}"}

    def call(self, method: str, path: str, login: str | None = "ivanova", **kwargs: Any) -> Any:
        headers = {**(self.headers(login) if login else {}), **kwargs.pop("headers", {})}
        return self.client.request(method, path, headers=headers, **kwargs)

    def create(self, login: str = "ivanova", **values: Any) -> dict[str, Any]:
        response = self.call("POST", "/api/v1/processes/purchase/items", login, json={"title": "item", **values})
        assert response.status_code == 201, response.text
        return dict(response.json())

    def close(self) -> None:
        self.client.close()
        self.db.close()


@pytest.fixture(scope="module")
def api(module_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    found = Api(module_url, tmp_path_factory.mktemp("defs"))
    yield found
    found.close()
