"""Hostile input against the HTTP API and the board: every answer is below 500, a refusal is a 4xx
problem+json naming the field (the API) or a page saying what is wrong (the board), and a refused
request leaves the database exactly as it was (tests/dbutil.snapshot), on SQLite and PostgreSQL.

First each input the issue found answering 500 (or 503 with PostgreSQL's text), one by one; then
hypothesis generating hostile JSON values, query strings and form posts (bounded: a few dozen
examples each, so the file stays well under a minute per database)."""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.dbutil import snapshot
from tests.http.support import Api, api
from tests.runtime.support import module_url

__all__ = ["api", "module_url"]
pytestmark = pytest.mark.db
ITEMS = "/api/v1/processes/purchase/items"
PASSWORD = "hostile-Input-2026-x"
HUGE = 2**63
EXAMPLES = 20  # an example costs a request and, after a refusal, a snapshot of the database


class Raw:
    """A JSON number written as given (`1e400`, a 5000-digit integer): what json.dumps cannot make."""

    def __init__(self, text: str) -> None:
        self.text = text

    def __repr__(self) -> str:
        return f"Raw({self.text[:20]!r})"


def dumps(value: Any) -> bytes:
    """JSON text of value: NaN and ±Infinity as Python writes them, Raw as given, strings escaped to
    ASCII (so a lone surrogate travels as `\\ud800`)."""
    if isinstance(value, Raw):
        return value.text.encode()
    if isinstance(value, dict):
        return b"{" + b",".join(json.dumps(str(k)).encode() + b":" + dumps(v) for k, v in value.items()) + b"}"
    if isinstance(value, list):
        return b"[" + b",".join(dumps(v) for v in value) + b"]"
    return json.dumps(value).encode()


@pytest.fixture(scope="module")
def browser_client(api: Api) -> Iterator[tuple[TestClient, str]]:
    """A client signed in with a browser session (cookies), and its CSRF token."""
    api.db.admin.set_password("ivanova", PASSWORD)
    client = TestClient(api.client.app, raise_server_exceptions=False)
    answer = client.post("/api/v1/session", json={"login": "ivanova", "password": PASSWORD})
    assert answer.status_code == 200, answer.text
    yield client, answer.json()["csrf_token"]
    client.close()


def refused(api: Api, send: Any, status: int = 422, field: str | None = None) -> dict[str, Any]:
    """send() is answered with status, as problem+json naming field, and the database is unchanged."""
    before = snapshot(api.db.url)
    answer = send()
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"].startswith("application/problem+json"), answer.text
    body = answer.json()
    assert body["status"] == status and body["detail"] and body["code"]
    if field is not None:
        assert body.get("field") == field, body
    for internal in ("psycopg", "sqlalchemy", "Traceback", "integer out of range", "(0x00)"):
        assert internal not in answer.text
    assert snapshot(api.db.url) == before
    return dict(body)


def post_json(api: Api, path: str, value: Any, method: str = "POST", **headers: str) -> Any:
    return api.call(method, path, content=dumps(value), headers={"content-type": "application/json", **headers})


# ---- the inputs the issue found, one by one ------------------------------------------------------

@pytest.mark.parametrize(("body", "field", "says"), [
    ({"title": "x", "qty": Raw("Infinity")}, "qty", "Infinity is not a whole number"),
    ({"title": "x", "qty": Raw("-Infinity")}, "qty", "is not a whole number"),
    ({"title": "x", "weight": Raw("NaN")}, "weight", "NaN is not a number"),
    ({"title": "x", "qty": Raw("1e400")}, "qty", "is too large to store"),
    ({"title": "x", "amount": Raw("1e400")}, "amount", "is too large to store"),
    ({"title": "x", "qty": Raw("9" * 5000)}, "qty", "is too large to store"),
    ({"title": "x", "manager": HUGE}, "manager", "is not an id"),
    ({"title": "x", "manager": f"#{HUGE}"}, "manager", "is not an id"),
    ({"title": "x", "manager": 2**31}, "manager", "is not an id"),  # past PostgreSQL's integer column
    ({"title": "x", "client": HUGE}, "client", "is not an id"),
    ({"title": "x", "client": 2**31}, "client", "is not an id"),
    ({"title": "x", "assigned_to": HUGE}, "assigned_to", "there is no user"),
    ({"title": "x", "assigned_to": "a\x00b"}, "assigned_to", "NUL"),
    ({"title": "x", "assigned_to": "#²"}, "assigned_to", "there is no user"),
    ({"title": "x", "manager": "#²"}, "manager", "is not an id"),
    ({"title": "a\ud800b"}, "title", "lone surrogate"),
    ({"title": "x", "note": "\udfff"}, "note", "lone surrogate"),
    ({"title": "x", "tags": ["ok", "\ud83d"]}, "tags.1", "lone surrogate"),
    ({"title": "a\x00b"}, "title", "NUL"),
    ({"title": "x", "note": "a\x00b"}, "note", "NUL"),
    ({"title": "x", "kind": "bulk\x00"}, "kind", "NUL"),
    ({"title": "x", "stage": "new\x00"}, "stage", "NUL"),
], ids=lambda value: repr(value)[:40])
def test_a_hostile_value_is_refused_naming_its_field(api: Api, body: dict[str, Any], field: str, says: str) -> None:
    problem = refused(api, lambda: post_json(api, ITEMS, body), field=field)
    assert says in problem["detail"]


def test_hostile_values_in_a_change_and_a_move_are_refused_too(api: Api) -> None:
    item = api.create()["id"]
    refused(api, lambda: post_json(api, f"{ITEMS}/{item}", {"qty": Raw("Infinity")}, "PATCH"), field="qty")
    refused(api, lambda: post_json(api, f"{ITEMS}/{item}", {"client": HUGE}, "PATCH"), field="client")
    refused(api, lambda: post_json(api, f"{ITEMS}/{item}", {"note": "\ud800"}, "PATCH"), field="note")
    refused(api, lambda: post_json(api, f"{ITEMS}/{item}/move", {"stage": "\ud800"}), field="stage")
    refused(api, lambda: post_json(api, f"{ITEMS}/{item}/move", {"stage": Raw("Infinity")}), field="stage")


def test_a_body_that_nests_too_deeply_or_is_not_utf8_is_refused(api: Api) -> None:
    deep = b'{"title": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    refused(api, lambda: api.call("POST", ITEMS, content=deep, headers={"content-type": "application/json"}),
            field="body")
    refused(api, lambda: api.call("POST", ITEMS, content=b'{"title": "\xff\xfe"}',
                                  headers={"content-type": "application/json"}), field="body")


@pytest.mark.parametrize(("query", "field"), [
    ({"where": "qty = Infinity"}, "qty"),
    ({"where": "weight > 1e400"}, "weight"),
    ({"where": f"manager = #{HUGE}"}, "manager"),
    ({"where": f"manager = #{2**31}"}, "manager"),
    ({"where": f"client = {HUGE}"}, "client"),
    ({"where": f"id < {2**40}"}, "id"),
    ({"where": "title = a\x00b"}, "title"),
    ({"where": "title contains a\x00b"}, "title"),
    ({"where": "manager = a\x00b"}, "manager"),
    ({"search": "a\x00b"}, "search"),
    ({"stage": "new\x00"}, "stage"),
    ({"pipeline": "main\x00"}, "pipeline"),
    ({"after": str(HUGE)}, "after"),
    ({"after": str(2**31)}, "after"),
], ids=lambda value: repr(value)[:40])
def test_a_hostile_list_query_is_refused_naming_its_field(api: Api, query: dict[str, str], field: str) -> None:
    refused(api, lambda: api.call("GET", ITEMS, params=query), field=field)


def test_a_report_to_the_last_day_there_is_counts_every_item(api: Api) -> None:
    answer = api.call("GET", "/api/v1/processes/purchase/report", params={"to": "9999-12-31"})
    everything = api.call("GET", "/api/v1/processes/purchase/report")
    assert answer.status_code == 200, answer.text
    assert answer.json()["items"] == everything.json()["items"]
    assert api.call("GET", "/api/v1/processes/purchase/report", params={"from": "0001-01-01"}).status_code == 200


def test_huge_item_ids_in_api_paths_are_refused(api: Api) -> None:
    for item in (HUGE, 2**31, 10**40):
        refused(api, lambda: api.call("GET", f"{ITEMS}/{item}"), field="item_id")  # noqa: B023
        refused(api, lambda: post_json(api, f"{ITEMS}/{item}/move", {"stage": "prices"}),  # noqa: B023
                field="item_id")


def test_a_non_ascii_csrf_token_is_a_403_on_the_api_and_the_board(api: Api,
                                                                   browser_client: tuple[TestClient, str]) -> None:
    client, _ = browser_client
    item = api.create()["id"]
    for token in ("жжж".encode(), b"\xe9\xff", b"caf\xc3\xa9"):
        refused(api, lambda: client.patch(f"{ITEMS}/{item}", json={"qty": 3},
                                          headers={"x-csrf-token": token}), 403)  # noqa: B023
        before = snapshot(api.db.url)
        answer = client.post(f"/processes/purchase/items/{item}/move", json={"stage": "cancelled"},
                             headers={"x-csrf-token": token, "accept": "application/json"})
        assert answer.status_code == 403 and answer.json()["moved"] is False
        assert snapshot(api.db.url) == before
    before = snapshot(api.db.url)
    answer = client.post(f"/processes/purchase/items/{item}", data={"csrf": "жжж", "title": "changed"})
    assert answer.status_code == 403 and "CSRF" in answer.text
    assert snapshot(api.db.url) == before


def test_the_card_form_refuses_a_version_or_seen_that_is_no_number(api: Api,
                                                                   browser_client: tuple[TestClient, str]) -> None:
    client, csrf = browser_client
    item = api.create()["id"]
    for form in ({"version": "abc"}, {"version": "1", "seen": "x"}, {"version": "²"}, {"version": str(HUGE)}):
        before = snapshot(api.db.url)
        answer = client.post(f"/processes/purchase/items/{item}", data={"csrf": csrf, "title": "new title", **form},
                             follow_redirects=False)
        assert answer.status_code == 422, answer.text
        assert "is not a whole number" in answer.text and "text/html" in answer.headers["content-type"]
        assert snapshot(api.db.url) == before


def test_huge_item_ids_and_cursors_on_the_board_are_not_found(api: Api, browser_client: tuple[TestClient, str]) -> None:
    client, csrf = browser_client
    before = snapshot(api.db.url)
    for item in (HUGE, 2**31):
        assert client.get(f"/processes/purchase/items/{item}").status_code == 404
        assert client.post(f"/processes/purchase/items/{item}", data={"csrf": csrf, "title": "x"}).status_code == 404
        assert client.post(f"/processes/purchase/items/{item}/stage", data={"csrf": csrf, "stage": "prices"}
                           ).status_code == 404
        moved = client.post(f"/processes/purchase/items/{item}/move", json={"stage": "prices"},
                            headers={"x-csrf-token": csrf, "accept": "application/json"})
        assert moved.status_code == 404 and moved.json()["moved"] is False
        assert client.get(f"/processes/purchase/items/{item}/explain", params={"stage": "prices"},
                          headers={"accept": "application/json"}).status_code == 404
    assert client.get("/processes/purchase/items", params={"after": str(2**31)}).status_code == 422
    assert client.get("/processes/purchase/items", params={"after": "²"}).status_code == 200  # no cursor: page 1
    assert client.get("/processes/purchase/kanban/cards", params={"stage": "new", "after": str(HUGE)}
                      ).status_code == 422
    assert snapshot(api.db.url) == before


# ---- import files --------------------------------------------------------------------------------

SHEET_NS = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"


def xlsx_with_sheet(sheet: bytes) -> bytes:
    """A real workbook (openpyxl's) whose first sheet's XML is replaced by sheet."""
    from openpyxl import Workbook

    book = Workbook()
    book.active.append(["title"])
    book.active.append(["x"])
    made = io.BytesIO()
    book.save(made)
    source = zipfile.ZipFile(io.BytesIO(made.getvalue()))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as target:
        for name in source.namelist():
            target.writestr(name, sheet if name == "xl/worksheets/sheet1.xml" else source.read(name))
    return out.getvalue()


def _cell_sheet(prolog: str, cell: str) -> bytes:
    return (f'<?xml version="1.0"?>{prolog}<worksheet xmlns="{SHEET_NS}"><sheetData>'
            f'<row r="1"><c r="A1" t="inlineStr"><is><t>title</t></is></c></row>'
            f'<row r="2"><c r="A2" t="inlineStr"><is><t>{cell}</t></is></c></row></sheetData></worksheet>').encode()


LAUGHS = "<!DOCTYPE l [<!ENTITY a \"aaaaaaaaaa\">" + "".join(
    f'<!ENTITY {chr(98 + n)} "{("&" + chr(97 + n) + ";") * 10}">' for n in range(8)) + "]>"
BAD_FILES = [
    ("broken.xlsx", xlsx_with_sheet(b"<worksheet><sheetData><row><c"), "its XML is broken"),
    ("entity.xlsx", xlsx_with_sheet(_cell_sheet('<!DOCTYPE x [<!ENTITY e "boom">]>', "&e;")), "declares entities"),
    ("laughs.xlsx", xlsx_with_sheet(_cell_sheet(LAUGHS, "&i;")), "declares entities"),
    ("external.xlsx", xlsx_with_sheet(_cell_sheet('<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>', "&e;")),
     "declares entities"),
    ("long.csv", b"title,note\nx," + b"a" * (200 * 1024) + b"\n", "longer than 131072 characters"),
]


@pytest.mark.parametrize(("name", "content", "says"), BAD_FILES, ids=[f[0] for f in BAD_FILES])
def test_a_hostile_import_file_is_refused_naming_it_and_writes_nothing(api: Api, name: str, content: bytes,
                                                                       says: str) -> None:
    for on_error in ("skip", "abort"):
        problem = refused(api, lambda: api.call("POST", "/api/v1/processes/purchase/import",
                                                files={"file": (name, content)},
                                                data={"on_error": on_error}),  # noqa: B023
                          field="file")
        assert says in problem["detail"] and problem["detail"].startswith(name)
        assert "/tmp" not in problem["detail"] and "smartflow-" not in problem["detail"]


def test_a_file_broken_after_its_first_batch_says_what_stays_or_with_abort_writes_nothing(api: Api,
                                                                                          tmp_path: Any) -> None:
    from smartflow.services.data import DataFileError, ImportOptions

    path = tmp_path / "long.csv"  # a batch of 20 good rows, then 3 more and a field over csv's limit
    path.write_text("title\n" + "".join(f"row {n}\n" for n in range(23)) + "a" * (200 * 1024) + "\n")
    before = snapshot(api.db.url)
    with pytest.raises(DataFileError) as broken:
        api.db.admin.import_file("purchase", path, ImportOptions(on_error="abort", batch=20))
    assert "line 25: a field is longer than 131072 characters" in str(broken.value)
    assert snapshot(api.db.url) == before
    with pytest.raises(DataFileError) as broken:
        api.db.admin.import_file("purchase", path, ImportOptions(batch=20))
    assert "the 20 created and 0 updated item(s) of the 20 row(s) before it stay" in str(broken.value)
    assert "--on-error abort" in (broken.value.hint or "")


def test_a_nul_in_an_imported_cell_is_that_row_s_problem(api: Api) -> None:
    before = snapshot(api.db.url)
    answer = api.call("POST", "/api/v1/processes/purchase/import",
                      files={"file": ("nul.csv", b"title,note\nfine,ok\nbad,a\x00b\n")}, data={"on_error": "abort"})
    assert answer.status_code == 200, answer.text
    result = answer.json()
    assert (result["written"], result["failed_rows"]) == (False, 1)
    assert result["problems"][0]["column"] == "note" and "NUL" in result["problems"][0]["message"]
    assert snapshot(api.db.url) == before


# ---- property tests: hostile JSON, query strings and forms -----------------------------------------

FIELDS = ["title", "code", "name", "note", "qty", "weight", "amount", "urgent", "due", "meet_at", "kind", "manager",
          "client", "email", "tags", "supplier", "stage", "pipeline", "assigned_to", "nope"]
NASTY_TEXT = st.one_of(
    st.text(max_size=12),
    st.lists(st.sampled_from(["\x00", "\ud800", "\udfff", "a", "Ж", "9", "-", "#", "'", "%", " ", "e", "\n"]),
             max_size=8).map("".join),
    st.sampled_from(["", " ", "Infinity", "NaN", "1e400", f"#{HUGE}", str(HUGE), "²", "٣", "2026-13-45",
                     "9999-12-31T23:59:59+14:00", "0001-01-01T00:00:00-14:00", "RUBRUB", "=1+1"]),
)
NUMBERS = st.one_of(
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([Raw("1e400"), Raw("-1e400"), Raw("1e-400"), Raw("9" * 5000), Raw("Infinity"), Raw("NaN"),
                     2**31, 2**31 - 1, 2**63, -(2**63), 0, -1]),
)
SCALARS = st.one_of(st.none(), st.booleans(), NUMBERS, NASTY_TEXT)
VALUES = st.recursive(SCALARS, lambda inner: st.one_of(
    st.lists(inner, max_size=3), st.dictionaries(NASTY_TEXT, inner, max_size=3)), max_leaves=6)
BODIES = st.dictionaries(st.one_of(st.sampled_from(FIELDS), NASTY_TEXT), VALUES, max_size=4)
LIMITED = settings(max_examples=EXAMPLES, deadline=None, database=None, derandomize=True,
                   suppress_health_check=list(HealthCheck))
READS_ONLY = settings(LIMITED, max_examples=3 * EXAMPLES)  # no snapshot per example: more of them


def checked(api: Api, before: dict[str, Any], answer: Any, request: str) -> dict[str, Any]:
    """The answer is below 500; after a refusal the database is as before. The snapshot to compare with next."""
    assert answer.status_code < 500, f"{request} → {answer.status_code}: {answer.text[:500]}"
    after = snapshot(api.db.url)
    if answer.status_code >= 400:
        assert after == before, f"{request} was refused ({answer.status_code}) but wrote"
        if answer.headers.get("content-type", "").startswith("application/problem+json"):
            assert answer.json()["detail"]
    return after


def test_hostile_json_bodies_get_no_5xx_and_a_refusal_writes_nothing(api: Api) -> None:
    item = api.create(qty=2)["id"]
    state = {"before": snapshot(api.db.url)}

    @LIMITED
    @given(body=BODIES, how=st.sampled_from(["create", "update", "move"]))
    def check(body: dict[str, Any], how: str) -> None:
        if how == "create":
            answer = post_json(api, ITEMS, body)
        elif how == "update":
            answer = post_json(api, f"{ITEMS}/{item}", body, "PATCH")
        else:
            answer = post_json(api, f"{ITEMS}/{item}/move", body)
        state["before"] = checked(api, state["before"], answer, f"{how} {dumps(body)[:300]!r}")

    check()


QUERY_KEYS = ["where", "search", "sort", "stage", "pipeline", "after", "limit", "fields", "card", "top", "from", "to",
              "lang", "format", "columns", "unread", "status", "month", "field", "group"]
HOSTILE_WORDS = st.sampled_from(["Infinity", "-Infinity", "NaN", "1e400", f"#{HUGE}", str(HUGE), str(2**31), "²",
                                 "a\x00b", "9999-12-31", "0001-01-01", "9999-12-31T23:59:59-14:00", "-1"])
WHERES = st.builds(lambda field, op, value: f"{field} {op} {value}",
                   st.sampled_from(["qty", "weight", "amount", "manager", "client", "id", "title", "due", "meet_at",
                                    "created_at", "tags", "kind", "urgent", "nope"]),
                   st.sampled_from(["=", "!=", "<", ">=", "in", "contains", "is empty"]),
                   st.one_of(HOSTILE_WORDS, NASTY_TEXT))
QUERIES = st.lists(st.one_of(st.tuples(st.just("where"), WHERES),
                             st.tuples(st.sampled_from(QUERY_KEYS), st.one_of(HOSTILE_WORDS, NASTY_TEXT))),
                   min_size=1, max_size=4)
READS = [ITEMS, f"{ITEMS}/1", f"{ITEMS}/1/history", f"{ITEMS}/1/explain", "/api/v1/processes/purchase/kanban",
         "/api/v1/processes/purchase/report", "/api/v1/processes/purchase/export", "/api/v1/inbox", "/api/v1/jobs",
         "/processes/purchase/items", "/processes/purchase/kanban", "/processes/purchase/kanban/cards",
         "/processes/purchase/items/1", "/api/v1/processes/purchase/deadlines", "/api/v1/processes/purchase/calendar",
         "/processes/purchase/deadlines", "/processes/purchase/calendar", "/processes/purchase/analytics"]


def test_hostile_query_strings_get_no_5xx_and_write_nothing(api: Api, browser_client: tuple[TestClient, str]) -> None:
    client, _ = browser_client
    api.create()
    before = snapshot(api.db.url)

    @READS_ONLY
    @given(path=st.sampled_from(READS), query=QUERIES)
    def check(path: str, query: list[tuple[str, str]]) -> None:
        params = [(key, value.replace("\ud800", "?").replace("\udfff", "?")) for key, value in query]
        answer = client.get(path, params=params) if not path.startswith("/api/") else api.call("GET", path,
                                                                                             params=params)
        assert answer.status_code < 500, f"GET {path} {params!r} → {answer.status_code}: {answer.text[:500]}"

    check()
    after = snapshot(api.db.url)
    # reads write nothing but the inbox's "read" marks: compare everything else
    assert {k: v for k, v in after.items() if k != "sf_inbox"} == {k: v for k, v in before.items() if k != "sf_inbox"}


FORM_KEYS = ["title", "qty", "weight", "amount", "amount__currency", "due", "meet_at", "kind", "manager", "client",
             "tags", "note", "urgent", "version", "seen", "stage", "pipeline", "nope", "urgent__present"]
FORMS = st.lists(st.tuples(st.sampled_from(FORM_KEYS), NASTY_TEXT.map(lambda t: t.replace("\ud800", "?")
                                                                          .replace("\udfff", "?"))), max_size=5)


def test_hostile_board_forms_get_no_5xx_and_a_refusal_writes_nothing(api: Api,
                                                                      browser_client: tuple[TestClient, str]) -> None:
    client, csrf = browser_client
    item = api.create(qty=2)["id"]
    state = {"before": snapshot(api.db.url)}

    @LIMITED
    @given(form=FORMS, how=st.sampled_from(["save", "create", "stage", "move"]))
    def check(form: list[tuple[str, str]], how: str) -> None:
        data: dict[str, list[str]] = {"csrf": [csrf]}
        for key, value in form:
            data.setdefault(key, []).append(value)
        if how == "save":
            answer = client.post(f"/processes/purchase/items/{item}", data=data, follow_redirects=False)
        elif how == "create":
            answer = client.post("/processes/purchase/items/new", data=data, follow_redirects=False)
        elif how == "stage":
            answer = client.post(f"/processes/purchase/items/{item}/stage", data=data, follow_redirects=False)
        else:
            values = {key: sent for key, sent in data.items() if key != "csrf"}
            answer = client.post(f"/processes/purchase/items/{item}/move",
                                 json={"stage": values.get("stage", ["prices"])[-1], "values": values},
                                 headers={"x-csrf-token": csrf, "accept": "application/json"})
        state["before"] = checked(api, state["before"], answer, f"{how} {form!r}"[:300])

    check()


def test_the_strict_reader_keeps_ordinary_numbers_as_python_reads_them() -> None:
    from smartflow.http.bodies import read

    assert read(b'{"a": 1, "b": 2.5, "c": -0.0, "d": [1e10]}') == {"a": 1, "b": 2.5, "c": -0.0, "d": [1e10]}
    assert read(b'{"a": Infinity, "b": 1e400}') == {"a": Decimal("Infinity"), "b": Decimal("1e400")}


# ---- what no handler expected ----------------------------------------------------------------------

def test_an_unexpected_error_is_a_logged_500_without_internals(api: Api, caplog: pytest.LogCaptureFixture) -> None:
    import sqlalchemy as sa

    from smartflow.http.app import create_app

    app = create_app(engine=api.db.admin)

    def bug() -> None:
        raise RuntimeError("secret internals: /srv/smartflow/settings.py line 3")

    def lost() -> None:
        raise sa.exc.OperationalError("SELECT 1", {}, Exception("connection to 10.0.0.5 failed: password=hunter2"))

    app.add_api_route("/api/v1/bug", bug)
    app.add_api_route("/api/v1/lost", lost)
    with TestClient(app, raise_server_exceptions=False) as client:
        for path, status, code in (("/api/v1/bug", 500, "internal-error"),
                                   ("/api/v1/lost", 503, "database-unavailable")):
            caplog.clear()
            answer = client.get(path)
            assert answer.status_code == status
            assert answer.headers["content-type"].startswith("application/problem+json")
            assert answer.json()["code"] == code and "nothing was changed" in answer.json()["detail"]
            assert "secret" not in answer.text and "hunter2" not in answer.text and "10.0.0.5" not in answer.text
            logged = [r for r in caplog.records if r.name == "smartflow.http" and r.exc_info]
            assert logged and f"GET {path} failed" in logged[0].getMessage()


def test_the_database_s_own_words_never_reach_a_caller(api: Api) -> None:
    """A constraint met by a concurrent change, or a database that cannot be reached: the caller hears what
    happened and what to do, never the driver's text (constraint names, hosts, values)."""
    import sqlalchemy as sa

    from smartflow import errors
    from smartflow.http import problems

    driver = Exception('duplicate key value violates unique constraint "ix_p_secret_code" DETAIL: Key=(SEC-1)')
    with pytest.raises(errors.ConflictError) as caught, api.db.admin.session(True):
        raise sa.exc.IntegrityError("INSERT INTO p_secret", {}, driver)
    assert "ix_p_secret" not in str(caught.value) and "SEC-1" not in str(caught.value)
    answer = problems.from_error(errors.DatabaseUnavailable("cannot use the database: connection to 10.0.0.5 "
                                                            "failed: password=hunter2", "check the server"))
    assert answer.status_code == 503
    assert b"10.0.0.5" not in answer.body and b"hunter2" not in answer.body and b"nothing was changed" in answer.body
