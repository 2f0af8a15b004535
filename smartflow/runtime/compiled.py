"""A deployed definition compiled for the runtime, once per version and shared by all items.

Per pipeline one `transitions.Machine` (auto_transitions off, no model attached): it answers
"may an item go from A to B?" from its tables; we never add items to it as models
(pytransitions issue 434: add_model per item costs more than the database write).
Conditions are compiled once into Jinja2 expressions in the immutable sandbox.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import field
from functools import cached_property
from typing import Any, Generic, TypeVar

import sqlalchemy as sa

from smartflow.compile.sql import (
    SYSTEM_TABLE_NAMES,
    item_table_name,
    process_tables,
    system_table,
    values_table_name,
    with_referenced,
)
from smartflow.definitions.model import (
    ACTIONS,
    LEVELS,
    Definition,
    Field,
    Permission,
    Pipeline,
    Process,
    Role,
    Transition,
)
from smartflow.records import record

RANK = {level: rank for rank, level in enumerate(LEVELS)}


@record
class Rule:
    """One allowed move of a pipeline, with its compiled condition."""

    transition: Transition
    condition: Any  # a compiled Jinja2 expression, or None


class PipelineRules:
    """The compiled state machine of one pipeline, and the ways into it from other pipelines."""

    def __init__(self, pipeline: Pipeline) -> None:
        from transitions import Machine

        from smartflow.definitions.expressions import environment

        self.pipeline = pipeline
        self.stage_ids = [s.id for s in pipeline.stages]
        self.first = self.stage_ids[0]
        self.rules: dict[tuple[str, str], list[Rule]] = {}
        # cross-pipeline transitions: (pipeline, stage) left → stage of this pipeline entered → rules
        self.entries: dict[tuple[str, str], dict[str, list[Rule]]] = {}
        env = environment()
        for transition in pipeline.transitions or ():
            condition = env.compile_expression(transition.when) if transition.when else None
            for source in transition.local_sources(self.stage_ids):
                if source != transition.target:
                    self.rules.setdefault((source, transition.target), []).append(Rule(transition, condition))
            for other in transition.foreign_sources:
                self.entries.setdefault(other, {}).setdefault(transition.target, []).append(Rule(transition, condition))
        # the pipelines that declare ways in: their items enter only by those
        self.entered_from = frozenset(other for other, _ in self.entries)
        sources: dict[str, list[str]] = {}
        self.onward: dict[str, list[str]] = {}  # stage → the stages its transitions lead to
        for source, target in pipeline.moves():
            sources.setdefault(target, []).append(source)
            self.onward.setdefault(source, []).append(target)
        self.machine = Machine(
            model=None, states=self.stage_ids, initial=self.stage_ids[0], auto_transitions=False,
            transitions=[{"trigger": f"to_{target}", "source": found, "dest": target}
                         for target, found in sources.items()],
        )

    def allowed(self, source: str, target: str) -> bool:
        """Whether the pipeline has a transition from source to target (conditions aside)."""
        return bool(self.machine.get_transitions(trigger=f"to_{target}", source=source))

    def rules_for(self, source: str, target: str) -> list[Rule]:
        """The transitions behind a move; empty when the pipeline lists none (any move allowed)."""
        return self.rules.get((source, target), [])

    def ways_in(self, pipeline_id: str, stage_id: str) -> dict[str, list[Rule]]:
        """The stages an item in stage_id of another pipeline may enter this pipeline at, each with the
        transitions that lead there (none: no transition's rules, as for the first stage). A pipeline
        that declares transitions from pipeline_id (`from: pipeline.stage`) is entered only by those;
        otherwise an item enters at the first stage."""
        if pipeline_id in self.entered_from:
            return self.entries.get((pipeline_id, stage_id), {})
        return {self.first: []}


@record
class CompiledProcess:
    """A process compiled for the runtime: its tables, and what each set of roles may do, see and change
    (worked out once per set of roles)."""

    process: Process
    table: sa.Table
    values_tables: dict[str, sa.Table]
    observers: sa.Table | None
    roles: tuple[Role, ...] = ()  # the definition's roles (their titles name them in messages)
    _grants: dict[frozenset[str], tuple[dict[str, str], frozenset[str] | None]] = field(default_factory=dict)
    _hidden: dict[frozenset[str], frozenset[str]] = field(default_factory=dict)
    _read_only: dict[frozenset[str], frozenset[str]] = field(default_factory=dict)

    @cached_property
    def pipelines(self) -> dict[str, PipelineRules]:
        """The compiled state machine of each pipeline, built when a move first needs one: reads,
        lists and exports never do (a machine, and the condition compiler, cost a command ~40 ms)."""
        return {p.id: PipelineRules(p) for p in self.process.pipelines}

    @cached_property
    def fields(self) -> dict[str, Field]:
        return {f.id: f for f in self.process.fields}

    @cached_property
    def money_ids(self) -> tuple[str, ...]:
        """The single money fields: the only fields whose canonical value is a dict."""
        return tuple(f.id for f in self.process.fields if f.type == "money" and not f.multiple)

    @cached_property
    def file_fields(self) -> tuple[str, ...]:
        """The ids of the file fields."""
        return tuple(f.id for f in self.process.fields if f.type == "file")

    @cached_property
    def money_field(self) -> Field | None:
        return next((f for f in self.process.fields if f.type == "money" and not f.multiple), None)

    def role_permissions(self, roles: frozenset[str]) -> list[Permission]:
        """The permissions roles hold here; administrator has every right unless the process lists it."""
        explicit = {p.role: p for p in self.process.permissions}
        found = []
        for role in sorted(roles):
            permission = explicit.get(role)
            if permission is None and role == "administrator":
                permission = Permission(role, tuple((a, "all") for a in ACTIONS))
            if permission is not None:
                found.append(permission)
        return found

    def grants(self, roles: frozenset[str]) -> tuple[dict[str, str], frozenset[str] | None]:
        """The highest level per action over roles, and the stages they may move into (None: all)."""
        cached = self._grants.get(roles)
        if cached is None:
            cached = self._grants[roles] = self._combine(roles)
        return cached

    def hidden(self, roles: frozenset[str]) -> frozenset[str]:
        """The fields roles may not see: those hidden by every role that may read the process (the
        highest access wins, as for levels); with no such role (one that may only create, say), those
        hidden by every role the user has here."""
        cached = self._hidden.get(roles)
        if cached is None:
            held = self.role_permissions(roles)
            readers = [p for p in held if p.level("read") != "none"] or held
            cached = frozenset.intersection(*(frozenset(p.hidden_fields) for p in readers)) if readers else frozenset()
            self._hidden[roles] = cached
        return cached

    def read_only(self, roles: frozenset[str]) -> frozenset[str]:
        """The fields roles may not set: those every role that may update the process lists as read-only
        (the highest access wins); with no such role, those every role the user has here lists."""
        cached = self._read_only.get(roles)
        if cached is None:
            held = self.role_permissions(roles)
            writers = [p for p in held if p.level("update") != "none"] or held
            cached = (frozenset.intersection(*(frozenset(p.read_only_fields) for p in writers)) if writers
                      else frozenset())
            self._read_only[roles] = cached
        return cached

    def _combine(self, roles: frozenset[str]) -> tuple[dict[str, str], frozenset[str] | None]:
        levels = {action: "none" for action in ACTIONS}
        stages: set[str] | None = set()
        for permission in self.role_permissions(roles):
            for action in ACTIONS:
                if RANK[permission.level(action)] > RANK[levels[action]]:
                    levels[action] = permission.level(action)
            if permission.level("move") != "none":
                stages = None if permission.stages is None or stages is None else stages | set(permission.stages)
        return levels, (frozenset(stages) if stages is not None else None)


S = TypeVar("S")
V = TypeVar("V")


class Lazy(Mapping[str, V], Generic[S, V]):
    """Values by key in the order of their sources, each built from its source when first asked for and
    then kept: once, under the lock, because the HTTP API's threads share them (a compiled process,
    a process's compiled triggers, one of smartflow's own tables)."""

    def __init__(self, sources: dict[str, S], build: Callable[[S], V], lock: threading.Lock | None = None) -> None:
        self._sources = sources
        self._build = build
        self._built: dict[str, V] = {}
        self._lock = lock or threading.Lock()

    def __getitem__(self, key: str) -> V:
        found = self._built.get(key)
        if found is None:
            source = self._sources[key]
            with self._lock:
                found = self._built.get(key)
                if found is None:
                    found = self._built[key] = self._build(source)
        return found

    def __contains__(self, key: object) -> bool:
        return key in self._sources

    def __iter__(self) -> Iterator[str]:
        return iter(self._sources)

    def __len__(self) -> int:
        return len(self._sources)


class CompiledProcesses(Lazy[Process, CompiledProcess]):
    """The compiled processes of a definition by id, in the definition's order.

    A process's tables join the shared MetaData when it is first asked for: a command that touches
    one process builds that process's tables only (about 1 ms a process). The runtime creates no
    index, so the tables come without the item indexes (`process_tables(indexes=False)`); a
    unique field's partial index would also import SQLAlchemy's PostgreSQL dialect on SQLite.
    """

    def __init__(self, definition: Definition, metadata: sa.MetaData, lock: threading.Lock) -> None:
        # the lock is the definition's: its tables share one MetaData
        super().__init__({process.id: process for process in definition.processes}, self._compile, lock)
        self._roles = tuple(definition.roles)
        self._metadata = metadata

    def _compile(self, process: Process) -> CompiledProcess:
        for table in process_tables(process, self._metadata, indexes=False):
            with_referenced(self._metadata, table)
        tables = self._metadata.tables
        return CompiledProcess(
            process=process,
            table=tables[item_table_name(process.id)],
            values_tables={f.id: tables[values_table_name(process.id, f.id)] for f in process.fields if f.multiple},
            observers=tables.get(values_table_name(process.id, "observers")),
            roles=self._roles,
        )


class SystemTables(Lazy[str, sa.Table]):
    """smartflow's own tables by name, each built into the shared MetaData when first asked for: a
    command reads a few of the two dozen, and building a table costs SQLAlchemy about a millisecond.
    (A process's tables are there too once built, through `CompiledProcesses`.) A table is handed out
    whole only: SQLAlchemy adds a Table to its MetaData before it has its columns."""

    def __init__(self, metadata: sa.MetaData, lock: threading.Lock) -> None:
        super().__init__({name: name for name in SYSTEM_TABLE_NAMES}, lambda name: system_table(metadata, name), lock)
        self._metadata = metadata

    def __getitem__(self, name: str) -> sa.Table:
        if name not in SYSTEM_TABLE_NAMES:  # a process's, built (under the lock) before it is used
            return self._metadata.tables[name]
        return super().__getitem__(name)

    def __contains__(self, name: object) -> bool:
        return name in SYSTEM_TABLE_NAMES or name in self._metadata.tables

    def __iter__(self) -> Iterator[str]:
        yield from SYSTEM_TABLE_NAMES
        yield from (name for name in self._metadata.tables if name not in SYSTEM_TABLE_NAMES)

    def __len__(self) -> int:
        return sum(1 for _ in self)


class CompiledDefinition:
    """Everything the runtime needs of one deployed version, built once (a process's tables when
    it is first used)."""

    def __init__(self, definition: Definition, version: int) -> None:
        self.definition = definition
        self.version = version
        # The tables built so far: smartflow's own and a process's each join when first used (`tables`).
        self.metadata = sa.MetaData()
        lock = threading.Lock()
        self.tables = SystemTables(self.metadata, lock)
        self.processes = CompiledProcesses(definition, self.metadata, lock)
        # Who hears the items' changes (events.Listener); the services layer attaches automation.
        self.listener: Any = None

    @property
    def role_ids(self) -> set[str]:
        return {role.id for role in self.definition.roles}


def deployed_columns(subscriptions: bool) -> tuple[Any, Any]:
    """What "the deployed version" is, as two labelled columns any statement can read beside its own work:
    `_version`, the largest id in sf_versions (NULL before the first apply), and `_subscribed`, whether any
    outbound event subscription exists (false without subscriptions: a database whose sf_event_bindings
    table is not there yet). The one definition of both, read by the services before an operation
    (services/engine.py), by an API request with its credential (auth.caller_of) and by the worker with
    the lease of its next job (automation/worker.py)."""
    versions = sa.table("sf_versions", sa.column("id"))
    version = sa.select(sa.func.max(versions.c.id)).scalar_subquery()
    subscribed = sa.exists().select_from(sa.table("sf_event_bindings")) if subscriptions else sa.false()
    return version.label("_version"), subscribed.label("_subscribed")


def built(key: tuple[Any, ...], build: Callable[[], Any]) -> Any:
    """build(), once per key: statements run with parameters (building one, and its cache key, costs
    SQLAlchemy more than running it) and per-field readers.

    Keys start with a table of the compiled definition (new with each deployed version and each
    Engine), and the cache lives in that table's `info`: it goes when the definition goes, so a
    closed Engine or a replaced version leaves nothing behind. Bounded per table all the same (the
    list statements vary with the filters asked for)."""
    cache: dict[tuple[Any, ...], Any] = key[0].info.setdefault("smartflow_built", {})
    found = cache.get(key)
    if found is None:
        if len(cache) > 1024:
            cache.clear()
        found = cache[key] = build()
    return found
