"""The inbox in Chromium, in Russian at a phone's width (and a different time zone from the server's):
each notification names its process and its item, shows its moment in the browser's zone, is bold while
unread and plain once marked read (one at a time, then all at once); the reader turns e-mail off there."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.dbutil import backends, database_url
from tests.web.support import Site, serve, sign_in

pytestmark = pytest.mark.db


@pytest.fixture(scope="module", params=backends())
def site(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    for url in database_url(request.param, tmp_path_factory.mktemp("inbox")):
        yield from serve(url, samples=False)


@pytest.fixture
def phone(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 390, "height": 844}, locale="ru-RU",
                                  timezone_id="Asia/Vladivostok")
    found = context.new_page()
    yield found
    context.close()


def weight(page: Any, selector: str) -> int:
    return int(page.locator(selector).evaluate("node => getComputedStyle(node).fontWeight"))


def badge(page: Any) -> int:
    found = page.locator(".inbox-link .badge")
    return int(found.inner_text()) if found.count() else 0


def test_notifications_name_their_item_and_are_marked_read_one_then_all(site: Site, phone: Any,
                                                                         shots: Path) -> None:
    ivanova = site.as_user("ivanova")
    first = ivanova.create("procurement", {"title": "Цемент М500", "estimate": "120"})
    second = ivanova.create("procurement", {"title": "Арматура А500С", "estimate": "80"})
    ivanova.comment("procurement", first, "@petrov проверьте цену цемента")
    ivanova.comment("procurement", second, "@petrov и арматуры тоже")
    phone.goto(site.base + "/lang/ru?next=/")
    sign_in(phone, site, "petrov", "/inbox")
    entries = phone.locator("ol.inbox > li")
    assert entries.count() == 2 and badge(phone) == 2
    newest = entries.first
    head = newest.locator(".inbox-head").inner_text()
    assert "Закупка" in head and "Арматура А500С" in head
    assert newest.locator(f"a[href='/processes/procurement/items/{second}']").count() == 1
    shown = newest.locator("time").inner_text()
    assert "T" not in shown and re.fullmatch(r"\d\d\.\d\d\.\d{4}, \d\d:\d\d", shown), shown
    assert weight(phone, "ol.inbox > li >> nth=0") == 600 and weight(phone, "ol.inbox > li >> nth=1") == 600
    phone.screenshot(path=str(shots / "inbox-unread-390.png"), full_page=True)
    newest.locator("button.mark-read").click()
    phone.wait_for_url("**/inbox#notifications")
    assert phone.locator("ol.inbox > li >> nth=0").get_attribute("class") == "read"
    assert weight(phone, "ol.inbox > li >> nth=0") == 400 and weight(phone, "ol.inbox > li >> nth=1") == 600
    assert badge(phone) == 1
    assert phone.locator("ol.inbox > li >> nth=0").locator("button.mark-read").count() == 0
    phone.locator(".inbox-all button").click()
    phone.wait_for_url("**/inbox#notifications")
    assert [phone.locator("ol.inbox > li").nth(n).get_attribute("class") for n in range(2)] == ["read", "read"]
    assert badge(phone) == 0 and phone.locator(".inbox-all").count() == 0
    assert site.as_user("petrov").inbox(unread_only=True) == []
    # the reader's own switch: e-mail off, the inbox stays
    settings = phone.locator("#settings")
    assert settings.locator("input[name=email_notifications]").is_checked()
    settings.locator("input[name=email_notifications]").uncheck()
    settings.locator("select[name=language]").select_option("ru")
    settings.locator("button[type=submit]").click()
    phone.wait_for_url("**/inbox#settings")
    assert not phone.locator("#settings input[name=email_notifications]").is_checked()
    assert site.as_user("petrov").settings() | {"email": None} == {
        "login": "petrov", "email": None, "email_notifications": False, "language": "ru"}
    phone.screenshot(path=str(shots / "inbox-read-390.png"), full_page=True)


def test_what_smartflow_writes_reads_in_the_browsers_language(site: Site, phone: Any, browser: Any) -> None:
    """An assignment's notification is kept as a message: the Russian browser reads it in Russian, an
    English one in English, from the same line of the inbox."""
    ivanova = site.as_user("ivanova")
    item = ivanova.create("procurement", {"title": "Щебень 20-40", "estimate": "50"})
    ivanova.update("procurement", item, {"assigned_to": "petrov"})
    name = site.admin.user("ivanova")["name"]
    phone.goto(site.base + "/lang/ru?next=/")
    sign_in(phone, site, "petrov", "/inbox")
    newest = phone.locator("ol.inbox > li").first
    assert newest.locator(".inbox-subject").inner_text() == "Вы ответственный: Щебень 20-40"
    assert newest.locator("p").inner_text() == f"{name} назначил(а) вас ответственным за «Щебень 20-40»."
    english = browser.new_context(locale="en-US")
    try:
        page = english.new_page()
        sign_in(page, site, "petrov", "/inbox")
        newest = page.locator("ol.inbox > li").first
        assert newest.locator(".inbox-subject").inner_text() == "You are responsible: Щебень 20-40"
        assert newest.locator("p").inner_text() == f"{name} made you responsible for “Щебень 20-40”."
    finally:
        english.close()
