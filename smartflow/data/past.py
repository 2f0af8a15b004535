"""Import of items' past from another system: their stage history and their comments, with the
original times and authors (what `smartflow bitrix24 pull` writes as `data/<process>.history.csv`
and `data/<process>.comments.csv`).

An administrator's action: it writes what happened before smartflow, so nothing is checked against
today's transitions and no trigger or notification runs. Items are named by `--key` (their id, or a
unique field such as `bitrix_id`); a row about an item that is not there is a problem of that row.

- history: columns `item, at, kind, pipeline, stage, by`. `create` gives the item's own creation
  row (written by the item's import) the original time, author and first stage; `move` adds a
  stage move (and a pipeline move when the pipeline changes) at its time. Rows already imported
  (same item, time and stage) are skipped, so an import may run again.
- comments: columns `item, at, author, text`. `author` a login, empty for automation's.
"""

from __future__ import annotations

import csv
from dataclasses import field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from smartflow.data import DataFileError
from smartflow.errors import PermissionDenied
from smartflow.records import record
from smartflow.runtime import fields, items, people
from smartflow.runtime.items import Sessions, Write

KINDS = ("history", "comments")
COLUMNS = {"history": ("item", "at", "kind", "pipeline", "stage"), "comments": ("item", "at", "text")}


@record
class PastResult:
    """What an import of past history or comments wrote, skipped (imported before) and refused."""

    process: str
    kind: str
    rows: int = 0
    written: int = 0
    skipped: int = 0  # imported before
    problems: list[str] = field(default_factory=list)


def import_past(crm: Sessions, process_id: str, path: Path, kind: str, key: str = "id") -> PastResult:
    """Import a history or comments file into process_id's items, in one transaction."""
    if kind not in KINDS:
        raise DataFileError(f"cannot import {kind!r}", f"import one of: {', '.join(KINDS)}")
    result = PastResult(process_id, kind)
    try:
        with path.open(encoding="utf-8-sig", newline="") as handle:
            rows = list(csv.DictReader(handle))
            headers = list(rows[0]) if rows else []
    except (OSError, UnicodeDecodeError, csv.Error) as error:
        raise DataFileError(f"cannot read {path}: {error}", "give the CSV file the pull wrote") from None
    missing = [c for c in COLUMNS[kind] if rows and c not in headers]
    if missing:
        raise DataFileError(f"{path.name} has no column {', '.join(missing)} for {kind}",
                            f"its columns: {', '.join(headers)}")
    with crm.session(True) as write:
        actor = write.actor
        if not people.is_admin(actor):
            raise PermissionDenied(f"importing {kind} is for administrators: it writes the past as it was",
                                   "ask an administrator to run it")
        process = items.process_of(write, process_id)
        if key != "id" and (key not in process.fields or process.fields[key].multiple):
            raise DataFileError(f"--key {key}: {process_id} has no single field of that name",
                                "give id, or the field that holds the original ids (bitrix_id)")
        logins = {u["login"]: u["id"] for u in people.list_users(write.connection, write.compiled)}
        found = _items(write, process_id, key, {r.get("item", "") for r in rows})
        last: dict[int, tuple[str, str]] = {}
        for number, row in enumerate(rows, start=2):
            result.rows += 1
            try:
                item_id = found.get(str(row.get("item", "")).strip())
                if item_id is None:
                    raise ValueError(f"no {process_id} item has {key} {row.get('item')!r}")
                at = _moment(row.get("at"))
                author = _author(logins, row.get("by") if kind == "history" else row.get("author"))
                if kind == "history":
                    done = _history(write, process, item_id, row, at, author, last)
                else:
                    done = _comment(write, process_id, item_id, row, at, author)
            except ValueError as error:
                result.problems.append(f"row {number}: {error}")
                continue
            if done:
                result.written += 1
            else:
                result.skipped += 1
    return result


def _items(write: Write, process_id: str, key: str, wanted: set[str]) -> dict[str, int]:
    table = items.process_of(write, process_id).table
    column = table.c[key]
    keys = [int(w) for w in wanted if str(w).strip().isdigit()] if isinstance(column.type, sa.Integer) else \
        [str(w).strip() for w in wanted]
    if not keys:
        return {}
    return {str(k): int(i) for i, k in write.connection.execute(
        sa.select(table.c.id, column).where(column.in_(keys), table.c.deleted_at.is_(None)))}


def _moment(text: Any) -> datetime:
    try:
        moment = datetime.fromisoformat(str(text or "").strip())
    except ValueError:
        raise ValueError(f"at: {text!r} is not a date and time (ISO 8601)") from None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _author(logins: dict[str, int], login: Any) -> int | None:
    text = str(login or "").strip()
    if not text:
        return None
    if text not in logins:
        raise ValueError(f"no user {text!r}: add the users of users.csv first")
    return logins[text]


def _history(write: Write, process: Any, item_id: int, row: dict[str, str], at: datetime, author: int | None,
             last: dict[int, tuple[str, str]]) -> bool:
    definition = process.process
    pipeline = definition.pipeline(str(row.get("pipeline") or "").strip())
    stage = str(row.get("stage") or "").strip()
    if pipeline is None or pipeline.stage(stage) is None:
        raise ValueError(f"no stage {row.get('pipeline')}/{stage} in {definition.id}")
    history = write.compiled.tables["sf_history"]
    mine = sa.and_(history.c.process == definition.id, history.c.item_id == item_id)
    kind = str(row.get("kind") or "").strip()
    if kind == "create":
        created = write.connection.execute(sa.select(history.c.id, history.c.new, history.c.at).where(
            mine, history.c.kind == "create").order_by(history.c.id).limit(1)).first()
        last[item_id] = (pipeline.id, stage)
        if created is None:
            raise ValueError("the item has no creation to date: import the items first")
        snapshot = dict(created.new or {})
        if _same(created.at, at) and snapshot.get("stage") == stage:
            return False
        snapshot.update(pipeline=pipeline.id, stage=stage)
        write.connection.execute(sa.update(history).where(history.c.id == created.id).values(
            at=at, new=snapshot, **({"actor_id": author} if author is not None else {})))
        return True
    if kind != "move":
        raise ValueError(f"kind {kind!r}: create or move")
    before = last.get(item_id)
    last[item_id] = (pipeline.id, stage)
    seen = write.connection.execute(sa.select(history.c.at).where(
        mine, history.c.kind == "move", history.c.field == "stage", history.c.via == "import")).scalars()
    if any(_same(s, at) for s in seen):
        return False
    rows = [_row(write, definition.id, item_id, at, author, "stage", before[1] if before else None, stage)]
    if before is not None and before[0] != pipeline.id:
        rows.append(_row(write, definition.id, item_id, at, author, "pipeline", before[0], pipeline.id))
    write.connection.execute(history.insert(), rows)
    return True


def _row(write: Write, process_id: str, item_id: int, at: datetime, author: int | None, field_id: str,
         old: Any, new: Any) -> dict[str, Any]:
    return {"process": process_id, "item_id": item_id, "at": at, "actor_id": author, "kind": "move",
            "field": field_id, "old": fields.plain(old), "new": fields.plain(new), "via": "import",
            "definition_version": write.compiled.version}


def _same(stored: Any, at: datetime) -> bool:
    if not isinstance(stored, datetime):
        return False
    stored = stored.replace(tzinfo=UTC) if stored.tzinfo is None else stored.astimezone(UTC)
    return stored == at


def _comment(write: Write, process_id: str, item_id: int, row: dict[str, str], at: datetime,
             author: int | None) -> bool:
    text = str(row.get("text") or "")
    if not text.strip():
        raise ValueError("text: a comment needs its text")
    comments = write.compiled.tables["sf_comments"]
    seen = write.connection.execute(sa.select(comments.c.created_at).where(
        comments.c.process == process_id, comments.c.item_id == item_id, comments.c.text == text)).scalars()
    if any(_same(s, at) for s in seen):
        return False
    write.connection.execute(comments.insert().values(process=process_id, item_id=item_id, author_id=author,
                                                      text=text, created_at=at, via="import"))
    return True
