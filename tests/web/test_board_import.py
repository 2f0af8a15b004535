"""Import in the board, as a manager does it in a Russian browser: upload last year's purchases as an
xlsx, correct the mapping of a column the board could not match, check it (a dry run: one row's problem
shown, nothing written), import it with the progress page, and find the items in the list. Beside it,
the rights: a buyer without the import right is refused, an upload is its uploader's alone, and a form
without the session's CSRF token changes nothing."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from openpyxl import Workbook

from tests.web.support import Site, http_client, post_sign_in, sign_in, wait_until

pytestmark = pytest.mark.db

ROWS = [("Кирпич облицовочный / Facing brick", "ООО «Кирпичный двор»", 125000.5),
        ("Доски обрезные", "Лесторг", -5),  # below the estimate's min: 0
        ("Цемент М500", "ЦемТорг", 990)]


def purchases(folder: Path) -> Path:
    book = Workbook()
    sheet = book.active
    sheet.append(["Название", "Поставщик", "Сумма, руб", "Комментарий"])
    for row in ROWS:
        sheet.append([*row, "прошлый год"])
    path = folder / "закупки-2025.xlsx"
    book.save(path)
    return path


def test_a_manager_previews_maps_checks_and_imports_an_xlsx(site: Site, page: Any, tmp_path: Path) -> None:
    path = purchases(tmp_path)
    before = site.admin.count("procurement")
    sign_in(page, site, "petrov", "/processes/procurement/items")
    page.goto(site.base + "/lang/ru?next=/processes/procurement/items")
    page.click("a.button.import")
    page.set_input_files("input[name=file]", str(path))
    page.click("form.import-upload button.primary")
    page.wait_for_selector("form.import-preview")

    headers = page.locator("table.import-table thead th").all_inner_texts()
    assert headers == ["Название", "Поставщик", "Сумма, руб", "Комментарий"]
    assert page.locator("table.import-table tbody tr").count() == 3
    assert page.locator("select[name=map-0]").input_value() == "title"  # matched by its Russian title
    assert page.locator("select[name=map-1]").input_value() == "supplier"
    assert page.locator("select[name=map-2]").input_value() == ""  # "Сумма, руб" is no field's title
    page.select_option("select[name=map-2]", "estimate")
    page.screenshot(path=str(tmp_path / "import-preview-ru.png"), full_page=True)

    page.click("button[value=check]")
    page.wait_for_selector(".import-result")
    counts = page.locator(".import-result [data-rows]")
    assert (counts.get_attribute("data-rows"), counts.get_attribute("data-failed")) == ("3", "1")
    assert "С ошибками: 1" in counts.inner_text()
    problems = page.locator(".import-result .problems li").all_inner_texts()
    # in the reader's language, naming the column as the file has it: no field ids, no English
    assert problems == ['строка 3, столбец "Сумма, руб": -5 меньше минимума 0'], problems
    assert page.locator("select[name=map-2]").input_value() == "estimate"  # the choice is kept
    assert site.admin.count("procurement") == before  # a check writes nothing

    page.click("button[value=import]")
    page.wait_for_selector(".import-run")
    wait_until(page, "document.querySelector('.import-run').dataset.state === 'done'")
    assert "Создано: 2" in page.locator(".import-done [data-outcome]").inner_text()
    assert page.locator(".import-run [data-total]").inner_text() == "3"
    page.set_viewport_size({"width": 390, "height": 844})
    page.screenshot(path=str(tmp_path / "import-done-phone-ru.png"), full_page=True)
    page.click(".import-done a.button")
    page.wait_for_url("**/processes/procurement/items")

    assert site.admin.count("procurement") == before + 2
    imported = {row["title"]: row for row in site.admin.list("procurement", limit=1000)
                if row["title"] in {r[0] for r in ROWS}}
    assert set(imported) == {ROWS[0][0], ROWS[2][0]}
    brick = imported[ROWS[0][0]]
    assert (brick["supplier"], format(brick["estimate"]["amount"], "f")) == ("ООО «Кирпичный двор»", "125000.50")
    assert site.admin.history("procurement", brick["id"])[0]["via"] == "import"


def test_the_import_right_the_uploader_and_the_csrf_token_hold(site: Site, tmp_path: Path) -> None:
    path = purchases(tmp_path)
    with http_client(site, follow_redirects=False) as buyer:
        post_sign_in(buyer, "ivanova")
        assert buyer.get("/processes/procurement/import").status_code == 403  # `import: none`
        assert "Import" not in buyer.get("/processes/procurement/items").text.split('class="toolbar"')[1][:600]
    with http_client(site, follow_redirects=False) as manager, \
            http_client(site, follow_redirects=False) as boss:
        post_sign_in(manager, "petrov")
        post_sign_in(boss, "boss")
        csrf = manager.cookies["smartflow_csrf"]
        with path.open("rb") as handle:
            refused = manager.post("/processes/procurement/import", data={"csrf": "forged"},
                                   files={"file": (path.name, handle)})
        assert refused.status_code == 403
        with path.open("rb") as handle:
            sent = manager.post("/processes/procurement/import", data={"csrf": csrf},
                                files={"file": (path.name, handle)})
        assert sent.status_code == 303
        preview = sent.headers["location"]
        assert manager.get(preview).status_code == 200
        assert boss.get(preview).status_code == 404  # another user's upload, even an administrator's eyes
        assert boss.get(preview + "/progress").status_code == 404
        before = site.admin.count("procurement")
        forged = manager.post(preview, data={"csrf": "forged", "action": "import", "map-0": "title"})
        assert forged.status_code == 403
        assert manager.get(preview + "/progress").json()["state"] == "waiting"
        assert site.admin.count("procurement") == before
        with (tmp_path / "notes.txt").open("wb") as handle:
            handle.write(b"not a sheet")
        with (tmp_path / "notes.txt").open("rb") as handle:
            wrong = manager.post("/processes/procurement/import", data={"csrf": csrf},
                                 files={"file": ("notes.txt", handle)})
        assert wrong.status_code == 422 and "neither .csv nor .xlsx" in wrong.text
        with (tmp_path / "notes.txt").open("rb") as handle:  # the same refusal for a Russian reader
            russian = manager.post("/processes/procurement/import", data={"csrf": csrf},
                                   files={"file": ("notes.txt", handle)}, headers={"Accept-Language": "ru"})
        assert russian.status_code == 422 and "notes.txt&#39; — не .csv и не .xlsx" in russian.text
        assert "загрузите файл CSV или xlsx" in russian.text and "neither" not in russian.text
        untitled = tmp_path / "untitled.csv"
        untitled.write_text("Поставщик\nООО Ромашка\n", encoding="utf-8")
        with untitled.open("rb") as handle:
            sent = manager.post("/processes/procurement/import", data={"csrf": csrf},
                                files={"file": (untitled.name, handle)})
        checked = manager.post(sent.headers["location"], data={"csrf": csrf, "action": "check", "map-0": "supplier"},
                               headers={"Accept-Language": "ru"})
        assert checked.status_code >= 400, checked.text
        assert "в файле нет столбца с названием: у каждого элемента должно быть название" in checked.text
