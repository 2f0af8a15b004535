"""The deadlines ("Сроки"), calendar and analytics views: their services on a fake clock (the group of a
day, the day a group sets, a month's items, the report's numbers) and the pages in a real Chromium
(a card dragged between groups changes its date; an item on its calendar day; the analytics page
shows `smartflow report`'s numbers), in Russian and at 390 px, with screenshots."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from smartflow import errors
from smartflow.analytics.report import percent
from smartflow.services import Engine
from smartflow.services import views as dated
from smartflow.services.analytics import ReportOptions
from tests.web.support import Site, sign_in, wait_until

pytestmark = pytest.mark.db
WEDNESDAY = datetime(2026, 12, 9, 10, 0, tzinfo=UTC)  # the fake clock: a Wednesday
MARK = "Views test"


def walk_a_purchase(site: Site) -> None:
    """A purchase that spent 36 hours in its first stage and 5 in the next, then was cancelled."""
    moment = [datetime.now(UTC) - timedelta(days=3)]
    engine = Engine(site.url, clock=lambda: moment[0])
    item_id = engine.as_user("ivanova").create("procurement", {"title": "Гвозди 4×100, 50 кг", "materials": ["timber"],
                                                               "estimate": {"amount": "18500", "currency": "RUB"}})
    moment[0] += timedelta(hours=36)
    engine.as_user("ivanova").move("procurement", item_id, "prices")
    moment[0] += timedelta(hours=5)
    engine.as_user("petrov").move("procurement", item_id, "cancelled")  # a manager's move
    engine.close()


def test_screenshots_in_russian_for_the_documentation(site: Site, browser: Any, shots: Path) -> None:
    """Taken first, before the other tests add their items (docs/board/ holds a run's copies)."""
    walk_a_purchase(site)
    wide = browser.new_context(viewport={"width": 1440, "height": 900}, locale="ru-RU")
    page = wide.new_page()
    try:
        sign_in(page, site, "petrov", "/processes/procurement/deadlines")
        assert page.locator(".deadlines .card").count() > 5
        page.screenshot(path=str(shots / "procurement-deadlines-ru.png"))
        page.goto(site.base + "/processes/procurement/analytics")
        assert page.locator(".chart svg").count() == 4
        page.screenshot(path=str(shots / "procurement-analytics-ru.png"), full_page=True)
        page.goto(site.base + "/processes/procurement/calendar")
        page.screenshot(path=str(shots / "procurement-calendar-ru.png"))
    finally:
        wide.close()


# ---- the rules, without a database ----------------------------------------------------------------


@pytest.mark.parametrize(("day", "group"), [
    (date(2026, 12, 1), "overdue"), (date(2026, 12, 8), "overdue"), (date(2026, 12, 9), "today"),
    (date(2026, 12, 10), "this_week"), (date(2026, 12, 13), "this_week"), (date(2026, 12, 14), "next_week"),
    (date(2026, 12, 20), "next_week"), (date(2026, 12, 21), "later"), (None, "none")])
def test_a_day_falls_in_its_group(day: date | None, group: str) -> None:
    assert dated.Week(WEDNESDAY.date()).group_of(day) == group


def test_each_group_sets_its_day_and_the_day_lands_in_it() -> None:
    week = dated.Week(WEDNESDAY.date())
    assert {g: week.sets(g) for g in dated.GROUPS} == {
        "overdue": date(2026, 12, 9), "today": date(2026, 12, 9), "this_week": date(2026, 12, 13),
        "next_week": date(2026, 12, 20), "later": date(2026, 12, 27), "none": None}
    for group in ("today", "this_week", "next_week", "later", "none"):
        assert week.group_of(week.sets(group)) == group
    sunday = dated.Week(date(2026, 12, 13))  # the end of this week is today: "this week" then means today
    assert sunday.sets("this_week") == date(2026, 12, 13) and sunday.sets("next_week") == date(2026, 12, 20)
    with pytest.raises(errors.InvalidValue):
        week.sets("someday")


def test_a_date_time_keeps_its_time_of_day_in_the_zone() -> None:
    from zoneinfo import ZoneInfo

    moscow = ZoneInfo("Europe/Moscow")
    held = datetime(2026, 12, 1, 7, 30, tzinfo=UTC)  # 10:30 in Moscow
    assert dated.deadline_value("datetime", date(2026, 12, 13), held, moscow) == datetime(2026, 12, 13, 7, 30,
                                                                                         tzinfo=UTC)
    assert dated.deadline_value("datetime", date(2026, 12, 13), None, moscow) == datetime(2026, 12, 13, 20, 59,
                                                                                         tzinfo=UTC)
    assert dated.deadline_value("date", date(2026, 12, 13), None, moscow) == date(2026, 12, 13)
    assert dated.local_day(datetime(2026, 12, 13, 22, 0, tzinfo=UTC), moscow) == date(2026, 12, 14)


# ---- the services, on the served database with a fake clock ------------------------------------------


@pytest.fixture(scope="module")
def clocked(site: Site) -> Iterator[dict[str, Any]]:
    """An engine on the fake clock and an item of ivanova's per group (due dates around the Wednesday)."""
    engine = Engine(site.url, clock=lambda: WEDNESDAY)
    ivanova = engine.as_user("ivanova")
    days = {"overdue": date(2026, 12, 2), "today": date(2026, 12, 9), "this_week": date(2026, 12, 11),
            "next_week": date(2026, 12, 15), "later": date(2027, 1, 20), "none": None}
    ids = {group: ivanova.create("procurement", {"title": f"{MARK} {group}", "due_date": day})
           for group, day in days.items()}
    try:
        yield {"engine": engine, "ids": ids, "days": days}
    finally:
        engine.close()


def test_deadlines_group_the_open_items_by_their_day(clocked: dict[str, Any]) -> None:
    view = dated.deadlines(clocked["engine"].as_user("ivanova"), "procurement", limit=500)
    assert view["field"] == "due_date" and view["today"] == date(2026, 12, 9)
    assert [g["id"] for g in view["groups"]] == list(dated.GROUPS)
    for group in view["groups"]:
        ids = {item["id"] for item in group["items"]}
        assert clocked["ids"][group["id"]] in ids, group["id"]
        assert group["count"] == len(group["items"])
        week = dated.Week(view["today"])
        assert all(week.group_of(item["due_date"]) == group["id"] for item in group["items"])
    # a page of one per group: each full group is counted whole, as the larger pages counted it
    small = dated.deadlines(clocked["engine"].as_user("ivanova"), "procurement", pipeline="main", limit=1)
    assert [g["count"] for g in small["groups"]] == [g["count"] for g in view["groups"]]
    assert all(len(g["items"]) <= 1 for g in small["groups"])


def test_dropping_into_a_group_sets_its_day_through_the_update(clocked: dict[str, Any]) -> None:
    ivanova = clocked["engine"].as_user("ivanova")
    item_id = clocked["ids"]["overdue"]
    for group, day in [("next_week", date(2026, 12, 20)), ("later", date(2026, 12, 27)),
                       ("this_week", date(2026, 12, 13)), ("none", None), ("today", date(2026, 12, 9))]:
        after = dated.set_deadline(ivanova, "procurement", item_id, group)
        assert after["due_date"] == day
        assert ivanova.get("procurement", item_id)["due_date"] == day
    # orlov is a buyer too, but may update only his own items: refused, and nothing changes
    with pytest.raises(errors.PermissionDenied):
        dated.set_deadline(clocked["engine"].as_user("orlov"), "procurement", item_id, "later")
    assert ivanova.get("procurement", item_id)["due_date"] == date(2026, 12, 9)


def test_a_field_that_is_no_date_is_refused(clocked: dict[str, Any]) -> None:
    with pytest.raises(errors.InvalidValue):
        dated.deadlines(clocked["engine"], "procurement", field="supplier")


def test_the_calendar_puts_each_item_on_its_day(clocked: dict[str, Any]) -> None:
    month = dated.calendar(clocked["engine"].as_user("ivanova"), "procurement", month="2026-12")
    cells = [day for week in month["weeks"] for day in week]
    assert cells[0]["date"] == date(2026, 11, 30) and cells[-1]["date"] == date(2027, 1, 3)  # Monday … Sunday
    assert all(len(week) == 7 for week in month["weeks"])
    on = {day["date"]: {item["id"] for item in day["items"]} for day in cells}
    assert clocked["ids"]["this_week"] in on[date(2026, 12, 11)]
    assert clocked["ids"]["next_week"] in on[date(2026, 12, 15)]
    assert all(clocked["ids"]["later"] not in ids for ids in on.values())  # in January, past the grid
    assert month["previous"] == "2026-11" and month["next"] == "2027-01"
    assert [c["today"] for c in cells].count(True) == 1


def test_a_date_time_is_placed_and_set_by_the_process_s_time_zone(clocked: dict[str, Any]) -> None:
    """complaints work in Europe/Moscow (UTC+3): 22:30 UTC on the 14th is 01:30 on the 15th there."""
    engine = clocked["engine"]
    item_id = engine.create("complaint", {"title": f"{MARK} late complaint", "customer_name": "Клиент",
                                          "channel": "phone", "severity": "low", "description": "—",
                                          "received_at": "2026-12-14T22:30:00+00:00"})
    month = dated.calendar(engine, "complaint", month="2026-12", field="received_at")
    on = {day["date"]: [item["id"] for item in day["items"]] for week in month["weeks"] for day in week}
    assert item_id in on[date(2026, 12, 15)] and item_id not in on[date(2026, 12, 14)]
    assert month["times"][item_id] == "01:30" and month["timezone"] == "Europe/Moscow"
    view = dated.deadlines(engine, "complaint", field="received_at", limit=500)
    assert item_id in [i["id"] for g in view["groups"] if g["id"] == "next_week" for i in g["items"]]
    after = dated.set_deadline(engine, "complaint", item_id, "this_week", field="received_at")
    assert after["received_at"] == datetime(2026, 12, 12, 22, 30, tzinfo=UTC)  # Sunday 01:30 in Moscow


# ---- the pages -------------------------------------------------------------------------------------


def test_the_json_twins_answer_like_the_services(site: Site, clocked: dict[str, Any]) -> None:
    from fastapi.testclient import TestClient

    from smartflow.http.app import create_app

    token = site.admin.create_token("ivanova")
    with TestClient(create_app(engine=clocked["engine"])) as client:
        headers = {"Authorization": f"Bearer {token}"}
        answer = client.get("/api/v1/processes/procurement/deadlines?limit=500", headers=headers)
        assert answer.status_code == 200, answer.text
        groups = {g["id"]: g for g in answer.json()["groups"]}
        assert groups["next_week"]["sets"] == "2026-12-20"
        assert clocked["ids"]["next_week"] in [i["id"] for i in groups["next_week"]["items"]]
        month = client.get("/api/v1/processes/procurement/calendar?month=2026-12", headers=headers)
        assert month.status_code == 200 and month.json()["weeks"][0][0]["date"] == "2026-11-30"
        wrong = client.get("/api/v1/processes/procurement/calendar?month=December", headers=headers)
        assert wrong.status_code == 422


def drag_to(page: Any, item_id: int, group: str) -> None:
    card = page.locator(f'.card[data-item-id="{item_id}"]')
    card.scroll_into_view_if_needed()
    start = card.bounding_box()
    target = page.locator(f'.column[data-group="{group}"] .cards')
    target.scroll_into_view_if_needed()
    box = target.bounding_box()
    start = card.bounding_box()
    assert start and box
    page.mouse.move(start["x"] + 20, start["y"] + 12)
    page.mouse.down()
    page.mouse.move(start["x"] + 30, start["y"] + 20, steps=5)
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + 20, steps=20)
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + 24, steps=5)
    page.mouse.up()
    wait_until(page, "!document.querySelector('.card.pending')")


def test_dragging_a_card_between_groups_changes_its_date(site: Site, page: Any, shots: Path) -> None:
    ivanova = site.as_user("ivanova")
    item_id = ivanova.create("procurement", {"title": f"{MARK} drag", "due_date": None})
    sign_in(page, site, "ivanova", "/processes/procurement/deadlines")
    assert page.locator(f'[data-group="none"] .card[data-item-id="{item_id}"]').count() == 1
    before = int(page.locator('[data-group="next_week"] [data-count]').inner_text())
    drag_to(page, item_id, "next_week")
    wait_until(page, f"!!document.querySelector('[data-group=\"next_week\"] .card[data-item-id=\"{item_id}\"]')")
    week = dated.Week(datetime.now(UTC).date())
    assert ivanova.get("procurement", item_id)["due_date"] == week.end_of_next_week
    assert int(page.locator('[data-group="next_week"] [data-count]').inner_text()) == before + 1
    page.reload()
    assert page.locator(f'[data-group="next_week"] .card[data-item-id="{item_id}"]').count() == 1
    page.screenshot(path=str(shots / "deadlines-en.png"), full_page=True)


def test_a_refused_date_change_puts_the_card_back_and_says_why(site: Site, page: Any) -> None:
    theirs = site.as_user("orlov").create("procurement", {"title": f"{MARK} orlov's", "due_date": None})
    sign_in(page, site, "ivanova", "/processes/procurement/deadlines")
    drag_to(page, theirs, "today")
    alert = page.locator("#board-alert")
    wait_until(page, "!document.getElementById('board-alert').hidden")
    assert "not changed" in alert.inner_text()
    assert page.locator(f'[data-group="none"] .card[data-item-id="{theirs}"]').count() == 1
    assert site.admin.get("procurement", theirs)["due_date"] is None


def test_the_deadline_menu_sets_a_group_without_dragging(site: Site, page: Any) -> None:
    ivanova = site.as_user("ivanova")
    item_id = ivanova.create("procurement", {"title": f"{MARK} menu", "due_date": None})
    sign_in(page, site, "ivanova", "/processes/procurement/deadlines")
    card = page.locator(f'.card[data-item-id="{item_id}"]')
    card.locator(".date-menu summary").click()
    card.locator('[data-set-group="later"]').click()
    wait_until(page, f"!!document.querySelector('[data-group=\"later\"] .card[data-item-id=\"{item_id}\"]')")
    wait_until(page, "!document.querySelector('.card.pending')")
    later = dated.Week(datetime.now(UTC).date()).end_of_week_after_next
    assert ivanova.get("procurement", item_id)["due_date"] == later


def test_the_drop_route_wants_the_csrf_token_and_a_known_group(site: Site, page: Any) -> None:
    item_id = site.as_user("ivanova").create("procurement", {"title": f"{MARK} route"})
    sign_in(page, site, "ivanova", "/processes/procurement/deadlines")
    csrf = page.locator(".deadlines").get_attribute("data-csrf")
    url = f"{site.base}/processes/procurement/deadlines/{item_id}"
    headers = {"Accept": "application/json", "Content-Type": "application/json"}
    without = page.request.post(url, data=json.dumps({"group": "today"}), headers=headers)
    assert without.status == 403
    wrong = page.request.post(url, data=json.dumps({"group": "someday"}), headers={**headers, "X-CSRF-Token": csrf})
    assert wrong.status == 422 and "someday" in wrong.json()["reasons"][0]
    hidden = page.request.post(f"{site.base}/processes/procurement/deadlines/999999", data=json.dumps(
        {"group": "today"}), headers={**headers, "X-CSRF-Token": csrf})
    assert hidden.status == 404
    assert site.admin.get("procurement", item_id)["due_date"] is None


def test_the_deadlines_view_in_russian_on_a_phone(site: Site, browser: Any, shots: Path) -> None:
    context = browser.new_context(viewport={"width": 390, "height": 844}, locale="ru-RU")
    page = context.new_page()
    try:
        sign_in(page, site, "ivanova", "/processes/procurement/deadlines")
        headings = page.locator(".deadlines h2").all_inner_texts()
        assert headings == ["Просрочены", "Сегодня", "На этой неделе", "На следующей неделе",
                            "Больше чем через неделю", "Без срока"]
        assert page.evaluate("document.documentElement.scrollWidth") <= 390
        page.screenshot(path=str(shots / "deadlines-ru-390.png"), full_page=True)
        page.screenshot(path=str(shots / "deadlines-ru-390-top.png"))
        page.goto(site.base + "/processes/procurement/calendar")
        assert page.locator("table.calendar thead th").first.inner_text() == "Пн"
        assert page.evaluate("document.documentElement.scrollWidth") <= 390
        page.screenshot(path=str(shots / "calendar-ru-390.png"), full_page=True)
        page.goto(site.base + "/processes/procurement/analytics")
        assert page.locator(".chart figcaption").first.inner_text() == "Воронка"
        shown = page.locator("main").inner_text()  # headers, charts, tables, notes: all Russian
        latin = set(re.findall(r"[A-Za-z]{2,}", shown)) - {"smartflow", "report", "JSON"}  # a command, a format
        assert not latin, latin
        assert page.evaluate("document.documentElement.scrollWidth") <= 390
        page.screenshot(path=str(shots / "analytics-ru-390.png"), full_page=True)
        page.locator('table[data-table="stages"]').scroll_into_view_if_needed()
        page.screenshot(path=str(shots / "analytics-ru-390-table.png"))
    finally:
        context.close()


def test_the_calendar_shows_an_item_on_its_day_and_opens_its_card(site: Site, page: Any, shots: Path) -> None:
    item_id = site.as_user("ivanova").create("procurement", {"title": f"{MARK} calendar", "due_date": "2027-02-17"})
    sign_in(page, site, "ivanova", "/processes/procurement/calendar?month=2027-02")
    day = page.locator('td[data-date="2027-02-17"]')
    assert day.locator(f'li[data-item-id="{item_id}"]').inner_text().strip() == f"{MARK} calendar"
    assert page.locator("table.calendar thead th").first.inner_text() == "Mon"
    assert page.locator("table.calendar td").first.get_attribute("data-date") == "2027-02-01"  # a Monday
    page.screenshot(path=str(shots / "calendar-en.png"), full_page=True)
    page.click('a[rel="prev"]')
    page.wait_for_url("**/calendar?month=2027-01")
    page.click('a[rel="next"]')
    page.wait_for_url("**/calendar?month=2027-02")
    page.click(f'li[data-item-id="{item_id}"] a')
    page.wait_for_url(f"**/processes/procurement/items/{item_id}")


def report_numbers(report: dict[str, Any]) -> dict[str, Any]:
    """What the analytics page shows of a report, as `smartflow report` computes it."""
    return {"total": str(report["items"]),
            "stages": {s["stage"]: [str(s["count"]), str(s["reached"]), percent(s["conversion"]),
                                    "" if s["avg_seconds"] is None else str(round(s["avg_seconds"])),
                                    "" if s["median_seconds"] is None else str(round(s["median_seconds"]))]
                       for s in report["stages"]},
            "users": {u["user"] or "": [str(u["items"]), str(u["won"]), str(u["lost"]), str(u["open"]),
                                        percent(u["win_rate"])] for u in report["users"]}}


def page_numbers(page: Any) -> dict[str, Any]:
    stages = {}
    for row in page.locator('table[data-table="stages"] tbody tr').all():
        cells = {key: row.locator(f'[data-key="{key}"]') for key in ("count", "reached", "conversion",
                                                                      "avg_seconds", "median_seconds")}
        stages[row.get_attribute("data-stage")] = [
            cells["count"].inner_text(), cells["reached"].inner_text(), cells["conversion"].inner_text(),
            cells["avg_seconds"].get_attribute("data-seconds"), cells["median_seconds"].get_attribute("data-seconds")]
    users = {}
    for row in page.locator('table[data-table="users"] tbody tr[data-user]').all():
        users[row.get_attribute("data-user")] = [row.locator(f'[data-key="{key}"]').inner_text()
                                                 for key in ("items", "won", "lost", "open", "win_rate")]
    return {"total": page.locator("[data-total]").inner_text(), "stages": stages, "users": users}


def test_the_analytics_page_shows_the_reports_numbers(site: Site, page: Any, shots: Path) -> None:
    from tests.runtime.support import invoke

    walk_a_purchase(site)
    sign_in(page, site, "petrov", "/processes/procurement/analytics")
    shown = page_numbers(page)
    cli_report = json.loads(invoke(site.url, "report", "procurement", "--format", "json",
                                   as_user="petrov").output)
    assert shown == report_numbers(site.as_user("petrov").report("procurement", ReportOptions()))
    assert shown["total"] == str(cli_report["items"])
    assert {s["stage"]: s["count"] for s in cli_report["stages"]} == {k: int(v[0]) for k, v in shown["stages"].items()}
    assert page.locator(".chart svg").count() == 4
    assert shown["stages"]["estimate"][3] == str(36 * 3600) and shown["stages"]["prices"][3] == str(5 * 3600)
    page.screenshot(path=str(shots / "analytics-en.png"), full_page=True)
    # a period and the pipeline in the URL: the report of the same options
    today = datetime.now(UTC).date()
    page.goto(f"{site.base}/processes/procurement/analytics?from={today - timedelta(days=1)}&to={today}")
    options = ReportOptions(date_from=today - timedelta(days=1), date_to=today)
    assert page_numbers(page) == report_numbers(site.as_user("petrov").report("procurement", options))


def test_analytics_counts_only_what_the_user_may_read(site: Site, page: Any) -> None:
    patient = site.admin.list("patient", limit=1)[0]["id"]  # an appointment handed to someone else: not lebedev's
    other = site.admin.create("appointment", {"title": f"{MARK} appointment", "patient": patient, "doctor": "lebedev",
                                              "scheduled_at": "2026-12-10T09:00:00+00:00"})
    site.admin.update("appointment", other, {"assigned_to": "sokolova"})  # (the doctor field takes doctors only)
    sign_in(page, site, "lebedev", "/processes/appointment/analytics")
    assert page_numbers(page) == report_numbers(site.as_user("lebedev").report("appointment", ReportOptions()))
    assert page_numbers(page) != report_numbers(site.admin.report("appointment", ReportOptions()))
