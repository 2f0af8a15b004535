"""The board in a Russian browser: a refused move says why in Russian, naming fields and stages by
their titles — no field ids, no backticks — on a desktop and on a phone."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.web.support import Site, sign_in, sign_in_with_the_form
from tests.web.test_kanban import BOARD, drag, purchase

pytestmark = pytest.mark.db
PROCUREMENT = Path(__file__).resolve().parents[2] / "processes" / "procurement.yaml"


def ids_of_procurement() -> set[str]:
    """The ids a refusal could name: the process's fields and stages (and the system fields)."""
    found = yaml.safe_load(PROCUREMENT.read_text("utf-8"))
    stages = {s for pipeline in found["pipelines"].values() for s in pipeline["stages"]}
    return {*found["fields"], *stages, "title", "assigned_to", "created_by", "procurement"}


def latin_ids(text: str) -> list[str]:
    return [word for word in re.findall(r"[A-Za-z_][A-Za-z0-9_]*", text) if word in ids_of_procurement()]


@pytest.fixture(params=[(1280, 800), (390, 844)], ids=["desktop", "phone"])
def russian(browser: Any, request: pytest.FixtureRequest) -> Iterator[Any]:
    width, height = request.param
    context = browser.new_context(viewport={"width": width, "height": height}, locale="ru-RU")
    found = context.new_page()
    yield found
    context.close()


def test_a_refused_move_in_a_russian_browser_names_titles_not_ids(site: Site, russian: Any, shots: Path) -> None:
    item_id = purchase(site, estimate="0", materials=["timber"])  # the condition `estimate > 0` fails
    sign_in_with_the_form(russian, site, "ivanova", BOARD)  # the sign-in form in Russian, on a phone too
    assert russian.locator("html").get_attribute("lang") == "ru"  # the browser's language, no switch clicked
    if russian.viewport_size["width"] < 600:  # on a phone the columns stack: move with the menu
        move_with_menu(russian, item_id, "prices")
    else:
        drag(russian, item_id, "prices")
    alert = russian.locator('#board-alert[role="alert"]')
    alert.wait_for(state="visible")
    alert.scroll_into_view_if_needed()
    text = alert.inner_text()
    russian.screenshot(path=str(shots / f"procurement-refused-ru-{russian.viewport_size['width']}.png"))
    assert "Перемещение отклонено" in text or "Сюда карточку переместить нельзя" in text, text
    assert "«Сумма сметы» > 0" in text and "«Запросить цены»" in text, text  # the transition by its title
    assert "`" not in text and not latin_ids(text), text
    assert site.admin.get("procurement", item_id)["stage"] == "estimate"


def move_with_menu(page: Any, item_id: int, stage: str) -> None:
    card = page.locator(f'.card[data-item-id="{item_id}"]')
    card.scroll_into_view_if_needed()
    card.locator("summary").click()
    card.locator(f'[data-move-to="{stage}"]').click()


def test_the_error_pages_in_a_russian_browser(site: Site, russian: Any, shots: Path) -> None:
    sign_in(russian, site, "ivanova", BOARD)
    missing = russian.goto(site.base + "/processes/procurement/items/999999")
    assert missing is not None and missing.status == 404
    text = russian.locator(".page-error").inner_text()
    assert "№ 999999 не найден" in text and "проверьте номер" in text, text
    russian.screenshot(path=str(shots / f"not-found-ru-{russian.viewport_size['width']}.png"))
    assert "`" not in text and not latin_ids(text), text
    unknown = russian.goto(site.base + "/processes/nothing_here/kanban")
    assert unknown is not None and unknown.status == 404
    text = russian.locator(".page-error").inner_text()
    assert "процесса «nothing_here» нет" in text, text
    assert "deployed processes" not in text and "`" not in text, text  # the CLI's English hint is not shown
    forbidden = russian.goto(site.base + "/admin")
    assert forbidden is not None and forbidden.status == 403
    text = russian.locator(".page-error").inner_text()
    assert "только администраторам" in text and "administrator" not in text, text
