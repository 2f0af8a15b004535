"""Plan operations: each says what it will do and to which data, and does exactly that.

One list of these objects is printed by `smartflow plan`, refused or executed by
`smartflow apply`, and stored with the version it produced (the habit of alembic's `*Op`
objects): a plan that says one thing and an apply that does another cannot happen.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import field
from datetime import datetime
from typing import Any, ClassVar

import sqlalchemy as sa
from sqlalchemy.schema import AddConstraint, CreateTable

from smartflow.compile.sql import (
    EVERY_PIPELINE,
    EVERY_PROCESS,
    LEGACY_GRANTS,
    currency_column,
    field_columns,
    item_table_name,
    legacy_unique_index_name,
    precision_of,
    values_constraint_names,
    values_table_name,
)
from smartflow.definitions.model import Field, Process
from smartflow.deploy.plan.values import Unconvertible, convert, jsonable
from smartflow.records import record

BATCH = 1000


@record
class Context:
    """What executing operations needs: the connection, the target schema, the flags."""

    connection: Any
    desired: sa.MetaData
    allow_data_loss: bool
    now: datetime
    _operations: Any = None

    @property
    def ops(self) -> Any:
        if self._operations is None:
            from alembic.migration import MigrationContext
            from alembic.operations import Operations

            self._operations = Operations(MigrationContext.configure(self.connection))
        return self._operations

    @contextmanager
    def batch(self, table: str) -> Iterator[Any]:
        """Alter a table: in place on PostgreSQL, copy-and-swap on SQLite (same transaction)."""
        with self.ops.batch_alter_table(table, recreate="auto") as batch:
            yield batch

    def archive(self, process: str, reason: str, rows: list[tuple[int | None, str | None, Any]]) -> None:
        """Keep data that a step removes: one archive row per item and field."""
        if not rows:
            return
        archive = self.desired.tables["sf_archive"]
        payload = [
            {"process": process, "item_id": item_id, "field": field_id, "reason": reason,
             "data": jsonable(data), "archived_at": self.now}
            for item_id, field_id, data in rows
        ]
        for start in range(0, len(payload), BATCH):
            self.connection.execute(archive.insert(), payload[start:start + BATCH])


def add_column(ctx: Context, table: str, column: sa.Column[Any]) -> None:
    """Add a column with its reference, if any (SQLite can't add a foreign key to a table in place)."""
    if ctx.connection.dialect.name != "sqlite" or not column.foreign_keys:
        ctx.ops.add_column(table, column)
        return
    with ctx.batch(table) as batch:  # a copy-and-swap; alembic wants the added constraint named
        batch.add_column(sa.Column(column.name, column.type, nullable=True))
        for fk in column.foreign_keys:
            target_table, target_column = fk.target_fullname.split(".")
            batch.create_foreign_key(f"fk_{table}_{column.name}_{target_table}", target_table, [column.name],
                                     [target_column], ondelete=fk.ondelete)


def item_table(process_id: str, *columns: str) -> Any:
    """A lightweight handle on an item table naming only the columns a step touches."""
    return sa.table(item_table_name(process_id), sa.column("id"), *(sa.column(c) for c in columns))


@record(kw_only=True)
class Op:
    """One step of a plan."""

    symbol: ClassVar[str] = "~"
    process: str | None = None
    effect: str | None = None
    needs_data_loss: str | None = None  # refused unless --allow-data-loss; says why
    impossible: str | None = None  # refused whatever the flags; says what to do instead

    @property
    def kind(self) -> str:
        name = type(self).__name__
        return "".join("_" + c.lower() if c.isupper() else c for c in name).lstrip("_")

    def describe(self) -> str:
        raise NotImplementedError

    def execute(self, ctx: Context) -> None:
        """Carry the step out; informational steps change nothing but the version."""

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "symbol": self.symbol, "process": self.process, "text": self.describe(),
                "effect": self.effect, "needs_data_loss": self.needs_data_loss, "impossible": self.impossible}


@record(kw_only=True)
class Note(Op):
    """A change of the definition with no effect on the database's tables or items."""

    text: str
    sign: str = "~"

    def describe(self) -> str:
        return self.text

    def to_dict(self) -> dict[str, Any]:
        out = super().to_dict()
        out["symbol"] = self.sign
        return out


@record(kw_only=True)
class CreateSystemTables(Op):
    """smartflow's own tables: all of them on a first deploy, the new ones after an upgrade."""

    symbol: ClassVar[str] = "+"
    tables: list[str]

    def describe(self) -> str:
        from smartflow.compile.sql import SYSTEM_TABLE_NAMES

        if len(self.tables) == len(SYSTEM_TABLE_NAMES):
            return "create smartflow's system tables (" + ", ".join(t.removeprefix("sf_") for t in self.tables) + ")"
        moved = (f" (users' roles move from {LEGACY_GRANTS}, if there, each held in every process)"
                 if "sf_role_grants" in self.tables else "")
        return "create smartflow's new system tables " + ", ".join(self.tables) + moved

    def execute(self, ctx: Context) -> None:
        ctx.desired.create_all(ctx.connection, tables=[ctx.desired.tables[name] for name in self.tables])
        if "sf_role_grants" in self.tables and sa.inspect(ctx.connection).has_table(LEGACY_GRANTS):
            # roles of a database older than per-process roles: each held in every process, as before
            ctx.connection.execute(sa.text(f"INSERT INTO sf_role_grants (user_id, role, process) "
                                           f"SELECT user_id, role, '{EVERY_PROCESS}' FROM {LEGACY_GRANTS}"))
            ctx.connection.execute(sa.text(f"DROP TABLE {LEGACY_GRANTS}"))


@record(kw_only=True)
class AddSystemColumns(Op):
    """Columns a newer smartflow added to one of its own tables (nullable: old rows read as empty)."""

    symbol: ClassVar[str] = "+"
    table: str
    columns: list[str]

    def describe(self) -> str:
        return f"add column(s) {', '.join(self.columns)} to smartflow's table {self.table}"

    def execute(self, ctx: Context) -> None:
        for name in self.columns:
            column = ctx.desired.tables[self.table].c[name]
            references = [sa.ForeignKey(fk.target_fullname, ondelete=fk.ondelete) for fk in column.foreign_keys]
            add_column(ctx, self.table, sa.Column(name, column.type, *references, nullable=True))


@record(kw_only=True)
class WidenRoleGrants(Op):
    """Role grants get a pipeline (a key column, so a table rebuild): each existing grant is kept, held
    in every pipeline of its process(es) as before."""

    symbol: ClassVar[str] = "~"
    table: str = "sf_role_grants"

    def describe(self) -> str:
        return ("rebuild smartflow's table sf_role_grants with a pipeline column (roles held in some pipelines "
                "only); every existing grant is kept, in every pipeline as before")

    def execute(self, ctx: Context) -> None:
        kept = f"{self.table}_before_pipelines"
        connection = ctx.connection
        connection.execute(sa.text(f"CREATE TABLE {kept} AS SELECT user_id, role, process FROM {self.table}"))
        connection.execute(sa.text(f"DROP TABLE {self.table}"))
        ctx.desired.tables[self.table].create(connection)
        connection.execute(sa.text(f"INSERT INTO {self.table} (user_id, role, process, pipeline) "
                                   f"SELECT user_id, role, process, '{EVERY_PIPELINE}' FROM {kept}"))
        connection.execute(sa.text(f"DROP TABLE {kept}"))


@record(kw_only=True)
class CreateProcess(Op):
    """Create a new process's tables."""

    symbol: ClassVar[str] = "+"
    definition: Process
    tables: list[str] = field(default_factory=list)

    def describe(self) -> str:
        return (f"create process `{self.definition.id}` «{self.definition.title.get()}»: "
                f"{len(self.definition.fields)} fields, {len(self.definition.pipelines)} pipeline(s); "
                f"tables {', '.join(self.tables)}")

    def execute(self, ctx: Context) -> None:
        if ctx.connection.dialect.name == "sqlite":  # SQLite accepts references to tables not created yet
            for name in self.tables:
                ctx.desired.tables[name].create(ctx.connection)
            return
        # PostgreSQL: links to processes created later in this plan are added when those are created
        existing = set(sa.inspect(ctx.connection).get_table_names())
        for name in self.tables:
            table = ctx.desired.tables[name]
            ready = [fk for fk in table.foreign_key_constraints
                     if fk.referred_table.name in existing or fk.referred_table.name in self.tables]
            ctx.connection.execute(CreateTable(table, include_foreign_key_constraints=ready))
            for index in table.indexes:
                index.create(ctx.connection)
            existing.add(name)
        inspector = sa.inspect(ctx.connection)
        for other in ctx.desired.tables.values():
            if other.name not in existing or other.name in self.tables:
                continue
            if not any(fk.referred_table.name in self.tables for fk in other.foreign_key_constraints):
                continue  # reflect only the tables that point here (not every table, for every process)
            present = {(tuple(fk["constrained_columns"]), fk["referred_table"])
                       for fk in inspector.get_foreign_keys(other.name)}
            for fk in other.foreign_key_constraints:
                key = (tuple(fk.column_keys), fk.referred_table.name)
                if fk.referred_table.name in self.tables and key not in present:
                    ctx.connection.execute(AddConstraint(fk))


@record(kw_only=True)
class DropProcess(Op):
    """Drop a removed process's tables, its items and their values archived first."""

    symbol: ClassVar[str] = "-"
    tables: list[str]
    items: int = 0

    def describe(self) -> str:
        return f"remove process `{self.process}` and its tables {', '.join(self.tables)}"

    def execute(self, ctx: Context) -> None:
        assert self.process is not None
        if self.items:
            rows = ctx.connection.execute(sa.text(f"SELECT * FROM {item_table_name(self.process)} ORDER BY id"))
            ctx.archive(self.process, "process removed",
                        [(row["id"], None, {k: jsonable(v) for k, v in row.items()}) for row in rows.mappings()])
            for name in self.tables[1:]:  # multiple fields' values and observers: per item, in order
                side = name.removeprefix(item_table_name(self.process) + "__")
                column, order = ("user_id", "user_id") if side == "observers" else ("value", "position")
                grouped: dict[int, list[Any]] = {}
                for item_id, value in ctx.connection.execute(
                        sa.text(f"SELECT item_id, {column} FROM {name} ORDER BY item_id, {order}")):
                    grouped.setdefault(item_id, []).append(jsonable(value))
                ctx.archive(self.process, "process removed", [(i, side, v) for i, v in grouped.items()])
        for name in reversed(self.tables):
            ctx.ops.drop_table(name)


@record(kw_only=True)
class AddField(Op):
    """Add a field's column (or values table), filled for existing items where it must be."""

    symbol: ClassVar[str] = "+"
    definition: Field
    fill: Any = None
    items: int = 0

    def describe(self) -> str:
        f = self.definition
        extra = ", required" if f.required else ""
        extra += ", multiple" if f.multiple else ""
        text = f"process `{self.process}`: add field `{f.id}` ({f.type}{extra})"
        if self.fill is not None and self.items:
            shown = f.backfill if f.backfill is not None else f.default  # as written, not as stored
            text += f", filled with {shown!r} in the {self.items} existing items"
        return text

    def execute(self, ctx: Context) -> None:
        assert self.process is not None
        f = self.definition
        if f.multiple:
            ctx.desired.tables[values_table_name(self.process, f.id)].create(ctx.connection)
            if self.fill is not None and self.items:
                fill_values(ctx, self.process, f, self.fill)
            return
        table = item_table_name(self.process)
        for column in field_columns(f):
            add_column(ctx, table, column)
        for index in ctx.desired.tables[table].indexes:
            if [c.name for c in index.columns] == [f.id]:
                index.create(ctx.connection)
        if self.fill is not None and self.items:
            ctx.connection.execute(sa.update(item_table(self.process, f.id)).values({f.id: self.fill}))


def fill_values(ctx: Context, process_id: str, field: Field, values: list[Any]) -> None:
    """Give every item holding no value of a multiple field these values (its default or backfill)."""
    table = ctx.desired.tables[values_table_name(process_id, field.id)]
    items = item_table(process_id)
    empty = sa.select(items.c.id).where(items.c.id.not_in(sa.select(table.c.item_id))).order_by(items.c.id)
    rows = [{"item_id": item_id, "position": position, "value": value}
            for item_id in ctx.connection.execute(empty).scalars() for position, value in enumerate(values)]
    for start in range(0, len(rows), BATCH):
        ctx.connection.execute(table.insert(), rows[start:start + BATCH])


@record(kw_only=True)
class DropField(Op):
    """Drop a removed field's column (or values table), its values archived first."""

    symbol: ClassVar[str] = "-"
    definition: Field
    filled: int = 0

    def describe(self) -> str:
        return f"process `{self.process}`: remove field `{self.definition.id}` ({self.definition.type})"

    def execute(self, ctx: Context) -> None:
        assert self.process is not None
        f = self.definition
        if f.multiple:
            name = values_table_name(self.process, f.id)
            if self.filled:
                rows = ctx.connection.execute(sa.text(f"SELECT item_id, value FROM {name} ORDER BY item_id, position"))
                grouped: dict[int, list[Any]] = {}
                for item_id, value in rows:
                    grouped.setdefault(item_id, []).append(jsonable(value))
                ctx.archive(self.process, "field removed", [(i, f.id, v) for i, v in grouped.items()])
            ctx.ops.drop_table(name)
            return
        columns = [c.name for c in field_columns(f)]
        if self.filled:
            handle = item_table(self.process, *columns)
            rows = ctx.connection.execute(sa.select(handle).where(handle.c[f.id].is_not(None)))
            ctx.archive(self.process, "field removed",
                        [(row.id, f.id, [jsonable(v) for v in row[1:]] if len(columns) > 1 else jsonable(row[1]))
                         for row in rows])
        drop_field_indexes(ctx, self.process, f.id)
        with ctx.batch(item_table_name(self.process)) as batch:
            for column in columns:
                batch.drop_column(column)


def drop_field_indexes(ctx: Context, process_id: str, field_id: str) -> None:
    inspector = sa.inspect(ctx.connection)
    for index in inspector.get_indexes(item_table_name(process_id)):
        if field_id in index["column_names"]:
            ctx.ops.drop_index(index["name"], table_name=item_table_name(process_id))


def create_field_indexes(ctx: Context, process_id: str, field_id: str) -> None:
    for index in ctx.desired.tables[item_table_name(process_id)].indexes:
        if field_id in [c.name for c in index.columns]:
            index.create(ctx.connection)


def rename_values_table(ctx: Context, process_id: str, old_id: str, new_id: str) -> None:
    """Rename a multiple field's table with its constraint and index, so that the old names are free again."""
    old_name, new_name = values_table_name(process_id, old_id), values_table_name(process_id, new_id)
    ctx.ops.rename_table(old_name, new_name)
    old_unique, old_index = values_constraint_names(process_id, old_id)
    new_unique, new_index = values_constraint_names(process_id, new_id)
    if ctx.connection.dialect.name == "sqlite":  # no renaming a constraint: copy-and-swap under the new names
        existing = sa.Table(new_name, sa.MetaData(), autoload_with=ctx.connection)
        for item in [*existing.constraints, *existing.indexes]:
            item.name = {old_unique: new_unique, old_index: new_index}.get(str(item.name), item.name)
        with ctx.ops.batch_alter_table(new_name, recreate="always", copy_from=existing):
            pass
        return
    ctx.connection.exec_driver_sql(f"ALTER TABLE {new_name} RENAME CONSTRAINT {old_unique} TO {new_unique}")
    ctx.connection.exec_driver_sql(f"ALTER INDEX {old_index} RENAME TO {new_index}")


@record(kw_only=True)
class RenameField(Op):
    """Rename a field's column, keeping its values."""

    old: Field
    new: Field
    filled: int = 0

    def describe(self) -> str:
        return f"process `{self.process}`: rename field `{self.old.id}` to `{self.new.id}` (values kept)"

    def execute(self, ctx: Context) -> None:
        assert self.process is not None
        if self.new.multiple:
            rename_values_table(ctx, self.process, self.old.id, self.new.id)
            return
        drop_field_indexes(ctx, self.process, self.old.id)
        with ctx.batch(item_table_name(self.process)) as batch:
            batch.alter_column(self.old.id, new_column_name=self.new.id)
            if self.new.type == "money":
                batch.alter_column(currency_column(self.old.id), new_column_name=currency_column(self.new.id))
        create_field_indexes(ctx, self.process, self.new.id)


@record(kw_only=True)
class RewriteField(Op):
    """A type or precision change: every stored value converted, the unconvertible archived."""

    old: Field
    new: Field
    filled: int = 0
    unconvertible: int = 0
    samples: list[str] = field(default_factory=list)

    def describe(self) -> str:
        change = (f"becomes {self.new.type}" if self.old.type != self.new.type
                  else f"changes precision {precision_of(self.old)} → {precision_of(self.new)}")
        return f"process `{self.process}`: field `{self.new.id}` {change} ({self.old.type} → {self.new.type})"

    def execute(self, ctx: Context) -> None:
        assert self.process is not None
        if self.new.multiple:
            self._rewrite_values(ctx)
            return
        f_id = self.new.id
        handle = item_table(self.process, f_id)
        converted: list[dict[str, Any]] = []
        lost: list[tuple[int | None, str | None, Any]] = []
        query = sa.select(handle.c.id, handle.c[f_id]).where(handle.c[f_id].is_not(None)).order_by(handle.c.id)
        for row in ctx.connection.execute(query):
            try:
                converted.append({"row_id": row.id, "value": convert(row[1], self.old, self.new)})
            except Unconvertible:
                lost.append((row.id, f_id, row[1]))
        ctx.archive(self.process, f"field type changed to {self.new.type}", lost)
        temp = f"{f_id}__new"
        drop_field_indexes(ctx, self.process, f_id)
        new_column = field_columns(self.new)[0]
        references = [sa.ForeignKey(fk.target_fullname, ondelete=fk.ondelete) for fk in new_column.foreign_keys]
        add_column(ctx, item_table_name(self.process), sa.Column(temp, new_column.type, *references, nullable=True))
        target = sa.table(item_table_name(self.process), sa.column("id"), sa.column(temp))
        statement = sa.update(target).where(target.c.id == sa.bindparam("row_id")).values({temp: sa.bindparam("value")})
        for start in range(0, len(converted), BATCH):
            ctx.connection.execute(statement, converted[start:start + BATCH])
        with ctx.batch(item_table_name(self.process)) as batch:
            batch.drop_column(f_id)
        with ctx.batch(item_table_name(self.process)) as batch:
            batch.alter_column(temp, new_column_name=f_id)
        if self.old.type == "money" and self.new.type != "money":
            with ctx.batch(item_table_name(self.process)) as batch:
                batch.drop_column(currency_column(f_id))
        elif self.new.type == "money" and self.old.type != "money":
            ctx.ops.add_column(item_table_name(self.process), sa.Column(currency_column(f_id), sa.String(3)))
        create_field_indexes(ctx, self.process, f_id)

    def _rewrite_values(self, ctx: Context) -> None:
        """A multiple field: its table is built again with the converted values, in the same order."""
        assert self.process is not None
        name = values_table_name(self.process, self.new.id)
        columns = ["item_id", "position", "value"] + (["currency"] if self.old.type == "money" else [])
        handle = sa.table(name, sa.column("id"), *(sa.column(c) for c in columns))
        kept: list[dict[str, Any]] = []
        lost: list[tuple[int | None, str | None, Any]] = []
        for row in ctx.connection.execute(sa.select(*(handle.c[c] for c in columns)).order_by(handle.c.id)):
            values = dict(row._mapping)
            try:
                values["value"] = convert(values["value"], self.old, self.new)
            except Unconvertible:
                lost.append((values["item_id"], self.new.id, values["value"]))
                continue
            if self.new.type != "money":
                values.pop("currency", None)
            kept.append(values)
        ctx.archive(self.process, f"field type changed to {self.new.type}", lost)
        ctx.ops.drop_table(name)
        table = ctx.desired.tables[name]
        table.create(ctx.connection)
        for start in range(0, len(kept), BATCH):
            ctx.connection.execute(table.insert(), kept[start:start + BATCH])


@record(kw_only=True)
class FillRequired(Op):
    """Fill a field that became required where items leave it empty."""

    definition: Field
    empty: int = 0
    backfill: Any = None

    def describe(self) -> str:
        text = f"process `{self.process}`: field `{self.definition.id}` becomes required"
        if self.backfill is not None and self.empty:
            text += f"; {self.empty} empty values filled with {self.definition.backfill!r}"
        return text

    def execute(self, ctx: Context) -> None:
        if self.backfill is None or not self.empty:
            return
        assert self.process is not None
        if self.definition.multiple:
            fill_values(ctx, self.process, self.definition, self.backfill)
            return
        handle = item_table(self.process, self.definition.id)
        ctx.connection.execute(
            sa.update(handle).where(handle.c[self.definition.id].is_(None)).values({self.definition.id: self.backfill})
        )


@record(kw_only=True)
class SetUnique(Op):
    """Add or drop a field's unique index (refused while values repeat)."""

    definition: Field
    unique: bool
    duplicates: int = 0

    def describe(self) -> str:
        state = "becomes unique" if self.unique else "is no longer unique"
        return f"process `{self.process}`: field `{self.definition.id}` {state}"

    def execute(self, ctx: Context) -> None:
        assert self.process is not None
        drop_field_indexes(ctx, self.process, self.definition.id)
        create_field_indexes(ctx, self.process, self.definition.id)


@record(kw_only=True)
class ReleaseUniqueValues(Op):
    """An older deployment's full unique index becomes one over the items not in the recycle bin."""

    field_id: str

    def describe(self) -> str:
        return (f"process `{self.process}`: items in the recycle bin no longer hold the values of unique field "
                f"`{self.field_id}` (its index is rebuilt)")

    def execute(self, ctx: Context) -> None:
        assert self.process is not None
        table = item_table_name(self.process)
        existing = {index["name"] for index in sa.inspect(ctx.connection).get_indexes(table)}
        legacy = legacy_unique_index_name(self.process, self.field_id)
        if legacy in existing:  # another step of the plan may have rebuilt the field's indexes already
            ctx.ops.drop_index(legacy, table_name=table)
        for index in ctx.desired.tables[table].indexes:
            if index.unique and [c.name for c in index.columns] == [self.field_id] and index.name not in existing:
                index.create(ctx.connection)


@record(kw_only=True)
class EmptyTextToNull(Op):
    """Text fields holding `''` (stored by a card save before empty meant NULL) get NULL, which every
    path stores for an empty value now: the same meaning, and a unique index no longer counts them.
    Planned from the live table, first, so the columns are the live ones."""

    field_ids: tuple[str, ...]
    items: int = 0

    def describe(self) -> str:
        names = ", ".join(f"`{f}`" for f in self.field_ids)
        return (f"process `{self.process}`: {self.items} items hold empty text ('') in {names}: "
                "stored as no value (NULL)")

    def execute(self, ctx: Context) -> None:
        assert self.process is not None
        for field_id in self.field_ids:
            handle = item_table(self.process, field_id)
            ctx.connection.execute(sa.update(handle).where(handle.c[field_id] == "").values({field_id: None}))


@record(kw_only=True)
class RemoveOption(Op):
    """Remove an option of a select field (refused, or its values archived, while items hold it)."""

    symbol: ClassVar[str] = "-"
    definition: Field
    option: str
    in_use: int = 0

    def describe(self) -> str:
        return f"process `{self.process}`: remove option `{self.option}` of field `{self.definition.id}`"

    def execute(self, ctx: Context) -> None:
        assert self.process is not None
        if not self.in_use:
            return
        f_id = self.definition.id
        if self.definition.multiple:
            values = sa.table(values_table_name(self.process, f_id), sa.column("item_id"), sa.column("value"))
            rows = ctx.connection.execute(sa.select(values.c.item_id).where(values.c.value == self.option)).all()
            ctx.archive(self.process, f"option {self.option} removed", [(r.item_id, f_id, self.option) for r in rows])
            ctx.connection.execute(sa.delete(values).where(values.c.value == self.option))
            return
        handle = item_table(self.process, f_id)
        rows = ctx.connection.execute(sa.select(handle.c.id).where(handle.c[f_id] == self.option)).all()
        ctx.archive(self.process, f"option {self.option} removed", [(r.id, f_id, self.option) for r in rows])
        ctx.connection.execute(sa.update(handle).where(handle.c[f_id] == self.option).values({f_id: None}))


@record(kw_only=True)
class RenameOption(Op):
    """Rename an option of a select field, in every item that holds it."""

    definition: Field
    old: str
    new: str
    in_use: int = 0

    def describe(self) -> str:
        return f"process `{self.process}`: rename option `{self.old}` of field `{self.definition.id}` to `{self.new}`"

    def execute(self, ctx: Context) -> None:
        assert self.process is not None
        f_id = self.definition.id
        if self.definition.multiple:
            values = sa.table(values_table_name(self.process, f_id), sa.column("value"))
            ctx.connection.execute(sa.update(values).where(values.c.value == self.old).values(value=self.new))
            return
        handle = item_table(self.process, f_id)
        ctx.connection.execute(sa.update(handle).where(handle.c[f_id] == self.old).values({f_id: self.new}))


@record(kw_only=True)
class MoveItems(Op):
    """Items leave a pipeline or stage that is renamed, replaced or removed."""

    pipeline: str
    stage: str | None  # None: every stage of the pipeline
    to_pipeline: str
    to_stage: str | None  # None: keep the stage id (a pipeline rename)
    items: int = 0
    reason: str = "renamed"

    @property
    def symbol(self) -> str:  # type: ignore[override]
        return "-" if self.reason == "removed" else "~"

    def describe(self) -> str:
        if self.stage is None:
            what = f"pipeline `{self.pipeline}`"
            if self.reason == "renamed":
                return f"process `{self.process}`: rename pipeline `{self.pipeline}` to `{self.to_pipeline}`"
            return (f"process `{self.process}`: remove {what}; its items go to "
                    f"`{self.to_pipeline}`/`{self.to_stage}`")
        if self.reason == "renamed":
            return f"process `{self.process}`: rename stage `{self.stage}` of `{self.pipeline}` to `{self.to_stage}`"
        if self.reason == "replaced":
            return (f"process `{self.process}`: remove stage `{self.stage}` of `{self.pipeline}`; "
                    f"its items move to `{self.to_stage}`")
        return (f"process `{self.process}`: remove stage `{self.stage}` of `{self.pipeline}`; "
                f"its items go to `{self.to_pipeline}`/`{self.to_stage}`")

    def execute(self, ctx: Context) -> None:
        assert self.process is not None
        if not self.items:
            return
        handle = item_table(self.process, "pipeline", "stage")
        where = handle.c.pipeline == self.pipeline
        if self.stage is not None:
            where = sa.and_(where, handle.c.stage == self.stage)
        if self.reason == "removed":
            rows = ctx.connection.execute(sa.select(handle.c.id, handle.c.pipeline, handle.c.stage).where(where))
            ctx.archive(self.process, f"{'stage' if self.stage else 'pipeline'} removed",
                        [(r.id, None, {"pipeline": r.pipeline, "stage": r.stage}) for r in rows])
        values: dict[str, Any] = {"pipeline": self.to_pipeline}
        if self.to_stage is not None:
            values["stage"] = self.to_stage
        ctx.connection.execute(sa.update(handle).where(where).values(values))


@record(kw_only=True)
class AddTable(Op):
    """A side table a feature needs (observers)."""

    symbol: ClassVar[str] = "+"
    table: str
    reason: str

    def describe(self) -> str:
        return f"process `{self.process}`: {self.reason} (table {self.table})"

    def execute(self, ctx: Context) -> None:
        ctx.desired.tables[self.table].create(ctx.connection)


@record(kw_only=True)
class DropTable(Op):
    """Drop a table of a feature switched off (observers), its rows archived first."""

    symbol: ClassVar[str] = "-"
    table: str
    reason: str
    rows: int = 0

    def describe(self) -> str:
        return f"process `{self.process}`: {self.reason} (table {self.table})"

    def execute(self, ctx: Context) -> None:
        assert self.process is not None
        if self.rows:
            data = ctx.connection.execute(sa.text(f"SELECT * FROM {self.table}")).mappings()
            ctx.archive(self.process, self.reason, [(None, None, {k: jsonable(v) for k, v in r.items()}) for r in data])
        ctx.ops.drop_table(self.table)


@record(kw_only=True)
class AddColumns(Op):
    """Add the columns a feature switched on needs (begin and close dates) to a process's table."""

    symbol: ClassVar[str] = "+"
    columns: list[str]
    reason: str

    def describe(self) -> str:
        return f"process `{self.process}`: {self.reason} (columns {', '.join(self.columns)})"

    def execute(self, ctx: Context) -> None:
        assert self.process is not None
        table = ctx.desired.tables[item_table_name(self.process)]
        for name in self.columns:
            column = table.c[name]
            ctx.ops.add_column(table.name, sa.Column(name, column.type, nullable=True))


@record(kw_only=True)
class DropColumns(Op):
    """Drop the columns of a feature switched off from a process's table, their values archived first."""

    symbol: ClassVar[str] = "-"
    columns: list[str]
    reason: str
    filled: int = 0

    def describe(self) -> str:
        return f"process `{self.process}`: {self.reason} (columns {', '.join(self.columns)})"

    def execute(self, ctx: Context) -> None:
        assert self.process is not None
        handle = item_table(self.process, *self.columns)
        if self.filled:
            rows = ctx.connection.execute(sa.select(handle).where(sa.or_(*(handle.c[c].is_not(None)
                                                                           for c in self.columns))))
            ctx.archive(self.process, self.reason,
                        [(r.id, None, {c: jsonable(r._mapping[c]) for c in self.columns}) for r in rows])
        with ctx.batch(item_table_name(self.process)) as batch:
            for name in self.columns:
                batch.drop_column(name)


@record(kw_only=True)
class RecordVersion(Op):
    """Record the deployed definition as a new version."""

    symbol: ClassVar[str] = "="
    hash: str
    number: int

    def describe(self) -> str:
        return f"record definition version {self.number} ({self.hash[:12]})"
