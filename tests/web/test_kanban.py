"""The kanban in a real Chromium: sign in, drag cards between stages (moved, refused, asking for a
required field), the "Move to…" menu, the board in Russian, and screenshots of each example's board."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from smartflow.i18n import render
from tests.web.support import Site, sign_in, sign_in_with_the_form, wait_until

pytestmark = pytest.mark.db
BOARD = "/processes/procurement/kanban"


def counts(page: Any) -> dict[str, int]:
    return {c.get_attribute("data-stage"): int(c.locator("[data-count]").inner_text())
            for c in page.locator(".column[data-stage]").all()}


def drag(page: Any, item_id: int, stage: str) -> None:
    """Drag the card onto the column with the mouse, in small steps, as a person does."""
    card = page.locator(f'.card[data-item-id="{item_id}"]')
    card.scroll_into_view_if_needed()
    start = card.bounding_box()
    target = page.locator(f'.column[data-stage="{stage}"] .cards').bounding_box()
    assert start and target
    page.mouse.move(start["x"] + 20, start["y"] + 12)
    page.mouse.down()
    page.mouse.move(start["x"] + 30, start["y"] + 20, steps=5)
    page.mouse.move(target["x"] + target["width"] / 2, target["y"] + 30, steps=20)
    page.mouse.move(target["x"] + target["width"] / 2, target["y"] + 40, steps=5)
    page.mouse.up()


def settled(page: Any) -> None:
    """Wait until no move is in flight (a card is `pending` while the server answers)."""
    wait_until(page, "!document.querySelector('.card.pending')")


def purchase(site: Site, **values: Any) -> int:
    return site.as_user("ivanova").create("procurement", {"title": "Board test purchase", **values})


def test_unauthenticated_visit_redirects_to_the_sign_in_form(site: Site, page: Any) -> None:
    page.goto(site.base + BOARD)
    assert page.url == f"{site.base}/login?next={BOARD}"
    assert page.locator("form input[name=login]").count() == 1
    assert page.locator("form input[name=password]").count() == 1
    page.fill("input[name=login]", "ivanova")
    page.fill("input[name=password]", "not the password")
    page.click("button[type=submit]")
    assert page.locator('[role="alert"]').inner_text() == "Wrong login or password"
    sign_in_with_the_form(page, site, "ivanova", BOARD)
    assert page.locator("h2").first.inner_text() == "Estimate received"
    page.click("text=Sign out")
    page.wait_for_url(site.base + "/login")
    page.goto(site.base + BOARD)
    assert "/login" in page.url


def test_drag_to_the_next_stage_moves_the_item(site: Site, page: Any) -> None:
    item_id = purchase(site, estimate="500000", materials=["concrete"])
    sign_in(page, site, "ivanova", BOARD)
    before = counts(page)
    drag(page, item_id, "prices")
    settled(page)
    after = counts(page)
    assert after["estimate"] == before["estimate"] - 1 and after["prices"] == before["prices"] + 1
    assert site.admin.get("procurement", item_id)["stage"] == "prices"
    last = site.admin.history("procurement", item_id)[-1]
    assert (last["kind"], last["old"], last["new"], last["who"], last["via"]) == (
        "move", "estimate", "prices", "ivanova", "web")
    assert page.locator('[role="alert"]').is_hidden()
    page.reload()  # the server's board agrees
    assert counts(page) == after


def test_a_refused_drag_snaps_back_and_shows_why(site: Site, page: Any, shots: Path) -> None:
    item_id = purchase(site, estimate="0", materials=["timber"])
    sign_in(page, site, "ivanova", BOARD)
    before = counts(page)
    drag(page, item_id, "prices")
    alert = page.locator('#board-alert[role="alert"]')
    alert.wait_for(state="visible")
    reasons = [render(r, "en") for r in site.admin.as_user("ivanova").explain("procurement", item_id, "prices")]
    assert reasons and all(reason in alert.inner_text() for reason in reasons)
    assert "“Estimate amount” > 0" in alert.inner_text() and "`" not in alert.inner_text()  # titles, not ids
    page.screenshot(path=str(shots / "procurement-refused.png"))
    assert page.locator(f'.column[data-stage="estimate"] .card[data-item-id="{item_id}"]').count() == 1
    assert page.locator(f'.column[data-stage="prices"] .card[data-item-id="{item_id}"]').count() == 0
    assert counts(page) == before
    assert site.admin.get("procurement", item_id)["stage"] == "estimate"


def test_a_move_that_needs_a_required_field_asks_for_it_and_completes(site: Site, page: Any, shots: Path) -> None:
    item_id = purchase(site, estimate="300000")
    sign_in(page, site, "ivanova", BOARD)
    drag(page, item_id, "prices")
    dialog = page.locator("#required-dialog")
    dialog.wait_for(state="visible")
    # exactly the empty required field (estimate is filled): the materials, as options
    assert dialog.locator("input[type=checkbox][name=materials]").count() == 5
    assert dialog.locator("[name=estimate]").count() == 0
    dialog.locator("input[name=materials][value=rebar]").check()
    page.screenshot(path=str(shots / "procurement-required.png"))
    dialog.locator("button[type=submit]").click()
    settled(page)
    assert page.locator(f'.column[data-stage="prices"] .card[data-item-id="{item_id}"]').count() == 1
    assert page.locator("#board-alert").is_hidden()
    item = site.admin.get("procurement", item_id)
    assert (item["stage"], item["materials"]) == ("prices", ["rebar"])
    kinds = [(h["kind"], h["field"]) for h in site.admin.history("procurement", item_id)[-2:]]
    assert kinds == [("update", "materials"), ("move", "stage")]


def test_cancelling_the_required_form_puts_the_card_back(site: Site, page: Any) -> None:
    item_id = purchase(site, estimate="300000")
    sign_in(page, site, "ivanova", BOARD)
    drag(page, item_id, "prices")
    page.locator("#required-dialog").wait_for(state="visible")
    page.locator("#required-dialog [data-cancel]").click()
    page.locator('#board-alert[role="alert"]').wait_for(state="visible")
    assert "requires “Materials”" in page.locator("#board-alert").inner_text()  # the field's title, not its id
    assert page.locator(f'.column[data-stage="estimate"] .card[data-item-id="{item_id}"]').count() == 1
    assert site.admin.get("procurement", item_id)["stage"] == "estimate"


def test_move_to_menu_moves_without_dragging_and_offers_only_allowed_moves(site: Site, page: Any) -> None:
    mine = purchase(site, estimate="120000", materials=["timber"])
    theirs = site.as_user("petrov").create("procurement", {"title": "Petrov's purchase", "estimate": "1"})
    sign_in(page, site, "ivanova", BOARD)
    card = page.locator(f'.card[data-item-id="{mine}"]')
    card.locator("summary").click()
    offered = card.locator("[data-move-to]")
    # a buyer may not cancel (only managers may take that transition): not offered
    assert [b.get_attribute("data-move-to") for b in offered.all()] == ["prices"]
    offered.first.click()
    settled(page)
    assert page.locator(f'.column[data-stage="prices"] .card[data-item-id="{mine}"]').count() == 1
    assert site.admin.get("procurement", mine)["stage"] == "prices"
    # a buyer moves only their department's purchases: a manager's card has no menu and does not drag
    other = page.locator(f'.card[data-item-id="{theirs}"]')
    assert other.locator(".move-menu").count() == 0
    assert "movable" not in (other.get_attribute("class") or "")


def test_the_board_in_russian(site: Site, page: Any, shots: Path) -> None:
    sign_in(page, site, "petrov", BOARD)
    page.click("a[href^='/lang/ru']")
    page.wait_for_url(site.base + BOARD)
    titles = page.locator(".column h2").all_inner_texts()
    assert titles[:2] == ["Получена смета", "Запрос цен у поставщиков"]
    assert page.locator("html").get_attribute("lang") == "ru"
    assert "Выйти" in page.locator(".logout").inner_text()
    finals = page.locator(".column-group.finals .column").all()
    assert [c.get_attribute("data-stage") for c in finals] == ["handed_over", "cancelled"]
    page.screenshot(path=str(shots / "procurement-board-ru.png"))
    page.goto(site.base + "/")  # the choice is remembered
    assert page.locator("h1").inner_text() == "Процессы"
    page.goto(site.base + BOARD)
    page.locator(".card .card-title").first.click()
    page.wait_for_selector(".stagebar")
    assert page.locator(".item-form h2").all_inner_texts()[:3] == ["Запрос", "Поставщик", "Поставка"]
    assert page.locator(".stagebar li").first.inner_text() == "Получена смета"
    assert page.locator("aside h2").all_inner_texts() == ["Ответственный", "Наблюдатели", "Связи", "История"]


def test_a_column_loads_more_cards_only_when_scrolled(site: Site, page: Any) -> None:
    for n in range(45):
        site.admin.create("procurement", {"title": f"scroll {n}"}, stage="cancelled")
    total = next(c["count"] for c in site.admin.kanban("procurement", top=0)["columns"] if c["stage"] == "cancelled")
    sign_in(page, site, "petrov", BOARD)
    cards = page.locator('.column[data-stage="cancelled"] .card')
    page.wait_for_timeout(500)  # time enough for a wrong loader to fetch a page unasked
    assert cards.count() == 20
    while page.locator('.column[data-stage="cancelled"] .more').count():
        shown = cards.count()
        page.locator('.column[data-stage="cancelled"] .cards').evaluate("list => list.scrollTop = list.scrollHeight")
        wait_until(page, f"document.querySelectorAll('.column[data-stage=cancelled] .card').length > {shown}"
                   " || !document.querySelector('.column[data-stage=cancelled] .more')")
    ids = [c.get_attribute("data-item-id") for c in cards.all()]
    assert len(ids) == len(set(ids)) == total


def _drag_across(page: Any, item_id: int, over: str, onto: str) -> None:
    """Hold the card, pass over the column `over` (pausing there), and stop over `onto`, still held."""
    card = page.locator(f'.card[data-item-id="{item_id}"]')
    card.scroll_into_view_if_needed()
    start = card.bounding_box()
    assert start
    page.mouse.move(start["x"] + 20, start["y"] + 12)
    page.mouse.down()
    page.mouse.move(start["x"] + 30, start["y"] + 20, steps=5)
    for stage in (over, onto):
        target = page.locator(f'.column[data-stage="{stage}"] .cards').bounding_box()
        assert target
        # well inside the column: the refusal's box above the board grows with its text and pushes the columns down
        page.mouse.move(target["x"] + target["width"] / 2, target["y"] + 150, steps=15)
        page.mouse.move(target["x"] + target["width"] / 2, target["y"] + 160, steps=5)


def test_a_drag_across_an_allowed_column_to_a_forbidden_one_moves_nothing_and_says_why(
        site: Site, page: Any, shots: Path) -> None:
    item_id = purchase(site, estimate="400000", materials=["concrete"])  # may go to prices, not to contract
    sign_in(page, site, "ivanova", BOARD)
    before = counts(page)
    history = len(site.admin.history("procurement", item_id))
    moves: list[str] = []
    page.on("request", lambda request: moves.append(request.url) if request.url.endswith("/move") else None)
    _drag_across(page, item_id, "prices", "contract")
    alert = page.locator('#board-alert[role="alert"]')
    reasons = [render(r, "en") for r in site.admin.as_user("ivanova").explain("procurement", item_id, "contract")]
    assert reasons and "no transition" in reasons[0]
    wait_until(page, f"document.querySelector('#board-alert').innerText.includes({json.dumps(reasons[0])})")
    assert "The card cannot be moved here: " in alert.inner_text()
    assert page.locator('.column[data-stage="contract"]').get_attribute("class").split().count("forbidden") == 1
    page.screenshot(path=str(shots / "procurement-forbidden-held.png"))
    page.mouse.up()
    assert page.locator(f'.column[data-stage="estimate"] .card[data-item-id="{item_id}"]').count() == 1
    assert page.locator(f'.column[data-stage="prices"] .card[data-item-id="{item_id}"]').count() == 0
    assert all(reason in alert.inner_text() for reason in reasons)
    assert "forbidden" not in (page.locator('.column[data-stage="contract"]').get_attribute("class") or "")
    page.screenshot(path=str(shots / "procurement-forbidden-dropped.png"))
    assert moves == []  # the drop sent no move
    assert counts(page) == before
    assert site.admin.get("procurement", item_id)["stage"] == "estimate"
    assert len(site.admin.history("procurement", item_id)) == history
    page.reload()  # the server's board agrees
    assert counts(page) == before


def test_a_drop_outside_every_column_puts_the_card_back_without_a_request(site: Site, page: Any) -> None:
    item_id = purchase(site, estimate="400000", materials=["concrete"])
    sign_in(page, site, "ivanova", BOARD)
    before = counts(page)
    moves: list[str] = []
    page.on("request", lambda request: moves.append(request.url) if request.url.endswith("/move") else None)
    card = page.locator(f'.card[data-item-id="{item_id}"]')
    card.scroll_into_view_if_needed()
    start = card.bounding_box()
    prices = page.locator('.column[data-stage="prices"] .cards').bounding_box()
    assert start and prices
    page.mouse.move(start["x"] + 20, start["y"] + 12)
    page.mouse.down()
    page.mouse.move(start["x"] + 30, start["y"] + 20, steps=5)
    page.mouse.move(prices["x"] + prices["width"] / 2, prices["y"] + 40, steps=15)  # into an allowed column
    page.mouse.move(5, 5, steps=15)  # then out of every column: the page's top corner
    page.mouse.up()
    assert page.locator(f'.column[data-stage="estimate"] .card[data-item-id="{item_id}"]').count() == 1
    assert moves == []
    assert counts(page) == before
    assert site.admin.get("procurement", item_id)["stage"] == "estimate"


def test_the_forbidden_column_says_why_in_russian_on_a_phone(site: Site, browser: Any, shots: Path) -> None:
    item_id = purchase(site, estimate="400000", materials=["concrete"])
    context = browser.new_context(viewport={"width": 390, "height": 844}, locale="ru-RU")
    page = context.new_page()
    try:
        sign_in(page, site, "ivanova", BOARD)
        assert page.locator("html").get_attribute("lang") == "ru"
        card = page.locator(f'.card[data-item-id="{item_id}"]')
        card.scroll_into_view_if_needed()
        start = card.bounding_box()
        assert start
        page.mouse.move(start["x"] + 20, start["y"] + 12)
        page.mouse.down()
        page.mouse.move(start["x"] + 30, start["y"] + 20, steps=5)
        prices = page.locator('.column[data-stage="prices"] header').bounding_box()
        assert prices
        page.mouse.move(prices["x"] + 40, prices["y"] + 10, steps=10)  # the columns are stacked: down the page
        contract = page.locator('.column[data-stage="contract"] header')
        while (box := contract.bounding_box()) and box["y"] > 600:
            page.mouse.wheel(0, 300)
        box = contract.bounding_box()
        assert box
        page.mouse.move(box["x"] + 40, box["y"] + 10, steps=20)
        for wiggle in range(40):  # held over the column as a hand is: small moves until the board has answered
            if "нет перехода" in page.evaluate("document.querySelector('#board-alert').innerText"):
                break
            page.mouse.move(box["x"] + 40 + wiggle % 2 * 3, box["y"] + 10, steps=2)
            page.wait_for_timeout(100)
        assert "нет перехода" in page.locator("#board-alert").inner_text()
        assert "Сюда карточку переместить нельзя" in page.locator("#board-alert").inner_text()
        page.screenshot(path=str(shots / "procurement-forbidden-phone.png"))
        page.mouse.up()
        assert page.locator(f'.column[data-stage="estimate"] .card[data-item-id="{item_id}"]').count() == 1
        assert site.admin.get("procurement", item_id)["stage"] == "estimate"
    finally:
        context.close()
