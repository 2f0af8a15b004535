"""The board's administration section on the shipped examples: only administrators open it; the
issue's "Done when" in one browser test (an administrator, in the browser only, adds a buyer with the
buyer role in procurement alone, imports last year's purchases from an xlsx after a preview, sees who
may move a purchase into `contract`, and later deactivates the buyer, whose open session is signed
out on its next request); a password reset code works once on /welcome; a role given in one pipeline
from the user's page. Screenshots in Russian, at 1280 px and at a phone's 390 px."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.web.support import PASSWORD, Site, http_client, post_sign_in, sign_in, wait_until
from tests.web.test_board_import import purchases

pytestmark = pytest.mark.db
PAGES = ("/admin/users", "/admin/users/petrov", "/admin/processes", "/admin/processes/procurement",
         "/admin/automation", "/admin/audit")


@contextmanager
def client_of(site: Site, login: str, password: str = PASSWORD) -> Iterator[httpx.Client]:
    """A browser without a browser: signed in through the form."""
    with http_client(site) as client:
        answer = post_sign_in(client, login, password)
        assert answer.status_code == 303, answer.text
        yield client


@pytest.fixture
def boss(site: Site) -> Iterator[httpx.Client]:
    with client_of(site, "boss") as client:
        yield client


def test_only_administrators_open_the_administration_pages(site: Site, boss: httpx.Client) -> None:
    with client_of(site, "petrov") as petrov:
        assert "/admin/users" not in petrov.get("/").text
        for path in PAGES:
            assert petrov.get(path).status_code == 403, path
        refused = petrov.post("/admin/users", data={"csrf": petrov.cookies["smartflow_csrf"], "login": "sneaky"})
        assert refused.status_code == 403
    assert 'href="/admin/users"' in boss.get("/").text
    for path in PAGES:
        answer = boss.get(path)
        assert answer.status_code == 200, (path, answer.text[:500])
    assert "sneaky" not in [u["login"] for u in site.admin.users()]
    assert boss.post("/admin/users", data={"csrf": "wrong", "login": "sneaky"}).status_code == 403
    assert "sneaky" not in [u["login"] for u in site.admin.users()]


def test_the_process_page_says_who_may_move_a_purchase_into_contract(site: Site, boss: httpx.Client) -> None:
    page = boss.get("/admin/processes/procurement").text
    assert page.count("<svg") == 1 and "contract → delivery" in page  # the graph, and its transitions in words
    table = page[page.index('class="items admin-table who-may"'):]
    table = table[:table.index("</table>")]
    rows = dict(re.findall(r'<tr data-login="([^"]+)">.*?<td class="wrap stages">([^<]*)</td>', table, re.S))
    may_contract = sorted(login for login, stages in rows.items() if "contract" in stages.split(", "))
    expected = sorted(u["login"] for u in site.admin.access_report("procurement")["users"]
                      if "contract" in u["stages"])
    assert may_contract == expected
    assert {"ivanova", "orlov", "petrov", "boss"} <= set(may_contract)
    assert not {"lebedev", "gusev", "smirnova"} & set(rows)  # other teams hold no role in procurement
    # the per-user column counts the move right's stages, not the transitions' roles, and says so: nobody
    # may move a purchase into its first stage (no transition leads there), yet every row lists it
    assert table.count("Stages the move right allows") == 1 and "who may actually move an item" in page
    assert all("estimate" in stages for stages in rows.values())
    movers = site.admin.access_report("procurement")["movers"]
    assert next(m for m in movers if m["stage"] == "estimate")["users"] == []


def test_a_deactivated_users_open_session_is_signed_out_on_the_next_request(site: Site) -> None:
    site.admin.add_user("temp_buyer", "Временный", ["buyer"], "supply", ["procurement"])
    site.admin.set_password("temp_buyer", PASSWORD)
    with client_of(site, "temp_buyer") as browser:
        assert browser.get("/processes/procurement/kanban").status_code == 200
        assert browser.get("/api/v1/processes").status_code == 200
        site.admin.set_active("temp_buyer", False)
        signed_out = browser.get("/processes/procurement/kanban")
        assert (signed_out.status_code, signed_out.headers["location"]) == (
            303, "/login?next=/processes/procurement/kanban")
        assert browser.get("/api/v1/processes").status_code == 401
    with http_client(site) as again:
        refused = post_sign_in(again, "temp_buyer")
        assert refused.status_code == 401


def test_a_reset_code_from_the_users_page_works_once_on_welcome(site: Site, boss: httpx.Client) -> None:
    page = boss.post("/admin/users/orlov/reset", data={"csrf": boss.cookies["smartflow_csrf"]})
    assert page.status_code == 200
    found = re.search(r'<code class="reset-code">(sfr_[\w-]+)</code>', page.text)
    assert found
    code = found.group(1)
    with http_client(site) as visitor:
        form = visitor.get("/welcome", params={"code": code})
        assert form.status_code == 200 and "orlov" in form.text and 'name="password"' in form.text
        differ = visitor.post("/welcome", data={"code": code, "password": "orlov-new-pass", "again": "other-pass-1"})
        assert differ.status_code == 422
        done = visitor.post("/welcome", data={"code": code, "password": "orlov-new-pass", "again": "orlov-new-pass"})
        assert (done.status_code, done.headers["location"]) == (303, "/")
        assert visitor.get("/").status_code == 200  # signed in as orlov
        assert visitor.get("/api/v1/session").json()["login"] == "orlov"
    with http_client(site) as other:
        used = other.post("/welcome", data={"code": code, "password": "stolen-pass-1", "again": "stolen-pass-1"})
        assert used.status_code == 401
        assert other.get("/welcome", params={"code": code}).status_code == 401
    site.admin.set_password("orlov", PASSWORD)  # as the other tests expect
    assert site.admin.audit_log(3, "orlov")[1]["action"] == "password.reset_used"


def test_an_administrator_turns_a_users_email_off_and_sets_their_language(site: Site, boss: httpx.Client) -> None:
    page = boss.get("/admin/users/orlov").text
    assert re.search(r'name="email_notifications" value="on"\s+checked', page)
    form = {"csrf": boss.cookies["smartflow_csrf"], "name": "Сергей Орлов", "email": "orlov@example.com",
            "department": "supply", "language": "ru"}  # the box unticked: e-mail off
    assert boss.post("/admin/users/orlov/edit", data=form).status_code == 303
    orlov = site.admin.user("orlov")
    assert (orlov["email"], orlov["email_notifications"], orlov["language"]) == ("orlov@example.com", False, "ru")
    assert boss.post("/admin/users/orlov/edit", data={**form, "email_notifications": "on", "language": "xx"}
                     ).status_code == 422
    boss.post("/admin/users/orlov/edit", data={**form, "email": "", "email_notifications": "on", "language": ""})
    orlov = site.admin.user("orlov")
    assert (orlov["email"], orlov["email_notifications"], orlov["language"]) == (None, True, None)


def test_a_deactivated_persons_items_stay_and_name_them_as_deactivated(site: Site, boss: httpx.Client) -> None:
    item_id = site.as_user("ivanova").create("procurement", {"title": "Picker probe"})
    site.admin.add_user("gone_buyer", "Уволенный Закупщик", ["buyer"], "supply", ["procurement"])
    site.as_user("ivanova").update("procurement", item_id, {"assigned_to": "gone_buyer"})
    site.admin.set_active("gone_buyer", False)
    card = boss.get(f"/processes/procurement/items/{item_id}").text
    assert "Уволенный Закупщик (deactivated)" in card
    listed = boss.get("/processes/procurement/items", params={"search": "Picker probe"}).text
    assert "Picker probe" in listed
    assert site.admin.get("procurement", item_id)["assigned_to"] == site.admin.user("gone_buyer")["id"]


def test_the_issues_done_when_an_administrator_in_the_browser_only(site: Site, browser: Any, shots: Path,
                                                                   tmp_path: Path) -> None:
    """Issue 27's "Done when", in a Russian browser and nothing else: the administrator adds a new buyer
    with the buyer role in procurement alone (who then sets a password with the one-time code the
    administrator hands over, and works), imports last year's purchases from an xlsx after a preview,
    sees who may move a purchase into "contract", and later deactivates the buyer, whose open session
    is signed out on the next request."""
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="ru-RU")
    page = context.new_page()
    page.goto(f"{site.base}/lang/ru?next=/")
    sign_in(page, site, "boss", "/admin/users")

    # a new buyer, with the buyer role in procurement alone
    form = page.locator("form[action='/admin/users']")
    form.locator("input[name=login]").fill("novikova")
    form.locator("input[name=name]").fill("Ирина Новикова")
    form.locator("input[name=email]").fill("novikova@example.ru")
    form.locator("select[name=department]").select_option("supply")
    form.locator("select[name=role]").select_option("buyer")
    form.locator("input[name=process][value=procurement]").check()
    page.screenshot(path=str(shots / "admin-users.png"), full_page=True)
    form.locator("button[type=submit]").click()
    page.wait_for_url("**/admin/users/novikova?done=user_added")
    assert page.locator(".grants li").all_inner_texts()[0].startswith("buyer")
    rights = page.locator("table.admin-table tbody tr:not(.inactive) td:first-child").all_inner_texts()
    assert rights == ["procurement"]  # her rights: in procurement, nowhere else
    user = site.admin.user("novikova")
    assert (user["roles"], user["process_roles"], user["department"]) == ([], {"procurement": ["buyer"]}, "supply")

    # her first sign-in: a one-time code from her page, which she uses in her own browser
    page.locator("form[action='/admin/users/novikova/reset'] button").click()
    code = page.locator("code.reset-code").inner_text()
    page.screenshot(path=str(shots / "admin-user.png"), full_page=True)
    theirs = browser.new_context(viewport={"width": 1280, "height": 900}, locale="ru-RU")
    buyer = theirs.new_page()
    buyer.goto(f"{site.base}/lang/ru?next=/welcome?code={code}")
    buyer.fill("input[name=password]", "novikova-password-1")
    buyer.fill("input[name=again]", "novikova-password-1")
    buyer.click("button[type=submit]")
    buyer.wait_for_url(f"{site.base}/")
    buyer.goto(f"{site.base}/processes/procurement/kanban")
    assert buyer.url.endswith("/processes/procurement/kanban")
    assert buyer.goto(f"{site.base}/processes/patient/kanban").status == 404  # another team's process

    # last year's purchases from an xlsx, after a preview
    before = site.admin.count("procurement")
    page.goto(f"{site.base}/processes/procurement/items")
    page.click("a.button.import")
    page.set_input_files("input[name=file]", str(purchases(tmp_path)))
    page.click("form.import-upload button.primary")
    page.wait_for_selector("form.import-preview")
    assert page.locator("table.import-table tbody tr").count() == 3
    assert page.locator("select[name=map-2]").input_value() == ""  # "Сумма, руб" is no field's title
    page.select_option("select[name=map-2]", "estimate")
    page.screenshot(path=str(shots / "admin-import-preview.png"), full_page=True)
    page.click("button[value=check]")
    page.wait_for_selector(".import-result")
    assert page.locator(".import-result [data-rows]").get_attribute("data-failed") == "1"
    assert site.admin.count("procurement") == before  # the check wrote nothing
    page.click("button[value=import]")
    page.wait_for_selector(".import-run")
    wait_until(page, "document.querySelector('.import-run').dataset.state === 'done'")
    assert "Создано: 2" in page.locator(".import-done [data-outcome]").inner_text()
    assert site.admin.count("procurement") == before + 2

    # who may move a purchase into "contract": by roles and by users
    page.goto(f"{site.base}/admin/processes/procurement")
    assert page.locator("svg.stage-graph").count() == 1
    contract = page.locator("table.stage-movers tr[data-stage='main.contract']")
    assert contract.locator("td").nth(0).inner_text() == "Договор и счёт"
    movers = contract.locator("td.movers a").all_inner_texts()
    report = site.admin.access_report("procurement")
    expected = next(m for m in report["movers"] if (m["pipeline"], m["stage"]) == ("main", "contract"))
    names = {u["login"]: u["name"] for u in report["users"]}
    assert movers == [names[login] for login in expected["users"]]
    assert "Ирина Новикова" in movers and {"buyer", "manager"} <= set(contract.locator("td").nth(1).inner_text()
                                                                         .split(", "))
    assert not {"Михаил Лебедев", "Мария Смирнова"} & set(movers)  # other teams hold no role in procurement
    assert page.locator("table.who-may tr[data-login=novikova] td.stages").inner_text().count("contract") == 1
    page.locator("table.stage-movers").scroll_into_view_if_needed()
    page.screenshot(path=str(shots / "admin-process.png"), full_page=True)

    phone = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True, locale="ru-RU")
    small = phone.new_page()
    small.goto(f"{site.base}/lang/ru?next=/")
    sign_in(small, site, "boss", "/admin/processes/procurement")
    assert small.evaluate("document.documentElement.scrollWidth") <= 390
    small.screenshot(path=str(shots / "admin-process-phone.png"), full_page=True)
    small.goto(f"{site.base}/admin/users/novikova")
    assert small.evaluate("document.documentElement.scrollWidth") <= 390
    small.screenshot(path=str(shots / "admin-user-phone.png"), full_page=True)
    phone.close()

    # later, she leaves: deactivated, her open session is signed out on its next request
    page.goto(f"{site.base}/admin/users/novikova")
    page.locator("form[action='/admin/users/novikova/active'] button").click()
    page.wait_for_url("**/admin/users/novikova?done=deactivated")
    assert page.locator("h1 .chip.off").count() == 1
    assert site.admin.user("novikova")["active"] is False
    buyer.goto(f"{site.base}/processes/procurement/kanban")
    assert "/login" in buyer.url
    page.goto(f"{site.base}/admin/audit")
    assert page.locator("table.audit tbody tr").first.inner_text().count("user.deactivate") == 1
    page.screenshot(path=str(shots / "admin-audit.png"), full_page=True)
    theirs.close()
    context.close()


def test_a_role_given_in_one_pipeline_from_the_users_page(site: Site, boss: httpx.Client) -> None:
    site.admin.add_user("praktika", "Практика Ведущая", [], "hr", [])
    csrf = boss.cookies["smartflow_csrf"]
    page = boss.get("/admin/users/praktika").text
    assert 'name="pipeline" value="candidate/internship"' in page  # hr's process has two pipelines
    given = boss.post("/admin/users/praktika/roles", data={"csrf": csrf, "role": "recruiter",
                                                            "pipeline": "candidate/internship"})
    assert given.status_code == 303, given.text
    assert site.admin.user("praktika")["pipeline_roles"] == {"candidate": {"internship": ["recruiter"]}}
    page = boss.get("/admin/users/praktika").text
    assert re.search(r"recruiter <span class=\"muted\">candidate: internship</span>", page)
    process = boss.get("/admin/processes/candidate").text
    assert '<tr data-login="praktika" data-pipeline="internship">' in process
    mixed = boss.post("/admin/users/praktika/roles", data={"csrf": csrf, "role": "recruiter", "process": "procurement",
                                                            "pipeline": "candidate/hiring"})
    assert mixed.status_code == 422 and "needs exactly one process" in mixed.text
    russian = boss.post("/admin/users/praktika/roles", headers={"Accept-Language": "ru"}, data={
        "csrf": csrf, "role": "recruiter", "process": "procurement", "pipeline": "candidate/hiring"})
    assert russian.status_code == 422 and "для роли в отдельных воронках нужен ровно один процесс" in russian.text
    again = boss.post("/admin/users", data={"csrf": csrf, "login": "praktika", "name": "Вторая"},
                      headers={"Accept-Language": "ru"})
    assert again.status_code == 422 and "пользователь «praktika» уже есть" in again.text, again.text
    taken = boss.post("/admin/users/praktika/roles/remove", data={"csrf": csrf, "role": "recruiter",
                                                                   "process": "candidate", "pipeline": "internship"})
    assert taken.status_code == 303
    assert site.admin.user("praktika")["pipeline_roles"] == {}
