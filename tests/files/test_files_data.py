"""Files in spreadsheets: an export shows a file field's file names; an import leaves file columns out
and says so (files are uploaded, not named in a cell)."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from tests.files.support import PDF, PNG, Files, files
from tests.runtime.support import invoke, module_url

__all__ = ["files", "module_url"]  # the fixtures, imported for pytest

pytestmark = pytest.mark.db


def test_export_shows_file_names(files: Files, tmp_path: Path) -> None:
    item_id = files.item(title="С файлами")
    files.upload(item_id, "scans", ("скан 1.png", PNG), ("акт.pdf", PDF))
    files.upload(item_id, "contract", ("договор.pdf", PDF))
    out = tmp_path / "dossier.csv"
    done = invoke(files.db.url, "export", "dossier", "-o", str(out), "--columns", "id,title,scans,contract",
                  as_user="ivanova")
    assert done.exit_code == 0, done.output
    rows = list(csv.DictReader(out.read_text(encoding="utf-8-sig").splitlines()))
    row = next(r for r in rows if r[next(k for k in r if k.lower() in ("id", "№", "#"))] == str(item_id))
    values = list(row.values())
    assert any("скан 1.png" in v and "акт.pdf" in v for v in values), row
    assert "договор.pdf" in values, row


def test_import_leaves_file_columns_out_and_says_so(files: Files, tmp_path: Path) -> None:
    sheet = tmp_path / "in.csv"
    sheet.write_text("title,contract,note\nИмпорт,договор.pdf,примечание\n", encoding="utf-8")
    done = invoke(files.db.url, "import", "dossier", str(sheet), as_user="ivanova")
    assert done.exit_code == 0, done.output
    assert 'not imported: "contract"' in done.output and "files are not imported" in done.output
    found = files.db.admin.list("dossier", where=("title = Импорт",))
    assert len(found) == 1 and found[0]["note"] == "примечание" and found[0]["contract"] is None
