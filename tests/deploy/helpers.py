"""Building definitions and items for deploy tests."""

from __future__ import annotations

import copy
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from smartflow.definitions.convert import to_yaml
from smartflow.deploy import apply as deploy

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


_ENGINES: dict[str, sa.Engine] = {}


def engine(url: str) -> sa.Engine:
    """An engine for the tests' own reads and writes: one kept at a time (a new URL disposes the last)."""
    if url not in _ENGINES:
        for old in _ENGINES.values():
            old.dispose()
        _ENGINES.clear()
        _ENGINES[url] = sa.create_engine(url)
    return _ENGINES[url]


def insert_items(url: str, process: str, rows: list[dict[str, Any]]) -> list[int]:
    now = datetime(2026, 11, 1, tzinfo=UTC)
    ids: list[int] = []
    with engine(url).begin() as connection:
        table = _handle(connection, f"p_{process}")
        for row in rows:
            values = {"title": "item", "pipeline": "main", "stage": "new", "created_at": now,
                      "updated_at": now, **row}
            ids.append(connection.execute(table.insert().values(values).returning(table.c.id)).scalar_one())
    return ids


def _handle(connection: Any, name: str) -> Any:
    """A table's columns with their types (one query; reflecting the whole table costs many)."""
    return sa.table(name, *(sa.column(c["name"], c["type"]) for c in sa.inspect(connection).get_columns(name)))


def rows(url: str, table: str, *columns: str, order: str = "id") -> list[tuple[Any, ...]]:
    with engine(url).connect() as connection:
        handle = sa.table(table, *(sa.column(c) for c in (*columns, order)))
        query = sa.select(*(handle.c[c] for c in columns)).order_by(handle.c[order])
        return [tuple(r) for r in connection.execute(query)]


def columns(url: str, table: str) -> list[str]:
    with engine(url).connect() as connection:
        return [c["name"] for c in sa.inspect(connection).get_columns(table)]


def archive(url: str) -> list[tuple[Any, ...]]:
    """The archive's rows as (process, field, reason, data, version), data decoded."""
    from smartflow.compile.sql import build_metadata
    from smartflow.definitions.model import Definition

    table = build_metadata(Definition((), ())).tables["sf_archive"]
    with engine(url).connect() as connection:
        query = sa.select(table.c.process, table.c.field, table.c.reason, table.c.data, table.c.version_id)
        return [tuple(r) for r in connection.execute(query.order_by(table.c.id))]


# ---- plans as golden text, apply exactly as planned, schema compared with the definitions ----

GOLDEN = Path(__file__).resolve().parent / "golden"
REGEN_ENV = "SMARTFLOW_REGEN"  # SMARTFLOW_REGEN=1 rewrites the golden files instead of comparing


def plan_text(plan: Any, allow_data_loss: bool = False) -> str:
    """The plan as `smartflow plan` prints it, without the header naming the database."""
    from smartflow.deploy.plan.render import render_text

    return render_text(plan, allow_data_loss).split("\n", 1)[1] + "\n"


def assert_golden(name: str, text: str) -> None:
    path = GOLDEN / f"{name}.txt"
    if os.environ.get(REGEN_ENV) == "1":
        path.parent.mkdir(exist_ok=True)
        path.write_text(text, encoding="utf-8")
        return
    assert path.exists(), f"no golden file {path.name}; run the tests with {REGEN_ENV}=1 and read what it wrote"
    assert text == path.read_text(encoding="utf-8"), f"plan differs from golden/{path.name}"


def apply_as_planned(url: str, target: deploy.Desired, golden: str | None = None,
                     allow_data_loss: bool = False) -> Any:
    """Plan (checked against golden/<golden>.txt), apply, and check apply ran exactly the planned steps.

    Afterwards the same definitions plan nothing: re-applying is a no-op.
    """
    planned = deploy.plan(target, url)
    if golden is not None:
        assert_golden(golden, plan_text(planned, allow_data_loss))
    executed: list[dict[str, Any]] = []
    result = deploy.apply(target, url, allow_data_loss=allow_data_loss,
                          on_step=lambda _, op: executed.append(op.to_dict()))
    assert executed == [op.to_dict() for op in planned.operations]
    assert [op.to_dict() for op in result.operations] == executed
    assert deploy.plan(target, url).empty
    return result


def refuse(url: str, target: deploy.Desired, golden: str | None = None, allow_data_loss: bool = False) -> Any:
    """Plan (checked against golden), then check apply refuses and changes nothing; the ApplyRefused."""
    import pytest

    from smartflow.errors import ApplyRefused
    from tests.dbutil import snapshot

    planned = deploy.plan(target, url)
    if golden is not None:
        assert_golden(golden, plan_text(planned, allow_data_loss))
    before = snapshot(url)
    with pytest.raises(ApplyRefused) as refused:
        deploy.apply(target, url, allow_data_loss=allow_data_loss)
    assert refused.value.reasons == planned.refused(allow_data_loss)
    assert snapshot(url) == before
    return refused.value


def _kind(column: dict[str, Any]) -> str:
    try:
        return str(column["type"].python_type.__name__)
    except NotImplementedError:
        return type(column["type"]).__name__


def schema(url: str, prefix: str = "p_") -> dict[str, dict[str, Any]]:
    """The process tables as reflected: columns (value kind, nullable), indexes, unique constraints, references."""
    out: dict[str, dict[str, Any]] = {}
    with engine(url).connect() as connection:
        inspector = sa.inspect(connection)
        for name in sorted(n for n in inspector.get_table_names() if n.startswith(prefix)):
            out[name] = {
                "columns": {c["name"]: (_kind(c), bool(c["nullable"])) for c in inspector.get_columns(name)},
                "indexes": {i["name"]: (tuple(i["column_names"]), bool(i["unique"]))
                            for i in inspector.get_indexes(name) if "duplicates_constraint" not in i},
                "partial": sorted(i["name"] for i in inspector.get_indexes(name)
                                  if any(k.endswith("_where") and v is not None
                                         for k, v in (i.get("dialect_options") or {}).items())),
                "unique": {u["name"]: tuple(u["column_names"]) for u in inspector.get_unique_constraints(name)},
                "references": sorted((tuple(f["constrained_columns"]), f["referred_table"],
                                      (f.get("options") or {}).get("ondelete"))
                                     for f in inspector.get_foreign_keys(name)),
            }
    return out


def expected_schema(definition: Any, prefix: str = "p_") -> dict[str, dict[str, Any]]:
    """What `schema` reflects from a database holding exactly the tables the definitions compile to."""
    from smartflow.compile.sql import build_metadata

    out: dict[str, dict[str, Any]] = {}
    for table in build_metadata(definition).tables.values():
        if not table.name.startswith(prefix):
            continue
        out[table.name] = {
            "columns": {c.name: (c.type.python_type.__name__, bool(c.nullable)) for c in table.columns},
            "indexes": {i.name: (tuple(c.name for c in i.columns), bool(i.unique)) for i in table.indexes},
            "partial": sorted(str(i.name) for i in table.indexes
                              if any(options.get("where") is not None for options in i.dialect_options.values())),
            "unique": {c.name: tuple(col.name for col in c.columns) for c in table.constraints
                       if isinstance(c, sa.UniqueConstraint)},
            "references": sorted((tuple(f.column_keys), f.referred_table.name, f.ondelete)
                                 for f in table.foreign_key_constraints),
        }
    return dict(sorted(out.items()))


def assert_schema_matches(url: str, target: deploy.Desired) -> None:
    """The migrated tables are exactly those a fresh apply of the definitions would create."""
    assert schema(url) == expected_schema(target.definition)


def insert(url: str, table: str, values: list[dict[str, Any]]) -> None:
    """Rows into any table (side tables, sf_users), as they are."""
    with engine(url).begin() as connection:
        connection.execute(_handle(connection, table).insert(), values)


def add_user(url: str, login: str = "ivanov") -> int:
    insert(url, "sf_users", [{"login": login, "name": login.title(), "created_at": datetime(2026, 11, 1, tzinfo=UTC)}])
    found = rows(url, "sf_users", "id", "login")
    return int(next(i for i, name in found if name == login))


def execute(url: str, statement: str, **params: Any) -> None:
    """One SQL statement, committed (for data the runtime would write)."""
    with engine(url).begin() as connection:
        connection.execute(sa.text(statement), params)
