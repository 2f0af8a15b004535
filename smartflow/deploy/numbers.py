"""Stable integers for what smartflow names with text ids, kept in `sf_numbers`.

Outside protocols number things: the Bitrix24 REST facade answers a process as an `entityTypeId`,
a pipeline as a `categoryId`, a stage and an enum option as integer ids. A number is given once,
by the apply that first deploys the thing, and never reused; a pipeline, stage, field or option
renamed with `renamed_from` keeps its number. Nothing is ever deleted, so a version rolled back to
finds its numbers again.

Keys: type `process`; category `process/pipeline`; stage `process/pipeline/stage`; option
`process/field/option`.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from smartflow.definitions.model import Definition

KINDS = ("type", "category", "stage", "option")


def wanted(definition: Definition) -> list[tuple[str, str, list[str]]]:
    """(kind, key, earlier keys it may have had) of everything the definition numbers."""
    found: list[tuple[str, str, list[str]]] = []
    for process in definition.processes:
        p = process.id
        found.append(("type", p, []))
        for pipeline in process.pipelines:
            names = [pipeline.id] + ([pipeline.renamed_from] if pipeline.renamed_from else [])
            found.append(("category", f"{p}/{pipeline.id}", [f"{p}/{n}" for n in names[1:]]))
            for stage in pipeline.stages:
                stages = [stage.id] + ([stage.renamed_from] if stage.renamed_from else [])
                earlier = [f"{p}/{n}/{s}" for n in names for s in stages]
                found.append(("stage", f"{p}/{pipeline.id}/{stage.id}", earlier[1:]))
        for field in process.fields:
            fields = [field.id] + ([field.renamed_from] if field.renamed_from else [])
            for option in field.options:
                options = [option.id] + ([option.renamed_from] if option.renamed_from else [])
                earlier = [f"{p}/{f}/{o}" for f in fields for o in options]
                found.append(("option", f"{p}/{field.id}/{option.id}", earlier[1:]))
    return found


def assign(connection: Any, table: sa.Table, definition: Definition) -> None:
    """Give every numbered thing of the definition its number (inside the apply's transaction)."""
    rows = connection.execute(sa.select(table.c.kind, table.c.key, table.c.number)).all()
    known: dict[str, dict[str, int]] = {kind: {} for kind in KINDS}
    for kind, key, number in rows:
        known.setdefault(kind, {})[key] = number
    desired = {(kind, key) for kind, key, _ in wanted(definition)}
    for kind, key, earlier in wanted(definition):
        numbers = known[kind]
        if key in numbers:
            continue
        old = next((k for k in earlier if k in numbers and (kind, k) not in desired), None)
        if old is not None:  # renamed: the number moves to the new key
            connection.execute(table.update().where(table.c.kind == kind, table.c.key == old).values(key=key))
            numbers[key] = numbers.pop(old)
            continue
        numbers[key] = max(numbers.values(), default=0) + 1
        connection.execute(table.insert().values(kind=kind, key=key, number=numbers[key]))


def read(connection: Any, table: sa.Table) -> dict[str, dict[str, int]]:
    """Every number, by kind and key."""
    found: dict[str, dict[str, int]] = {kind: {} for kind in KINDS}
    for kind, key, number in connection.execute(sa.select(table.c.kind, table.c.key, table.c.number)):
        found.setdefault(kind, {})[key] = number
    return found
