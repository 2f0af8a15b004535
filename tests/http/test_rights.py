"""The rights matrix of the HTTP API: every item endpoint, called by users without the right to
read an item of someone else, answers exactly as for an item that does not exist; a visible item
with a forbidden action answers 403; and canary values in fields hidden from a user appear in no
response body they get, of any endpoint."""

from __future__ import annotations

import io
import zipfile
from collections.abc import Iterator

import pytest

from tests.http.support import CANARIES, Api, api
from tests.runtime.support import module_url

__all__ = ["api", "module_url"]
ITEMS = "/api/v1/processes/purchase/items"
MISSING = 987654

# (method, path under the item, request keywords): every endpoint that names an item
ITEM_ENDPOINTS: list[tuple[str, str, dict[str, object]]] = [
    ("GET", "", {}),
    ("GET", "", {"params": {"card": "true"}}),
    ("PATCH", "", {"json": {"qty": 5}}),
    ("PATCH", "", {"json": {"qty": 5}, "headers": {"If-Match": '"1"'}}),
    ("DELETE", "", {}),
    ("POST", "/restore", {}),
    ("POST", "/move", {"json": {"stage": "cancelled"}}),
    ("POST", "/move", {"json": {"stage": "start", "pipeline": "express"}}),
    ("GET", "/history", {}),
    ("GET", "/explain", {"params": {"stage": "cancelled"}}),
]


@pytest.fixture(scope="module")
def others_item(api: Api) -> Iterator[int]:
    yield int(api.create("ivanova", title="someone else's", qty=1)["id"])


@pytest.mark.db
@pytest.mark.parametrize("login", ["petrov", "stranger"])
@pytest.mark.parametrize(("method", "suffix", "request_args"), ITEM_ENDPOINTS)
def test_an_unreadable_item_answers_exactly_like_a_missing_one(api: Api, others_item: int, login: str, method: str,
                                                                suffix: str, request_args: dict[str, object]) -> None:
    before = api.db.row("purchase", others_item)
    history = api.db.history_rows("purchase", others_item)
    hidden = api.call(method, f"{ITEMS}/{others_item}{suffix}", login, **request_args)
    missing = api.call(method, f"{ITEMS}/{MISSING}{suffix}", login, **request_args)
    assert hidden.status_code == missing.status_code == 404
    assert hidden.headers["content-type"] == missing.headers["content-type"]
    assert hidden.text.replace(str(others_item), "ID") == missing.text.replace(str(MISSING), "ID")
    assert api.db.row("purchase", others_item) == before
    assert api.db.history_rows("purchase", others_item) == history


@pytest.mark.db
def test_a_visible_item_with_a_forbidden_action_answers_403_and_writes_nothing(api: Api, others_item: int) -> None:
    before = api.db.row("purchase", others_item)
    for method, suffix, request_args in [("PATCH", "", {"json": {"qty": 7}}), ("DELETE", "", {})]:
        response = api.call(method, f"{ITEMS}/{others_item}{suffix}", "sidorov", **request_args)
        assert response.status_code == 403, (method, suffix, response.text)
        assert response.json()["code"] == "permission-denied"
    # a move by someone whose `move` level does not reach the item is a refusal of rights too (409 is for the
    # move's rules); `explain` still lists every reason
    moved = api.call("POST", f"{ITEMS}/{others_item}/move", "sidorov", json={"stage": "cancelled"})
    assert moved.status_code == 403 and moved.json()["code"] == "permission-denied", moved.text
    assert "your roles allow moving only own items (`move: own`), and this item is not one" in moved.json()["detail"]
    explained = api.call("GET", f"{ITEMS}/{others_item}/explain", "sidorov", params={"stage": "cancelled"})
    assert "your roles allow moving only own items (`move: own`), and this item is not one" in explained.text
    assert api.call("GET", f"{ITEMS}/{others_item}", "sidorov").status_code == 200
    assert api.db.row("purchase", others_item) == before


@pytest.mark.db
def test_a_role_without_rights_reads_no_item_in_any_view(api: Api, others_item: int) -> None:
    del others_item
    for path in (ITEMS, "/api/v1/processes/purchase/kanban", "/api/v1/processes/purchase/export",
                 "/api/v1/processes/purchase/report", "/api/v1/processes/purchase/deadlines",
                 "/api/v1/processes/purchase/calendar"):
        response = api.call("GET", path, "stranger")
        missing = api.call("GET", path.replace("/purchase/", "/nowhere/"), "stranger")
        # a process the caller has no right in answers as one that does not exist: 404 alike
        assert (response.status_code, missing.status_code) == (404, 404), (path, response.text)
        assert response.json()["code"] == missing.json()["code"] == "not-deployed"
        assert response.json()["hint"] == missing.json()["hint"]
        assert "someone else" not in response.text and "purchase`" not in response.json()["hint"]
    listed = api.call("GET", "/api/v1/processes", "stranger")
    assert listed.status_code == 200 and "purchase" not in [p["id"] for p in listed.json()["processes"]]


def _bodies(api: Api, item_id: int) -> Iterator[tuple[str, str]]:
    """(what, text) of every answer the peeker gets, xlsx unzipped."""
    base = "/api/v1/processes/purchase"
    gets = ["/api/v1/processes", base, f"{base}/items", f"{base}/items?fields=title,qty", f"{ITEMS}/{item_id}",
            f"{ITEMS}/{item_id}?card=true", f"{ITEMS}/{item_id}/history", f"{ITEMS}/{item_id}/explain?stage=prices",
            f"{base}/kanban", f"{base}/report", f"{base}/export", f"{base}/export?columns=all",
            f"{base}/items?search=CANARY", f"{base}/items?fields=supplier", f"{base}/items?sort=supplier",
            f"{base}/items?where=supplier%20contains%20C", "/api/v1/inbox", "/api/v1/session", "/api/openapi.json",
            f"{base}/deadlines", f"{base}/calendar"]
    for path in gets:
        response = api.call("GET", path, "peek")
        yield path, response.text
    xlsx = api.call("GET", f"{base}/export?format=xlsx", "peek")
    with zipfile.ZipFile(io.BytesIO(xlsx.content)) as archive:
        yield "xlsx", "".join(archive.read(name).decode("utf-8", "replace") for name in archive.namelist())
    for method, suffix, body in [("PATCH", "", {"qty": 3}), ("POST", "/move", {"stage": "prices"}),
                                 ("DELETE", "", None)]:
        response = api.call(method, f"{ITEMS}/{item_id}{suffix}", "peek", **({"json": body} if body else {}))
        yield f"{method} {suffix}", response.text
    created = api.call("POST", ITEMS, "peek", json={"title": "peeker's", "supplier": "x"})
    yield "create", created.text


@pytest.mark.db
def test_canaries_in_hidden_fields_never_appear_in_any_response(api: Api) -> None:
    item = api.create("ivanova", title="canary carrier", supplier=CANARIES[0], note=CANARIES[1], amount="2000")
    path = f"{ITEMS}/{item['id']}"
    api.call("PATCH", path, "ivanova", json={"supplier": CANARIES[0] + "-changed"})
    api.call("POST", f"{path}/move", "ivanova", json={"stage": "prices"})
    seen = list(_bodies(api, item["id"]))
    assert len(seen) > 20
    for what, text in seen:
        for canary in CANARIES:
            assert canary not in text, what
    assert "canary carrier" in dict(seen)[f"{ITEMS}/{item['id']}"]  # the item itself is readable


@pytest.mark.db
@pytest.mark.parametrize("login", ["petrov", "stranger"])
def test_a_page_anchored_on_an_unreadable_item_answers_like_a_missing_anchor(api: Api, others_item: int,
                                                                             login: str) -> None:
    for sort in (None, "title"):
        params = {"sort": sort} if sort else {}
        hidden = api.call("GET", ITEMS, login, params={**params, "after": others_item})
        missing = api.call("GET", ITEMS, login, params={**params, "after": MISSING})
        assert hidden.status_code == missing.status_code
        assert hidden.text.replace(str(others_item), "ID") == missing.text.replace(str(MISSING), "ID")
