"""The API's errors in the caller's language: the stable `code` stays, `message`, `hint` and `reasons`
follow Accept-Language (ru or en) and name fields and stages by their titles; without the header, the
English text the CLI prints."""

from __future__ import annotations

import re

import pytest

from tests.http.support import Api, api  # noqa: F401  (the fixture)
from tests.runtime.support import module_url  # noqa: F401  (a database per module, on SQLite and PostgreSQL)

ITEMS = "/api/v1/processes/purchase/items"
LATIN_ID = re.compile(r"`|\b(amount|supplier|prices|new)\b")


@pytest.mark.db
def test_a_refused_move_in_russian_names_titles_and_keeps_the_code(api: Api) -> None:  # noqa: F811
    item = api.create(amount="10")
    path = f"{ITEMS}/{item['id']}/move"
    english = api.call("POST", path, json={"stage": "prices"})
    assert english.status_code == 409 and english.json()["code"] == "move-refused"
    assert "`prices`" in english.json()["message"] and "content-language" not in english.headers

    russian = api.call("POST", path, json={"stage": "prices"}, headers={"Accept-Language": "ru-RU,ru;q=0.9,en;q=0.8"})
    body = russian.json()
    assert russian.status_code == 409 and body["code"] == "move-refused" and russian.headers["content-language"] == "ru"
    assert body["message"].startswith("элемент «Заказ» № ") and "«Запрос цен»" in body["message"], body["message"]
    assert "«Поставщик»" in body["message"] and "«Сумма» > 1000" in body["message"]
    for text in [body["message"], *body["reasons"]]:
        assert not LATIN_ID.search(text), text
    assert len(body["reasons"]) == len(english.json()["reasons"])

    titled = api.call("POST", path, json={"stage": "prices"}, headers={"Accept-Language": "en"}).json()
    assert titled["code"] == "move-refused" and "“Prices”" in titled["message"] and "`" not in titled["message"]


@pytest.mark.db
def test_validation_and_not_found_in_russian(api: Api) -> None:  # noqa: F811
    russian = {"Accept-Language": "ru"}
    bad = api.call("POST", ITEMS, json={"title": "x", "amount": "много"}, headers=russian)
    assert bad.status_code == 422 and bad.json()["code"] == "invalid-value" and bad.json()["field"] == "amount"
    assert bad.json()["message"] == "поле «Сумма»: 'много' — не число", bad.json()["message"]
    missing = api.call("GET", f"{ITEMS}/999999", headers=russian).json()
    assert missing["code"] == "not-found" and missing["message"] == "элемент «Заказ» № 999999 не найден"
    assert missing["hint"].startswith("проверьте номер")
    assert api.call("GET", f"{ITEMS}/999999").json()["message"] == "purchase 999999 not found"


@pytest.mark.db
def test_the_newer_refusals_in_russian(api: Api) -> None:  # noqa: F811
    """A hidden field in a filter and in the sort, the deadlines and calendar views' refusals: titles in
    Russian for `ru`, the CLI's English (ids) without the header; the codes alike."""
    russian = {"Accept-Language": "ru"}
    hidden = api.call("GET", ITEMS, "peek", params={"where": "supplier = x"}, headers=russian)
    assert hidden.status_code == 403 and hidden.json()["message"] == \
        "вам нельзя фильтровать по полю «Поставщик»: ваши роли его скрывают", hidden.json()
    english = api.call("GET", ITEMS, "peek", params={"where": "supplier = x"}).json()
    assert english["message"] == "you may not filter on field `supplier` of purchase: your roles hide it"
    assert english["code"] == hidden.json()["code"]
    sorted_by = api.call("GET", ITEMS, "peek", params={"sort": "supplier"}, headers=russian).json()
    assert sorted_by["message"] == "вам нельзя сортировать по полю «Поставщик»: ваши роли его скрывают"
    views = "/api/v1/processes/purchase"
    month = api.call("GET", f"{views}/calendar", params={"month": "2026-13"}, headers=russian)
    assert month.status_code == 422 and month.json()["field"] == "month"
    assert month.json()["message"] == "не месяц: '2026-13'" and month.json()["hint"].startswith("пишите месяц")
    grouped = api.call("GET", f"{views}/deadlines", params={"field": "amount"}, headers=russian).json()
    assert grouped["message"] == "«Сумма» — не видимое вам поле с датой процесса «Заказ»", grouped
    assert not LATIN_ID.search(grouped.get("hint", "")), grouped
