"""Field-level rules at run time: `visible_when`, `required_when`, `read_only_when` on a field,
`read_only` fields per stage and `read_only_fields` per role.

Every write path checks them here (create, update, move — and so import and automation, which
go through runtime/items.py). A condition is evaluated like a transition's: on the item's values
(the stored ones for `read_only_when`, the values after the change for the others; for a move,
with the target stage). A message never names a field hidden from the user.
"""

from __future__ import annotations

from typing import Any

from smartflow.definitions.expressions import environment
from smartflow.errors import InvalidValue, PermissionDenied
from smartflow.i18n import Message, tr
from smartflow.runtime import access, names
from smartflow.runtime.access import Actor
from smartflow.runtime.compiled import CompiledProcess, built
from smartflow.runtime.fields import is_empty
from smartflow.runtime.rules import context, evaluate
from smartflow.runtime.rules import move_problems as transition_problems

HIDDEN_NAME = tr("a field you may not see")


class FieldRules:
    """The field conditions of a process, compiled once per deployed version."""

    def __init__(self, process: CompiledProcess) -> None:
        self.conditions: dict[str, dict[str, tuple[str, Any]]] = {"visible_when": {}, "required_when": {},
                                                                  "read_only_when": {}}
        for field in process.process.fields:
            for key, source in field.conditions:
                # Jinja2 is compiled in only for a process that has conditions: reads stay light
                self.conditions[key][field.id] = (source, environment().compile_expression(source))
        self.stage_read_only = {(pipeline.id, stage.id): frozenset(stage.read_only)
                                for pipeline in process.process.pipelines for stage in pipeline.stages}
        self.any_condition = any(self.conditions.values())


def rules_of(process: CompiledProcess) -> FieldRules:
    found: FieldRules = built((process.table, "fieldrules"), lambda: FieldRules(process))
    return found


def _holds(compiled: Any, values: dict[str, Any]) -> bool:
    return evaluate(compiled, values)[0]


def _name(field_id: str, hidden: frozenset[str], process: CompiledProcess) -> Message:
    return HIDDEN_NAME if field_id in hidden else tr("field {field}", field=names.field(process, field_id))


def not_visible(process: CompiledProcess, item: dict[str, Any], actor: Actor) -> set[str]:
    """The fields whose `visible_when` is false on this item."""
    rules = rules_of(process)
    if not rules.conditions["visible_when"]:
        return set()
    values = context(process, item, actor)
    return {field_id for field_id, (_, compiled) in rules.conditions["visible_when"].items()
            if not _holds(compiled, values)}


def _required_problems(process: CompiledProcess, item: dict[str, Any], actor: Actor) -> list[tuple[str, Message]]:
    """(field, message) for each visible field whose `required_when` holds and which is empty."""
    rules = rules_of(process)
    if not rules.conditions["required_when"]:
        return []
    values = context(process, item, actor)
    absent = not_visible(process, item, actor)
    hidden = access.hidden_fields(actor, process)
    found = []
    for field_id, (source, compiled) in rules.conditions["required_when"].items():
        if field_id not in absent and is_empty(item.get(field_id)) and _holds(compiled, values):
            name = _name(field_id, hidden, process)
            found.append((field_id, tr("{name} is required when {condition}, and it is empty", name=name,
                                       condition=names.expression(process, source)) if field_id not in hidden
                          else tr("{name} is required here, and it is empty", name=name)))
    return found


def required_when_missing(process: CompiledProcess, item: dict[str, Any], actor: Actor) -> list[str]:
    """The fields the actor sees whose `required_when` holds for item and which are empty: what a form
    asks for before a move (a hidden one cannot be asked for; the move then says why it is refused)."""
    hidden = access.hidden_fields(actor, process)
    return [field_id for field_id, _ in _required_problems(process, item, actor) if field_id not in hidden]


def _refuse_not_visible(process: CompiledProcess, after: dict[str, Any], actor: Actor, given: set[str]) -> None:
    absent = not_visible(process, after, actor) & {k for k in given if not is_empty(after.get(k))}
    if absent:
        field_id = sorted(absent)[0]
        source = rules_of(process).conditions["visible_when"][field_id][0]
        hidden = access.hidden_fields(actor, process)
        raise InvalidValue(tr("{name} is not shown on this item", name=HIDDEN_NAME) if field_id in hidden else
                           tr("{name} is not shown on this item (`visible_when: {source}` is false)",
                              name=_name(field_id, hidden, process), source=source),
                           "leave it empty", field=None if field_id in hidden else field_id)


def _refuse_required(process: CompiledProcess, after: dict[str, Any], actor: Actor) -> None:
    problems = _required_problems(process, after, actor)
    if problems:
        field_id, message = problems[0]
        hidden = access.hidden_fields(actor, process)
        raise InvalidValue(message, "fill it" if field_id not in hidden else "ask someone who may see it to fill it",
                           field=None if field_id in hidden else field_id)


def _refuse_role_read_only(process: CompiledProcess, actor: Actor, given: set[str]) -> None:
    locked = sorted(access.read_only_fields(actor, process) & given)
    if locked:
        raise PermissionDenied(tr("you may not set field {field} of {process}: your roles make it read-only",
                                  field=names.field(process, locked[0]), process=names.process(process)),
                               "ask someone whose role may change it (`read_only_fields`)")


def check_create(process: CompiledProcess, item: dict[str, Any], actor: Actor, given: set[str]) -> None:
    """The field rules of a new item (item: its values with pipeline and stage; given: the keys set)."""
    _refuse_role_read_only(process, actor, given)
    if rules_of(process).any_condition:
        _refuse_not_visible(process, item, actor, given)
        _refuse_required(process, item, actor)


def check_update(process: CompiledProcess, before: dict[str, Any], after: dict[str, Any], actor: Actor,
                 changed: set[str]) -> None:
    """The field rules of a change: read-only by role, stage and condition; visibility; requirement."""
    _refuse_role_read_only(process, actor, changed)
    rules = rules_of(process)
    hidden = access.hidden_fields(actor, process)
    stage_locked = sorted(rules.stage_read_only.get((before["pipeline"], before["stage"]), frozenset()) & changed)
    if stage_locked:
        raise PermissionDenied(tr("{name} may not be changed in stage {stage}",
                                  name=_name(stage_locked[0], hidden, process),
                                  stage=names.stage(process, before["stage"], before["pipeline"])),
                               "it is read-only there (`read_only` of the stage)")
    if not rules.any_condition:
        return
    conditions = rules.conditions["read_only_when"]
    if conditions.keys() & changed:
        values = context(process, before, actor)
        for field_id in sorted(conditions.keys() & changed):
            source, compiled = conditions[field_id]
            if _holds(compiled, values):
                name = _name(field_id, hidden, process)
                raise PermissionDenied(tr("{name} may not be changed while {condition}", name=name,
                                          condition=names.expression(process, source)) if field_id not in hidden
                                       else tr("{name} may not be changed now", name=name),
                                       "it is read-only (`read_only_when`)")
    _refuse_not_visible(process, after, actor, changed)
    _refuse_required(process, after, actor)


def move_problems(process: CompiledProcess, item: dict[str, Any], actor: Actor, target_stage: str,
                  target_pipeline: str | None = None) -> list[Message]:
    """Every reason the actor may not move item into target_stage: the transition's rules, then the
    fields `required_when` the item in the target stage."""
    problems = transition_problems(process, item, actor, target_stage, target_pipeline)
    pipeline_id = target_pipeline or item["pipeline"]
    if (rules_of(process).conditions["required_when"] and pipeline_id in process.pipelines
            and target_stage in process.pipelines[pipeline_id].stage_ids):
        moved = {**item, "stage": target_stage, "pipeline": pipeline_id}
        problems.extend(message for _, message in _required_problems(process, moved, actor))
    return problems
