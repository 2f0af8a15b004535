"""Files on the board, in Chromium: upload two files into a multiple field and one into a single one
from the card, reload, download and compare the bytes, see the image's thumbnail, remove one; a move
into a stage that requires a file asks for it in the required-fields dialog and completes."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from smartflow.definitions.convert import to_yaml
from tests.dbutil import backends, database_url
from tests.files.support import DOSSIER, PDF, PNG
from tests.web.support import Site, serve, sign_in, wait_until
from tests.web.test_kanban import drag, settled

pytestmark = pytest.mark.db
BOARD_DOSSIER = copy.deepcopy(DOSSIER)
BOARD_DOSSIER["permissions"] = {"buyer": "all"}  # a role the shipped roles file declares; `boss` administers


@pytest.fixture(scope="module", params=backends())
def site(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    folder = tmp_path_factory.mktemp("web")
    extra = folder / "processes"
    extra.mkdir()
    (extra / "dossier.yaml").write_text(to_yaml(BOARD_DOSSIER), encoding="utf-8")
    for url in database_url(request.param, folder):
        yield from serve(url, samples=False, extra=(extra,))


def card(site: Site, item_id: int) -> str:
    return f"{site.base}/processes/dossier/items/{item_id}"


def test_upload_from_the_card_reload_and_download(site: Site, page: Any, tmp_path: Path, shots: Path) -> None:
    item_id = site.admin.create("dossier", {"title": "Карточка с файлами"})
    (tmp_path / "photo.png").write_bytes(PNG)
    (tmp_path / "Акт сверки.pdf").write_bytes(PDF)
    (tmp_path / "contract.pdf").write_bytes(PDF + b"contract")
    sign_in(page, site, "boss", f"/processes/dossier/items/{item_id}")
    page.locator("input[type=file][name=scans][multiple]").set_input_files(
        [str(tmp_path / "photo.png"), str(tmp_path / "Акт сверки.pdf")])
    single = page.locator("input[type=file][name=contract]")
    assert single.get_attribute("multiple") is None
    single.set_input_files(str(tmp_path / "contract.pdf"))
    page.locator("form.item-form button.primary[type=submit]").click()
    page.wait_for_url(card(site, item_id) + "?saved=1")
    page.reload()
    scans = page.locator('fieldset[data-field="scans"] li.file')
    assert [n.inner_text() for n in scans.locator(".file-name").all()] == ["photo.png", "Акт сверки.pdf"]
    assert page.locator('fieldset[data-field="contract"] .file-name').inner_text() == "contract.pdf"
    # download every file through its link, as the browser would, and compare the bytes
    expected = {"photo.png": PNG, "Акт сверки.pdf": PDF, "contract.pdf": PDF + b"contract"}
    for link in page.locator("a.file-name").all():
        with page.expect_download() as waiting:
            link.click()
        download = waiting.value
        assert download.suggested_filename == link.inner_text()
        assert Path(download.path()).read_bytes() == expected[link.inner_text()]
    # the image shows as a thumbnail (same-origin images pass the CSP), the PDF does not
    thumbnail = scans.first.locator("img")
    thumbnail.wait_for(state="visible")
    wait_until(page, "document.querySelector('fieldset[data-field=scans] img').naturalWidth > 0")
    assert scans.nth(1).locator("img").count() == 0
    page.screenshot(path=str(shots / "files-card-en.png"), full_page=True)
    # more files append; remove one with its button
    page.locator("input[type=file][name=scans]").set_input_files(str(tmp_path / "contract.pdf"))
    page.locator("form.item-form button.primary[type=submit]").click()
    page.wait_for_url(card(site, item_id) + "?saved=1")
    assert scans.count() == 3
    scans.nth(0).locator("button.file-remove").click()
    page.wait_for_url(card(site, item_id) + "?saved=1")
    assert [n.inner_text() for n in scans.locator(".file-name").all()] == ["Акт сверки.pdf", "contract.pdf"]
    assert [f["name"] for f in site.admin.files("dossier", item_id)["scans"]] == ["Акт сверки.pdf", "contract.pdf"]
    assert "contract.pdf" in page.locator("ol.timeline").inner_text()  # the timeline names files


def test_a_file_a_stage_requires_cannot_be_removed_from_the_card(site: Site, page: Any) -> None:
    item_id = site.admin.create("dossier", {"title": "Подписанное досье"})
    site.admin.attach_files("dossier", item_id, "contract", [("signed.pdf", PDF)])
    site.admin.move("dossier", item_id, "signed")
    sign_in(page, site, "boss", f"/processes/dossier/items/{item_id}")
    page.locator('fieldset[data-field="contract"] button.file-remove').click()
    assert "requires" in page.locator('[role="alert"]').inner_text()
    assert [f["name"] for f in site.admin.files("dossier", item_id)["contract"]] == ["signed.pdf"]


def test_a_refused_upload_says_why_in_one_line(site: Site, page: Any, tmp_path: Path) -> None:
    item_id = site.admin.create("dossier", {"title": "Неверный файл"})
    (tmp_path / "scan.png").write_bytes(PNG)
    sign_in(page, site, "boss", f"/processes/dossier/items/{item_id}")
    page.locator("input[type=file][name=contract]").set_input_files(str(tmp_path / "scan.png"))
    page.locator("form.item-form button.primary[type=submit]").click()
    assert "scan.png is not one of the allowed kinds (pdf)" in page.locator('[role="alert"]').inner_text()
    assert site.admin.files("dossier", item_id)["contract"] == []


def test_the_card_in_russian_on_a_phone(site: Site, browser: Any, tmp_path: Path, shots: Path) -> None:
    item_id = site.admin.create("dossier", {"title": "Досье на телефоне"})
    site.admin.attach_files("dossier", item_id, "scans", [("снимок.png", PNG), ("очень длинное имя документа о "
                                                                              "согласовании договора.pdf", PDF)])
    context = browser.new_context(viewport={"width": 390, "height": 844}, locale="ru-RU")
    page = context.new_page()
    try:
        sign_in(page, site, "boss", f"/processes/dossier/items/{item_id}")
        assert page.locator('fieldset[data-field="scans"] legend').inner_text().startswith("Сканы")
        assert page.locator('fieldset[data-field="scans"] .file-add').inner_text() == "Прикрепить файлы"
        assert page.evaluate("document.documentElement.scrollWidth") <= 390
        page.screenshot(path=str(shots / "files-card-ru-390.png"), full_page=True)
    finally:
        context.close()


def test_a_move_into_a_stage_that_requires_a_file_asks_for_it(site: Site, page: Any, tmp_path: Path,
                                                              shots: Path) -> None:
    item_id = site.admin.create("dossier", {"title": "Нужен договор"})
    (tmp_path / "signed.pdf").write_bytes(PDF + b"signed")
    sign_in(page, site, "boss", "/processes/dossier/kanban")
    drag(page, item_id, "signed")
    dialog = page.locator("#required-dialog")
    dialog.wait_for(state="visible")
    upload = dialog.locator("input[type=file][name=contract]")
    assert upload.count() == 1
    upload.set_input_files(str(tmp_path / "signed.pdf"))
    page.screenshot(path=str(shots / "files-required-dialog.png"))
    dialog.locator("button[type=submit]").click()
    settled(page)
    wait_until(page, f"!!document.querySelector('.column[data-stage=signed] .card[data-item-id=\"{item_id}\"]')")
    assert site.admin.get("dossier", item_id)["stage"] == "signed"
    contract = site.admin.files("dossier", item_id)["contract"]
    assert [f["name"] for f in contract] == ["signed.pdf"]
    assert site.admin.file("dossier", item_id, contract[0]["id"])[1] == PDF + b"signed"
