"""The board's pages over HTTP without a browser: CSRF on moves, keyset paging of a column, the
sign-in's redirect kept on this site."""

from __future__ import annotations

import re
from collections.abc import Iterator

import httpx
import pytest
import sqlalchemy as sa

from smartflow.web.present import amount
from tests.web.support import PASSWORD, Site, http_client, login_form_token, post_sign_in

pytestmark = pytest.mark.db


@pytest.fixture
def boss(site: Site) -> Iterator[httpx.Client]:
    with http_client(site) as client:
        answer = post_sign_in(client, "boss")
        assert answer.status_code == 303
        yield client


def test_a_move_without_the_csrf_token_is_refused_and_changes_nothing(site: Site, boss: httpx.Client) -> None:
    item_id = site.admin.create("procurement", {"title": "csrf", "estimate": "10", "materials": ["timber"]})
    answer = boss.post(f"/processes/procurement/items/{item_id}/move", json={"stage": "prices"},
                       headers={"Accept": "application/json"})
    assert answer.status_code == 403
    assert "CSRF" in answer.json()["reasons"][0]
    assert site.admin.get("procurement", item_id)["stage"] == "estimate"
    answer = boss.post(f"/processes/procurement/items/{item_id}/move", json={"stage": "prices"},
                       headers={"X-CSRF-Token": boss.cookies["smartflow_csrf"]})
    assert answer.status_code == 200 and answer.json()["moved"] is True
    assert site.admin.get("procurement", item_id)["stage"] == "prices"


def _ids(html: str) -> list[int]:
    return [int(found) for found in re.findall(r'data-item-id="(\d+)"', html)]


def test_a_column_pages_its_cards_by_keyset(site: Site, boss: httpx.Client) -> None:
    for n in range(45):
        site.admin.create("procurement", {"title": f"paged {n}"}, stage="cancelled")
    board = boss.get("/processes/procurement/kanban").text
    column = board[board.index('data-stage="cancelled"'):]
    first = _ids(column[:column.index("</section>")])
    assert len(first) == 20
    after = re.search(r'class="more" data-after="(\d+)"', column)
    assert after and int(after.group(1)) == first[-1]
    seen, cursor = list(first), after.group(1)
    while cursor:
        page = boss.get("/processes/procurement/kanban/cards", params={"stage": "cancelled", "after": cursor})
        assert page.status_code == 200
        seen += _ids(page.text)
        cursor = page.headers["X-Next-After"]
    expected = [row["id"] for row in site.admin.list("procurement", stage="cancelled", sort="id:desc",
                                                     limit=500)]
    assert seen == expected and len(set(seen)) == len(seen) >= 45
    count = re.search(r'data-count>(\d+)<', column)
    assert count and int(count.group(1)) == len(expected)


@pytest.mark.parametrize("target", ["//evil.example/", "https://evil.example/", "/\\evil.example"])
def test_sign_in_goes_back_only_to_this_site(site: Site, target: str) -> None:
    with http_client(site) as client:
        answer = post_sign_in(client, "boss", next_path=target)
        assert (answer.status_code, answer.headers["location"]) == (303, "/")


def _unread_badge(html: str) -> int:
    found = re.search(r'<span class="badge"[^>]*>(\d+)</span>', html)
    return int(found.group(1)) if found else 0


def test_the_inbox_shows_its_unread_count_and_the_messages(site: Site) -> None:
    petrov = site.as_user("petrov")
    item_id = site.as_user("ivanova").create("procurement", {"title": "Inbox probe", "estimate": "5"})
    site.as_user("ivanova").update("procurement", item_id, {"priority": "urgent"})  # notifies the managers
    site.admin.work()  # the worker delivers the outbox into the inbox
    unread = len(petrov.inbox(unread_only=True, limit=100))
    assert unread >= 1
    with http_client(site) as client:
        post_sign_in(client, "petrov")
        assert _unread_badge(client.get("/").text) == unread
        inbox = client.get("/inbox").text
        assert "Inbox probe" in inbox and 'class="unread"' in inbox
        assert f'href="/processes/procurement/items/{item_id}"' in inbox
        assert _unread_badge(client.get("/").text) == unread  # shown is not read: marked so by the reader
        token = client.cookies["smartflow_csrf"]
        first = petrov.inbox(unread_only=True)[0]["id"]
        assert client.post("/inbox/read", data={"id": str(first)}).status_code == 403  # no CSRF token
        assert client.post("/inbox/read", data={"csrf": token, "id": str(first)}).status_code == 303
        assert _unread_badge(client.get("/").text) == unread - 1
        assert f'class="read" data-message-id="{first}"' in client.get("/inbox").text
        client.post("/inbox/read", data={"csrf": token})  # all of them
        assert _unread_badge(client.get("/").text) == 0
    assert petrov.inbox(unread_only=True) == []


def test_kanban_without_cards_counts_and_sums_as_with_them(site: Site) -> None:
    """The board asks the services' kanban for counts and sums only (`top=0`), and pages cards itself."""
    bare = site.admin.kanban("procurement", top=0)
    full = site.admin.kanban("procurement", top=5)
    assert [c["cards"] for c in bare["columns"]] == [[] for _ in bare["columns"]]
    assert any(c["cards"] for c in full["columns"])
    assert [(c["stage"], c["count"], c["sums"], c["totals"]) for c in bare["columns"]] == \
        [(c["stage"], c["count"], c["sums"], c["totals"]) for c in full["columns"]]


def test_a_column_sums_every_money_field_by_currency(site: Site, boss: httpx.Client) -> None:
    """Procurement has two money fields (the estimate and the supplier's price): each column shows both."""
    board = site.admin.kanban("procurement", top=0)
    assert board["money_fields"] == ["estimate", "quoted_price"]
    column = next(c for c in board["columns"] if c["totals"].get("quoted_price"))
    html = boss.get("/processes/procurement/kanban").text
    section = html[html.index(f'data-stage="{column["stage"]}"'):]
    section = section[:section.index("</section>")]
    shown = re.findall(r"<span>([^<]*)</span>", section[section.index("data-sums"):])
    assert shown == [f"{title}: {amount(total, currency, 'en')}"
                     for field_id, title in (("estimate", "Estimate amount"), ("quoted_price", "Quoted price"))
                     for currency, total in sorted(column["totals"][field_id].items())]


def test_a_move_after_the_session_ended_says_so(site: Site) -> None:
    item_id = site.admin.create("procurement", {"title": "expired", "estimate": "10", "materials": ["timber"]})
    with http_client(site) as client:
        answer = client.post(f"/processes/procurement/items/{item_id}/move", json={"stage": "prices"},
                             headers={"Accept": "application/json", "X-CSRF-Token": "x"})
        assert answer.status_code == 401
        assert answer.json() == {"moved": False, "reasons": ["Your session has ended: sign in again"]}
        path = f"/processes/procurement/items/{item_id}"
        page = client.get(path)
        assert (page.status_code, page.headers["location"]) == (303, f"/login?next={path}")
    assert site.admin.get("procurement", item_id)["stage"] == "estimate"


def test_the_pipeline_switch_shows_the_other_pipeline(site: Site, boss: httpx.Client) -> None:
    hiring = boss.get("/processes/candidate/kanban").text
    internship = boss.get("/processes/candidate/kanban", params={"pipeline": "internship"}).text
    stages = [s.id for s in site.admin.process("candidate").pipeline("internship").stages]
    assert re.findall(r'<section class="column[^"]*" data-stage="([a-z_]+)"', internship) == stages
    assert 'data-stage="screening"' in hiring and 'data-stage="screening"' not in internship
    assert boss.get("/processes/candidate/kanban", params={"pipeline": "nope"}).status_code == 404


def test_the_card_moves_an_item_or_says_why_not(site: Site, boss: httpx.Client) -> None:
    item_id = site.admin.create("procurement", {"title": "card move", "estimate": "0", "materials": ["timber"]})
    card = f"/processes/procurement/items/{item_id}"
    csrf = boss.cookies["smartflow_csrf"]
    refused = boss.post(f"{card}/stage", data={"stage": "prices", "csrf": csrf})
    assert refused.status_code == 409 and 'role="alert"' in refused.text and "estimate &gt; 0" in refused.text
    site.admin.update("procurement", item_id, {"estimate": "100"})
    moved = boss.post(f"{card}/stage", data={"stage": "prices", "csrf": csrf})
    assert (moved.status_code, moved.headers["location"]) == (303, f"{card}?moved=prices")
    assert site.admin.get("procurement", item_id)["stage"] == "prices"
    assert 'aria-current="step">Prices from suppliers<' in boss.get(card).text
    told = boss.get(moved.headers["location"]).text  # the move is confirmed on the card it was made from
    assert '<p class="notice" role="status">Moved to “Prices from suppliers”</p>' in told
    assert boss.post(f"{card}/stage", data={"stage": "contract", "csrf": "wrong"}).status_code == 403


def _failures(site: Site, login: str) -> int:
    import sqlalchemy as sa

    engine = sa.create_engine(site.url)
    try:
        with engine.connect() as connection:
            return int(connection.execute(sa.text("SELECT coalesce(sum(failures), 0) FROM sf_login_failures "
                                                  "WHERE login = :login"), {"login": login}).scalar_one())
    finally:
        engine.dispose()


def test_the_sign_in_form_refuses_a_post_without_its_csrf_token(site: Site) -> None:
    """Login CSRF: a post from another site has no token in the form, or no cookie (SameSite=Strict),
    or a token of its own; each is refused with the form again, no session and no counted attempt."""
    with http_client(site) as client:
        token = login_form_token(client)
        cookie = next(c for c in client.cookies.jar if c.name == "smartflow_login_csrf")
        assert cookie.has_nonstandard_attr("HttpOnly") and cookie.get_nonstandard_attr("SameSite") == "strict"
        before = _failures(site, "gusev")
        for form in ({"login": "gusev", "password": PASSWORD},  # no field
                     {"login": "gusev", "password": PASSWORD, "csrf": "x" * 43},  # a field of its own
                     {"login": "gusev", "password": PASSWORD, "csrf": "тест" * 10}):  # not even ASCII
            answer = client.post("/login", data=form)
            assert answer.status_code == 403, answer.text
            assert "came from another site" in answer.text and 'name="csrf"' in answer.text
            assert "smartflow_session" not in answer.headers.get("set-cookie", "")
        assert _failures(site, "gusev") == before
    with http_client(site) as stranger:  # the right field but not this browser's cookie
        answer = stranger.post("/login", data={"login": "gusev", "password": PASSWORD, "csrf": token})
        assert answer.status_code == 403 and "smartflow_session" not in stranger.cookies
    with http_client(site) as client:
        answer = post_sign_in(client, "gusev")
        assert answer.status_code == 303 and "smartflow_session" in client.cookies
        assert "smartflow_login_csrf" not in client.cookies  # used up: forgotten with the sign-in


def test_parallel_api_sign_ins_check_no_more_than_the_limit_and_say_nothing_of_the_database(site: Site) -> None:
    """30 wrong passwords for one login at once against the running server: 401 for the few that
    were checked, 429 for the rest; never 409 or 5xx, never the database's own words."""
    import threading
    from concurrent.futures import ThreadPoolExecutor

    from smartflow.runtime.auth import MAX_FAILURES

    start = threading.Barrier(30)

    def guess(number: int) -> tuple[int, str]:
        with http_client(site, timeout=60) as client:
            start.wait()
            answer = client.post("/api/v1/session", json={"login": "sokolova", "password": f"wrong-{number}"})
            return answer.status_code, answer.text

    with ThreadPoolExecutor(max_workers=30) as pool:
        answers = list(pool.map(guess, range(30)))
    statuses = [status for status, _ in answers]
    assert set(statuses) <= {401, 429}, answers
    assert statuses.count(401) <= MAX_FAILURES
    for _, body in answers:
        assert not any(word in body.lower() for word in ("duplicate", "constraint", "sqlite", "psycopg", "sql"))

def test_the_board_moves_into_another_pipeline_only_by_its_transitions(site: Site, boss: httpx.Client) -> None:
    """A drop or "Move to…" naming another pipeline goes through the same rule as the API: a new applicant
    enters the internship at `application`, never in its middle."""
    item_id = site.admin.create("candidate", {"title": "Студент", "position": "engineer", "email": "s@edu.ru"})
    headers = {"X-CSRF-Token": boss.cookies["smartflow_csrf"]}
    path = f"/processes/candidate/items/{item_id}/move"
    answer = boss.post(path, json={"stage": "internship", "pipeline": "internship"}, headers=headers)
    assert answer.status_code == 409 and answer.json()["moved"] is False
    assert answer.json()["reasons"][0] == (  # the board names stages and pipelines by their titles, never ids
        "no transition leads from “New application” of pipeline “Hiring” to “On internship” in pipeline “Internship” "
        "(from “New application” of pipeline “Hiring” items may enter it at: “Application”)")
    assert (site.admin.get("candidate", item_id)["pipeline"], site.admin.get("candidate", item_id)["stage"]) == (
        "hiring", "new")
    answer = boss.post(path, json={"stage": "application", "pipeline": "internship"}, headers=headers)
    assert answer.status_code == 200 and answer.json()["moved"] is True
    moved = site.admin.get("candidate", item_id)
    assert (moved["pipeline"], moved["stage"]) == ("internship", "application")


def test_the_board_s_pages_read_in_one_transaction(site: Site, boss: httpx.Client) -> None:
    """Home, the kanban board, the list, the card, the deadlines, the calendar, analytics, the create form
    and the inbox each read what they show in one snapshot
    (Engine.snapshot): one view of the data, not dozens of transactions a concurrent move could fall between."""
    item_id = site.admin.create("procurement", {"title": "one view", "estimate": "10", "materials": ["timber"]})
    pages = ["/", "/processes/procurement/kanban", "/processes/procurement/items?search=one+view",
             f"/processes/procurement/items/{item_id}",  # before: 27, 34, 11 and 17 transactions
             "/processes/procurement/deadlines", "/processes/procurement/calendar",
             "/processes/procurement/analytics", "/processes/procurement/items/new",  # before: 25, 10, 7 and 6
             "/inbox"]  # before: 9
    taken: list[str] = []

    def checkout(*_: object) -> None:
        taken.append("a connection")

    for path in pages:
        boss.get(path)  # the visitor's first page: their session is read
        taken.clear()
        sa.event.listen(site.admin._db, "checkout", checkout)
        try:
            page = boss.get(path)
        finally:
            sa.event.remove(site.admin._db, "checkout", checkout)
        pages_without_it = ("/", "/inbox", "/processes/procurement/analytics", "/processes/procurement/items/new",
                            "/processes/procurement/calendar")
        shows_it = path in pages_without_it or "one view" in page.text
        assert page.status_code == 200 and shows_it, path
        assert len(taken) == 2, path  # the visitor's session, then the page's snapshot
