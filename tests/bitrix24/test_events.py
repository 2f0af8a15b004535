"""Outbound events through the facade: `event.bind` / `event.unbind` / `event.get` for a smart process's
items, delivered by the worker to a real HTTP server on this machine, posted as Bitrix24 posts them
(a PHP form: `event`, `data[FIELDS][ID]`, `data[FIELDS][ENTITY_TYPE_ID]`, `auth[application_token]`).

Every path that changes an item is heard (the facade, the Python API as another user, a delete to the
recycle bin), only after the change committed; the outbound policy refuses a private handler unless
its host is allow-listed, and binding is for administrators."""

from __future__ import annotations

import threading
import urllib.parse
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from smartflow.errors import TransitionNotAllowed
from tests.bitrix24.support import ETID, Portal, portal
from tests.runtime.support import module_url

__all__ = ["module_url", "portal"]
pytestmark = pytest.mark.db

ADD, UPDATE, DELETE = "ONCRMDYNAMICITEMADD", "ONCRMDYNAMICITEMUPDATE", "ONCRMDYNAMICITEMDELETE"


class Receiver:
    """An HTTP server that keeps what is posted to it: (path, headers, form as PHP would flatten it)."""

    def __init__(self) -> None:
        self.posts: list[tuple[str, dict[str, str], dict[str, str]]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0))).decode()
                outer.posts.append((self.path, dict(self.headers.items()), dict(urllib.parse.parse_qsl(body))))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver(monkeypatch: pytest.MonkeyPatch) -> Iterator[Receiver]:
    found = Receiver()
    monkeypatch.setenv("SMARTFLOW_WEBHOOK_HOSTS", "127.0.0.1")  # the worker's allow-list, read by the facade too
    yield found
    found.close()


def deliver(portal: Portal) -> None:
    tally = portal.db.admin.work(allow_hosts={"127.0.0.1"})
    assert not tally.errors, tally.errors


def events(receiver: Receiver) -> list[tuple[str, str]]:
    return [(form["event"], form["data[FIELDS][ID]"]) for _, _, form in receiver.posts]


def test_a_private_handler_is_refused_unless_its_host_is_allow_listed(portal: Portal,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SMARTFLOW_WEBHOOK_HOSTS", raising=False)
    answer = portal.call("boss", "event.bind", {"event": ADD, "handler": "http://127.0.0.1:9/hook"})
    assert answer.status_code == 400
    assert answer.json()["error"] == "WRONG_HANDLER_URL"
    assert "127.0.0.1" in answer.json()["error_description"] and "not a public address" in \
        answer.json()["error_description"]
    answer = portal.call("boss", "event.bind", {"event": ADD, "handler": "ftp://example.com/hook"})
    assert answer.json()["error"] == "WRONG_HANDLER_URL"
    answer = portal.call("boss", "event.bind", {"event": "ONCRMDEALADD", "handler": "https://example.com/hook"})
    assert answer.json()["error"] == "ERROR_EVENT_NOT_FOUND"
    assert portal.result("boss", "event.get") == []


def test_binding_is_for_administrators(portal: Portal, receiver: Receiver) -> None:
    answer = portal.call("anna", "event.bind", {"event": ADD, "handler": receiver.url + "/hook"})
    assert (answer.status_code, answer.json()["error"]) == (400, "ACCESS_DENIED")
    assert portal.call("anna", "event.get").json()["error"] == "ACCESS_DENIED"


def test_bound_events_reach_the_handler_after_commit_from_every_path(portal: Portal, receiver: Receiver) -> None:
    hook = receiver.url + "/b24/handler.php"
    for name in (ADD, UPDATE, DELETE):
        assert portal.result("boss", "event.bind", {"event": name.lower(), "handler": hook}) is True
    again = portal.call("boss", "event.bind", {"EVENT": ADD, "HANDLER": hook})
    assert again.json()["error"] == "ERROR_CORE"
    bound = portal.result("boss", "event.get")
    assert [(b["event"], b["handler"]) for b in bound] == [(ADD, hook), (UPDATE, hook), (DELETE, hook)]
    token = bound[0]["application_token"]
    assert len(token) == 32

    # the facade, as a seller
    added = portal.result("anna", "crm.item.add", {"entityTypeId": ETID, "fields": {"title": "Событие / Event"}})
    item_id = added["item"]["id"]
    portal.result("anna", "crm.item.update", {"entityTypeId": ETID, "id": item_id, "fields": {"ufCrm1Qty": 5}})
    assert receiver.posts == []  # nothing is sent before the worker runs
    # the Python API as another user; a refused change sends nothing
    seller = portal.db.admin.as_user("anna")
    seller.move("deal", item_id, "offer", values={"amount": {"amount": "10", "currency": "RUB"}})
    with pytest.raises(TransitionNotAllowed):
        seller.move("deal", item_id, "won")  # forbid_self: the creator may not close it
    portal.db.admin.delete("deal", item_id)
    deliver(portal)

    assert events(receiver) == [(ADD, str(item_id)), (UPDATE, str(item_id)), (UPDATE, str(item_id)),
                                (DELETE, str(item_id))]
    path, headers, form = receiver.posts[0]
    assert path == "/b24/handler.php"
    assert headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert headers["Idempotency-Key"].startswith("smartflow-outbox-")
    assert form["data[FIELDS][ENTITY_TYPE_ID]"] == str(ETID)
    assert form["auth[application_token]"] == token
    assert form["auth[client_endpoint]"] == portal.base + "/rest/"
    assert form["auth[domain]"] == portal.base.split("://")[1]
    assert int(form["ts"]) > 0 and form["event_handler_id"].isdigit()
    deliver(portal)
    assert len(receiver.posts) == 4  # each message once

    # unbound: silent again
    assert portal.result("boss", "event.unbind", {"event": UPDATE, "handler": hook}) == {"count": 1}
    assert portal.result("boss", "event.unbind", {"event": UPDATE, "handler": hook}) == {"count": 0}
    other = portal.result("anna", "crm.item.add", {"entityTypeId": ETID, "fields": {"title": "Ещё одна"}})["item"]
    portal.result("anna", "crm.item.update", {"entityTypeId": ETID, "id": other["id"], "fields": {"ufCrm1Qty": 6}})
    deliver(portal)
    assert events(receiver)[4:] == [(ADD, str(other["id"]))]
    for name in (ADD, DELETE):
        portal.result("boss", "event.unbind", {"event": name})
    assert portal.result("boss", "event.get") == []
    portal.db.admin.delete("deal", other["id"])
    deliver(portal)
    assert len(receiver.posts) == 5


def test_a_deactivated_administrators_bindings_fall_silent(portal: Portal, receiver: Receiver) -> None:
    portal.db.admin.add_user("olga", "Ольга", ["administrator"])
    olga = portal.db.admin.create_token("olga")
    olga_id = portal.db.user_id("olga")
    bound = portal.http.post(f"/rest/{olga_id}/{olga}/event.bind", json={"event": ADD, "handler": receiver.url})
    assert bound.json()["result"] is True
    portal.result("anna", "crm.item.add", {"entityTypeId": ETID, "fields": {"title": "Для Ольги"}})
    portal.db.admin.set_active("olga", False)
    portal.result("anna", "crm.item.add", {"entityTypeId": ETID, "fields": {"title": "Уже без Ольги"}})
    deliver(portal)
    assert len(receiver.posts) == 1
