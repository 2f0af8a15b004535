"""Roles held in some pipelines only, in a Russian browser: a move into another pipeline and a create in a
pipeline the roles do not reach are refused naming the stage and the pipeline by their titles, and a
process the user may not read says "no access" with its title — no ids, no backticks, no English."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from smartflow.definitions.convert import to_yaml
from tests.dbutil import backends, database_url
from tests.web.support import PASSWORD, Site, serve, sign_in

pytestmark = pytest.mark.db

INTAKE: dict[str, Any] = {
    "kind": "Process", "id": "intake", "title": {"ru": "Приём обращений", "en": "Intake"},
    "fields": {"topic": {"type": "string", "title": {"ru": "Тема", "en": "Topic"}}},
    "pipelines": {
        "calls": {"title": {"ru": "Звонки", "en": "Calls"}, "default": True, "stages": {
            "fresh": {"title": {"ru": "Новый звонок", "en": "New call"}},
            "answered": {"title": {"ru": "Отвечен", "en": "Answered"}, "semantic": "success"},
            "dropped": {"title": {"ru": "Сорвался", "en": "Dropped"}, "semantic": "failure"}}},
        "letters": {"title": {"ru": "Письма", "en": "Letters"}, "stages": {
            "sorted": {"title": {"ru": "Разобрано", "en": "Sorted"}},
            "archived": {"title": {"ru": "В архиве", "en": "Archived"}, "semantic": "success"},
            "spam": {"title": {"ru": "Спам", "en": "Spam"}, "semantic": "failure"}},
            "transitions": [{"from": ["calls.fresh"], "to": "sorted"}, {"from": "sorted", "to": "archived"},
                            {"from": "sorted", "to": "spam"}]},
    },
    "permissions": {
        "support": {"read": "all", "create": "all", "update": "all", "move": "all"},
        "production": {"read": "all", "move": "all", "stages": ["archived"]},
        "registrar": {"read": "none", "create": "all"},
    },
}
IDS = {"intake", "topic", "calls", "letters", "fresh", "answered", "dropped", "sorted", "archived", "spam",
       "support", "production", "registrar"}


def latin_ids(text: str) -> list[str]:
    return [word for word in re.findall(r"[A-Za-z_][A-Za-z0-9_]*", text) if word in IDS]


@pytest.fixture(scope="module", params=backends())
def site(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    folder = tmp_path_factory.mktemp("web")
    extra = tmp_path_factory.mktemp("intake")
    (extra / "intake.yaml").write_text(to_yaml(INTAKE), encoding="utf-8")
    for url in database_url(request.param, folder):
        for found in serve(url, samples=False, extra=(extra,)):
            # calls only as support, letters only as production (which moves into its archive alone)
            found.admin.add_user("novikov", "Олег Новиков", ["support"], None, ["intake"], pipelines=["calls"])
            found.admin.grant_role("novikov", "production", ["intake"], ["letters"])
            found.admin.add_user("zaitseva", "Ольга Зайцева", ["registrar"], None, ["intake"])  # creates, reads none
            for login in ("novikov", "zaitseva"):
                found.admin.set_password(login, PASSWORD)
            yield found


@pytest.fixture
def russian(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 390, "height": 844}, locale="ru-RU")
    found = context.new_page()
    yield found
    context.close()


def test_a_role_held_in_one_pipeline_is_refused_in_russian(site: Site, russian: Any, shots: Path) -> None:
    item = site.as_user("novikov").create("intake", {"title": "Звонок о поставке"}, pipeline="calls")
    sign_in(russian, site, "novikov", "/processes/intake/kanban")
    status, answer = russian.evaluate("""async ([id]) => {
        const csrf = document.querySelector("[data-csrf]").dataset.csrf;
        const sent = await fetch(`/processes/intake/items/${id}/move`, {method: "POST", headers: {
            "Content-Type": "application/json", "Accept": "application/json", "X-CSRF-Token": csrf},
            body: JSON.stringify({stage: "sorted", pipeline: "letters"})});
        return [sent.status, await sent.json()];
    }""", [item])
    assert status == 409 and answer["moved"] is False, answer
    assert "вашим ролям нельзя перемещать элементы в этап «Разобрано» воронки «Письма»" in answer["reasons"], answer
    for reason in answer["reasons"]:
        assert "`" not in reason and not latin_ids(reason), reason
    assert site.admin.get("intake", item)["pipeline"] == "calls"

    russian.goto(site.base + "/processes/intake/items/new?pipeline=letters")
    russian.fill("input[name=title]", "Письмо без воронки")
    russian.click(".buttons button[type=submit]")
    alert = russian.locator('.alert[role="alert"]')
    alert.wait_for(state="visible")
    text = alert.inner_text()
    russian.screenshot(path=str(shots / "pipeline-create-refused-ru-390.png"), full_page=True)
    assert "вам нельзя создавать элементы процесса «Приём обращений» в воронке «Письма»" in text, text
    assert "`" not in text and not latin_ids(text), text


def test_no_access_in_russian_names_the_process_by_its_title(site: Site, russian: Any, shots: Path) -> None:
    sign_in(russian, site, "zaitseva", "/")
    shown = russian.goto(site.base + "/processes/intake/kanban")
    assert shown is not None and shown.status == 403
    text = russian.locator(".page-error").inner_text()
    russian.screenshot(path=str(shots / "no-access-ru-390.png"), full_page=True)
    assert "ваши роли не позволяют читать элементы процесса «Приём обращений»" in text, text
    assert "попросите администратора дать вам право чтения" in text, text
    assert "`" not in text and not latin_ids(text) and "your roles" not in text, text
