"""A process with file fields for the files tests: `dossier`, with a multiple field of scans, a single
contract a stage requires, and a field hidden from one role; users for the rights matrix."""

from __future__ import annotations

import struct
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from smartflow.http.app import create_app
from tests.runtime.support import Db

ROLES: dict[str, Any] = {"kind": "Roles", "roles": {
    "worker": {"title": "Worker"}, "clerk": {"title": "Clerk"}, "peeker": {"title": "Peeker"},
    "outsider": {"title": "Outsider"},
}}
DOSSIER: dict[str, Any] = {
    "kind": "Process", "id": "dossier", "title": {"ru": "Досье", "en": "Dossier"},
    "features": {"recycle_bin": True},
    "fields": {
        "scans": {"type": "file", "multiple": True, "title": {"ru": "Сканы", "en": "Scans"},
                  "extensions": ["jpg", "jpeg", "png", "pdf", "txt"], "max_size": 100000},
        "contract": {"type": "file", "title": {"ru": "Договор", "en": "Contract"}, "extensions": ["pdf"]},
        "secret": {"type": "file", "title": {"ru": "Тайное", "en": "Secret"}},
        "note": {"type": "string", "title": {"ru": "Заметка", "en": "Note"}},
    },
    "pipelines": {"main": {"title": "Main", "default": True, "stages": {
        "new": {"title": {"ru": "Новое", "en": "New"}},
        "signed": {"title": {"ru": "Подписано", "en": "Signed"}, "required": ["contract"]},
        "closed": {"title": {"ru": "Закрыто", "en": "Closed"}, "semantic": "success", "read_only": ["scans"]}}}},
    "permissions": {
        "worker": "all",
        "clerk": {"read": "own", "create": "all", "update": "own", "move": "own", "delete": "own"},
        "peeker": {"read": "all", "update": "all", "hidden_fields": ["secret"], "read_only_fields": ["contract"]},
    },
}
MEMO: dict[str, Any] = {  # no recycle bin: a deleted memo is gone, its files with it
    "kind": "Process", "id": "memo", "title": "Memo",
    "fields": {"paper": {"type": "file"}},
    "pipelines": {"main": {"title": "Main", "default": True, "stages": {
        "new": {"title": "New"}, "done": {"title": "Done", "semantic": "success"}}}},
    "permissions": {"worker": "all"},
}
DOCUMENTS = (ROLES, DOSSIER, MEMO)
USERS = {"ivanova": ["worker"], "petrov": ["clerk"], "peek": ["peeker"], "stranger": ["outsider"]}
def _png(width: int, height: int, rgb: tuple[int, int, int]) -> bytes:
    """A real PNG of one colour (a thumbnail the screenshots show)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    rows = b"".join(b"\x00" + bytes(rgb) * width for _ in range(height))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))


PNG = _png(32, 24, (46, 125, 50))
PDF = b"%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"


class Files:
    """The database, an in-process API client and a token per user."""

    def __init__(self, url: str, folder: Path) -> None:
        self.db = Db(url, folder, *DOCUMENTS)
        for login, roles in USERS.items():
            self.db.admin.add_user(login, login.title(), roles)
        self.tokens = {login: self.db.admin.create_token(login) for login in USERS}
        self.client = TestClient(create_app(engine=self.db.admin), raise_server_exceptions=False)

    def call(self, method: str, path: str, login: str = "ivanova", **kwargs: Any) -> Any:
        headers = {"Authorization": f"Bearer {self.tokens[login]}", **kwargs.pop("headers", {})}
        return self.client.request(method, path, headers=headers, **kwargs)

    def item(self, login: str = "ivanova", **values: Any) -> int:
        return self.db.as_user(login).create("dossier", {"title": "Досье", **values})

    def upload(self, item_id: int, field: str, *files: tuple[str, bytes], login: str = "ivanova") -> Any:
        parts = [("file", (name, content, "application/x-anything")) for name, content in files]
        return self.call("POST", f"/api/v1/processes/dossier/items/{item_id}/files/{field}", login, files=parts)

    def close(self) -> None:
        self.client.close()
        self.db.close()


@pytest.fixture(scope="module")
def files(module_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Files]:
    found = Files(module_url, tmp_path_factory.mktemp("defs"))
    yield found
    found.close()
