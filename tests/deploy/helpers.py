"""Building definitions and items for deploy tests."""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from smartflow import deploy
from smartflow.convert import to_yaml

BASE: dict[str, Any] = {
    "kind": "Process",
    "id": "deal",
    "title": {"ru": "Сделка", "en": "Deal"},
    "fields": {
        "amount": {"type": "money", "title": {"ru": "Сумма", "en": "Amount"}},
        "code": {"type": "string"},
        "kind": {"type": "enum", "options": [{"id": "retail", "title": "Розница"}, {"id": "bulk", "title": "Опт"}]},
        "note": {"type": "text"},
    },
    "pipelines": {
        "main": {
            "title": "Main",
            "default": True,
            "stages": {
                "new": {"title": "Новая"},
                "work": {"title": "В работе"},
                "won": {"title": "Успех", "semantic": "success"},
                "lost": {"title": "Провал", "semantic": "failure"},
            },
        }
    },
    "permissions": {"manager": "all"},
}


def base() -> dict[str, Any]:
    return copy.deepcopy(BASE)


def desired(tmp_path: Path, *documents: dict[str, Any]) -> deploy.Desired:
    """Write the documents as YAML files and load them the way the CLI does (validated)."""
    folder = tmp_path / f"defs{len(list(tmp_path.glob('defs*')))}"
    folder.mkdir()
    for index, document in enumerate(documents):
        (folder / f"{index}_{document.get('id', 'roles')}.yaml").write_text(to_yaml(document), encoding="utf-8")
    return deploy.load_desired([folder])


def insert_items(url: str, process: str, rows: list[dict[str, Any]]) -> list[int]:
    now = datetime(2026, 11, 1, tzinfo=UTC)
    engine = sa.create_engine(url)
    ids: list[int] = []
    try:
        with engine.begin() as connection:
            table = sa.Table(f"p_{process}", sa.MetaData(), autoload_with=connection)
            for row in rows:
                values = {"title": "item", "pipeline": "main", "stage": "new", "created_at": now,
                          "updated_at": now, **row}
                ids.append(connection.execute(table.insert().values(values)).inserted_primary_key[0])
    finally:
        engine.dispose()
    return ids


def rows(url: str, table: str, *columns: str, order: str = "id") -> list[tuple[Any, ...]]:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as connection:
            handle = sa.table(table, *(sa.column(c) for c in (*columns, order)))
            query = sa.select(*(handle.c[c] for c in columns)).order_by(handle.c[order])
            return [tuple(r) for r in connection.execute(query)]
    finally:
        engine.dispose()


def columns(url: str, table: str) -> list[str]:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as connection:
            return [c["name"] for c in sa.inspect(connection).get_columns(table)]
    finally:
        engine.dispose()


def archive(url: str) -> list[tuple[Any, ...]]:
    """The archive's rows as (process, field, reason, data, version), data decoded."""
    from smartflow.compile.sql import build_metadata
    from smartflow.model import Definition

    table = build_metadata(Definition((), ())).tables["sf_archive"]
    engine = sa.create_engine(url)
    try:
        with engine.connect() as connection:
            query = sa.select(table.c.process, table.c.field, table.c.reason, table.c.data, table.c.version_id)
            return [tuple(r) for r in connection.execute(query.order_by(table.c.id))]
    finally:
        engine.dispose()
