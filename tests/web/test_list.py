"""The list view in Chromium: type-aware filters, search, sort, keyset paging, and the export of the
current filter."""

from __future__ import annotations

import csv
import io
from typing import Any

import pytest

from tests.web.support import Site, sign_in

pytestmark = pytest.mark.db
LIST = "/processes/procurement/items"


# The URL is waited for with a predicate: a glob's `**` does not match across the `?` of a query
# string in every Playwright release this project allows.


def shown_ids(page: Any) -> list[int]:
    return [int(row.get_attribute("data-item-id")) for row in page.locator("tbody tr[data-item-id]").all()]


def test_filter_the_list_and_export_exactly_that(site: Site, page: Any) -> None:
    sign_in(page, site, "petrov", LIST)
    assert page.locator("thead th").all_inner_texts()[:3] == ["Title", "Stage", "Estimate amount"]
    page.fill("input[name=estimate__from]", "300000")
    page.fill("input[name=estimate__to]", "1000000")
    page.select_option("select[name=assigned_to]", "ivanova")
    page.click(".filters button[type=submit]")
    page.wait_for_url(lambda url: "estimate__from=300000" in url)
    where = ("estimate >= 300000", "estimate <= 1000000", "assigned_to = ivanova")
    expected = [row["id"] for row in site.as_user("petrov").list("procurement", where=where, limit=500)]
    assert expected and shown_ids(page) == expected
    for row in site.as_user("petrov").list("procurement", where=where, limit=500):
        assert 300000 <= row["estimate"]["amount"] <= 1000000
    # sort by the estimate, largest first (the header link toggles the direction)
    page.click("th a[data-sort=estimate]")
    page.click("th a[data-sort=estimate]")
    page.wait_for_url(lambda url: "sort=estimate%3Adesc" in url)
    amounts = [row["estimate"]["amount"] for row in site.as_user("petrov").list(
        "procurement", where=where, sort="estimate:desc", limit=500)]
    assert amounts == sorted(amounts, reverse=True)
    assert shown_ids(page) == [row["id"] for row in site.as_user("petrov").list(
        "procurement", where=where, sort="estimate:desc", limit=500)]
    # the export link carries the same filter
    link = page.locator("a.export", has_text="Export CSV").get_attribute("href")
    answer = page.request.get(site.base + link)
    assert answer.status == 200
    rows = list(csv.reader(io.StringIO(answer.text().lstrip("\ufeff"))))
    assert len(rows) - 1 == len(expected)
    # an enum option and a date range
    page.goto(site.base + LIST)
    page.select_option("select[name=materials]", ["concrete"])
    page.fill("input[name=due_date__from]", "2026-12-01")
    page.click(".filters button[type=submit]")
    page.wait_for_url(lambda url: "materials=concrete" in url)
    expected = [row["id"] for row in site.as_user("petrov").list(
        "procurement", where=("due_date >= 2026-12-01", "materials in concrete"), limit=500)]
    assert expected and shown_ids(page) == expected


def test_search_and_keyset_paging(site: Site, page: Any) -> None:
    for n in range(55):
        site.admin.create("procurement", {"title": f"Паging probe {n:02d}"})
    sign_in(page, site, "petrov", LIST)
    page.fill("input[name=search]", "паging PROBE")
    page.click(".filters button[type=submit]")
    page.wait_for_url(lambda url: "search=" in url)
    first = shown_ids(page)
    assert len(first) == 50
    page.click("a[rel=next]")
    page.wait_for_url(lambda url: "after=" in url)
    second = shown_ids(page)
    assert len(second) == 5 and not set(first) & set(second)
    assert page.locator("a[rel=next]").count() == 0
    titles = {row["title"] for row in site.admin.list("procurement", search="паging probe", limit=500)}
    assert len(titles) == 55
