"""A deployed database behind the Bitrix24 facade: a `deal` process with every kind of field, 130
deals, three users (an administrator, a seller, a viewer from whom two fields are hidden) with
API tokens, and `smartflow serve`'s application listening on a free port of 127.0.0.1."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn

from smartflow.http.app import create_app
from tests.runtime.support import Db
from tests.web.support import free_port

ROLES: dict[str, Any] = {"kind": "Roles", "roles": {"seller": {"title": {"ru": "Продавец", "en": "Seller"}},
                                                    "viewer": {"title": {"ru": "Наблюдатель", "en": "Viewer"}}}}
DEAL: dict[str, Any] = {
    "kind": "Process", "id": "deal", "title": {"ru": "Сделка", "en": "Deal"},
    "fields": {
        "amount": {"type": "money", "currency": "RUB", "title": {"ru": "Сумма", "en": "Amount"}},
        "qty": {"type": "integer", "title": {"ru": "Количество", "en": "Quantity"}},
        "urgent": {"type": "boolean", "default": False, "title": {"ru": "Срочно", "en": "Urgent"}},
        "kind": {"type": "enum", "title": {"ru": "Вид", "en": "Kind"}, "options": [
            {"id": "new_client", "title": {"ru": "Новый клиент", "en": "New client"}},
            {"id": "repeat", "title": {"ru": "Повторная", "en": "Repeat"}}]},
        "due": {"type": "date", "title": {"ru": "Срок", "en": "Due"}},
        "secret_note": {"type": "string", "title": {"ru": "Заметка", "en": "Note"}},
        "approver": {"type": "user", "title": {"ru": "Согласующий", "en": "Approver"}},
    },
    "pipelines": {"main": {"title": {"ru": "Продажи", "en": "Sales"}, "default": True, "stages": {
        "new": {"title": {"ru": "Новая", "en": "New"}, "color": "#22B9FF"},
        "offer": {"title": {"ru": "Предложение", "en": "Offer"}, "required": ["amount"]},
        "won": {"title": {"ru": "Успех", "en": "Won"}, "semantic": "success"},
        "lost": {"title": {"ru": "Провал", "en": "Lost"}, "semantic": "failure"}},
        "transitions": [{"from": "new", "to": "offer"},
                        {"from": "offer", "to": "won", "forbid_self": ["created_by"]},
                        {"from": ["new", "offer"], "to": "lost"}]},
                  "express": {"title": {"ru": "Экспресс", "en": "Express"}, "stages": {
                      "new": {"title": {"ru": "Новая", "en": "New"}},
                      "won": {"title": {"ru": "Успех", "en": "Won"}, "semantic": "success"}}}},
    "triggers": [{"id": "note_urgent", "on": "field_changed", "field": "urgent", "to": True,
                  "do": [{"comment": "Срочно! Urgent: {{ title }}"}]}],
    "permissions": {"seller": "all",
                    "viewer": {"read": "all", "hidden_fields": ["secret_note", "amount"]}},
}
ITEMS = 130
CANARY = "CANARY-secret-7f3a"
ETID = 128  # the first smart process's entityTypeId
USERS = {"boss": ["administrator"], "anna": ["seller"], "vera": ["viewer"]}


class Portal:
    """The database, the served application, a token and id per user."""

    def __init__(self, url: str, folder: Path) -> None:
        self.url = url
        self.db = Db(url, folder, ROLES, DEAL)
        for login, roles in USERS.items():
            self.db.admin.add_user(login, login.title(), roles)
        self.tokens = {login: self.db.admin.create_token(login) for login in USERS}
        self.ids = {login: self.db.user_id(login) for login in USERS}
        self.db.insert_items("deal", [{"title": f"Сделка {n}", "qty": n, "secret_note": CANARY, "created_by": "anna",
                                       "kind": "repeat" if n % 2 else "new_client"} for n in range(1, ITEMS + 1)])
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        with pytest.MonkeyPatch.context() as patch:  # the tests call faster than Bitrix24's 2 per second
            patch.setenv("SMARTFLOW_BITRIX24_LIMIT", "1000,100000")
            app = create_app(engine=self.db.admin)
        config = uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning", lifespan="on",
                                timeout_graceful_shutdown=1)
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            assert self.thread.is_alive() and time.monotonic() < deadline, "the server did not start"
            time.sleep(0.05)
        self.http = httpx.Client(base_url=self.base, timeout=30)

    def webhook(self, login: str) -> str:
        return f"{self.base}/rest/{self.ids[login]}/{self.tokens[login]}/"

    def call(self, login: str, method: str, params: dict[str, Any] | None = None) -> httpx.Response:
        return self.http.post(f"/rest/{self.ids[login]}/{self.tokens[login]}/{method}", json=params or {})

    def result(self, login: str, method: str, params: dict[str, Any] | None = None) -> Any:
        response = self.call(login, method, params)
        assert response.status_code == 200, response.text
        return response.json()["result"]

    def close(self) -> None:
        self.http.close()
        self.server.should_exit = True
        self.thread.join(timeout=30)
        self.db.close()


@pytest.fixture(scope="module")
def portal(module_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Portal]:
    found = Portal(module_url, tmp_path_factory.mktemp("defs"))
    yield found
    found.close()
