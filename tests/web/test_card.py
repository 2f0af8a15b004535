"""The item card in Chromium: edit a field and see it in the history, a stale save, the stage bar;
creating an item; no hidden value anywhere in what a user without the right is sent."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.web.support import Site, sign_in

pytestmark = pytest.mark.db


def test_edit_a_field_and_see_it_in_the_history(site: Site, page: Any) -> None:
    item_id = site.as_user("ivanova").create("procurement", {"title": "Card edit", "estimate": "1000"})
    sign_in(page, site, "ivanova", f"/processes/procurement/items/{item_id}")
    assert page.locator(".stagebar [aria-current=step]").inner_text() == "Estimate received"
    page.fill("input[name=supplier]", "ООО «Карточка»")
    page.fill("input[name=estimate]", "2500.50")
    page.select_option("select[name=priority]", "urgent")
    page.click(".item-form button[type=submit]")
    page.wait_for_url(f"**/items/{item_id}?saved=1")
    item = site.admin.get("procurement", item_id)
    assert item["supplier"] == "ООО «Карточка»" and str(item["estimate"]["amount"]) == "2500.50"
    assert item["priority"] == "urgent"
    changed = {(h["field"], h["who"], h["via"]) for h in site.admin.history("procurement", item_id)
               if h["kind"] == "update"}
    assert {("supplier", "ivanova", "web"), ("estimate", "ivanova", "web"), ("priority", "ivanova", "web")} <= changed
    timeline = page.locator(".timeline").inner_text()
    assert "Supplier: — → ООО «Карточка»" in timeline
    assert "Estimate amount: 1,000 ₽ → 2,500.50 ₽" in timeline
    assert page.locator("[role=status]").inner_text() == "Saved"


def test_a_stale_save_says_who_changed_what_and_offers_a_reload(site: Site, page: Any) -> None:
    item_id = site.as_user("ivanova").create("procurement", {"title": "Stale", "estimate": "1000"})
    sign_in(page, site, "ivanova", f"/processes/procurement/items/{item_id}")
    site.as_user("petrov").update("procurement", item_id, {"supplier": "Petrov's supplier"})
    page.fill("input[name=construction_site]" if page.locator("input[name=construction_site]").count()
              else "textarea[name=construction_site]", "Site typed by Ivanova")
    page.click(".item-form button[type=submit]")
    stale = page.locator(".stale[role=alert]")
    stale.wait_for()
    assert "Пётр Петров — Supplier: — → Petrov's supplier" in stale.inner_text()
    # what Ivanova typed is kept, nothing of it was written
    assert page.locator("[name=construction_site]").input_value() == "Site typed by Ivanova"
    assert site.admin.get("procurement", item_id)["construction_site"] is None
    stale.locator("text=Reload").click()
    assert page.locator("input[name=supplier]").input_value() == "Petrov's supplier"


def test_create_an_item_from_the_board(site: Site, page: Any) -> None:
    sign_in(page, site, "ivanova", "/processes/procurement/kanban")
    page.click("text=+ Create")
    page.fill("input[name=title]", "Created in the browser")
    page.click(".create-form button[type=submit]")
    page.wait_for_url("**/processes/procurement/items/*")
    item_id = int(page.url.rsplit("/", 1)[1])
    item = site.admin.get("procurement", item_id)
    ivanova = next(u["id"] for u in site.admin.users() if u["login"] == "ivanova")
    assert (item["title"], item["stage"], item["created_by"]) == ("Created in the browser", "estimate", ivanova)
    assert site.admin.history("procurement", item_id)[0]["who"] == "ivanova"
    page.goto(site.base + "/processes/procurement/kanban")
    assert page.locator(f'.column[data-stage="estimate"] .card[data-item-id="{item_id}"]').count() == 1


HIDDEN = "987654"  # an offered salary: hidden from recruiters


def test_a_recruiter_sees_no_hidden_salary_anywhere(site: Site, page: Any, browser: Any) -> None:
    volkova = site.as_user("volkova")
    item_id = volkova.create("candidate", {"title": "Hidden salary candidate", "position": "foreman"})
    volkova.update("candidate", item_id, {"offered_salary": HIDDEN})
    sign_in(page, site, "smirnova", "/processes/candidate/kanban")
    sources = [page.content()]
    for path in (f"/processes/candidate/items/{item_id}", "/processes/candidate/items",
                 f"/processes/candidate/items?search={item_id}", "/processes/candidate/items/new"):
        answer = page.request.get(site.base + path)
        sources.append(answer.text())
        page.goto(site.base + path)
        sources.append(page.content())
    for source in sources:
        assert HIDDEN not in source and "987 654" not in source and "987,654" not in source
        assert "offered_salary" not in source
    # the head of HR sees it: the value is there to be hidden
    other = browser.new_context()
    head = other.new_page()
    sign_in(head, site, "volkova", f"/processes/candidate/items/{item_id}")
    assert HIDDEN in head.content()
    other.close()


def test_screenshots_of_each_example(site: Site, page: Any, shots: Path, browser: Any) -> None:
    """Each shipped example's board and a card, at 1280×800 and at a phone's 390 px."""
    buyer = site.as_user("ivanova")  # a purchase with a history, the newest card of the board
    mine = buyer.create("procurement", {"title": "Бетон М300, 40 м³", "estimate": "300000", "materials": ["concrete"],
                                        "construction_site": "ЖК «Северный», дом 4", "priority": "urgent"})
    buyer.move("procurement", mine, "prices")
    buyer.update("procurement", mine, {"supplier": "ООО «СтройБетон»", "quoted_price": "285000"})
    for process in ("procurement", "candidate", "patient", "appointment", "complaint"):
        sign_in(page, site, "boss", f"/processes/{process}/kanban") if process == "procurement" else \
            page.goto(f"{site.base}/processes/{process}/kanban")
        assert page.locator(".column[data-stage]").count() >= 3
        page.screenshot(path=str(shots / f"{process}-board.png"))
        chosen = page.locator(f'.card[data-item-id="{mine}"]' if process == "procurement" else ".card[data-item-id]")
        chosen.first.locator(".card-title").click()
        page.wait_for_selector(".stagebar")
        assert page.locator(".timeline li").count() >= (3 if process == "procurement" else 1)
        page.screenshot(path=str(shots / f"{process}-card.png"), full_page=True)
    phone = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True)
    small = phone.new_page()
    sign_in(small, site, "ivanova", "/processes/procurement/kanban")
    assert small.evaluate("document.documentElement.scrollWidth") <= 390
    small.screenshot(path=str(shots / "procurement-board-phone.png"))
    phone.close()


def test_the_card_sets_a_user_a_date_and_time_and_a_number(site: Site, page: Any) -> None:
    """Inputs by type on the candidate card: the user picker (a combobox), a datetime-local, a whole number."""
    item_id = site.as_user("volkova").create("candidate", {"title": "Typed inputs", "position": "foreman"})
    sign_in(page, site, "volkova", f"/processes/candidate/items/{item_id}")
    # the picker offers the people with a right in candidates (the HR team and the administrator), not everyone
    picker = page.locator("[role=combobox][data-field=interviewer]")
    picker.fill("")
    picker.press("ArrowDown")
    page.locator("#interviewer-options [role=option]").first.wait_for()
    offered = page.locator("#interviewer-options [role=option]").all_inner_texts()
    assert sorted(o.split(" (")[0] for o in offered) == sorted(u["name"] for u in site.admin.users("candidate"))
    assert not any("Пётр Петров" in o for o in offered)
    picker.fill("Смирн")
    page.locator("#interviewer-options [role=option]", has_text="Мария Смирнова").wait_for()
    assert page.locator("#interviewer-options [role=option]").all_inner_texts() == ["Мария Смирнова (smirnova)"]
    picker.press("Enter")
    page.fill("input[type=datetime-local][name=interview_date]", "2026-12-10T10:30")
    page.fill("input[name=experience_years]", "7")
    page.click(".item-form button[type=submit]")
    page.wait_for_url(f"**/items/{item_id}?saved=1")
    item = site.admin.get("candidate", item_id)
    smirnova = next(u["id"] for u in site.admin.users() if u["login"] == "smirnova")
    assert item["interviewer"] == smirnova and item["experience_years"] == 7
    assert item["interview_date"].strftime("%Y-%m-%d %H:%M") == "2026-12-10 10:30"
    assert page.locator("input[type=hidden][name=interviewer]").input_value() == str(smirnova)
    assert picker.input_value() == "Мария Смирнова"
    assert "Мария Смирнова" in page.locator(".timeline").inner_text()
