"""Links, people and the recycle bin in Chromium (the clinic example): pick a patient by typing part of
their name, create a linked appointment from a patient's card, change the responsible person, add an
observer, delete an item to the recycle bin and restore it — and what the pages look like in Russian
on a phone."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.web.support import Site, sign_in

pytestmark = pytest.mark.db


def _user_id(site: Site, login: str) -> int:
    return next(int(u["id"]) for u in site.admin.users() if u["login"] == login)


def _patient(site: Site, title: str) -> int:
    return next(int(p["id"]) for p in site.admin.list("patient", search=title, limit=5) if p["title"] == title)


def _pick(page: Any, field: str, typed: str, wanted: str) -> None:
    """Type into a combobox, wait for the option, choose it with the keyboard."""
    picker = page.locator(f"[role=combobox][data-field={field}]")
    picker.fill(typed)
    listbox = picker.get_attribute("aria-controls")
    option = page.locator(f"#{listbox} [role=option]", has_text=wanted)
    option.wait_for()
    assert picker.get_attribute("aria-expanded") == "true"
    while option.get_attribute("aria-selected") != "true":
        picker.press("ArrowDown")
    picker.press("Enter")
    assert picker.get_attribute("aria-expanded") == "false"


def test_pick_a_patient_by_typing_part_of_their_name(site: Site, page: Any, shots: Path) -> None:
    patient = _patient(site, "Смирнов Алексей Николаевич")
    sign_in(page, site, "sokolova", "/processes/appointment/items/new")
    page.goto(site.base + "/lang/ru?next=/processes/appointment/items/new")
    page.wait_for_url("**/processes/appointment/items/new")
    page.fill("input[name=title]", "Приём — выбран по имени")
    picker = page.locator("[role=combobox][data-field=patient]")
    picker.fill("смирн")
    page.locator("#patient-options [role=option]").first.wait_for()
    offered = page.locator("#patient-options [role=option]").all_inner_texts()
    assert f"Смирнов Алексей Николаевич (#{patient})" in offered
    assert all("смирн" in o.lower() for o in offered)
    page.screenshot(path=str(shots / "appointment-pick-patient-ru.png"), full_page=True)
    picker.press("Escape")
    assert page.locator("#patient-options").is_hidden()
    _pick(page, "patient", "Смирнов А", "Смирнов Алексей Николаевич")
    assert page.locator("input[type=hidden][name=patient]").input_value() == str(patient)
    _pick(page, "doctor", "Лебед", "Михаил Лебедев")
    page.fill("input[name=scheduled_at]", "2026-12-22T10:00")
    page.select_option("select[name=service]", "initial")
    page.click(".create-form button[type=submit]")
    page.wait_for_url("**/processes/appointment/items/*")
    item_id = int(page.url.rsplit("/", 1)[1].split("?")[0])
    item = site.admin.get("appointment", item_id)
    assert item["patient"] == patient and item["doctor"] == _user_id(site, "lebedev")
    # the card shows the linked patient by title, with the id
    shown = page.locator("[role=combobox][data-field=patient]").input_value()
    assert shown == f"Смирнов Алексей Николаевич (#{patient})"


def test_create_a_linked_appointment_from_a_patients_card(site: Site, page: Any, shots: Path) -> None:
    patient = _patient(site, "John Miller")
    sign_in(page, site, "sokolova", f"/processes/patient/items/{patient}")
    page.click(f"[data-create-linked='/processes/appointment/items/new?patient={patient}']")
    page.wait_for_url(f"**/processes/appointment/items/new?patient={patient}")
    assert page.locator("input[type=hidden][name=patient]").input_value() == str(patient)
    assert page.locator("[role=combobox][data-field=patient]").input_value() == f"John Miller (#{patient})"
    page.fill("input[name=title]", "Follow-up — John Miller")
    _pick(page, "doctor", "leb", "Михаил Лебедев")
    page.fill("input[name=scheduled_at]", "2026-12-23T11:30")
    page.select_option("select[name=service]", "follow_up")
    page.click(".create-form button[type=submit]")
    page.wait_for_url("**/processes/appointment/items/*")
    item_id = int(page.url.rsplit("/", 1)[1].split("?")[0])
    assert site.admin.get("appointment", item_id)["patient"] == patient
    page.goto(site.base + f"/processes/patient/items/{patient}")
    assert "Follow-up — John Miller" in page.locator(".links").inner_text()


def test_the_doctor_picker_lists_doctors_only(site: Site, page: Any) -> None:
    sign_in(page, site, "sokolova", "/processes/appointment/items/new")
    picker = page.locator("[role=combobox][data-field=doctor]")
    picker.fill("")
    picker.press("ArrowDown")
    page.locator("#doctor-options [role=option]").first.wait_for()
    offered = page.locator("#doctor-options [role=option]").all_inner_texts()
    assert offered == ["Михаил Лебедев (lebedev)"]  # not the registrar, not the administrator


def test_change_the_responsible_person_and_add_an_observer(site: Site, page: Any, shots: Path) -> None:
    patient = _patient(site, "John Miller")
    item_id = site.as_user("sokolova").create("appointment", {
        "title": "Responsible", "patient": patient, "doctor": "lebedev", "scheduled_at": "2026-12-24T09:00"})
    sign_in(page, site, "sokolova", f"/processes/appointment/items/{item_id}")
    _pick(page, "assigned_to", "Соколов", "Ольга Соколова")
    page.click(".assign button[type=submit]")
    page.wait_for_url(f"**/items/{item_id}?saved=1")
    assert site.admin.get("appointment", item_id)["assigned_to"] == _user_id(site, "sokolova")
    assert "Ольга Соколова" in page.locator(".timeline").inner_text()
    _pick(page, "add", "Лебед", "Михаил Лебедев")
    page.click(".add-observer button[type=submit]")
    page.wait_for_url(f"**/items/{item_id}?saved=1")
    assert [o["login"] for o in site.admin.observers("appointment", item_id)] == ["lebedev"]
    assert page.locator("[data-observer=lebedev]").count() == 1
    # the doctor reads the visit as its observer although it is no longer theirs
    assert site.as_user("lebedev").get("appointment", item_id)["id"] == item_id
    page.locator("[data-observer=lebedev] button").click()
    page.wait_for_url(f"**/items/{item_id}?saved=1")
    assert site.admin.observers("appointment", item_id) == []


def test_delete_to_the_recycle_bin_and_restore_from_the_card(site: Site, page: Any, shots: Path) -> None:
    patient = _patient(site, "John Miller")
    item_id = site.admin.create("appointment", {"title": "To the bin and back", "patient": patient,
                                                "doctor": "lebedev", "scheduled_at": "2026-12-25T09:00"})
    sign_in(page, site, "boss", f"/processes/appointment/items/{item_id}")
    page.once("dialog", lambda dialog: dialog.accept())
    page.click(".delete-item button[type=submit]")
    page.wait_for_url(f"**/processes/appointment/recycle-bin?deleted={item_id}")
    assert site.admin.recycle_bin("appointment")[0]["id"] == item_id
    row = page.locator(f".recycle-bin tr[data-item-id='{item_id}']")
    assert "To the bin and back" in row.inner_text()
    assert page.locator("[role=status]").inner_text() == f"Moved to the recycle bin: #{item_id}"
    page.screenshot(path=str(shots / "appointment-recycle-bin.png"))
    row.locator("button[type=submit]").click()
    page.wait_for_url(f"**/processes/appointment/items/{item_id}?saved=1")
    assert site.admin.get("appointment", item_id)["title"] == "To the bin and back"


def test_delete_from_the_list_and_a_dismissed_question_deletes_nothing(site: Site, page: Any) -> None:
    patient = _patient(site, "John Miller")
    item_id = site.admin.create("appointment", {"title": "Deleted from the list", "patient": patient,
                                                "doctor": "lebedev", "scheduled_at": "2026-12-26T09:00"})
    sign_in(page, site, "boss", "/processes/appointment/items?search=Deleted+from+the+list")
    row = page.locator(f"tr[data-item-id='{item_id}']")
    page.once("dialog", lambda dialog: dialog.dismiss())
    row.locator(".row-delete button").click()
    assert site.admin.get("appointment", item_id)["id"] == item_id  # still there
    page.once("dialog", lambda dialog: dialog.accept())
    row.locator(".row-delete button").click()
    page.wait_for_url("**/processes/appointment/items")
    assert item_id in [r["id"] for r in site.admin.recycle_bin("appointment")]


def test_the_card_in_russian_on_a_phone(site: Site, browser: Any, shots: Path) -> None:
    patient = _patient(site, "Иванова Мария Петровна")
    item_id = site.as_user("sokolova").create("appointment", {
        "title": "Приём на телефоне", "patient": patient, "doctor": "lebedev", "scheduled_at": "2026-12-27T09:00",
        "observers": ["lebedev"]})
    phone = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True, locale="ru-RU")
    small = phone.new_page()
    sign_in(small, site, "sokolova", f"/processes/appointment/items/{item_id}")
    small.goto(site.base + f"/lang/ru?next=/processes/appointment/items/{item_id}")
    small.wait_for_url(f"**/processes/appointment/items/{item_id}")
    assert small.locator("[role=combobox][data-field=patient]").input_value() == \
        f"Иванова Мария Петровна (#{patient})"
    assert "Наблюдатели" in small.locator(".people").inner_text()
    picker = small.locator("[role=combobox][data-field=patient]")
    picker.fill("ива")
    small.locator("#patient-options [role=option]").first.wait_for()
    assert small.evaluate("document.documentElement.scrollWidth") <= 390
    small.screenshot(path=str(shots / "appointment-card-phone-ru.png"), full_page=True)
    small.goto(site.base + f"/processes/patient/items/{patient}")
    small.screenshot(path=str(shots / "patient-card-phone-ru.png"), full_page=True)
    small.goto(site.base + "/processes/appointment/items")
    assert f"Иванова Мария Петровна (#{patient})" in small.locator("table.items").inner_text()
    assert small.evaluate("document.documentElement.scrollWidth") <= 390
    small.screenshot(path=str(shots / "appointment-list-phone-ru.png"), full_page=True)
    phone.close()


def test_a_move_that_needs_a_person_asks_for_them_with_a_picker(site: Site, page: Any, shots: Path) -> None:
    """Examination needs the attending doctor: the kanban's dialog offers a combobox of doctors."""
    from tests.web.test_kanban import drag, settled

    patient = site.as_user("sokolova").create("patient", {
        "title": "Пациент для осмотра", "birth_date": "1990-01-01", "phone": "+7 900 111-22-33",
        "consent_signed": True})
    sign_in(page, site, "sokolova", "/processes/patient/kanban")
    page.goto(site.base + "/lang/ru?next=/processes/patient/kanban")
    page.wait_for_url("**/processes/patient/kanban")
    drag(page, patient, "examination")
    dialog = page.locator("#required-dialog")
    dialog.wait_for(state="visible")
    _pick(page, "attending_doctor", "лебед", "Михаил Лебедев")
    page.screenshot(path=str(shots / "patient-required-doctor-ru.png"))
    dialog.locator("button[type=submit]").click()
    settled(page)
    moved = site.admin.get("patient", patient)
    assert moved["stage"] == "examination" and moved["attending_doctor"] == _user_id(site, "lebedev")
