"""The card keeps what the user did not touch: a money value's currency (a select of ISO 4217 codes),
empty inputs stored as no value (so a unique field never clashes on them), a text's line ends; and
a process whose money field declares no currency has a card like any other."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from smartflow.definitions.convert import to_yaml
from tests.dbutil import backends, database_url
from tests.web.support import Site, serve, sign_in

pytestmark = pytest.mark.db

WALLET: dict[str, Any] = {  # money without a declared currency; a unique code; a note
    "kind": "Process", "id": "wallet", "title": {"ru": "Кошелёк", "en": "Wallet"},
    "fields": {
        "balance": {"type": "money", "title": {"ru": "Остаток", "en": "Balance"}},
        "code": {"type": "string", "unique": True, "title": {"ru": "Код", "en": "Code"}},
        "note": {"type": "text", "title": {"ru": "Заметка", "en": "Note"}},
        "tags": {"type": "string", "multiple": True, "title": {"ru": "Метки", "en": "Tags"}},
    },
    "pipelines": {"main": {"title": "Main", "default": True, "stages": {
        "open": {"title": {"ru": "Открыт", "en": "Open"}}, "closed": {"title": "Closed", "semantic": "success"},
        "lost": {"title": "Lost", "semantic": "failure"}}}},
    "permissions": {"buyer": "all"},
}


@pytest.fixture(scope="module", params=backends())
def site(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    folder = tmp_path_factory.mktemp("web")
    extra = tmp_path_factory.mktemp("wallet")
    (extra / "wallet.yaml").write_text(to_yaml(WALLET), encoding="utf-8")
    for url in database_url(request.param, folder):
        for found in serve(url, samples=False, extra=(extra,)):
            found.admin.grant_role("ivanova", "buyer", ["wallet"])  # roles hold per process: the buyer works here too
            yield found


def save(page: Any, item_id: int) -> None:
    page.click(".item-form button[type=submit]")
    page.wait_for_url(f"**/items/{item_id}?saved=1")


def test_saving_another_field_keeps_a_money_values_currency(site: Site, page: Any) -> None:
    buyer = site.as_user("ivanova")
    item_id = buyer.create("procurement", {"title": "Dollars", "estimate": {"amount": "100", "currency": "USD"}})
    sign_in(page, site, "ivanova", f"/processes/procurement/items/{item_id}")
    assert page.locator("select[name=estimate__currency]").input_value() == "USD"
    page.fill("input[name=supplier]", "Only the supplier")
    save(page, item_id)
    item = site.admin.get("procurement", item_id)
    assert item["estimate"] == {"amount": item["estimate"]["amount"], "currency": "USD"}
    assert str(item["estimate"]["amount"]) == "100.00"
    changed = [h["field"] for h in site.admin.history("procurement", item_id) if h["kind"] == "update"]
    assert changed == ["supplier"]  # the estimate was not touched, so not written
    # the select changes the currency, and only it
    page.select_option("select[name=estimate__currency]", "EUR")
    save(page, item_id)
    assert site.admin.get("procurement", item_id)["estimate"]["currency"] == "EUR"


def test_a_money_field_without_a_declared_currency_has_a_card(site: Site, page: Any) -> None:
    item_id = site.as_user("ivanova").create("wallet", {"title": "Без валюты"})
    sign_in(page, site, "ivanova", f"/processes/wallet/items/{item_id}")
    assert page.locator("select[name=balance__currency]").input_value() == "RUB"  # the default
    page.fill("input[name=balance]", "-12.50")
    page.select_option("select[name=balance__currency]", "KZT")
    save(page, item_id)
    assert site.admin.get("wallet", item_id)["balance"]["currency"] == "KZT"
    assert str(site.admin.get("wallet", item_id)["balance"]["amount"]) == "-12.50"


def stored(site: Site, item_id: int) -> tuple[Any, ...]:
    engine = sa.create_engine(site.url)
    try:
        with engine.connect() as connection:
            return tuple(connection.execute(sa.text("SELECT code, note FROM p_wallet WHERE id = :i"),
                                            {"i": item_id}).one())
    finally:
        engine.dispose()


def test_empty_inputs_are_no_value_so_every_card_with_an_empty_unique_field_saves(site: Site, page: Any) -> None:
    buyer = site.as_user("ivanova")
    ids = [buyer.create("wallet", {"title": f"Пустой код {n}", "note": "было"}) for n in range(2)]
    sign_in(page, site, "ivanova", f"/processes/wallet/items/{ids[0]}")
    for item_id in ids:  # each card saved with its code left empty and its note emptied
        page.goto(f"{site.base}/processes/wallet/items/{item_id}")
        page.fill("textarea[name=note]", "")
        save(page, item_id)
        assert stored(site, item_id) == (None, None)
    page.fill("input[name=code]", "К-1")
    save(page, ids[-1])
    assert stored(site, ids[-1]) == ("К-1", None)


def test_an_untouched_text_and_list_keep_their_values(site: Site, page: Any, browser: Any, shots: Path) -> None:
    buyer = site.as_user("ivanova")
    item_id = buyer.create("wallet", {"title": "Строки", "note": "первая\nвторая", "tags": ["a", "b"],
                                      "balance": {"amount": "1500", "currency": "USD"}})
    context = browser.new_context(viewport={"width": 1280, "height": 800}, locale="ru-RU")
    russian = context.new_page()
    sign_in(russian, site, "ivanova", f"/processes/wallet/items/{item_id}")
    assert russian.locator("input[name=tags]").input_value() == "a, b"
    assert russian.locator("select[name=balance__currency]").get_attribute("aria-label") == "Валюта"
    russian.fill("input[name=title]", "Строки, изменено название")
    russian.screenshot(path=str(shots / "card-money-currency-ru.png"), full_page=True)
    save(russian, item_id)
    context.close()
    item = site.admin.get("wallet", item_id)
    assert (item["note"], item["tags"], item["balance"]["currency"]) == ("первая\nвторая", ["a", "b"], "USD")
    changed = [h["field"] for h in site.admin.history("wallet", item_id) if h["kind"] == "update"]
    assert changed == ["title"]
