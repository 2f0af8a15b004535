"""What the screenshots showed wrong on the board, each fixed and checked: the list as a card per row at a
phone's width, kanban columns that grow with the page on a phone (their next cards on a tap), a refusal in
view, column sums labelled, "no access" instead of an empty board, error pages with a way on, the
required-fields dialog that says why a move can never pass and keeps what was typed, a refused create
that keeps the chosen users."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from smartflow import errors
from smartflow.web.items import inputs_for
from smartflow.web.pages import require_read
from smartflow.web.present import ProcessView
from tests.web.support import Site, http_client, post_sign_in, sign_in

pytestmark = pytest.mark.db


@pytest.fixture
def orlov(site: Site) -> Iterator[httpx.Client]:
    with http_client(site) as client:
        assert post_sign_in(client, "orlov").status_code == 303
        yield client


def move(client: httpx.Client, item_id: int, stage: str, values: dict[str, list[str]] | None = None) -> Any:
    return client.post(f"/processes/procurement/items/{item_id}/move", json={"stage": stage, "values": values},
                       headers={"X-CSRF-Token": client.cookies["smartflow_csrf"], "Accept": "application/json"})


def test_a_move_that_can_never_pass_says_why_instead_of_asking(site: Site, orlov: httpx.Client) -> None:
    """orlov may move his department's purchases but update only his own: the fields ivanova's purchase
    needs for the next stage are not his to fill, so the board says so rather than ask for them again."""
    theirs = site.as_user("ivanova").create("procurement", {"title": "Чужая закупка", "assigned_to": "ivanova"})
    answer = move(orlov, theirs, "prices").json()
    assert answer["moved"] is False and answer["form"] is None
    assert any("you may not change this item" in reason and "Estimate amount" in reason
               for reason in answer["reasons"]), answer["reasons"]
    mine = site.as_user("orlov").create("procurement", {"title": "Своя закупка"})
    asked = move(orlov, mine, "prices").json()
    assert asked["form"] and 'name="estimate"' in asked["form"]
    # a refused try keeps what was typed (here a materials choice beside an estimate below the minimum)
    again = move(orlov, mine, "prices", {"estimate": ["-5"], "estimate__currency": ["RUB"],
                                          "materials": ["rebar"], "materials__present": ["1"]}).json()
    assert again["moved"] is False and again["form"]
    assert 'name="estimate" inputmode="decimal" value="-5"' in again["form"]
    assert re.search(r'value="rebar" checked', again["form"])


def test_a_refused_form_keeps_the_chosen_users() -> None:
    view = ProcessView({"id": "p", "title": "P", "may": {}, "pipelines": [], "list_columns": [], "fields": [
        {"id": "team", "type": "user", "multiple": True, "title": "Team"},
        {"id": "lead", "type": "user", "multiple": False, "title": "Lead"}]}, "en",
        users={3: "Anna", 4: "Boris"}, pickable=[3, 4])
    inputs = {i["spec"]["id"]: i for i in inputs_for(view, {}, ["team", "lead"], {"team": ["3", "4"], "lead": ["4"]})}
    assert inputs["team"]["value"] == [3, 4] and inputs["lead"]["value"] == 4


def test_a_process_the_user_may_not_read_says_no_access() -> None:
    no_read = ProcessView({"id": "intake", "title": {"ru": "Приём", "en": "Intake"}, "may": {"read": "none",
                                                                                             "create": "all"},
                           "fields": [], "pipelines": [], "list_columns": []}, "en")
    with pytest.raises(errors.PermissionDenied, match="do not allow reading the items of Intake"):
        require_read(no_read)
    require_read(ProcessView({**no_read.data, "may": {"read": "own"}}, "en"))


def test_an_error_page_shows_the_way_on(site: Site, orlov: httpx.Client) -> None:
    came_from = {"Referer": f"{site.base}/processes/procurement/kanban"}
    page = orlov.get("/processes/procurement/items/999999", headers=came_from)
    assert page.status_code == 404
    nav = page.text[page.text.index('class="error-nav"'):]
    assert 'href="/processes/procurement/kanban" rel="prev"' in nav and 'href="/"' in nav
    assert 'class="inbox-link"' in page.text  # the signed-in header, with the inbox and sign-out
    elsewhere = orlov.get("/processes/procurement/items/999999", headers={"Referer": "https://evil.example/x"})
    assert 'rel="prev"' not in elsewhere.text


def test_a_column_names_its_sum_and_leaves_no_gap_without_one(site: Site, orlov: httpx.Client) -> None:
    html = orlov.get("/processes/procurement/kanban", params={"priority": "low", "search": "ничего такого нет"}).text
    assert re.findall(r'<div class="sums" data-sums></div>', html)  # empty: hidden by CSS (.sums:empty)


# ---- at a phone's width, in Russian ----------------------------------------------------------------


def test_the_list_and_the_board_on_a_phone(site: Site, browser: Any, shots: Path) -> None:
    context = browser.new_context(viewport={"width": 390, "height": 844}, locale="ru-RU")
    page = context.new_page()
    try:
        sign_in(page, site, "ivanova", "/processes/procurement/items")
        assert page.evaluate("document.documentElement.scrollWidth") <= 390
        first = page.locator("table.items tbody tr").first
        supplier = first.locator("td.col-estimate")
        assert supplier.is_visible() and supplier.bounding_box()["x"] + supplier.bounding_box()["width"] <= 390
        label = supplier.evaluate("td => getComputedStyle(td, '::before').content")
        assert label == '"Сумма сметы"'
        page.screenshot(path=str(shots / "list-ru-390.png"))
        # the board: columns grow with the page (no scroll inside it); the next cards come on a tap
        page.goto(site.base + "/processes/procurement/kanban")
        assert page.locator(".cards").first.evaluate("list => getComputedStyle(list).overflowY") == "visible"
        crowded = page.locator('.column:has(.more[role="button"])').first
        if crowded.count():
            before = crowded.locator(".card").count()
            crowded.locator('.more[role="button"]').click()
            page.locator(f'.column[data-stage="{crowded.get_attribute("data-stage")}"] .card').nth(before) \
                .wait_for(timeout=10_000)
        page.screenshot(path=str(shots / "board-ru-390.png"))
    finally:
        context.close()


def test_a_refused_move_far_down_a_phone_screen_is_shown_in_view(site: Site, browser: Any) -> None:
    """A move refused by its condition (the supplier's price above the estimate), tried from a card in the
    third column — far below the top of a phone's page — shows its reasons where the user is looking."""
    admin = site.admin
    item_id = admin.create("procurement", {"title": "Дорогая арматура", "assigned_to": "ivanova",
                                           "estimate": "1000", "materials": ["rebar"]})
    admin.move("procurement", item_id, "prices")
    admin.update("procurement", item_id, {"supplier": "ООО «Дорого»", "quoted_price": "5000",
                                          "contract_number": "D-77", "due_date": "2027-03-01"})
    admin.move("procurement", item_id, "contract")
    context = browser.new_context(viewport={"width": 390, "height": 844}, locale="ru-RU")
    page = context.new_page()
    try:
        sign_in(page, site, "ivanova", "/processes/procurement/kanban")
        card = page.locator(f'.card[data-item-id="{item_id}"]')
        card.scroll_into_view_if_needed()
        assert page.evaluate("window.scrollY") > 844  # far down the page
        card.locator("summary").click()
        card.get_by_role("button", name="Контроль поставки").click()
        alert = page.locator("#board-alert")
        alert.wait_for(state="visible")
        box = alert.bounding_box()
        assert box is not None and box["y"] >= 0 and box["y"] + box["height"] <= 844, box
    finally:
        context.close()


def test_a_title_built_by_automation_shows_a_formatted_time(site: Site) -> None:
    """The clinic books the next visit from the patient's card: the appointment's title reads
    `09.01.2030 15:00 UTC`, not Python's `2030-01-09 15:00:00+00:00`."""
    patient = site.admin.create("patient", {"title": "Тестов Тест", "birth_date": "1990-01-01",
                                            "phone": "+79990001122", "attending_doctor": "lebedev"})
    site.admin.update("patient", patient, {"next_visit": "2030-01-09T15:00:00"})
    titles = [a["title"] for a in site.admin.list("appointment", where=[f"patient = {patient}"])]
    assert titles == ["Приём / Appointment: Тестов Тест, 09.01.2030 15:00 UTC"]
