"""Stable integers for what smartflow names with text ids, kept in `sf_numbers`.

Outside protocols number things: the Bitrix24 REST facade answers a process as a smart process with
an `id` and an `entityTypeId`, a pipeline as a `categoryId`, a stage and an enum option as integer
ids. A number is given once, by the apply that first deploys the thing, and never reused; a
pipeline, stage, field or option renamed with `renamed_from` keeps its number. Nothing is ever
deleted, so a version rolled back to finds its numbers again.

A definition may declare a thing's number in its `bitrix24:` block (the portal's own, as
`smartflow bitrix24 pull` writes them): the declared numbers are given first, so a fresh database
applied from a pulled folder answers with the portal's numbers, and only what declares none is
numbered here (after the largest number of its kind; an entityTypeId by Bitrix24's own scheme,
skipping those taken). A declared number that another thing holds already is refused, and the
apply with it: nothing changes.

Keys: type and entity `process`; category `process/pipeline`; stage `process/pipeline/stage`; option
`process/field/option`.
"""

from __future__ import annotations

from dataclasses import field
from typing import Any

import sqlalchemy as sa

from smartflow.compile.numbers import default_entity_type_id
from smartflow.definitions.model import Definition
from smartflow.errors import DeployError
from smartflow.records import record

KINDS = ("type", "entity", "category", "stage", "option")
# what a kind's number is called in Bitrix24, and the key of the definition that declares it
DECLARED = {"type": ("smart process id", "bitrix24.id"), "entity": ("entityTypeId", "bitrix24.entity_type_id"),
            "category": ("categoryId", "bitrix24.category_id"), "option": ("enumeration item id", "bitrix24.id")}


@record
class Wanted:
    """One numbered thing of a definition."""

    kind: str
    key: str
    earlier: list[str] = field(default_factory=list)  # keys it may have had (renamed_from)
    declared: int | None = None  # its number in the definition's `bitrix24:` block


def wanted(definition: Definition) -> list[Wanted]:
    """Everything the definition numbers."""
    found: list[Wanted] = []
    for process in definition.processes:
        p = process.id
        found.append(Wanted("type", p, [], process.bitrix24_id))
        found.append(Wanted("entity", p, [], process.bitrix24_entity_type_id))
        for pipeline in process.pipelines:
            names = [pipeline.id] + ([pipeline.renamed_from] if pipeline.renamed_from else [])
            found.append(Wanted("category", f"{p}/{pipeline.id}", [f"{p}/{n}" for n in names[1:]],
                                pipeline.bitrix24_category_id))
            for stage in pipeline.stages:
                stages = [stage.id] + ([stage.renamed_from] if stage.renamed_from else [])
                earlier = [f"{p}/{n}/{s}" for n in names for s in stages]
                found.append(Wanted("stage", f"{p}/{pipeline.id}/{stage.id}", earlier[1:]))
        for f in process.fields:
            fields = [f.id] + ([f.renamed_from] if f.renamed_from else [])
            for option in f.options:
                options = [option.id] + ([option.renamed_from] if option.renamed_from else [])
                earlier = [f"{p}/{x}/{o}" for x in fields for o in options]
                found.append(Wanted("option", f"{p}/{f.id}/{option.id}", earlier[1:], option.bitrix24_id))
    return found


class _Numbers:
    """The rows of sf_numbers inside the apply's transaction, by kind: key → number and number → key."""

    def __init__(self, connection: Any, table: sa.Table) -> None:
        self.connection, self.table = connection, table
        self.by_key: dict[str, dict[str, int]] = {kind: {} for kind in KINDS}
        self.by_number: dict[str, dict[int, str]] = {kind: {} for kind in KINDS}
        self.new: dict[tuple[str, str], int] = {}  # rows to insert, all in one statement (write_new)
        for kind, key, number in connection.execute(sa.select(table.c.kind, table.c.key, table.c.number)):
            self.by_key.setdefault(kind, {})[key] = number
            self.by_number.setdefault(kind, {})[number] = key

    def give(self, kind: str, key: str, number: int) -> None:
        """key's number becomes number (which nothing else holds)."""
        t = self.table
        old = self.by_key[kind].get(key)
        if old is None or (kind, key) in self.new:
            self.new[kind, key] = number
        else:
            self.connection.execute(t.update().where(t.c.kind == kind, t.c.key == key).values(number=number))
        if old is not None:
            del self.by_number[kind][old]
        self.by_key[kind][key] = number
        self.by_number[kind][number] = key

    def write_new(self) -> None:
        """Insert the numbers given to new keys: one statement, not one a stage or an option (a fresh
        database's apply gives a hundred). Their numbers were free, and the updates made meanwhile
        only moved other keys to other free numbers."""
        if self.new:
            self.connection.execute(self.table.insert(), [{"kind": kind, "key": key, "number": number}
                                                          for (kind, key), number in self.new.items()])
            self.new.clear()

    def rename(self, kind: str, old: str, key: str) -> None:
        """old's number moves to key (which has none)."""
        t = self.table
        self.connection.execute(t.update().where(t.c.kind == kind, t.c.key == old).values(key=key))
        number = self.by_key[kind].pop(old)
        self.by_key[kind][key] = number
        self.by_number[kind][number] = key


def assign(connection: Any, table: sa.Table, definition: Definition) -> None:
    """Give every numbered thing of the definition its number (inside the apply's transaction): the
    declared ones first, then the rest. DeployError when a declared number is another thing's."""
    kept = _Numbers(connection, table)
    things = wanted(definition)
    desired = {(w.kind, w.key) for w in things}
    for w in things:
        if w.declared is None or kept.by_key[w.kind].get(w.key) == w.declared:
            continue
        holder = kept.by_number[w.kind].get(w.declared)
        if holder is not None and holder in w.earlier and (w.kind, holder) not in desired \
                and w.key not in kept.by_key[w.kind]:
            kept.rename(w.kind, holder, w.key)  # renamed, keeping its declared number
            continue
        if holder is not None:
            what, where = DECLARED[w.kind]
            raise DeployError(f"the Bitrix24 {what} {w.declared} of `{w.key}` is already `{holder}`'s "
                              "(apply refused, nothing was changed)",
                              f"declare another number in {where}, or leave it out to have one given")
        kept.give(w.kind, w.key, w.declared)
    for w in things:
        numbers = kept.by_key[w.kind]
        if w.key in numbers or w.kind == "entity":
            continue
        old = next((k for k in w.earlier if k in numbers and (w.kind, k) not in desired), None)
        if old is not None:  # renamed: the number moves to the new key
            kept.rename(w.kind, old, w.key)
            continue
        kept.give(w.kind, w.key, max(numbers.values(), default=0) + 1)
    for w in things:
        if w.kind == "entity" and w.key not in kept.by_key["entity"]:
            number = kept.by_key["type"][w.key]
            while default_entity_type_id(number) in kept.by_number["entity"]:
                number += 1
            kept.give("entity", w.key, default_entity_type_id(number))
    kept.write_new()


def read(connection: Any, table: sa.Table) -> dict[str, dict[str, int]]:
    """Every number, by kind and key."""
    found: dict[str, dict[str, int]] = {kind: {} for kind in KINDS}
    for kind, key, number in connection.execute(sa.select(table.c.kind, table.c.key, table.c.number)):
        found.setdefault(kind, {})[key] = number
    return found
