"""Values through the JSON API: a currency that is not an ISO 4217 code is a 422 naming the field
(on PostgreSQL too, where it once reached the column and answered 503), empty text is null, and a
date-time with an offset comes back as the same instant."""

from __future__ import annotations

import pytest

from tests.dbutil import snapshot
from tests.http.support import Api, api
from tests.http.test_api import problem
from tests.runtime.support import module_url

__all__ = ["api", "module_url"]  # the fixtures, imported for pytest

pytestmark = pytest.mark.db
ITEMS = "/api/v1/processes/purchase/items"


@pytest.mark.parametrize("code", ["RUBRUB", "<b>", "=1+1", "+cmd|' /C calc'!A0", "ZZZ"])
def test_a_currency_that_is_not_a_code_is_a_422_and_writes_nothing(api: Api, code: str) -> None:
    item = api.create(amount={"amount": "10", "currency": "USD"})
    before = snapshot(api.db.url)
    body = problem(api.call("PATCH", f"{ITEMS}/{item['id']}", json={"amount": {"amount": "-5", "currency": code}}),
                   422, "invalid-value")
    assert body["field"] == "amount" and "ISO 4217" in str(body["message"])
    problem(api.call("POST", ITEMS, json={"title": "x", "amount": {"amount": "1", "currency": code}}), 422,
            "invalid-value")
    assert snapshot(api.db.url) == before
    assert api.call("GET", f"{ITEMS}/{item['id']}").json()["amount"] == {"amount": "10.00", "currency": "USD"}


def test_empty_text_is_null_and_a_unique_field_takes_many(api: Api) -> None:
    first, second = api.create(code=""), api.create(code="")
    for item in (first, second):
        assert item["code"] is None
        changed = api.call("PATCH", f"{ITEMS}/{item['id']}", json={"code": "", "note": ""})
        assert changed.status_code == 200, changed.text
        assert api.call("GET", f"{ITEMS}/{item['id']}").json()["code"] is None


def test_a_datetime_with_an_offset_comes_back_as_the_same_instant(api: Api) -> None:
    item = api.create(meet_at="2030-05-05T10:00:00+03:00")
    read = api.call("GET", f"{ITEMS}/{item['id']}").json()
    assert read["meet_at"] == "2030-05-05T07:00:00+00:00"
