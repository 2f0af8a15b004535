"""The command line: `--set FIELD=@PATH` uploads the content (the server keeps no path), repeated for a
multiple field; `item file get` saves a file, with the same not-found answer for what the user may not read."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa

from tests.files.support import PDF, PNG, Files, files
from tests.runtime.support import invoke, module_url

__all__ = ["files", "module_url"]  # the fixtures, imported for pytest

pytestmark = pytest.mark.db


def test_set_at_path_uploads_the_content_and_keeps_no_path(files: Files, tmp_path: Path) -> None:
    (tmp_path / "a.png").write_bytes(PNG)
    (tmp_path / "b.pdf").write_bytes(PDF)
    (tmp_path / "c.pdf").write_bytes(PDF + b"c")
    created = invoke(files.db.url, "item", "create", "dossier", "--set", "title=CLI", "--set",
                     f"scans=@{tmp_path / 'a.png'}", "--set", f"scans=@{tmp_path / 'b.pdf'}", "--set",
                     f"contract=@{tmp_path / 'c.pdf'}", as_user="ivanova")
    assert created.exit_code == 0, created.output
    item_id = int(created.output.strip())
    listed = files.db.admin.files("dossier", item_id)
    assert [f["name"] for f in listed["scans"]] == ["a.png", "b.pdf"]
    assert [f["name"] for f in listed["contract"]] == ["c.pdf"]
    with files.db.raw.connect() as connection:
        rows = connection.execute(sa.text("SELECT location, item_id, field, uploaded_by FROM sf_files "
                                          "WHERE item_id = :i ORDER BY id"), {"i": item_id}).all()
    assert [r.field for r in rows] == ["scans", "scans", "contract"]
    assert all(str(tmp_path) not in r.location and r.location == "database" for r in rows)
    assert {r.uploaded_by for r in rows} == {files.db.user_id("ivanova")}
    for path in tmp_path.iterdir():
        path.unlink()  # the client's files are gone: the item's stay
    out = tmp_path / "out"
    out.mkdir()
    got = invoke(files.db.url, "item", "file", "get", "dossier", str(item_id), "scans", "b.pdf", "-o", str(out),
                 as_user="ivanova")
    assert got.exit_code == 0, got.output
    assert (out / "b.pdf").read_bytes() == PDF
    single = invoke(files.db.url, "item", "file", "get", "dossier", str(item_id), "contract", "-o",
                    str(tmp_path / "contract.pdf"), as_user="ivanova")
    assert single.exit_code == 0 and (tmp_path / "contract.pdf").read_bytes() == PDF + b"c"
    by_id = invoke(files.db.url, "item", "file", "get", "dossier", str(item_id), "scans",
                   str(listed["scans"][0]["id"]), "-o", str(tmp_path / "first.png"), as_user="ivanova")
    assert by_id.exit_code == 0 and (tmp_path / "first.png").read_bytes() == PNG
    several = invoke(files.db.url, "item", "file", "get", "dossier", str(item_id), "scans", "-o", str(out),
                     as_user="ivanova")
    assert several.exit_code != 0 and "holds 2 files" in several.output


def test_update_with_a_wrong_kind_is_refused_with_one_line(files: Files, tmp_path: Path) -> None:
    item_id = files.item()
    (tmp_path / "scan.png").write_bytes(PNG)
    refused = invoke(files.db.url, "item", "update", "dossier", str(item_id), "--set",
                     f"contract=@{tmp_path / 'scan.png'}", as_user="ivanova")
    assert refused.exit_code == 9, refused.output  # a bad value
    assert "scan.png is not one of the allowed kinds (pdf)" in refused.output


def test_file_get_answers_alike_for_what_the_user_may_not_read(files: Files, tmp_path: Path) -> None:
    other = files.item("ivanova")
    theirs = files.upload(other, "scans", ("t.png", PNG)).json()[0]
    missing = invoke(files.db.url, "item", "file", "get", "dossier", str(other), "scans", "999999", "-o",
                     str(tmp_path / "x"), as_user="ivanova")
    hidden = invoke(files.db.url, "item", "file", "get", "dossier", str(other), "scans", str(theirs["id"]), "-o",
                    str(tmp_path / "x"), as_user="petrov")
    nothing = invoke(files.db.url, "item", "file", "get", "dossier", "999999", "scans", "-o",
                     str(tmp_path / "x"), as_user="ivanova")
    assert missing.exit_code == hidden.exit_code == nothing.exit_code == 7
    assert hidden.output.replace(str(other), "N") == nothing.output.replace("999999", "N")
    assert not (tmp_path / "x").exists()
