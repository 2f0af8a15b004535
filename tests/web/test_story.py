"""The clinic's day in the browser only, in Russian, with two people signed in: the registrar finds a
patient by name, books an appointment from the patient's card with the doctor picked by typing and
the referral attached; the doctor opens the patient, comments (mentioning the registrar) and
schedules a follow-up to-do; the patient's card shows it all — the linked appointment, the comment,
the to-do — and the registrar's inbox has the mention. The screenshots are the README's."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.web.support import Site, sign_in

pytestmark = pytest.mark.db

PATIENT = "Смирнов Алексей Николаевич"
REFERRAL = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"


@pytest.fixture
def doctor(browser: Any) -> Iterator[Any]:
    """The doctor's own browser (cookies apart), in Russian, at desktop width."""
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="ru-RU")
    found = context.new_page()
    yield found
    context.close()


def _pick(page: Any, field: str, typed: str, wanted: str) -> None:
    picker = page.locator(f"[role=combobox][data-field={field}]")
    picker.fill(typed)
    option = page.locator(f"#{picker.get_attribute('aria-controls')} [role=option]", has_text=wanted)
    option.wait_for()
    option.click()


def test_a_registrar_books_and_a_doctor_follows_up_in_one_timeline(site: Site, page: Any, doctor: Any,
                                                                    tmp_path: Path, shots: Path) -> None:
    referral = tmp_path / "Направление терапевта.pdf"
    referral.write_bytes(REFERRAL)
    sign_in(page, site, "sokolova", "/processes/patient/items")
    page.goto(site.base + "/lang/ru?next=/processes/patient/items")
    page.fill("input[name=search]", "Смирнов")
    page.click("form.filters button[type=submit]")
    page.click(f"table.items a:text('{PATIENT}')")
    page.wait_for_url(re.compile(r".*/processes/patient/items/\d+$"))
    patient = int(page.url.rsplit("/", 1)[1].split("?")[0])

    page.click(f"[data-create-linked='/processes/appointment/items/new?patient={patient}']")
    page.wait_for_url(f"**/processes/appointment/items/new?patient={patient}")
    assert page.locator("[role=combobox][data-field=patient]").input_value() == f"{PATIENT} (#{patient})"
    page.fill("input[name=title]", "Первичный приём терапевта")
    _pick(page, "doctor", "Лебед", "Михаил Лебедев")
    page.fill("input[name=scheduled_at]", "2026-12-21T10:30")
    assert page.locator("select[name=service]").input_value() == "initial"  # the definition's default
    page.click(".create-form button[type=submit]")
    page.wait_for_url(re.compile(r".*/processes/appointment/items/\d+(\?.*)?$"))
    appointment = int(page.url.rsplit("/", 1)[1].split("?")[0])
    page.locator("input[type=file][name=referral]").set_input_files(str(referral))  # on the new card
    page.locator("form.item-form button.primary[type=submit]").click()
    page.wait_for_url(f"**/processes/appointment/items/{appointment}?saved=1")
    assert page.locator('fieldset[data-field="referral"] .file-name').inner_text() == referral.name
    stored = site.admin.get("appointment", appointment)
    assert stored["patient"] == patient
    assert [f["name"] for f in site.admin.files("appointment", appointment)["referral"]] == [referral.name]

    sign_in(doctor, site, "lebedev", f"/processes/patient/items/{patient}")
    doctor.fill("textarea[name=comment]", "Жалобы на давление. @sokolova, запишите на ЭКГ до повторного приёма.")
    doctor.click(".comment-form button[type=submit]")
    doctor.wait_for_url(f"**/processes/patient/items/{patient}#timeline")
    doctor.locator(".todo-new summary").click()
    doctor.fill("input[name=todo_title]", "Повторный приём: результаты ЭКГ")
    doctor.fill("input[name=due_date]", "2027-01-11")
    doctor.select_option("select[name=responsible]", "lebedev")
    doctor.click(".todo-form button[type=submit]")
    doctor.wait_for_url(f"**/processes/patient/items/{patient}#timeline")

    page.goto(site.base + f"/processes/patient/items/{patient}")
    assert "Первичный приём терапевта (Приём)" in page.locator(".links").inner_text()  # the process's title
    assert "запишите на ЭКГ" in page.locator(".timeline-comment").first.inner_text()
    assert "Повторный приём: результаты ЭКГ" in page.locator(".timeline-todo").first.inner_text()
    page.screenshot(path=str(shots / "clinic-patient-card-ru.png"), full_page=True)
    page.goto(site.base + f"/processes/appointment/items/{appointment}")
    page.screenshot(path=str(shots / "clinic-appointment-card-ru.png"), full_page=True)
    page.goto(site.base + "/inbox")
    assert "запишите на ЭКГ" in page.locator(".inbox-mentions li").first.inner_text()
