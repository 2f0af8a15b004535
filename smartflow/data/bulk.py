"""New items of an import written many at a time, after the very checks of a single create.

Each row is checked by `items.new_item`, the function `items.create` runs: rights, pipeline and
stage, types, references, required fields, the stage's required fields and a transition into
it. Unique values, which a create asks the database for one by one, are asked for once per
chunk; a value already taken (in the table, or by an earlier row of the chunk) is then checked
by the same `check_unique` a create runs, so the message is the same, word for word. The rows
are written by `items.insert_new`, the same rows a create writes: the item rows, their multiple
values and their history rows, each table's in one driver call (COPY on PostgreSQL, an
executemany on SQLite; runtime/bulkwrite.py), their ids taken first.

Not for a process whose changes a trigger hears (its triggers run per item, between rows, as a
create runs them), nor one with a link to itself (a row may name an item an earlier row
created): the importer then creates row by row.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import field
from typing import Any

import sqlalchemy as sa

from smartflow.definitions.model import Field
from smartflow.errors import ItemError
from smartflow.records import record
from smartflow.runtime import fields, items
from smartflow.runtime.compiled import CompiledProcess
from smartflow.runtime.items import NewItem, Write

CHUNK = 1000  # rows per executemany: sqlite's and psycopg's sweet spot, and a bounded memory


def usable(write: Write, process: CompiledProcess) -> bool:
    """Whether new items of process may be written many at a time (see the module's docstring)."""
    links_itself = any(f.type == "link" and f.to == process.process.id for f in process.process.fields)
    return not links_itself and not items.watched(write, process.process.id)


@record
class Pending:
    """A chunk of checked rows not yet written: each row's tag (its place in the file) and new item.

    written(tags, ids, news) hears which rows became which items; failed(tag, error) which row
    was refused for a unique value (the only check left to the chunk) or by the database."""

    write: Write
    process: CompiledProcess
    written: Callable[[list[Any], list[int], list[NewItem]], None]
    failed: Callable[[Any, Exception], None]
    tags: list[Any] = field(default_factory=list)
    news: list[NewItem] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.unique = [f for f in self.process.process.fields if f.unique and not f.multiple]

    def add(self, tag: Any, new: NewItem) -> None:
        """Queue an item checked by `items.new_item(..., unique=False)`."""
        self.tags.append(tag)
        self.news.append(new)
        if len(self.news) >= CHUNK:
            self.flush()

    def flush(self) -> None:
        """Check the queued items' unique values and write them, in the order they came."""
        if not self.news:
            return
        tags, news = self.tags, self.news
        self.tags, self.news = [], []
        if not self.unique:
            self._write(tags, news)
            return
        stored_values = [self._stored(new) for new in news]
        in_table = {unique.id: self._in_table(unique, stored_values) for unique in self.unique}
        seen: dict[str, set[Any]] = {unique.id: set() for unique in self.unique}
        ready_tags: list[Any] = []
        ready: list[NewItem] = []
        for tag, new, stored in zip(tags, news, stored_values, strict=True):
            if any(value in in_table[key] or value in seen[key] for key, value in stored.items()):
                if ready:  # the rows before this one are written first, as one create after another would be
                    self._write(ready_tags, ready)
                    ready_tags, ready = [], []
                try:
                    items.check_unique(self.write, self.process, new.item, None)  # raises, as create would
                except ItemError as error:
                    self.failed(tag, error)
                    continue
            for key, value in stored.items():
                seen[key].add(value)
            ready_tags.append(tag)
            ready.append(new)
        if ready:
            self._write(ready_tags, ready)

    def _write(self, tags: list[Any], news: list[NewItem]) -> None:
        """insert_new in a savepoint; when the database refuses the chunk (a value taken by another
        session since it was checked), the rows are written one by one to name the ones refused."""
        try:
            with self.write.connection.begin_nested():
                ids = items.insert_new(self.write, news)
        except sa.exc.IntegrityError:
            for tag, new in zip(tags, news, strict=True):
                try:
                    with self.write.connection.begin_nested():
                        ids = items.insert_new(self.write, [new])
                except sa.exc.IntegrityError as error:
                    self.failed(tag, error)
                    continue
                self.written([tag], ids, [new])
            return
        self.written(tags, ids, news)

    def _stored(self, new: NewItem) -> dict[str, Any]:
        return {unique.id: fields.stored_scalar(unique, new.item[unique.id]) for unique in self.unique
                if not fields.is_empty(new.item.get(unique.id))}

    def _in_table(self, unique: Field, stored_values: list[dict[str, Any]]) -> set[Any]:
        """The chunk's values of a unique field that an item of the table holds already: one query."""
        wanted = {value for stored in stored_values if (value := stored.get(unique.id)) is not None}
        if not wanted:
            return set()
        table = self.process.table
        column = table.c[unique.id]
        # items in the recycle bin hold no unique values: and the unique index, partial, leaves them out,
        # so the query must too to be read from it (without, every chunk scanned the whole table)
        return set(self.write.connection.execute(sa.select(column).where(
            column.in_(wanted), table.c.deleted_at.is_(None))).scalars())
