"""A procurement team's day as one story in a real Chromium, all in Russian: two buyers work the same
board side by side and each sees the other's moves live, with the column counts; a buyer narrows the
board to her own overdue purchases with the shared preset; the manager opens the funnel for last
month and it shows `smartflow report`'s numbers for that month; and a mention on a card reaches the
mentioned buyer as an e-mail, sent by a real `smartflow worker` to a local SMTP server (aiosmtpd).
The screenshots are the README's."""

from __future__ import annotations

import email
import email.policy
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from smartflow.services.analytics import ReportOptions
from tests.automation.support import Clock
from tests.dbutil import backends, database_url
from tests.web.support import Site, free_port, serve, sign_in, wait_until
from tests.web.test_kanban import counts, drag, settled
from tests.web.test_views import page_numbers, report_numbers

pytestmark = pytest.mark.db
BOARD = "/processes/procurement/kanban"
LIVE = 15_000  # ms a colleague's move may take to show (about 0.3 s on a quiet machine)
OPEN = ("estimate", "prices", "contract", "delivery")


class Mailbox:
    """What the SMTP server accepted, parsed."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        parsed = email.message_from_bytes(envelope.original_content, policy=email.policy.default)
        assert isinstance(parsed, EmailMessage)
        self.messages.append(parsed)
        return "250 OK"


def middle_of_last_month() -> datetime:
    today = datetime.now(UTC)
    return (today.replace(day=1) - timedelta(days=1)).replace(day=15, hour=10, minute=0, second=0, microsecond=0)


@pytest.fixture(scope="module", params=backends())
def site(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    """The examples served with a settable clock of their own (each database's): the story's first purchases,
    and the samples, are made in the middle of last month."""
    folder = tmp_path_factory.mktemp("story")
    clock = Clock(middle_of_last_month())
    for url in database_url(request.param, folder):
        for found in serve(url, clock=clock):
            found.clock = clock  # type: ignore[attr-defined]
            yield found


@pytest.fixture
def clock(site: Site) -> Clock:
    found: Clock = site.clock  # type: ignore[attr-defined]
    return found


@pytest.fixture
def smtp() -> Iterator[Mailbox]:
    mailbox = Mailbox()
    controller = Controller(mailbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    mailbox.port = controller.port  # type: ignore[attr-defined]
    try:
        yield mailbox
    finally:
        controller.stop()


def russian(browser: Any, width: int = 1280, height: int = 800) -> Any:
    return browser.new_context(viewport={"width": width, "height": height}, locale="ru-RU").new_page()


def card_in(page: Any, stage: str, item_id: int) -> Any:
    return page.locator(f'.column[data-stage="{stage}"] .card[data-item-id="{item_id}"]')


def board_ids(page: Any) -> set[int]:
    return {int(c.get_attribute("data-item-id")) for c in page.locator(".column .card[data-item-id]").all()}


def overdue_of(site: Site, login: str) -> set[int]:
    """What the shared preset "my overdue" holds for login, asked of the services."""
    engine = site.as_user(login)
    where, search = engine.preset_filter("procurement", "my_overdue")
    found = {item["id"] for item in engine.list("procurement", where=where, search=search, limit=500)}
    return found


def test_two_buyers_a_filter_last_months_funnel_and_an_email(site: Site, clock: Clock, browser: Any, smtp: Mailbox,
                                                             shots: Path) -> None:
    buyers = {"ivanova": site.as_user("ivanova"), "orlov": site.as_user("orlov")}
    manager = site.as_user("petrov")
    for login in buyers:
        site.admin.edit_user(login, email=f"{login}@example.com", language="ru")
    # last month: purchases made and walked on (the samples were imported then too)
    clock.now = middle_of_last_month()
    last_month = [buyers["ivanova"].create("procurement", {"title": f"Арматура, партия {n}", "estimate": "90000",
                                                           "materials": ["rebar"]}) for n in range(3)]
    clock.advance(hours=5)
    manager.move("procurement", last_month[0], "prices")
    clock.now = datetime.now(UTC)  # today
    today = clock.now.date()
    ivanova_overdue = [buyers["ivanova"].create("procurement", {
        "title": title, "estimate": "150000", "materials": ["concrete"], "due_date": str(today - timedelta(days=days)),
        "assigned_to": "ivanova"}) for title, days in (("Цемент М500", 3), ("Кирпич облицовочный", 1))]
    ivanova_later = buyers["ivanova"].create("procurement", {"title": "Утеплитель", "estimate": "70000",
                                                            "due_date": str(today + timedelta(days=10)),
                                                            "assigned_to": "ivanova"})
    orlov_overdue = buyers["orlov"].create("procurement", {"title": "Песок карьерный", "estimate": "40000",
                                                          "materials": ["concrete"],
                                                          "due_date": str(today - timedelta(days=2)),
                                                          "assigned_to": "orlov"})

    # 1. two buyers side by side: each sees the other's move, with the counts
    anna, sergey = russian(browser), russian(browser)
    sign_in(anna, site, "ivanova", BOARD)
    sign_in(sergey, site, "orlov", BOARD)
    card_in(sergey, "estimate", ivanova_overdue[0]).wait_for()
    before = counts(sergey)
    drag(anna, ivanova_overdue[0], "prices")
    settled(anna)
    card_in(sergey, "prices", ivanova_overdue[0]).wait_for(timeout=LIVE)
    wait_until(sergey, "document.querySelector('.column[data-stage=\"prices\"] [data-count]').textContent"
                       f" == '{before['prices'] + 1}'", LIVE)
    assert counts(sergey)["estimate"] == before["estimate"] - 1
    sergey.screenshot(path=str(shots / "story-live-orlov-ru.png"))
    drag(sergey, orlov_overdue, "prices")
    settled(sergey)
    card_in(anna, "prices", orlov_overdue).wait_for(timeout=LIVE)
    assert buyers["orlov"].get("procurement", orlov_overdue)["stage"] == "prices"

    # 2. the buyer narrows the board to her own overdue purchases: the shared preset, in the address
    anna.click(".presets a.chip[href*='preset=my_overdue']")
    anna.wait_for_url(re.compile(r"preset=my_overdue"))  # a pattern: older Playwrights glob a query wrong
    hers = overdue_of(site, "ivanova")
    assert set(ivanova_overdue) <= hers and ivanova_later not in hers and orlov_overdue not in hers
    wait_until(anna, f"document.querySelectorAll('.column .card[data-item-id]').length == {len(hers)}")
    assert board_ids(anna) == hers  # her overdue ones: not the later one, not orlov's
    assert "Мои просроченные" in anna.locator(".presets a.chip[aria-current]").inner_text()
    anna.screenshot(path=str(shots / "procurement-my-overdue-ru.png"))
    shared = anna.url
    sergey.goto(shared)  # the same link shows orlov his own
    his = overdue_of(site, "orlov")
    assert orlov_overdue in his and not his & hers
    wait_until(sergey, f"document.querySelectorAll('.column .card[data-item-id]').length == {len(his)}")
    assert board_ids(sergey) == his

    # 3. the manager opens the funnel for last month
    boss = russian(browser)
    sign_in(boss, site, "petrov", "/processes/procurement/analytics")
    boss.click(".periods a.chip[data-period='last_month']")
    boss.wait_for_url(re.compile(r"[?&]from="))
    first_of_month = today.replace(day=1)
    last_day = first_of_month - timedelta(days=1)
    expected = ReportOptions(date_from=last_day.replace(day=1), date_to=last_day)
    assert boss.locator(".periods a.chip[aria-current]").inner_text() == "Прошлый месяц"
    shown = page_numbers(boss)
    assert shown == report_numbers(manager.report("procurement", expected))
    walked_last_month = manager.report("procurement", expected)["items"]
    assert walked_last_month >= len(last_month) and shown["total"] == str(walked_last_month)
    assert int(shown["total"]) < manager.report("procurement", ReportOptions())["items"]  # today's are not in it
    boss.screenshot(path=str(shots / "procurement-analytics-last-month-ru.png"), full_page=True)

    # 4. the manager mentions the buyer on her card; the worker sends her the e-mail
    boss.goto(f"{site.base}/processes/procurement/items/{ivanova_overdue[1]}")
    boss.fill("textarea[name=comment]", "@ivanova поставщик просит предоплату, проверьте счёт")
    boss.click(".comment-form button[type=submit]")
    boss.locator(".timeline-comment").first.wait_for()
    env = {**os.environ, "SMARTFLOW_SMTP_URL": f"smtp://127.0.0.1:{smtp.port}",  # type: ignore[attr-defined]
           "SMARTFLOW_BASE_URL": site.base, "SMARTFLOW_MAIL_FROM": "Снабжение <crm@example.com>"}
    done = subprocess.run([sys.executable, "-m", "smartflow", "worker", "--once", "--db", site.url], env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    to_her = [m for m in smtp.messages if "ivanova@example.com" in str(m["To"])]
    [sent] = [m for m in to_her if "упомянул(а) вас" in m["Subject"]]
    assert sent["Subject"] == "Закупка · Кирпич облицовочный: Пётр Петров упомянул(а) вас в комментарии"
    for other in to_her:  # the samples' delivery reminders, due meanwhile: every word and space intact
        if other is not sent:
            title = other["Subject"].split(" · ", 1)[1].split(": ", 1)[0]
            assert f"Поставка по закупке «{title}» / Delivery due" in other["Subject"]
    body = sent.get_body(("plain",))
    assert body is not None
    text = str(body.get_content())
    assert "поставщик просит предоплату" in text
    assert f"{site.base}/processes/procurement/items/{ivanova_overdue[1]}" in text
    assert not [m for m in smtp.messages if "orlov@example.com" in str(m["To"])]  # nobody else was told
    anna.goto(f"{site.base}/inbox")
    assert "поставщик просит предоплату" in anna.locator("main").inner_text()
    for page in (anna, sergey, boss):
        page.context.close()


def test_the_analytics_periods_are_whole_months_in_the_process_zone(site: Site, clock: Clock) -> None:
    from smartflow.services import views

    clock.now = datetime(2027, 3, 31, 23, 30, tzinfo=UTC)
    try:
        found = views.periods(site.admin, "procurement")
    finally:
        clock.now = datetime.now(UTC)
    zone_today = datetime(2027, 3, 31, 23, 30, tzinfo=UTC).astimezone(views.zone_of(site.admin, "procurement")).date()
    assert found["last_month"] == ((zone_today.replace(day=1) - timedelta(days=1)).replace(day=1),
                                   zone_today.replace(day=1) - timedelta(days=1))
    assert found["this_month"] == (zone_today.replace(day=1), zone_today)
    assert found["this_year"] == (date(zone_today.year, 1, 1), zone_today)
    assert found["last_30_days"][1] - found["last_30_days"][0] == timedelta(days=29)
