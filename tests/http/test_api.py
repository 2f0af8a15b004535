"""Every endpoint of the HTTP API and its errors, through FastAPI's TestClient, on SQLite and
PostgreSQL: the answers a client reads (status, problem+json, item JSON) and that a refused
request writes nothing."""

from __future__ import annotations

import io
import json
import tempfile
from pathlib import Path

import openpyxl
import pytest

from tests.http.support import Api, api
from tests.runtime.support import module_url

__all__ = ["api", "module_url"]
ITEMS = "/api/v1/processes/purchase/items"


def problem(response: object, status: int, code: str) -> dict[str, object]:
    assert response.status_code == status, response.text  # type: ignore[attr-defined]
    assert response.headers["content-type"] == "application/problem+json"  # type: ignore[attr-defined]
    body = response.json()  # type: ignore[attr-defined]
    assert body["status"] == status and body["code"] == code and body["detail"] == body["message"]
    return dict(body)


@pytest.mark.db
def test_processes_and_a_process_as_a_client_needs_it(api: Api) -> None:
    listed = api.call("GET", "/api/v1/processes").json()
    assert {p["id"] for p in listed["processes"]} == {"client", "purchase", "claim", "lot"}
    purchase = api.call("GET", "/api/v1/processes/purchase").json()
    fields = {f["id"]: f for f in purchase["fields"]}
    assert fields["amount"]["type"] == "money" and fields["amount"]["currency"] == "RUB"
    assert fields["amount"]["title"] == {"ru": "Сумма", "en": "Amount"}
    assert [o["id"] for o in fields["kind"]["options"]] == ["retail", "bulk"]
    assert fields["client"]["to"] == "client"
    main = purchase["pipelines"][0]
    assert main["id"] == "main" and main["default"] is True
    assert [(s["id"], s["semantic"]) for s in main["stages"]][-2:] == [("done", "success"), ("cancelled", "failure")]
    assert purchase["may"]["read"] == "all"
    clerk = api.call("GET", "/api/v1/processes/purchase", "petrov").json()
    assert clerk["may"]["read"] == "own" and clerk["may"]["import"] == "none"
    missing = problem(api.call("GET", "/api/v1/processes/purchse"), 404, "not-deployed")
    assert missing["hint"] == "did you mean `purchase`?"


@pytest.mark.db
def test_create_get_and_card(api: Api) -> None:
    created = api.create(amount="1500.50", kind="bulk", qty=3, due="2025-05-01", tags=["a", "b"])
    assert created["version"] == 1 and created["pipeline"] == "main" and created["stage"] == "new"
    assert created["amount"] == {"amount": "1500.50", "currency": "RUB"} and created["tags"] == ["a", "b"]
    got = api.call("GET", f"{ITEMS}/{created['id']}")
    assert got.headers["etag"] == '"1"' and got.json() == created
    client = api.call("POST", "/api/v1/processes/client/items", json={"title": "ООО Ромашка"}).json()
    linked = api.create(client=client["id"])
    card = api.call("GET", f"/api/v1/processes/client/items/{client['id']}", params={"card": "true"}).json()
    assert card["links"]["in"] == [{"field": "client", "process": "purchase", "id": linked["id"], "title": "item",
                                    "stage": "new"}]
    out = api.call("GET", f"{ITEMS}/{linked['id']}", params={"card": "true"}).json()["links"]["out"]
    assert out == [{"field": "client", "process": "client", "id": client["id"], "title": "ООО Ромашка"}]
    in_express = api.create(pipeline="express", stage="finish")
    assert (in_express["pipeline"], in_express["stage"]) == ("express", "finish")


@pytest.mark.db
def test_bad_values_and_bad_requests_answer_422_naming_the_field_and_write_nothing(api: Api) -> None:
    before = api.db.count("p_purchase")
    bad = problem(api.call("POST", ITEMS, json={"title": "x", "qty": "many"}), 422, "invalid-value")
    assert bad["field"] == "qty"
    unknown = problem(api.call("POST", ITEMS, json={"title": "x", "amont": 5}), 422, "invalid-value")
    assert "amont" in str(unknown["detail"]) and unknown["hint"] == "did you mean `amount`?"
    malformed = problem(api.call("POST", ITEMS, content=b'{"title": ', headers={"content-type": "application/json"}),
                        422, "invalid-request")
    assert malformed["field"] == "body" and malformed["hint"] == "send a JSON object of field ids to values"
    not_object = problem(api.call("POST", ITEMS, json=["title"]), 422, "invalid-request")
    assert not_object["field"] == "body"
    extra = problem(api.call("POST", f"{ITEMS}/1/move", json={"stage": "done", "stags": 1}), 422, "invalid-request")
    assert extra["field"] == "stags"
    wrong_type = problem(api.call("GET", ITEMS, params={"limit": "ten"}), 422, "invalid-request")
    assert wrong_type["field"] == "limit"
    assert api.db.count("p_purchase") == before


@pytest.mark.db
def test_a_body_over_the_limit_answers_413(api: Api) -> None:
    before = api.db.count("p_purchase")
    body = json.dumps({"title": "x", "note": "n" * (1024 * 1024 + 10)}).encode()
    problem(api.call("POST", ITEMS, content=body, headers={"content-type": "application/json"}), 413, "too-large")

    def chunked() -> object:  # no Content-Length: counted as it arrives
        for _ in range(20):
            yield b"x" * 100_000

    problem(api.call("POST", ITEMS, content=chunked(), headers={"content-type": "application/json"}), 413, "too-large")
    assert api.db.count("p_purchase") == before


@pytest.mark.db
def test_list_filter_sort_fields_and_keyset_cursor(api: Api) -> None:
    ids = [api.create(title=f"page-{n}", qty=n + 1, supplier="PAGING")["id"] for n in range(5)]
    where = ["supplier = PAGING"]
    first = api.call("GET", ITEMS, params={"where": where, "limit": 2, "fields": "qty"}).json()
    assert [i["id"] for i in first["items"]] == ids[:2] and first["next"] == ids[1]
    assert set(first["items"][0]) == {"id", "qty"}
    second = api.call("GET", ITEMS, params={"where": where, "limit": 2, "after": first["next"]}).json()
    assert [i["id"] for i in second["items"]] == ids[2:4]
    last = api.call("GET", ITEMS, params={"where": where, "limit": 2, "after": second["next"]}).json()
    assert [i["id"] for i in last["items"]] == ids[4:] and last["next"] is None
    two = api.call("GET", ITEMS, params={"where": [*where, "qty >= 4"], "sort": "qty:desc"}).json()
    assert [i["qty"] for i in two["items"]] == [5, 4]
    bad = problem(api.call("GET", ITEMS, params={"where": "qty >> 3"}), 422, "invalid-value")
    assert bad["detail"]


@pytest.mark.db
def test_patch_with_if_match_and_412_when_stale(api: Api) -> None:
    item = api.create(qty=1)
    path = f"{ITEMS}/{item['id']}"
    changed = api.call("PATCH", path, json={"qty": 2}, headers={"If-Match": '"1"'})
    assert changed.status_code == 200 and changed.json()["qty"] == 2 and changed.headers["etag"] == '"2"'
    history = api.db.history_rows("purchase", item["id"])
    stale = problem(api.call("PATCH", path, json={"qty": 3}, headers={"If-Match": '"1"'}), 412, "stale-version")
    assert stale["hint"]
    assert api.call("GET", path).json()["qty"] == 2 and api.db.history_rows("purchase", item["id"]) == history
    assert api.call("PATCH", path, json={"qty": 9}).json()["version"] == 3  # without If-Match: last write wins
    problem(api.call("PATCH", path, json={"qty": 1}, headers={"If-Match": "yesterday"}), 422, "invalid-value")


@pytest.mark.db
def test_move_refused_with_the_reasons_explain_gives_then_allowed(api: Api) -> None:
    item = api.create(amount="10")
    path = f"{ITEMS}/{item['id']}"
    explained = api.call("GET", f"{path}/explain", params={"stage": "prices"}).json()
    assert explained["allowed"] is False and explained["reasons"]
    refused = problem(api.call("POST", f"{path}/move", json={"stage": "prices"}), 409, "move-refused")
    assert refused["reasons"] == explained["reasons"]
    assert api.call("GET", path).json()["stage"] == "new"
    api.call("PATCH", path, json={"amount": "5000", "supplier": "ООО Снаб"})
    assert api.call("GET", f"{path}/explain", params={"stage": "prices"}).json() == {"allowed": True, "reasons": []}
    moved = api.call("POST", f"{path}/move", json={"stage": "prices"}, headers={"If-Match": '"2"'})
    assert moved.status_code == 200 and moved.json()["stage"] == "prices"
    problem(api.call("POST", f"{path}/move", json={"stage": "approved"}, headers={"If-Match": '"2"'}), 412,
            "stale-version")
    other = api.call("POST", f"{path}/move", json={"stage": "start", "pipeline": "express"})
    assert (other.json()["pipeline"], other.json()["stage"]) == ("express", "start")
    history = api.call("GET", f"{path}/history").json()["history"]
    assert history[0]["kind"] == "create" and history[-1]["via"] == "http"


@pytest.mark.db
def test_delete_to_the_recycle_bin_and_restore(api: Api) -> None:
    item = api.create()
    path = f"{ITEMS}/{item['id']}"
    deleted = api.call("DELETE", path).json()
    assert deleted["id"] == item["id"] and deleted["outcome"]
    problem(api.call("GET", path), 404, "not-found")
    restored = api.call("POST", f"{path}/restore")
    assert restored.status_code == 200 and restored.json()["id"] == item["id"]
    problem(api.call("POST", f"{path}/restore"), 404, "not-found")


@pytest.mark.db
def test_kanban_and_report(api: Api) -> None:
    api.create(amount="100")
    board = api.call("GET", "/api/v1/processes/purchase/kanban").json()
    new = next(c for c in board["columns"] if c["stage"] == "new")
    assert board["money_field"] == "amount" and new["count"] >= 1 and new["title"]["en"] == "New"
    assert new["sums"]["RUB"]
    problem(api.call("GET", "/api/v1/processes/purchase/kanban", params={"pipeline": "nope"}), 422, "invalid-value")
    report = api.call("GET", "/api/v1/processes/purchase/report", params={"from": "2020-01-01"})
    assert report.status_code == 200 and report.json()
    problem(api.call("GET", "/api/v1/processes/purchase/report", params={"from": "soon"}), 422, "invalid-request")


@pytest.mark.db
def test_export_csv_and_xlsx_of_the_current_filter(api: Api) -> None:
    for n in range(3):
        api.create(title=f"export-{n}", supplier="EXPORTME")
    response = api.call("GET", "/api/v1/processes/purchase/export",
                        params={"format": "csv", "where": "supplier = EXPORTME", "columns": "title,supplier"})
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/csv")
    lines = response.content.decode("utf-8-sig").splitlines()
    assert len(lines) == 4 and lines[1].endswith(",export-0,EXPORTME")
    # in Russian: `;` and a BOM, what a Russian Excel opens cleanly; the delimiter can be chosen
    russian = api.call("GET", "/api/v1/processes/purchase/export", params={
        "format": "csv", "where": "supplier = EXPORTME", "columns": "title,supplier", "lang": "ru"})
    assert russian.content.startswith(b"\xef\xbb\xbf")
    assert russian.content.decode("utf-8-sig").splitlines()[1].endswith(";export-0;EXPORTME")
    for chosen, sign in ((",", ","), ("tab", "\t"), (";", ";")):
        picked = api.call("GET", "/api/v1/processes/purchase/export", params={
            "format": "csv", "where": "supplier = EXPORTME", "columns": "title,supplier", "lang": "ru",
            "delimiter": chosen})
        assert picked.content.decode("utf-8-sig").splitlines()[1].endswith(f"{sign}export-0{sign}EXPORTME")
    problem(api.call("GET", "/api/v1/processes/purchase/export", params={"delimiter": "|"}), 422, "invalid-request")
    xlsx = api.call("GET", "/api/v1/processes/purchase/export",
                    params={"format": "xlsx", "where": "supplier = EXPORTME"})
    sheet = openpyxl.load_workbook(io.BytesIO(xlsx.content), read_only=True).active
    assert sheet is not None and len(list(sheet.iter_rows())) == 4
    problem(api.call("GET", "/api/v1/processes/purchase/export", params={"format": "pdf"}), 422, "invalid-request")
    problem(api.call("GET", "/api/v1/processes/purchase/export", "sidorov"), 403, "permission-denied")
    problem(api.call("GET", "/api/v1/processes/purchase/export", params={"where": "nofield = 1"}), 422,
            "invalid-value")


@pytest.mark.db
def test_import_multipart_dry_run_and_per_row_errors(api: Api) -> None:
    before = api.db.count("p_purchase")
    data = b"title,qty\nimported one,5\nimported two,many\n"
    path = "/api/v1/processes/purchase/import"
    dry = api.call("POST", path, files={"file": ("orders.csv", data, "text/csv")}, data={"dry_run": "true"}).json()
    assert dry["dry_run"] is True and dry["rows"] == 2 and dry["failed_rows"] == 1 and dry["written"] is False
    assert dry["problems"][0]["row"] == 3 and dry["problems"][0]["column"] == "qty"
    assert dry["problems"][0]["message"] == '"many" is not a whole number'
    russian = api.call("POST", path, files={"file": ("orders.csv", data, "text/csv")}, data={"dry_run": "true"},
                       headers={"Accept-Language": "ru"})
    assert russian.json()["problems"][0]["message"] == '"many" — не целое число'
    assert russian.headers["content-language"] == "ru"
    assert api.db.count("p_purchase") == before
    real = api.call("POST", path, files={"file": ("orders.csv", data, "text/csv")}).json()
    assert real["created"] == 1 and api.db.count("p_purchase") == before + 1
    problem(api.call("POST", path, files={"file": ("orders.pdf", b"%PDF", "application/pdf")}), 422, "invalid-value")
    problem(api.call("POST", path, "sidorov", files={"file": ("orders.csv", data, "text/csv")}), 403,
            "permission-denied")
    assert api.db.count("p_purchase") == before + 1


@pytest.mark.db
def test_inbox_jobs_outbox_users_departments(api: Api) -> None:
    assert api.call("GET", "/api/v1/inbox").json() == {"messages": [], "mentions": [], "todos": [],
                                                      "counts": {"overdue": 0, "today": 0}}
    for path in ("/api/v1/jobs", "/api/v1/outbox", "/api/v1/users", "/api/v1/departments"):
        problem(api.call("GET", path, "ivanova"), 403, "permission-denied")
        assert api.call("GET", path, "boss").status_code == 200
    users = api.call("GET", "/api/v1/users", "boss").json()["users"]
    assert {u["login"] for u in users} >= {"ivanova", "boss"} and "roles" in users[0]


@pytest.mark.db
def test_credentials_401_for_none_wrong_revoked_and_expired(api: Api) -> None:
    problem(api.call("GET", "/api/v1/processes", None), 401, "unauthenticated")
    wrong = api.call("GET", "/api/v1/processes", None, headers={"Authorization": "Bearer sf_not-a-token"})
    assert problem(wrong, 401, "unauthenticated") and wrong.headers["www-authenticate"].startswith("Bearer")
    problem(api.call("GET", "/api/v1/processes", None, headers={"Authorization": "Basic dXNlcjpwYXNz"}), 401,
            "unauthenticated")
    token = api.db.admin.create_token("petrov")
    assert api.call("GET", "/api/v1/processes", None, headers={"Authorization": f"Bearer {token}"}).status_code == 200
    api.db.admin.revoke_token(max(t["id"] for t in api.db.admin.tokens("petrov")))
    problem(api.call("GET", "/api/v1/processes", None, headers={"Authorization": f"Bearer {token}"}), 401,
            "unauthenticated")
    before = api.db.count("p_purchase")
    problem(api.call("POST", ITEMS, None, json={"title": "x"}), 401, "unauthenticated")
    assert api.db.count("p_purchase") == before


@pytest.mark.db
def test_browser_session_cookie_csrf_logout_and_throttling(api: Api) -> None:
    api.db.admin.set_password("ivanova", "s3cret-enough")
    client = api.client
    client.cookies.clear()
    logged = client.post("/api/v1/session", json={"login": "ivanova", "password": "s3cret-enough"})
    assert logged.status_code == 200
    cookies = logged.headers.get_list("set-cookie")
    session = next(c for c in cookies if c.startswith("smartflow_session="))
    assert "HttpOnly" in session and "SameSite=strict" in session and "Max-Age=43200" in session
    csrf = logged.json()["csrf_token"]
    assert client.get("/api/v1/session").json() == {"login": "ivanova"}
    before = api.db.count("p_purchase")
    problem(client.post(ITEMS, json={"title": "no csrf"}), 403, "permission-denied")
    problem(client.post(ITEMS, json={"title": "bad csrf"}, headers={"X-CSRF-Token": "x" * 32}), 403,
            "permission-denied")
    assert api.db.count("p_purchase") == before
    assert client.post(ITEMS, json={"title": "with csrf"}, headers={"X-CSRF-Token": csrf}).status_code == 201
    assert client.delete("/api/v1/session", headers={"X-CSRF-Token": csrf}).status_code == 200
    client.cookies.clear()
    problem(client.get("/api/v1/session"), 401, "unauthenticated")
    for _ in range(5):
        problem(client.post("/api/v1/session", json={"login": "petrov", "password": "guess"}), 401,
                "unauthenticated")
    problem(client.post("/api/v1/session", json={"login": "petrov", "password": "guess"}), 429, "too-many-attempts")
    problem(client.post("/api/v1/session", json={"login": "petrov"}), 422, "invalid-request")
    client.cookies.clear()


@pytest.mark.db
def test_export_and_import_leave_no_temporary_file(api: Api, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    xlsx = api.call("GET", "/api/v1/processes/purchase/export", params={"format": "xlsx"})
    assert xlsx.status_code == 200 and xlsx.content.startswith(b"PK")
    problem(api.call("GET", "/api/v1/processes/purchase/export", params={"format": "xlsx", "where": "nope = 1"}),
            422, "invalid-value")
    data = b"title\nfrom a temporary file\n"
    imported = api.call("POST", "/api/v1/processes/purchase/import", files={"file": ("a.csv", data, "text/csv")})
    assert imported.json()["created"] == 1
    assert list(tmp_path.iterdir()) == []
