"""The board's create and edit forms offer, in a user field's picker, only the people with a right in the
item's pipeline (on create, the pipeline chosen; on the card, the item's), and the services refuse anyone
else on the field itself: the form shows the refusal on that field. On SQLite and PostgreSQL."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from smartflow.definitions.convert import to_yaml
from tests.dbutil import backends, database_url
from tests.web.support import PASSWORD, Site, serve, sign_in, wait_until

pytestmark = pytest.mark.db

STAGES: dict[str, Any] = {"planned": {"title": {"ru": "Запланировано", "en": "Planned"}},
                          "done": {"title": {"ru": "Сделано", "en": "Done"}, "semantic": "success"},
                          "dropped": {"title": {"ru": "Отменено", "en": "Dropped"}, "semantic": "failure"}}
WORKS: dict[str, Any] = {  # two sites, each with its own crew; a foreman is chosen when a work is planned
    "kind": "Process", "id": "works", "title": {"ru": "Работы", "en": "Works"},
    "fields": {"foreman": {"type": "user", "required": True, "roles": ["buyer"],
                           "title": {"ru": "Прораб", "en": "Foreman"}},
               "crew": {"type": "user", "multiple": True, "title": {"ru": "Бригада", "en": "Crew"}}},
    "pipelines": {"north": {"title": {"ru": "Север", "en": "North"}, "default": True, "stages": STAGES},
                  "south": {"title": {"ru": "Юг", "en": "South"}, "stages": copy.deepcopy(STAGES)}},
    "permissions": {"buyer": "all"},
}
CREWS = [("sever", "Прораб Северов", "north"), ("yug", "Прораб Южный", "south"), ("vse", "Прораб Везде", None)]


@pytest.fixture(scope="module", params=backends())
def site(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    folder = tmp_path_factory.mktemp("web")
    extra = tmp_path_factory.mktemp("works")
    (extra / "works.yaml").write_text(to_yaml(WORKS), encoding="utf-8")
    for url in database_url(request.param, folder):
        for found in serve(url, samples=False, extra=(extra,)):
            for login, name, pipeline in CREWS:
                found.admin.add_user(login, name, ["buyer"], processes=["works"],
                                     pipelines=[pipeline] if pipeline else [])
                found.admin.set_password(login, PASSWORD)
            yield found


def offered(page: Any, field: str, text: str) -> set[str]:
    """What the picker of field offers for text typed into it."""
    picker = page.locator(f"input[role=combobox][data-field={field}]")
    picker.fill("")
    picker.fill(text)
    wait_until(page, f"!document.querySelector('#{field}-options').hidden")
    return {label.split(" (")[0] for label in page.locator(f"#{field}-options [role=option]").all_inner_texts()}


def test_the_create_forms_picker_offers_only_the_people_of_the_chosen_pipeline(site: Site, page: Any,
                                                                                shots: Path) -> None:
    sign_in(page, site, "vse", "/processes/works/items/new?pipeline=south")
    assert offered(page, "foreman", "Прораб") == {"Прораб Южный", "Прораб Везде"}
    page.goto(f"{site.base}/processes/works/items/new?pipeline=north")
    assert offered(page, "foreman", "Прораб") == {"Прораб Северов", "Прораб Везде"}

    # chosen, it is created in the south with the southern foreman
    page.goto(f"{site.base}/processes/works/items/new?pipeline=south")
    page.fill("input[name=title]", "Фундамент")
    offered(page, "foreman", "Южн")
    page.locator("#foreman-options [role=option]").first.click()
    page.click(".create-form button[type=submit]")
    page.wait_for_url("**/processes/works/items/*")
    item_id = int(page.url.rsplit("/", 1)[1].split("?")[0])
    work = site.admin.get("works", item_id)
    assert (work["pipeline"], work["foreman"]) == ("south", site.admin.user("yug")["id"])

    # someone of the other pipeline sent anyway (a stale form, a hand-made request): refused on the field
    page.goto(f"{site.base}/processes/works/items/new?pipeline=south")
    page.fill("input[name=title]", "Кровля")
    page.evaluate("document.querySelector('input[type=hidden][name=foreman]').value = "
                  f"'{site.admin.user('sever')['id']}'")
    page.click(".create-form button[type=submit]")
    page.wait_for_selector("label.field.invalid .field-error")
    said = page.locator("label.field.invalid .field-error").inner_text()
    assert said.startswith("field “Foreman”: user “Прораб Северов” does not hold the role “Procurement specialist” "
                           "in pipeline “South”"), said
    assert site.admin.count("works") == 1

    # the card (the edit form) of the southern work offers the south's people, its crew list too
    page.goto(f"{site.base}/processes/works/items/{item_id}")
    assert offered(page, "foreman", "Прораб") == {"Прораб Южный", "Прораб Везде"}
    crew = set(page.locator("select[name=crew] option").all_inner_texts())
    assert crew == {"Прораб Южный", "Прораб Везде", "Boss"}  # the administrator has a right everywhere
    page.screenshot(path=str(shots / "pipeline-pickers.png"), full_page=True)


def test_on_a_phone_in_russian_the_refusal_is_on_the_field(site: Site, browser: Any, shots: Path) -> None:
    phone = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True, locale="ru-RU")
    page = phone.new_page()
    try:
        page.goto(f"{site.base}/lang/ru?next=/")
        sign_in(page, site, "vse", "/processes/works/items/new?pipeline=north")
        assert offered(page, "foreman", "Прораб") == {"Прораб Северов", "Прораб Везде"}
        page.fill("input[name=title]", "Забор")
        page.evaluate("document.querySelector('input[type=hidden][name=foreman]').value = "
                      f"'{site.admin.user('yug')['id']}'")
        page.click(".create-form button[type=submit]")
        page.wait_for_selector("label.field.invalid .field-error")
        said = page.locator("label.field.invalid .field-error").inner_text()
        assert said == ("поле «Прораб»: у пользователя «Прораб Южный» нет роли «Специалист по закупкам» "
                        "в воронке «Север» процесса «Работы»"), said
        assert page.evaluate("document.documentElement.scrollWidth") <= 390
        page.screenshot(path=str(shots / "pipeline-pickers-ru-phone.png"), full_page=True)
    finally:
        phone.close()
