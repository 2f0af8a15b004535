"""The runtime's tables of a deployed version: a process's tables are built when it is first used,
and they are the tables apply creates, less the indexes."""

from __future__ import annotations

import threading
from typing import Any

import sqlalchemy as sa

from smartflow.compile.sql import build_metadata
from smartflow.deploy import apply as deploy
from smartflow.runtime.compiled import CompiledDefinition
from tests.conftest import PROCESSES


def _shape(table: sa.Table) -> list[tuple[Any, ...]]:
    return [(c.name, str(c.type), c.nullable, c.primary_key, c.server_default is not None,
             sorted(fk.target_fullname for fk in c.foreign_keys)) for c in table.columns]


def _definition() -> Any:
    return deploy.load_desired([PROCESSES]).definition


def test_a_process_s_tables_are_built_when_it_is_first_used() -> None:
    definition = _definition()
    compiled = CompiledDefinition(definition, 1)
    ids = [p.id for p in definition.processes]
    assert list(compiled.processes) == ids and len(compiled.processes) == len(ids)
    assert "procurement" in compiled.processes and "nothing" not in compiled.processes
    assert compiled.processes.get("nothing") is None
    assert not any(name.startswith("p_") for name in compiled.metadata.tables)  # asking for ids builds nothing
    procurement = compiled.processes["procurement"]
    assert compiled.processes["procurement"] is procurement
    assert {name for name in compiled.metadata.tables if name.startswith("p_")} == {
        name for name in build_metadata(definition).tables if name.startswith("p_procurement")}


def test_the_runtime_tables_are_apply_s_tables_without_the_indexes() -> None:
    definition = _definition()
    compiled = CompiledDefinition(definition, 1)
    built = list(compiled.processes.values())  # every process
    full = build_metadata(definition)
    assert sorted(compiled.metadata.tables) == sorted(full.tables)
    for name, table in compiled.metadata.tables.items():
        assert _shape(table) == _shape(full.tables[name]), name
        assert table.c.keys() == full.tables[name].c.keys()
    for process in built:
        assert process.table.indexes == set()
        assert full.tables[process.table.name].indexes  # apply's own tables have them
        assert process.table is compiled.metadata.tables[process.table.name]


def test_threads_asking_for_the_same_process_get_one_compiled_process() -> None:
    compiled = CompiledDefinition(_definition(), 1)
    start = threading.Barrier(8)
    found: list[Any] = []
    errors: list[BaseException] = []

    def ask() -> None:
        start.wait()
        try:
            found.append(compiled.processes["candidate"])
        except BaseException as error:  # a table defined twice in one MetaData raises
            errors.append(error)

    threads = [threading.Thread(target=ask) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert len(found) == 8 and all(process is found[0] for process in found)
