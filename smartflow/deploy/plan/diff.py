"""Compare the deployed definition with the desired one and list the operations, with
their effect on the items already in the database (counted there, one query per step)."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any

import sqlalchemy as sa

from smartflow.compile.sql import item_table_name, values_table_name
from smartflow.definitions.convert import field_to_data, permission_to_data, pipeline_to_data, trigger_to_data
from smartflow.definitions.model import Definition, Field, Pipeline, Process
from smartflow.deploy.plan import ops
from smartflow.deploy.plan.values import Unconvertible, convert, needs_rewrite, stored_value

_SAMPLES = 3


class Counter:
    """Counts items in the live database; every count is 0 for tables not there yet."""

    def __init__(self, connection: Any, deployed: Definition | None) -> None:
        self.connection = connection
        # without a connection (a plan against an old version) nothing is counted
        self.deployed = {p.id for p in deployed.processes} if deployed and connection is not None else set()

    def items(self, process_id: str, *conditions: Any, columns: tuple[str, ...] = ()) -> int:
        if process_id not in self.deployed:
            return 0
        handle = ops.item_table(process_id, "pipeline", "stage", *columns)
        query = sa.select(sa.func.count()).select_from(handle)
        for condition in conditions:
            query = query.where(condition(handle))
        return int(self.connection.execute(query).scalar_one())

    def filled(self, process_id: str, field: Field) -> int:
        if process_id not in self.deployed:
            return 0
        if field.multiple:
            values = sa.table(values_table_name(process_id, field.id), sa.column("item_id"))
            query = sa.select(sa.func.count(sa.distinct(values.c.item_id)))
            return int(self.connection.execute(query).scalar_one())
        return self.items(process_id, lambda t: t.c[field.id].is_not(None), columns=(field.id,))

    def option_in_use(self, process_id: str, field: Field, option: str) -> int:
        if process_id not in self.deployed:
            return 0
        if field.multiple:
            values = sa.table(values_table_name(process_id, field.id), sa.column("item_id"), sa.column("value"))
            query = sa.select(sa.func.count(sa.distinct(values.c.item_id))).where(values.c.value == option)
            return int(self.connection.execute(query).scalar_one())
        return self.items(process_id, lambda t: t.c[field.id] == option, columns=(field.id,))

    def duplicates(self, process_id: str, field_id: str) -> int:
        if process_id not in self.deployed:
            return 0
        handle = ops.item_table(process_id, field_id, "deleted_at")  # the recycle bin holds no unique values
        grouped = (sa.select(handle.c[field_id]).where(handle.c[field_id].is_not(None), handle.c.deleted_at.is_(None))
                   .group_by(handle.c[field_id]).having(sa.func.count() > 1).subquery())
        return int(self.connection.execute(sa.select(sa.func.count()).select_from(grouped)).scalar_one())

    def values(self, process_id: str, field: Field) -> Iterator[Any]:
        """Every stored value of field, in order (each value of a multiple field)."""
        if process_id not in self.deployed:
            return iter(())
        if field.multiple:
            handle = sa.table(values_table_name(process_id, field.id), sa.column("id"), sa.column("value"))
            query = sa.select(handle.c.value).order_by(handle.c.id)
        else:
            handle = ops.item_table(process_id, field.id)
            query = sa.select(handle.c[field.id]).where(handle.c[field.id].is_not(None)).order_by(handle.c.id)
        return (row[0] for row in self.connection.execute(query))


def diff(deployed: Definition | None, desired: Definition, counter: Counter,
         missing_system_tables: list[str], legacy_unique: Sequence[tuple[str, str]] = (),
         empty_texts: Sequence[tuple[str, tuple[str, ...], int]] = (),
         tables: Callable[[], sa.MetaData] | None = None) -> list[ops.Op]:
    """Every operation that turns the deployed definition into the desired one.

    legacy_unique: (process, field) pairs whose full unique index an older deployment made.
    empty_texts: (process, live text fields, items) where items hold `''`, which becomes NULL first.
    tables: the desired definition's tables when the caller has them built (or builds them once).
    """
    plan: list[ops.Op] = []
    if missing_system_tables:
        plan.append(ops.CreateSystemTables(tables=missing_system_tables))
    for process_id, field_ids, items in empty_texts:
        plan.append(ops.EmptyTextToNull(process=process_id, field_ids=field_ids, items=items))
    before = {p.id: p for p in deployed.processes} if deployed else {}
    after = {p.id: p for p in desired.processes}
    from smartflow.compile.sql import build_metadata

    desired_tables: sa.MetaData | None = None  # built only when a process is new: it takes milliseconds
    for process in desired.processes:
        if process.id not in before:
            if desired_tables is None:
                desired_tables = tables() if tables is not None else build_metadata(desired)
            names = [t.name for t in desired_tables.sorted_tables
                     if t.name == item_table_name(process.id) or t.name.startswith(item_table_name(process.id) + "__")]
            plan.append(ops.CreateProcess(process=process.id, definition=process, tables=names))
    for process in desired.processes:
        if process.id in before:
            plan.extend(_process_changes(before[process.id], process, counter))
    for process_id, field_id in legacy_unique:
        plan.append(ops.ReleaseUniqueValues(process=process_id, field_id=field_id))
    for process_id, process in before.items():
        if process_id not in after:
            plan.append(_drop_process(process, counter))
    plan.extend(_role_changes(deployed, desired))
    return plan


def _drop_process(process: Process, counter: Counter) -> ops.Op:
    tables = [item_table_name(process.id)]
    tables += [values_table_name(process.id, f.id) for f in process.fields if f.multiple]
    if process.features.observers:
        tables.append(values_table_name(process.id, "observers"))
    items = counter.items(process.id)
    op = ops.DropProcess(process=process.id, tables=tables, items=items)
    if items:
        op.effect = f"{items} items would be lost (archived in sf_archive)"
        op.needs_data_loss = f"process `{process.id}` holds {items} items"
    return op


def _bitrix24(process: Process) -> set[tuple[object, ...]]:
    """Everything a process's `bitrix24:` blocks declare (apply gives the numbers: smartflow.deploy.numbers)."""
    found: set[tuple[object, ...]] = {("process", process.bitrix24_id, process.bitrix24_entity_type_id)}
    for p in process.pipelines:
        found |= {("pipeline", p.id, p.bitrix24_category_id)} if p.bitrix24_category_id is not None else set()
        found |= {("stage", p.id, s.id, s.bitrix24_code) for s in p.stages if s.bitrix24_code}
    for f in process.fields:
        found |= {("field", f.id, f.bitrix24_name)} if f.bitrix24_name else set()
        found |= {("option", f.id, o.id, o.bitrix24_id) for o in f.options if o.bitrix24_id is not None}
    return found


def _process_changes(old: Process, new: Process, counter: Counter) -> Iterator[ops.Op]:
    pid = new.id
    yield from _feature_changes(old, new, counter)
    yield from _field_changes(old, new, counter)
    yield from _pipeline_changes(old, new, counter)
    if [pipeline_to_data(p) for p in old.pipelines] != [pipeline_to_data(p) for p in new.pipelines] \
            or [p.id for p in old.pipelines] != [p.id for p in new.pipelines]:
        yield from _stranded(old, new, counter)
    if old.title != new.title or old.description != new.description:
        yield ops.Note(process=pid, text=f"process `{pid}`: title or description changed")
    if old.working_hours != new.working_hours:
        yield ops.Note(process=pid, text=f"process `{pid}`: working hours or holidays changed (delays planned "
                                         "from now on count by them; jobs already queued keep their time)")
    if old.card != new.card or old.list_columns != new.list_columns or old.list_sort != new.list_sort:
        yield ops.Note(process=pid, text=f"process `{pid}`: card sections or list columns changed")
    if old.list_presets != new.list_presets:
        yield ops.Note(process=pid, text=f"process `{pid}`: the list's filter presets changed")
    if _bitrix24(old) != _bitrix24(new):
        yield ops.Note(process=pid, text=f"process `{pid}`: Bitrix24 numbers or names (`bitrix24:`) changed")
    yield from _permission_changes(old, new)
    yield from _trigger_changes(old, new)


def _feature_changes(old: Process, new: Process, counter: Counter) -> Iterator[ops.Op]:
    pid = new.id
    if new.features.observers and not old.features.observers:
        yield ops.AddTable(process=pid, table=values_table_name(pid, "observers"), reason="items get observers")
    if old.features.observers and not new.features.observers:
        rows = counter.items(pid) and _count_rows(counter, values_table_name(pid, "observers"))
        op = ops.DropTable(process=pid, table=values_table_name(pid, "observers"), reason="observers removed",
                           rows=rows)
        if rows:
            op.effect = f"{rows} observer entries would be lost (archived)"
            op.needs_data_loss = f"{rows} observer entries exist"
        yield op
    if new.features.begin_close_dates and not old.features.begin_close_dates:
        yield ops.AddColumns(process=pid, columns=["begin_date", "close_date"],
                             reason="items get begin and close dates")
    if old.features.begin_close_dates and not new.features.begin_close_dates:
        filled = counter.items(pid, lambda t: sa.or_(t.c.begin_date.is_not(None), t.c.close_date.is_not(None)),
                               columns=("begin_date", "close_date"))
        op = ops.DropColumns(process=pid, columns=["begin_date", "close_date"], reason="begin and close dates removed",
                             filled=filled)
        if filled:
            op.effect = f"{filled} items have dates that would be lost (archived)"
            op.needs_data_loss = f"{filled} items have begin or close dates"
        yield op
    for feature, name in (("recycle_bin", "recycle bin"), ("links", "links")):
        if getattr(old.features, feature) != getattr(new.features, feature):
            state = "on" if getattr(new.features, feature) else "off"
            yield ops.Note(process=pid, text=f"process `{pid}`: {name} turned {state}")


def _count_rows(counter: Counter, table: str) -> int:
    return int(counter.connection.execute(sa.select(sa.func.count()).select_from(sa.table(table))).scalar_one())


def _field_changes(old: Process, new: Process, counter: Counter) -> Iterator[ops.Op]:
    pid = new.id
    before = {f.id: f for f in old.fields}
    matched: dict[str, Field] = {}  # new id -> deployed field it continues
    new_ids = {f.id for f in new.fields}
    for field in new.fields:
        if field.id in before:
            matched[field.id] = before[field.id]
        elif field.renamed_from in before and field.renamed_from not in new_ids:
            matched[field.id] = before[field.renamed_from]
        else:
            reverse = next((f for f in old.fields if f.renamed_from == field.id), None)
            if reverse is not None and reverse.id not in new_ids:
                matched[field.id] = reverse  # rolling a rename back
    continued = {f.id for f in matched.values()}
    for field in new.fields:
        previous = matched.get(field.id)
        if previous is None:
            yield _add_field(pid, field, counter)
            continue
        if previous.id != field.id:
            yield ops.RenameField(process=pid, old=previous, new=field, filled=counter.filled(pid, previous))
        # counts below read the deployed column (old id); steps execute after the rename (new id)
        yield from _changed_field(pid, previous, field, counter)
    for field in old.fields:
        if field.id not in continued:
            filled = counter.filled(pid, field)
            op = ops.DropField(process=pid, definition=field, filled=filled)
            if filled:
                op.effect = f"{filled} items hold a value that would be lost (archived in sf_archive)"
                op.needs_data_loss = f"field `{field.id}` holds data in {filled} items"
            yield op
    order_before = [f.id for f in old.fields if f.id in continued]
    order_after = [matched[f.id].id for f in new.fields if f.id in matched]
    if order_before != order_after:
        yield ops.Note(process=pid, text=f"process `{pid}`: fields reordered")


def _add_field(pid: str, field: Field, counter: Counter) -> ops.Op:
    items = counter.items(pid)
    source = field.backfill if field.backfill is not None else field.default
    fill = _stored(source, field)
    op = ops.AddField(process=pid, definition=field, fill=fill, items=items)
    if items and fill is not None:
        op.effect = f"{items} existing items get {source!r}"
    if field.required and items and fill is None:
        op.effect = f"{items} existing items would have it empty"
        op.needs_data_loss = (f"new required field `{field.id}` would be empty in {items} items; "
                              "give it a `backfill:` value")
    if field.unique and items > 1 and fill is not None:
        op.impossible = f"new unique field `{field.id}` cannot give the same {source!r} to {items} items"
    return op


def _changed_field(pid: str, old: Field, new: Field, counter: Counter) -> Iterator[ops.Op]:
    if old.multiple != new.multiple or (old.type == new.type == "link" and old.to != new.to):
        filled = counter.filled(pid, old)
        what = "single ↔ multiple" if old.multiple != new.multiple else f"link target {old.to} → {new.to}"
        op: ops.Op = ops.Note(process=pid, text=f"process `{pid}`: field `{new.id}` changes {what}")
        if filled:
            op.impossible = (f"field `{new.id}` holds data in {filled} items and cannot change {what} in place; "
                             "add a new field, copy the values, then remove the old one")
        else:
            yield ops.DropField(process=pid, definition=old, filled=0)
            yield ops.AddField(process=pid, definition=new, items=counter.items(pid))
            return
        yield op
        return
    if needs_rewrite(old, new):
        yield _rewrite(pid, old, new, counter)
    for option in old.options if old.type == new.type == "enum" else ():
        yield from _option_change(pid, old, new, option.id, counter)
    if new.required and not old.required:
        empty = counter.items(pid) - counter.filled(pid, old)
        backfill = _stored(new.backfill, new)
        op = ops.FillRequired(process=pid, definition=new, empty=empty, backfill=backfill)
        if empty:
            op.effect = f"{empty} items have it empty"
            if backfill is not None:
                op.effect += f"; they get {new.backfill!r}"
            if backfill is None:
                op.needs_data_loss = (f"field `{new.id}` becomes required while {empty} items have it empty; "
                                      "give it a `backfill:` value")
        yield op
    elif old.required and not new.required:
        yield ops.Note(process=pid, text=f"process `{pid}`: field `{new.id}` is no longer required")
    if old.unique != new.unique and not new.multiple:
        duplicates = counter.duplicates(pid, old.id) if new.unique else 0
        op = ops.SetUnique(process=pid, definition=new, unique=new.unique, duplicates=duplicates)
        if duplicates:
            op.effect = f"{duplicates} values are used by more than one item"
            op.impossible = f"field `{new.id}` has {duplicates} duplicated values; make them unique first"
        yield op
    settings = _settings_changed(old, new)
    if settings:
        yield ops.Note(process=pid, text=f"process `{pid}`: field `{new.id}` settings changed: {', '.join(settings)}")


def _stored(value: Any, field: Field) -> Any:
    """A default or backfill as stored; for a multiple field, the list of values each item gets."""
    if value is None:
        return None
    if field.multiple:
        return [stored_value(v, field) for v in (value if isinstance(value, list) else [value])]
    return stored_value(value, field)


def _settings_changed(old: Field, new: Field) -> list[str]:
    ignore = {"type", "required", "unique", "multiple", "renamed_from", "backfill", "precision"}
    before, after = field_to_data(old), field_to_data(new)
    keys = [k for k in dict.fromkeys([*before, *after]) if k not in ignore and before.get(k) != after.get(k)]
    return keys


def _rewrite(pid: str, old: Field, new: Field, counter: Counter) -> ops.Op:
    filled = unconvertible = 0  # values, not items: a multiple field holds several per item
    samples: list[str] = []
    seen: dict[Any, int] = {}  # converted values, to find those a unique field would hold twice
    for value in counter.values(pid, old):
        filled += 1
        try:
            converted = convert(value, old, new)
        except Unconvertible as exc:
            unconvertible += 1
            if len(samples) < _SAMPLES:
                samples.append(str(exc))
            continue
        seen[converted] = seen.get(converted, 0) + 1
    op = ops.RewriteField(process=pid, old=old, new=new, filled=filled, unconvertible=unconvertible, samples=samples)
    if filled:
        op.effect = f"{filled} values converted"
    if unconvertible:
        op.effect = f"{unconvertible} of {filled} values can't be converted (e.g. {'; '.join(samples)})"
        op.needs_data_loss = f"{unconvertible} values of `{new.id}` can't be converted to {new.type}"
    duplicates = sum(1 for count in seen.values() if count > 1) if new.unique and not new.multiple else 0
    if duplicates:
        op.impossible = (f"field `{new.id}` is unique, and {duplicates} converted values would be held by more "
                         "than one item; make them unique first")
    return op


def _option_change(pid: str, old: Field, new: Field, option_id: str, counter: Counter) -> Iterator[ops.Op]:
    if option_id in {o.id for o in new.options}:
        return
    successor = next((o for o in new.options if o.renamed_from == option_id), None)
    previous_id = next(o.renamed_from for o in old.options if o.id == option_id)
    if successor is None and previous_id is not None:  # rolling a rename back
        successor = next((o for o in new.options if o.id == previous_id), None)
    in_use = counter.option_in_use(pid, old, option_id)
    if successor is not None and successor.id not in {o.id for o in old.options}:
        op: ops.Op = ops.RenameOption(process=pid, definition=new, old=option_id, new=successor.id, in_use=in_use)
        if in_use:
            op.effect = f"{in_use} items move to the new option id"
        yield op
        return
    op = ops.RemoveOption(process=pid, definition=new, option=option_id, in_use=in_use)
    if in_use:
        op.effect = f"{in_use} items use it and would be left empty (archived)"
        op.needs_data_loss = f"option `{option_id}` of `{old.id}` is in use by {in_use} items"
    yield op


def _pipeline_changes(old: Process, new: Process, counter: Counter) -> Iterator[ops.Op]:
    pid = new.id
    before = {p.id: p for p in old.pipelines}
    new_ids = {p.id for p in new.pipelines}
    matched: dict[str, Pipeline] = {}
    for pipeline in new.pipelines:
        if pipeline.id in before:
            matched[pipeline.id] = before[pipeline.id]
        elif pipeline.renamed_from in before and pipeline.renamed_from not in new_ids:
            matched[pipeline.id] = before[pipeline.renamed_from]
        else:
            reverse = next((p for p in old.pipelines if p.renamed_from == pipeline.id and p.id not in new_ids), None)
            if reverse is not None:
                matched[pipeline.id] = reverse
    continued = {p.id for p in matched.values()}
    for pipeline in new.pipelines:
        previous = matched.get(pipeline.id)
        if previous is None:
            yield ops.Note(process=pid, sign="+", text=f"process `{pid}`: add pipeline `{pipeline.id}` "
                           f"with stages {', '.join(s.id for s in pipeline.stages)}")
            continue
        if previous.id != pipeline.id:
            items = counter.items(pid, lambda t, p=previous.id: t.c.pipeline == p)
            op = ops.MoveItems(process=pid, pipeline=previous.id, stage=None, to_pipeline=pipeline.id, to_stage=None,
                               items=items, reason="renamed")
            if items:
                op.effect = f"{items} items follow it"
            yield op
        if previous.title != pipeline.title:
            yield ops.Note(process=pid, text=f"process `{pid}`: title of pipeline `{pipeline.id}` changed")
        yield from _stage_changes(pid, previous, pipeline, counter)
    for pipeline in old.pipelines:
        if pipeline.id in continued:
            continue
        items = counter.items(pid, lambda t, p=pipeline.id: t.c.pipeline == p)
        target = new.default_pipeline
        op = ops.MoveItems(process=pid, pipeline=pipeline.id, stage=None, to_pipeline=target.id,
                           to_stage=target.stages[0].id, items=items, reason="removed")
        if items:
            op.effect = f"{items} items are in it"
            op.needs_data_loss = f"pipeline `{pipeline.id}` holds {items} items"
        yield op


def _stage_changes(pid: str, old: Pipeline, new: Pipeline, counter: Counter) -> Iterator[ops.Op]:
    before = {s.id: s for s in old.stages}
    new_ids = {s.id for s in new.stages}
    matched: dict[str, str] = {}
    for stage in new.stages:
        if stage.id in before:
            matched[stage.id] = stage.id
        elif stage.renamed_from in before and stage.renamed_from not in new_ids:
            matched[stage.id] = stage.renamed_from
        else:
            reverse = next((s for s in old.stages if s.renamed_from == stage.id and s.id not in new_ids), None)
            if reverse is not None:
                matched[stage.id] = reverse.id
    continued = set(matched.values())

    def in_stage(stage_id: str) -> int:
        return counter.items(pid, lambda t: sa.and_(t.c.pipeline == old.id, t.c.stage == stage_id))

    for stage in new.stages:
        previous = matched.get(stage.id)
        if previous is None:
            yield ops.Note(process=pid, sign="+", text=f"process `{pid}`: add stage `{stage.id}` to `{new.id}`")
        elif previous != stage.id:
            items = in_stage(previous)
            op = ops.MoveItems(process=pid, pipeline=new.id, stage=previous, to_pipeline=new.id, to_stage=stage.id,
                               items=items, reason="renamed")
            if items:
                op.effect = f"{items} items follow it"
            yield op
        if previous is not None and before[previous].semantic != stage.semantic:
            yield ops.Note(process=pid, text=f"process `{pid}`: stage `{stage.id}` of `{new.id}` becomes "
                           f"{stage.semantic} (was {before[previous].semantic})")
        settings = _stage_settings_changed(old, previous, new, stage.id) if previous is not None else []
        if settings:
            yield ops.Note(process=pid, text=f"process `{pid}`: stage `{stage.id}` of `{new.id}` settings changed: "
                           + ", ".join(settings))
    for stage in old.stages:
        if stage.id in continued:
            continue
        items = in_stage(stage.id)
        heir = next((s for s in new.stages if stage.id in s.replaces), None)
        if heir is not None:
            op = ops.MoveItems(process=pid, pipeline=new.id, stage=stage.id, to_pipeline=new.id, to_stage=heir.id,
                               items=items, reason="replaced")
            if items:
                op.effect = f"{items} items move to `{heir.id}`"
        else:
            op = ops.MoveItems(process=pid, pipeline=new.id, stage=stage.id, to_pipeline=new.id,
                               to_stage=new.stages[0].id, items=items, reason="removed")
            if items:
                op.effect = f"{items} items are in it"
                op.needs_data_loss = (f"stage `{stage.id}` holds {items} items; list it in another stage's "
                                      "`replaces:` to move them there")
        yield op
    kept_old = [s.id for s in old.stages if s.id in continued]
    kept_new = [matched[s.id] for s in new.stages if s.id in matched]
    if kept_old != kept_new:
        yield ops.Note(process=pid, text=f"process `{pid}`: stages of `{new.id}` reordered: "
                       + " → ".join(s.id for s in new.stages))
    if pipeline_to_data(old).get("transitions") != pipeline_to_data(new).get("transitions"):
        yield ops.Note(process=pid, text=f"process `{pid}`: transitions of `{new.id}` changed")
    if old.default != new.default:
        yield ops.Note(process=pid, text=f"process `{pid}`: `{new.id}` is {'now' if new.default else 'no longer'} "
                       "the default pipeline")


def stranded_stages(process: Process) -> list[tuple[str, str]]:
    """The stages (pipeline, stage) in progress from which no way leads to a success or failure stage
    of any pipeline: by the pipeline's own transitions, by a cross-pipeline transition (`from:
    pipeline.stage`), or into the first stage of a pipeline that declares no transition from it. An
    item there could never be closed."""
    ways: dict[tuple[str, str], set[tuple[str, str]]] = {}
    declared: dict[str, set[str]] = {}  # pipeline → the pipelines it declares ways in from
    for pipeline in process.pipelines:
        for source, target in pipeline.moves():
            ways.setdefault((pipeline.id, source), set()).add((pipeline.id, target))
        for transition in pipeline.transitions or ():
            for other, stage_id in transition.foreign_sources:
                ways.setdefault((other, stage_id), set()).add((pipeline.id, transition.target))
                declared.setdefault(pipeline.id, set()).add(other)
    for pipeline in process.pipelines:
        for target in process.pipelines:
            if target.id != pipeline.id and pipeline.id not in declared.get(target.id, set()):
                for stage in pipeline.stages:
                    ways.setdefault((pipeline.id, stage.id), set()).add((target.id, target.stages[0].id))
    back: dict[tuple[str, str], set[tuple[str, str]]] = {}
    for source, targets in ways.items():
        for target in targets:
            back.setdefault(target, set()).add(source)
    closing = [(p.id, s.id) for p in process.pipelines for s in p.stages if s.final]
    found, frontier = set(closing), list(closing)
    while frontier:
        for source in back.get(frontier.pop(), ()):
            if source not in found:
                found.add(source)
                frontier.append(source)
    return [(p.id, s.id) for p in process.pipelines for s in p.stages if not s.final and (p.id, s.id) not in found]


def _stranded(old: Process, new: Process, counter: Counter) -> Iterator[ops.Op]:
    """A warning for the items the new pipelines would leave in a stage that no way leads out of to a
    closing stage (counted where they are now: under the old names of renamed or replaced stages)."""
    pid = new.id
    old_pipelines = {p.id for p in old.pipelines}
    for pipeline_id, stage_id in stranded_stages(new):
        pipeline = new.pipeline(pipeline_id)
        stage = pipeline.stage(stage_id) if pipeline is not None else None
        assert pipeline is not None and stage is not None
        was = pipeline_id if pipeline_id in old_pipelines else pipeline.renamed_from
        if was is None:
            continue
        names = sorted({stage_id, *([stage.renamed_from] if stage.renamed_from else []), *stage.replaces})
        items = counter.items(pid, lambda t, p=was, n=names: sa.and_(t.c.pipeline == p, t.c.stage.in_(n)))
        if items:
            yield ops.Note(process=pid, sign="!", text=f"process `{pid}`: {items} items would be stranded in stage "
                           f"`{stage_id}` of `{pipeline_id}`: no way of transitions leads from there to a success or "
                           "failure stage")


def _stage_settings_changed(old: Pipeline, old_id: str, new: Pipeline, new_id: str) -> list[str]:
    """What changed in a stage besides its id and semantic: title, color, required fields, description."""
    ignore = {"semantic", "renamed_from", "replaces"}
    before, after = pipeline_to_data(old)["stages"][old_id], pipeline_to_data(new)["stages"][new_id]
    return [k for k in dict.fromkeys([*before, *after]) if k not in ignore and before.get(k) != after.get(k)]


def _permission_changes(old: Process, new: Process) -> Iterator[ops.Op]:
    pid = new.id
    before = {p.role: permission_to_data(p) for p in old.permissions}
    after = {p.role: permission_to_data(p) for p in new.permissions}
    for role in dict.fromkeys([*before, *after]):
        if before.get(role) != after.get(role):
            was, now = before.get(role, "default"), after.get(role, "default")
            yield ops.Note(process=pid, text=f"process `{pid}`: rights of `{role}` change: {was} → {now}")


def _trigger_changes(old: Process, new: Process) -> Iterator[ops.Op]:
    pid = new.id
    before = {t.id: trigger_to_data(t) for t in old.triggers}
    after = {t.id: trigger_to_data(t) for t in new.triggers}
    for trigger_id in after:
        if trigger_id not in before:
            yield ops.Note(process=pid, sign="+", text=f"process `{pid}`: add trigger `{trigger_id}`")
        elif before[trigger_id] != after[trigger_id]:
            yield ops.Note(process=pid, text=f"process `{pid}`: trigger `{trigger_id}` changed")
    for trigger_id in before:
        if trigger_id not in after:
            yield ops.Note(process=pid, sign="-", text=f"process `{pid}`: remove trigger `{trigger_id}`")


def _role_changes(deployed: Definition | None, desired: Definition) -> Iterator[ops.Op]:
    before = {r.id: r for r in deployed.roles} if deployed else {}
    after = {r.id: r for r in desired.roles}
    for role_id, role in after.items():
        if role_id not in before:
            yield ops.Note(sign="+", text=f"add role `{role_id}` «{role.title.get()}»")
        elif (before[role_id].title, before[role_id].description) != (role.title, role.description):
            yield ops.Note(text=f"role `{role_id}`: title or description changed")
    for role_id in before:
        if role_id not in after:
            yield ops.Note(sign="-", text=f"remove role `{role_id}`")
