"""The files API: upload (multipart), download (name, sniffed type, nosniff), remove; the rights
matrix (a file of an item the caller may not read, or of a field hidden from them, answers exactly
as a missing one); the field's rules as 422 with one clear line; the recycle bin keeps files."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import quote

import pytest

from smartflow.errors import InvalidValue
from tests.files.support import PDF, PNG, Files, files
from tests.runtime.support import module_url

__all__ = ["files", "module_url"]  # the fixtures, imported for pytest

pytestmark = pytest.mark.db
ITEMS = "/api/v1/processes/dossier/items"


def test_upload_two_into_a_multiple_field_appends_and_the_item_lists_them(files: Files) -> None:
    item_id = files.item()
    first = files.upload(item_id, "scans", ("скан.png", PNG), ("notes.txt", "заметки\n".encode()))
    assert first.status_code == 200, first.text
    listed = first.json()
    assert [(f["name"], f["size"], f["content_type"]) for f in listed] == [
        ("скан.png", len(PNG), "image/png"), ("notes.txt", len("заметки\n".encode()), "text/plain; charset=utf-8")]
    more = files.upload(item_id, "scans", ("b.pdf", PDF)).json()
    assert [f["name"] for f in more] == ["скан.png", "notes.txt", "b.pdf"]
    assert files.call("GET", f"{ITEMS}/{item_id}", params={"card": "true"}).json()["item"]["scans"] == more
    page = files.call("GET", ITEMS, params={"where": f"id = {item_id}", "fields": "scans,contract"}).json()
    assert page["items"] == [{"id": item_id, "scans": more, "contract": None}]
    item = files.call("GET", f"{ITEMS}/{item_id}").json()
    assert [{k: f[k] for k in ("id", "name")} for f in item["scans"]] == [{"id": f["id"], "name": f["name"]}
                                                                         for f in more]
    # the item sent back as read keeps its files
    assert files.call("PATCH", f"{ITEMS}/{item_id}", json={"scans": item["scans"], "note": "x"}).status_code == 200
    assert [f["id"] for f in files.call("GET", f"{ITEMS}/{item_id}").json()["scans"]] == [f["id"] for f in more]


def test_a_single_field_replaces_its_file(files: Files) -> None:
    item_id = files.item()
    first = files.upload(item_id, "contract", ("v1.pdf", PDF)).json()
    second = files.upload(item_id, "contract", ("v2.pdf", PDF + b"2")).json()
    assert [f["name"] for f in first] == ["v1.pdf"] and [f["name"] for f in second] == ["v2.pdf"]
    assert files.call("GET", f"{ITEMS}/{item_id}").json()["contract"]["name"] == "v2.pdf"
    gone = files.call("GET", f"{ITEMS}/{item_id}/files/{first[0]['id']}")
    assert gone.status_code == 404
    two = files.upload(item_id, "contract", ("a.pdf", PDF), ("b.pdf", PDF))
    assert two.status_code == 422 and "holds one file" in two.json()["message"]


def test_download_gives_the_bytes_the_name_and_the_sniffed_type(files: Files) -> None:
    item_id = files.item()
    # a page sent as an image: stored and served as what its bytes are, never as HTML
    listed = files.upload(item_id, "scans", ("Договор №1.png", PNG), ("page.txt", b"<html><script>x</script>")).json()
    got = files.call("GET", f"{ITEMS}/{item_id}/files/{listed[0]['id']}")
    assert got.status_code == 200 and got.content == PNG
    assert got.headers["content-type"] == "image/png"
    assert got.headers["x-content-type-options"] == "nosniff"
    disposition = got.headers["content-disposition"]
    assert disposition.startswith('attachment; filename="')
    assert f"filename*=UTF-8''{quote('Договор №1.png', safe='')}" in disposition
    assert disposition.split('"')[1].isascii()
    page = files.call("GET", f"{ITEMS}/{item_id}/files/{listed[1]['id']}")
    assert page.headers["content-type"].startswith("text/plain")
    inline = files.call("GET", f"{ITEMS}/{item_id}/files/{listed[0]['id']}", params={"inline": "true"})
    assert inline.headers["content-disposition"].startswith("inline;")


def test_delete_takes_the_file_off_and_a_required_one_stays(files: Files) -> None:
    item_id = files.item()
    listed = files.upload(item_id, "scans", ("a.png", PNG), ("b.pdf", PDF)).json()
    removed = files.call("DELETE", f"{ITEMS}/{item_id}/files/{listed[0]['id']}")
    assert removed.status_code == 200, removed.text
    assert removed.json() == {"field": "scans", "files": [listed[1]]}
    assert files.call("GET", f"{ITEMS}/{item_id}/files/{listed[0]['id']}").status_code == 404
    contract = files.upload(item_id, "contract", ("c.pdf", PDF)).json()[0]
    assert files.call("POST", f"{ITEMS}/{item_id}/move", json={"stage": "signed"}).status_code == 200
    refused = files.call("DELETE", f"{ITEMS}/{item_id}/files/{contract['id']}")
    assert refused.status_code == 422 and "requires" in refused.json()["message"]
    assert files.call("GET", f"{ITEMS}/{item_id}/files/{contract['id']}").content == PDF


@pytest.mark.parametrize(("field", "name", "content", "says"), [
    ("contract", "scan.png", PNG, "scan.png is not one of the allowed kinds (pdf)"),
    ("scans", "big.pdf", b"%PDF-1.4" + b"0" * 100001, "over the limit of 100000"),
    ("scans", "run.exe", b"MZ\x90\x00", "run.exe is not one of the allowed kinds"),
])
def test_the_fields_rules_answer_422_in_one_line(files: Files, field: str, name: str, content: bytes,
                                                 says: str) -> None:
    item_id = files.item()
    answer = files.upload(item_id, field, (name, content))
    assert answer.status_code == 422, answer.text
    body = answer.json()
    assert says in body["message"] and "\n" not in body["message"] and body["field"] == field
    assert files.call("GET", f"{ITEMS}/{item_id}").json()[field] in (None, [])


def test_the_upload_limit_holds_whatever_the_field_says(files: Files, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SMARTFLOW_UPLOAD_LIMIT", "50")
    item_id = files.item()
    answer = files.upload(item_id, "secret", ("a.txt", b"x" * 51))
    assert answer.status_code == 422 and "over the upload limit of 50" in answer.json()["message"]


def test_the_rights_matrix_answers_missing_alike(files: Files) -> None:
    mine = files.item("petrov")  # a clerk's own item: other clerks' items they may not read
    other = files.item("ivanova")
    scans = files.upload(mine, "scans", ("a.png", PNG), login="petrov").json()
    secret = files.upload(other, "secret", ("s.txt", b"secret"), login="ivanova").json()[0]
    theirs = files.upload(other, "scans", ("t.png", PNG)).json()[0]

    def answer(login: str, item_id: int, file_id: int) -> tuple[int, str]:
        got = files.call("GET", f"{ITEMS}/{item_id}/files/{file_id}", login)
        return got.status_code, got.json()["message"].replace(f"dossier {item_id} has no file {file_id}", "MISSING")

    missing = answer("ivanova", other, 999999)
    assert missing == (404, "MISSING")
    assert answer("petrov", other, theirs["id"]) == missing  # may not read the item
    assert answer("petrov", 999999, theirs["id"]) == missing  # no such item
    assert answer("peek", other, secret["id"]) == missing  # the field is hidden from them
    assert answer("ivanova", other, scans[0]["id"]) == missing  # another item's file, through this one
    assert answer("stranger", other, theirs["id"])[0] == 404  # no right in the process at all
    assert files.call("GET", f"{ITEMS}/{other}/files/{theirs['id']}", "peek").content == PNG
    # writing: the item's update right, and the same 404 for what they may not read
    assert files.call("DELETE", f"{ITEMS}/{other}/files/{theirs['id']}", "petrov").status_code == 404
    assert files.upload(other, "scans", ("x.png", PNG), login="petrov").status_code == 404
    assert files.upload(other, "secret", ("x.txt", b"x"), login="peek").status_code == 404
    assert files.call("DELETE", f"{ITEMS}/{other}/files/{secret['id']}", "peek").status_code == 404
    assert files.call("GET", f"{ITEMS}/{other}", "peek").json().get("secret") is None
    # a file id of another item is refused when named in a PATCH
    refused = files.call("PATCH", f"{ITEMS}/{mine}", "ivanova", json={"scans": [theirs["id"]]})
    assert refused.status_code == 422 and "is not attached to this item" in refused.json()["message"]


def test_a_deleted_item_keeps_its_files_and_restore_brings_them_back(files: Files) -> None:
    item_id = files.item()
    listed = files.upload(item_id, "scans", ("kept.png", PNG)).json()
    assert files.call("DELETE", f"{ITEMS}/{item_id}").json()["outcome"] == "recycle_bin"
    assert files.call("GET", f"{ITEMS}/{item_id}/files/{listed[0]['id']}").status_code == 404
    assert files.call("POST", f"{ITEMS}/{item_id}/restore").status_code == 200
    assert files.call("GET", f"{ITEMS}/{item_id}/files/{listed[0]['id']}").content == PNG


def test_the_list_of_an_items_files(files: Files) -> None:
    item_id = files.item()
    files.upload(item_id, "scans", ("a.png", PNG))
    files.upload(item_id, "secret", ("s.txt", b"s"))
    assert {k: [f["name"] for f in v] for k, v in files.call("GET", f"{ITEMS}/{item_id}/files").json().items()} \
        == {"scans": ["a.png"], "contract": [], "secret": ["s.txt"]}
    assert set(files.call("GET", f"{ITEMS}/{item_id}/files", "peek").json()) == {"scans", "contract"}


def test_a_read_only_field_takes_no_upload_and_loses_no_file(files: Files) -> None:
    item_id = files.item()
    contract = files.upload(item_id, "contract", ("c.pdf", PDF)).json()[0]
    scan = files.upload(item_id, "scans", ("s.png", PNG)).json()[0]
    refused = files.upload(item_id, "contract", ("d.pdf", PDF), login="peek")  # read-only for their role
    assert refused.status_code == 403 and "read-only" in refused.json()["message"]
    assert files.call("DELETE", f"{ITEMS}/{item_id}/files/{contract['id']}", "peek").status_code == 403
    assert files.upload(item_id, "scans", ("t.png", PNG), login="peek").status_code == 200  # not read-only
    assert files.call("POST", f"{ITEMS}/{item_id}/move", json={"stage": "closed"}).status_code == 200
    closed = files.upload(item_id, "scans", ("late.png", PNG))  # read-only in this stage
    assert closed.status_code in (403, 422) and "scans" in closed.json()["message"]
    assert files.call("DELETE", f"{ITEMS}/{item_id}/files/{scan['id']}").status_code in (403, 422)
    assert [f["name"] for f in files.call("GET", f"{ITEMS}/{item_id}/files").json()["scans"]] == ["s.png", "t.png"]
    assert files.call("GET", f"{ITEMS}/{item_id}/files/{contract['id']}").content == PDF


def test_a_path_on_the_server_is_never_read_as_an_upload(files: Files, tmp_path: Path) -> None:
    """Only the command line reads `@PATH` (where it runs); text that reaches the services — typed
    values of automation or scenarios, a filter of the API — never names a file of the server."""
    server_file = tmp_path / "server-secret.pdf"
    server_file.write_bytes(PDF)
    item_id = files.item()
    before = files.db.count("sf_files")
    with pytest.raises(InvalidValue, match="a file is uploaded"):
        files.db.as_user("ivanova").update("dossier", item_id, {"contract": f"@{server_file}"}, typed_text=True)
    listed = files.call("GET", ITEMS, params={"where": f"contract = @{server_file}"})
    assert listed.status_code == 422, listed.text
    assert files.db.count("sf_files") == before
