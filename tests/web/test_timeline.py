"""The card's timeline in Chromium, with two signed-in users and the served app on a fake clock: a comment in
Russian with a `@mention` reaches the mentioned user's inbox (links clickable, nothing unescaped); a to-do
given to another user shows in their header's counter and turns overdue when the clock passes its deadline,
on their kanban card too. Without a browser: a save that changes nothing writes no history row, and the
timeline says "cleared" for a value emptied and names the trigger by its title."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.dbutil import backends, database_url
from tests.web.support import Site, http_client, post_sign_in, serve, sign_in

pytestmark = pytest.mark.db
START = datetime(2030, 3, 4, 9, 0, tzinfo=UTC)  # a Monday morning


class Clock:
    """The served app's "now": moved by the tests."""

    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        return self.now


CLOCK = Clock()


@pytest.fixture(scope="module", params=backends())
def site(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    for url in database_url(request.param, tmp_path_factory.mktemp("timeline")):
        yield from serve(url, samples=False, clock=CLOCK)


@pytest.fixture
def second(browser: Any) -> Iterator[Any]:
    """A second user's own browser (cookies apart), in Russian."""
    context = browser.new_context(viewport={"width": 390, "height": 844}, locale="ru-RU")
    found = context.new_page()
    yield found
    context.close()


def patient(site: Site, title: str) -> int:
    return site.as_user("sokolova").create("patient", {"title": title, "birth_date": "1980-05-06",
                                                       "phone": "+79161234567"})


def russian(page: Any, site: Site) -> None:
    page.goto(site.base + "/lang/ru?next=/")


def test_a_russian_comment_with_a_mention_reaches_the_mentioned_inbox(site: Site, page: Any, second: Any,
                                                                       shots: Path) -> None:
    CLOCK.now = START
    item_id = patient(site, "Смирнов Иван")
    card = f"/processes/patient/items/{item_id}"
    sign_in(page, site, "sokolova", card)
    sign_in(second, site, "lebedev", "/inbox")
    russian(page, site)
    page.goto(site.base + card)
    text = "Михаил Петрович, @lebedev, посмотрите анализы <b>срочно</b>.\nРезультаты: https://lab.example.ru/r?id=7."
    page.fill("textarea[name=comment]", text)
    page.click(".comment-form button[type=submit]")
    page.wait_for_url(f"**{card}#timeline")
    comment = page.locator(".timeline-comment").first
    assert "посмотрите анализы <b>срочно</b>." in comment.inner_text()  # shown as typed, not as markup
    assert comment.locator("b").count() == 0
    link = comment.locator("a[href='https://lab.example.ru/r?id=7']")
    assert link.inner_text() == "https://lab.example.ru/r?id=7" and link.get_attribute("rel").startswith("noopener")
    assert "Ольга Соколова" in comment.inner_text()
    page.screenshot(path=str(shots / "timeline-comment.png"), full_page=True)
    second.goto(site.base + "/inbox")
    mention = second.locator(".inbox-mentions li").first
    assert "посмотрите анализы" in mention.inner_text() and "Смирнов Иван" in mention.inner_text()
    assert "Упоминания" in second.locator("#mentions h2").inner_text()
    mention.locator(f"a[href='{card}#comment-{site.admin.comments('patient', item_id)[0]['id']}']").click()
    second.wait_for_url(f"**{card}#comment-*")
    second.screenshot(path=str(shots / "timeline-mention-390.png"), full_page=True)
    # the author edits it; the earlier text stays in the item's history
    page.locator(".comment-own summary").first.click()
    page.fill(".comment-own textarea[name=text]", "Исправлено: @lebedev, анализы готовы")
    page.click(".comment-own button[type=submit]:not(.danger)")
    page.wait_for_url(f"**{card}#comment-*")
    assert "Исправлено" in page.locator(".timeline-comment").first.inner_text()
    assert "изменено" in page.locator(".timeline-comment").first.inner_text()
    assert any(h["kind"] == "comment.edit" and "срочно" in h["old"]["text"]
               for h in site.admin.history("patient", item_id))
    # someone else's comment offers no edit
    second.goto(site.base + card)
    assert second.locator(".timeline-comment").count() == 1
    assert second.locator(".comment-own").count() == 0


def test_a_todo_for_another_user_counts_in_their_header_and_turns_overdue(site: Site, page: Any, second: Any,
                                                                          shots: Path) -> None:
    CLOCK.now = START
    item_id = patient(site, "Кузнецова Анна")
    site.as_user("sokolova").update("patient", item_id, {"attending_doctor": "lebedev"})
    card = f"/processes/patient/items/{item_id}"
    sign_in(page, site, "sokolova", card)
    sign_in(second, site, "lebedev", "/")
    before = _counters(second)
    page.locator(".todo-new summary").click()
    page.fill("input[name=todo_title]", "Повторный приём")
    page.fill("input[name=due_date]", "2030-03-05")
    page.select_option("select[name=responsible]", "lebedev")
    page.click(".todo-form button[type=submit]")
    page.wait_for_url(f"**{card}#timeline")
    todo = page.locator(".timeline-todo").first
    assert "Повторный приём" in todo.inner_text() and "Михаил Лебедев" in todo.inner_text()
    _home(second, site, "lebedev")
    assert _counters(second) == (before[0], before[1])  # due tomorrow: neither overdue nor today
    CLOCK.now = START + timedelta(days=1)
    _home(second, site, "lebedev")
    assert _counters(second) == (before[0], before[1] + 1)
    CLOCK.now = START + timedelta(days=2)
    _home(second, site, "lebedev")
    assert _counters(second) == (before[0] + 1, before[1])
    second.goto(site.base + "/inbox")
    assert "Повторный приём" in second.locator("#my-todos li.todo-overdue").first.inner_text()
    second.screenshot(path=str(shots / "timeline-inbox-390.png"), full_page=True)
    second.goto(site.base + "/processes/patient/kanban")
    overdue_card = second.locator(f".card[data-item-id='{item_id}']")
    overdue_card.wait_for()
    assert "overdue" in (overdue_card.get_attribute("class") or "")
    assert overdue_card.locator(".overdue-mark").count() == 1
    second.screenshot(path=str(shots / "timeline-kanban-overdue-390.png"), full_page=False)
    sign_in(page, site, "sokolova", card)  # the clock moved two days: a new session
    assert "todo-overdue" in (page.locator(".timeline-todo").first.get_attribute("class") or "")
    page.screenshot(path=str(shots / "timeline-todo-overdue.png"), full_page=True)
    # the responsible marks it done: the counter drops
    second.goto(site.base + card)
    second.locator(f"#todo-{site.admin.todos('patient', item_id)[0]['id']} .todo-done button").click()
    second.wait_for_url(f"**{card}#todo-*")
    assert _counters(second) == before
    second.locator(".todo-new summary").click()
    second.locator("input[name=todo_title]").scroll_into_view_if_needed()
    second.screenshot(path=str(shots / "timeline-todo-form-390.png"))
    CLOCK.now = START


def _home(page: Any, site: Site, login: str) -> None:
    """The home page as login: signed in again when the clock moved past the session's 12 hours."""
    page.goto(site.base + "/")
    if "/login" in page.url:
        sign_in(page, site, login, "/")


def _counters(page: Any) -> tuple[int, int]:
    counters = page.locator(".todo-counters")
    return (int(counters.locator("[data-overdue]").get_attribute("data-overdue")),
            int(counters.locator("[data-today]").get_attribute("data-today")))


def test_a_save_that_changes_nothing_writes_no_history_and_an_emptied_value_says_cleared(site: Site) -> None:
    CLOCK.now = START
    item_id = patient(site, "Без изменений")
    site.as_user("sokolova").update("patient", item_id, {"allergies": "пенициллин"})
    card = f"/processes/patient/items/{item_id}"
    with http_client(site) as client:
        assert post_sign_in(client, "sokolova").status_code == 303
        form = client.get(card).text
        rows = len(site.admin.history("patient", item_id))
        import re

        fields = dict(re.findall(r'<input(?: type="hidden")? name="(csrf|version|seen)" value="([^"]*)"', form))
        keep = {"title": "Без изменений", "birth_date": "1980-05-06", "phone": "+79161234567",
                "allergies": "пенициллин"}
        answer = client.post(card, data={**fields, **keep})
        assert answer.status_code == 303, answer.text
        assert len(site.admin.history("patient", item_id)) == rows  # nothing changed: no history row
        site.as_user("sokolova").update("patient", item_id, {"allergies": None})
        page = client.get(card + "?lang=ru").text
        assert "cleared" in page or "очищено" in page


@pytest.mark.parametrize(("text", "html"), [
    ("<b>x</b> & 'q'", "&lt;b&gt;x&lt;/b&gt; &amp; &#39;q&#39;"),
    ("см. https://e.ru/a?b=1&c=2.", 'см. <a href="https://e.ru/a?b=1&amp;c=2" rel="noopener noreferrer nofollow ugc"'
     ' target="_blank">https://e.ru/a?b=1&amp;c=2</a>.'),
    ("javascript:alert(1) ftp://x.ru data:text/html,<i>", "javascript:alert(1) ftp://x.ru data:text/html,&lt;i&gt;"),
    ('http://"><script>', 'http://&#34;&gt;&lt;script&gt;'),
    ("@lebedev, a@b.ru (@sokolova).", '<span class="mention">@lebedev</span>, a@b.ru '
     '(<span class="mention">@sokolova</span>).'),
])
def test_a_comment_is_escaped_with_only_http_links_made_clickable(text: str, html: str) -> None:
    from smartflow.web.timeline import linkify

    assert str(linkify(text)) == html
