"""Where files' bytes live: a store keyed by SHA-256, and the `sf_files` rows that name them.

A file field holds ids of `sf_files` rows (name, size, checksum, sniffed media type, uploader, and
the process, item and field it was uploaded for); the bytes are kept once per checksum by a
`FileStore`. Two stores come with smartflow, chosen by SMARTFLOW_FILE_STORE:

- `database` (the default): the bytes in `sf_file_chunks`, in chunks of 1 MiB (a BLOB on SQLite,
  `bytea` on PostgreSQL), inside the same transaction as the item's change: nothing to set up, and
  a backup of the database is a backup of the files;
- `folder:/some/path`: one file per checksum under that folder (`ab/cd/abcd…`), written before the
  transaction commits (a rolled-back upload leaves an unreferenced file, never a row without bytes).

`docs/how-to/files.md` tells how a third store (S3-compatible object storage) plugs in.

Rows made by earlier versions name a path on the server in `location`; `adopt_legacy` reads such
a file into the store (apply does it, and a download does it on first use), and a row whose path is
gone is kept, its download answering that the content is missing.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from functools import cache
from pathlib import Path
from typing import Any, Protocol

import sqlalchemy as sa

from smartflow.errors import DatabaseUnavailable, NotFound
from smartflow.runtime import media

STORE_ENV = "SMARTFLOW_FILE_STORE"
CHUNK = 1 << 20  # bytes per sf_file_chunks row: a large file is many rows, never one giant value
STORED = frozenset({"database", "folder"})  # sf_files.location of a file whose bytes are in a store
MISSING = "missing:"  # location prefix of a legacy file whose path was gone when it was adopted


class FileStore(Protocol):
    """Files' bytes by SHA-256 checksum. connection is the operation's (the database store writes in
    its transaction; others may ignore it)."""

    name: str

    def put(self, connection: Any, checksum: str, content: bytes) -> None:
        """Keep content under checksum (nothing to do when it is there already)."""
        ...

    def get(self, connection: Any, checksum: str) -> bytes | None:
        """The content kept under checksum, or None."""
        ...

    def delete(self, connection: Any, checksum: str) -> None:
        """Forget the content under checksum (nothing to do when there is none)."""
        ...


class DatabaseStore:
    """The bytes in `sf_file_chunks` rows, CHUNK bytes each, in the operation's transaction."""

    name = "database"

    def __init__(self) -> None:
        self._table: sa.Table | None = None

    @property
    def table(self) -> sa.Table:
        if self._table is None:
            from smartflow.compile.sql import system_table

            self._table = system_table(sa.MetaData(), "sf_file_chunks")
        return self._table

    def put(self, connection: Any, checksum: str, content: bytes) -> None:
        table = self.table
        held = connection.execute(sa.select(table.c.position).where(table.c.checksum == checksum,
                                                                    table.c.position == 0)).first()
        if held is not None:
            return
        rows = [{"checksum": checksum, "position": n, "data": content[start:start + CHUNK]}
                for n, start in enumerate(range(0, max(len(content), 1), CHUNK))]
        for row in rows:  # one row a statement: a driver holds one chunk at a time
            connection.execute(table.insert(), row)

    def get(self, connection: Any, checksum: str) -> bytes | None:
        table = self.table
        parts = connection.execute(sa.select(table.c.data).where(table.c.checksum == checksum)
                                   .order_by(table.c.position)).scalars().all()
        return b"".join(bytes(part) for part in parts) if parts else None

    def delete(self, connection: Any, checksum: str) -> None:
        connection.execute(sa.delete(self.table).where(self.table.c.checksum == checksum))


class FolderStore:
    """One file per checksum under root, in two levels of folders (`ab/cd/abcd…`)."""

    name = "folder"

    def __init__(self, root: Path) -> None:
        self.root = root

    def _path(self, checksum: str) -> Path:
        if len(checksum) != 64 or not all(c in "0123456789abcdef" for c in checksum):
            raise ValueError(f"not a SHA-256 checksum: {checksum!r}")
        return self.root / checksum[:2] / checksum[2:4] / checksum

    def put(self, connection: Any, checksum: str, content: bytes) -> None:
        path = self._path(checksum)
        if path.exists():
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=".upload-")
        try:
            with os.fdopen(handle, "wb") as out:
                out.write(content)
                out.flush()
                os.fsync(out.fileno())
            os.replace(temporary, path)  # whole or not at all, even with two uploads of the same bytes
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise

    def get(self, connection: Any, checksum: str) -> bytes | None:
        try:
            return self._path(checksum).read_bytes()
        except FileNotFoundError:
            return None

    def delete(self, connection: Any, checksum: str) -> None:
        self._path(checksum).unlink(missing_ok=True)


class StoreMisconfigured(DatabaseUnavailable):
    """SMARTFLOW_FILE_STORE names no store smartflow knows."""


@cache
def store_for(setting: str) -> FileStore:
    """The store a SMARTFLOW_FILE_STORE value names: `database`, or `folder:PATH`."""
    text = setting.strip()
    if text in ("", "database"):
        return DatabaseStore()
    if text.startswith("folder:") and text[len("folder:"):].strip():
        return FolderStore(Path(text[len("folder:"):].strip()).expanduser().resolve())
    raise StoreMisconfigured(f"{STORE_ENV}={setting!r} names no file store",
                             "use `database` (the default) or `folder:/path/to/files`")


def configured() -> FileStore:
    """The store of this process's configuration (SMARTFLOW_FILE_STORE; default the database)."""
    return store_for(os.environ.get(STORE_ENV, ""))


# ---- sf_files rows ------------------------------------------------------------------


def keep(connection: Any, tables: Any, name: str, size: int, checksum: str, content: bytes,
         content_type: str | None, *, now: Any, process: str | None, field: str | None, item_id: int | None,
         uploaded_by: int | None, store: FileStore | None = None) -> int:
    """Store content and add its sf_files row; returns the file's id."""
    chosen = store or configured()
    chosen.put(connection, checksum, content)
    files = tables["sf_files"]
    result = connection.execute(files.insert().values(
        name=name, size=size, checksum=checksum, location=chosen.name, content_type=content_type,
        created_at=now, process=process, field=field, item_id=item_id, uploaded_by=uploaded_by))
    return int(result.inserted_primary_key[0])


def claim(connection: Any, tables: Any, file_ids: list[int], item_id: int) -> None:
    """Name the item new files were uploaded for (a create stores them before the item has an id)."""
    if file_ids:
        files = tables["sf_files"]
        connection.execute(sa.update(files).where(files.c.id.in_(file_ids), files.c.item_id.is_(None))
                           .values(item_id=item_id))


def rows(connection: Any, tables: Any, file_ids: list[int]) -> dict[int, Any]:
    """The sf_files rows of file_ids, by id."""
    if not file_ids:
        return {}
    files = tables["sf_files"]
    found = connection.execute(sa.select(files).where(files.c.id.in_(file_ids)))
    return {row.id: row for row in found}


class ContentMissing(NotFound):
    """A file's row is kept but its bytes are not in the store (a legacy path that was gone)."""


def content(connection: Any, tables: Any, row: Any, store: FileStore | None = None) -> bytes:
    """A file's bytes; a legacy row (a server path) is adopted into the store first."""
    chosen = store or configured()
    if row.location not in STORED:
        row = adopt(connection, tables, row, chosen)
    holder = _holder(row.location, chosen)
    found = holder.get(connection, row.checksum) if holder is not None else None
    if found is None:
        raise ContentMissing(f"the content of file {row.id} ({row.name}) is missing: it was stored as a path on "
                             "the server by an older smartflow, and that file was gone when it was moved into "
                             "the file store", "upload the file again")
    return found


def adopt(connection: Any, tables: Any, row: Any, store: FileStore | None = None) -> Any:
    """Read a legacy row's file (a path on the server) into the store and point the row at it; a path
    that is gone marks the row `missing:` (kept: names and ids stay readable). Returns the row as now."""
    chosen = store or configured()
    files = tables["sf_files"]
    location = str(row.location)
    if location in STORED or location.startswith(MISSING):
        return row
    try:
        data = Path(location).read_bytes()
    except OSError:
        changes: dict[str, Any] = {"location": MISSING + location[:1000]}
    else:
        checksum = hashlib.sha256(data).hexdigest()
        chosen.put(connection, checksum, data)
        changes = {"location": chosen.name, "checksum": checksum, "size": len(data),
                   "content_type": media.sniff(data)}
    connection.execute(sa.update(files).where(files.c.id == row.id).values(**changes))
    return connection.execute(sa.select(files).where(files.c.id == row.id)).first()


def adopt_legacy(connection: Any, tables: Any, store: FileStore | None = None) -> tuple[int, int]:
    """Adopt every legacy row; returns (read into the store, missing)."""
    files = tables["sf_files"]
    legacy = connection.execute(sa.select(files).where(files.c.location.not_in(sorted(STORED)),
                                                       files.c.location.not_like(MISSING + "%"))).all()
    read = missing = 0
    for row in legacy:
        after = adopt(connection, tables, row, store)
        if str(after.location).startswith(MISSING):
            missing += 1
        else:
            read += 1
    return read, missing


def discard(connection: Any, tables: Any, file_ids: list[int], store: FileStore | None = None) -> None:
    """Remove files no item holds any more: their rows, and their bytes when no other row shares them."""
    found = rows(connection, tables, file_ids)
    if not found:
        return
    files = tables["sf_files"]
    connection.execute(sa.delete(files).where(files.c.id.in_(list(found))))
    for checksum, location in {(row.checksum, row.location) for row in found.values()}:
        if location not in STORED:
            continue
        shared = connection.execute(sa.select(files.c.id).where(files.c.checksum == checksum,
                                                                files.c.location == location).limit(1)).first()
        holder = _holder(location, store or configured())
        if shared is None and holder is not None:
            holder.delete(connection, checksum)


def _holder(location: str, chosen: FileStore) -> FileStore | None:
    """The store a row's bytes are in: the configured one, or the database's (files uploaded before a
    team moved to another store stay readable there); None for a legacy or missing row."""
    if location == chosen.name:
        return chosen
    return store_for("database") if location == "database" else None
