"""The file stores: the database's (chunked rows) and a folder, by the same contract; a folder
configured by SMARTFLOW_FILE_STORE; files older versions kept as server paths adopted by apply, and
a row whose path is gone kept readable with a clear "content missing" on download."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from smartflow.runtime import filestore
from smartflow.services import deploy as deploying
from tests.files.support import PNG, Files, files
from tests.runtime.support import module_url

__all__ = ["files", "module_url"]  # the fixtures, imported for pytest

pytestmark = pytest.mark.db


@pytest.fixture(params=["database", "folder"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[filestore.FileStore]:
    yield filestore.DatabaseStore() if request.param == "database" else filestore.FolderStore(tmp_path / "store")


def test_put_get_delete_by_checksum(files: Files, store: filestore.FileStore,
                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(filestore, "CHUNK", 1000)  # several chunks for a small file
    big = bytes(range(256)) * 20  # 5120 bytes: six rows of the database store
    empty = b""
    with files.db.raw.begin() as connection:
        for content in (big, empty, b"small"):
            checksum = hashlib.sha256(content).hexdigest()
            assert store.get(connection, checksum) is None
            store.put(connection, checksum, content)
            store.put(connection, checksum, content)  # twice: kept once
            assert store.get(connection, checksum) == content
        if store.name == "database":
            assert connection.execute(sa.text("SELECT count(*) FROM sf_file_chunks WHERE checksum = :c"),
                                      {"c": hashlib.sha256(big).hexdigest()}).scalar_one() == 6
        for content in (big, empty, b"small"):
            checksum = hashlib.sha256(content).hexdigest()
            store.delete(connection, checksum)
            store.delete(connection, checksum)
            assert store.get(connection, checksum) is None


def test_a_folder_store_refuses_what_is_not_a_checksum(tmp_path: Path) -> None:
    store = filestore.FolderStore(tmp_path)
    with pytest.raises(ValueError, match="not a SHA-256"):
        store.get(None, "../../etc/passwd")


def test_the_folder_store_is_configured_by_the_environment(files: Files, tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    folder = tmp_path / "files"
    monkeypatch.setenv(filestore.STORE_ENV, f"folder:{folder}")
    item_id = files.item()
    listed = files.upload(item_id, "scans", ("in-folder.png", PNG)).json()
    kept = folder / hashlib.sha256(PNG).hexdigest()[:2]
    assert any(p.read_bytes() == PNG for p in kept.rglob("*") if p.is_file())
    assert files.call("GET", f"/api/v1/processes/dossier/items/{item_id}/files/{listed[0]['id']}").content == PNG
    # files kept in the database before the move to a folder stay readable
    monkeypatch.setenv(filestore.STORE_ENV, "database")
    in_db = files.upload(item_id, "scans", ("in-db.png", PNG + b"db")).json()[-1]
    monkeypatch.setenv(filestore.STORE_ENV, f"folder:{folder}")
    assert files.call("GET", f"/api/v1/processes/dossier/items/{item_id}/files/{in_db['id']}").content == PNG + b"db"
    monkeypatch.setenv(filestore.STORE_ENV, "s3://bucket")
    refused = files.call("GET", f"/api/v1/processes/dossier/items/{item_id}/files/{in_db['id']}")
    assert refused.status_code == 503  # a server's misconfiguration: said in its log, not to the caller


def _legacy(files: Files, item_id: int, location: str, name: str) -> int:
    """An sf_files row as versions before content storage made it (a server path), held by the item."""
    with files.db.raw.begin() as connection:
        file_id = int(connection.execute(sa.text(
            "INSERT INTO sf_files (name, size, checksum, location, created_at) VALUES "
            "(:n, 1, 'old', :l, CURRENT_TIMESTAMP) RETURNING id"), {"n": name, "l": location}).scalar_one())
        connection.execute(sa.text("UPDATE p_dossier SET secret = :f WHERE id = :i"), {"f": file_id, "i": item_id})
    return file_id


def test_apply_adopts_files_kept_as_paths_and_keeps_the_missing_ones_readable(files: Files, tmp_path: Path) -> None:
    there, gone = files.item(), files.item()
    old = tmp_path / "old-upload.pdf"
    old.write_bytes(b"%PDF-1.4 legacy")
    kept_id = _legacy(files, there, str(old), "old-upload.pdf")
    gone_id = _legacy(files, gone, str(tmp_path / "vanished.pdf"), "vanished.pdf")
    assert deploying.adopt_files(files.db.url) == (1, 1)
    old.unlink()  # adopted: the server's copy is no longer needed
    got = files.call("GET", f"/api/v1/processes/dossier/items/{there}/files/{kept_id}")
    assert got.status_code == 200 and got.content == b"%PDF-1.4 legacy"
    assert got.headers["content-type"] == "application/pdf"
    missing = files.call("GET", f"/api/v1/processes/dossier/items/{gone}/files/{gone_id}")
    assert missing.status_code == 404 and "content of file" in missing.json()["message"] \
        and "is missing" in missing.json()["message"]
    item = files.call("GET", f"/api/v1/processes/dossier/items/{gone}").json()
    assert item["secret"]["name"] == "vanished.pdf"  # the row stays: its name is still shown
    assert deploying.adopt_files(files.db.url) == (0, 0)  # once


def test_a_download_adopts_a_legacy_file_on_first_use(files: Files, tmp_path: Path) -> None:
    item_id = files.item()
    old = tmp_path / "lazy.txt"
    old.write_bytes(b"lazy")
    file_id = _legacy(files, item_id, str(old), "lazy.txt")
    assert files.call("GET", f"/api/v1/processes/dossier/items/{item_id}/files/{file_id}").content == b"lazy"
    with files.db.raw.connect() as connection:
        assert connection.execute(sa.text("SELECT location FROM sf_files WHERE id = :i"),
                                  {"i": file_id}).scalar_one() == "database"


def test_an_item_deleted_for_good_takes_its_files_and_shared_bytes_stay(files: Files) -> None:
    engine = files.db.as_user("ivanova")
    first = engine.create("memo", {"title": "first"})
    second = engine.create("memo", {"title": "second"})
    one = engine.attach_files("memo", first, "paper", [("same.png", PNG)])[0]
    two = engine.attach_files("memo", second, "paper", [("same-again.png", PNG)])[0]
    checksum = hashlib.sha256(PNG).hexdigest()

    def chunks() -> int:
        return files.db.count("sf_file_chunks", "checksum = :c", c=checksum)

    assert chunks() == 1  # the same bytes kept once
    assert engine.delete("memo", first) == "deleted"
    assert files.db.count("sf_files", "id = :i", i=one["id"]) == 0
    assert chunks() == 1 and engine.file("memo", second, two["id"])[1] == PNG  # still the other item's
    engine.delete("memo", second)
    assert files.db.count("sf_files", "id = :i", i=two["id"]) == 0 and chunks() == 0
