"""The runtime's tables of a deployed version: a process's tables are built when it is first used,
and they are the tables apply creates, less the indexes."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest
import sqlalchemy as sa

from smartflow.compile.sql import SYSTEM_TABLE_NAMES, build_metadata, system_tables
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
    assert [compiled.tables[name].name for name in SYSTEM_TABLE_NAMES] == list(SYSTEM_TABLE_NAMES)
    full = build_metadata(definition)
    assert sorted(compiled.metadata.tables) == sorted(full.tables)
    for name, table in compiled.metadata.tables.items():
        assert _shape(table) == _shape(full.tables[name]), name
        assert table.c.keys() == full.tables[name].c.keys()
    for process in built:
        assert process.table.indexes == set()
        assert full.tables[process.table.name].indexes  # apply's own tables have them
        assert process.table is compiled.metadata.tables[process.table.name] is compiled.tables[process.table.name]


def _in_threads(ask: Callable[[], list[Any]], count: int = 8) -> list[Any]:
    """What ask returns in each of count threads started together, joined; no thread may raise (a table
    defined twice in one MetaData raises)."""
    start = threading.Barrier(count)
    found: list[Any] = []
    errors: list[BaseException] = []

    def run() -> None:
        start.wait()
        try:
            found.extend(ask())
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=run) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    return found


def test_threads_asking_for_the_same_process_get_one_compiled_process() -> None:
    compiled = CompiledDefinition(_definition(), 1)
    found = _in_threads(lambda: [compiled.processes["candidate"]])
    assert len(found) == 8 and all(process is found[0] for process in found)


def test_smartflow_s_own_tables_are_built_when_first_asked_for_with_those_they_refer_to() -> None:
    compiled = CompiledDefinition(_definition(), 1)
    assert dict(compiled.metadata.tables) == {}
    todos = compiled.tables["sf_todos"]
    assert compiled.tables["sf_todos"] is todos
    # its foreign keys name sf_users, whose own names sf_departments: each resolves
    assert sorted(compiled.metadata.tables) == ["sf_departments", "sf_todos", "sf_users"]
    assert {key.column.table.name for key in todos.foreign_keys} == {"sf_users"}
    assert "sf_jobs" in compiled.tables and "sf_nothing" not in compiled.tables
    assert sorted(compiled.tables) == sorted(SYSTEM_TABLE_NAMES) and len(compiled.tables) == len(SYSTEM_TABLE_NAMES)
    with pytest.raises(KeyError):
        compiled.tables["sf_nothing"]


def test_a_process_s_tables_bring_the_system_tables_their_foreign_keys_name() -> None:
    compiled = CompiledDefinition(_definition(), 1)
    procurement = compiled.processes["procurement"]
    targets = {key.column.table.name for key in procurement.table.foreign_keys}  # resolves every reference
    assert "sf_users" in targets and "sf_users" in compiled.metadata.tables
    assert "sf_jobs" not in compiled.metadata.tables


def test_every_system_table_has_its_builder_and_apply_builds_them_all() -> None:
    metadata = sa.MetaData()
    assert [table.name for table in system_tables(metadata)] == list(SYSTEM_TABLE_NAMES)
    assert sorted(metadata.tables) == sorted(SYSTEM_TABLE_NAMES)


def test_threads_asking_for_the_same_system_table_get_one_whole_table() -> None:
    compiled = CompiledDefinition(_definition(), 1)
    found = _in_threads(lambda: [compiled.tables["sf_comment_mentions"], compiled.processes["candidate"].table])
    mentions = [table for table in found if table.name == "sf_comment_mentions"]
    assert len(mentions) == 8 and all(table is mentions[0] for table in mentions)
    assert len(mentions[0].c) == 2  # whole: every column there
