"""The rules of a move, all evaluated at once so `explain` can list every failing one."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from smartflow.definitions.expressions import names_used, parse_condition
from smartflow.definitions.hints import known_list
from smartflow.i18n import Joined, Message, conjoined, joined, tr
from smartflow.runtime import access, clock, names
from smartflow.runtime.access import Actor
from smartflow.runtime.compiled import CompiledProcess
from smartflow.runtime.fields import is_empty


def context(process: CompiledProcess, item: dict[str, Any], actor: Actor) -> dict[str, Any]:
    """Plain values a condition or template sees: fields, system fields, now, today, user."""
    values = dict(item)
    for key in process.money_ids:  # a single money value (the only dict an item holds) compares as its amount
        value = values.get(key)
        if isinstance(value, dict) and "amount" in value:
            values[key] = value["amount"]
    if not process.fields.keys() <= values.keys():  # a field the item lacks reads as empty
        for field_id in process.fields:
            values.setdefault(field_id, None)
    values["now"] = clock.now()
    values["today"] = clock.today()
    values["user"] = actor.login
    return values


def evaluate(condition: Any, values: dict[str, Any]) -> tuple[bool, str | None]:
    """A compiled condition's truth; an error while evaluating counts as false, with its reason."""
    try:
        return bool(condition(**values)), None
    except Exception as exc:
        return False, f"{type(exc).__name__}: {exc}"


def _shown(process: CompiledProcess, source: str, values: dict[str, Any], hidden: frozenset[str]) -> Joined:
    """The values a condition saw, as `name = value`; a field hidden from the user shows as `hidden`."""
    node, _ = parse_condition(source)
    if node is None:
        return joined(())
    used = sorted(n for n in names_used(node) if n not in ("now", "today"))
    return joined(tr("{name} = {value}", name=names.field(process, n, quote=""),
                     value=tr("hidden") if n in hidden else _literal(values.get(n))) for n in used)


def _names_hidden(source: str, hidden: frozenset[str]) -> bool:
    node, _ = parse_condition(source)
    return node is not None and bool(names_used(node) & hidden)


def _literal(value: Any) -> str:
    """A value as a person reads it in a message: 1500.00, 2026-12-01, 'text', empty."""
    if is_empty(value):
        return tr("empty")
    if isinstance(value, (Decimal, date, datetime)):
        return str(value)
    return repr(value)


def move_problems(process: CompiledProcess, item: dict[str, Any], actor: Actor, target_stage: str,
                  target_pipeline: str | None = None) -> list[Message]:
    """Every reason the actor may not move item into target_stage (of target_pipeline when given): the
    rights, the transition (in the item's pipeline, or into another pipeline: `ways_in`) with its
    roles, `forbid_self` and condition, and the stage's required fields. Empty when allowed."""
    pipeline_id = target_pipeline or item["pipeline"]
    rules = process.pipelines[pipeline_id]
    problems: list[str] = []
    if target_stage not in rules.stage_ids:
        return [tr("pipeline {pipeline} has no stage {stage} (stages: {stages})",
                   pipeline=names.pipeline(process, pipeline_id), stage=names.stage(process, target_stage),
                   stages=known_list(rules.stage_ids, 20))]
    changing_pipeline = pipeline_id != item["pipeline"]
    if not changing_pipeline and target_stage == item["stage"]:
        return [tr("the item is already in stage {stage}", stage=names.stage(process, target_stage, pipeline_id))]
    problems.extend(right_problems(process, item, actor))
    stage_named = names.stage(process, target_stage, pipeline_id)
    pipeline_named = names.pipeline(process, pipeline_id)
    if not access.stage_allowed(actor, process, target_stage, pipeline_id):
        problems.append(tr("your roles may not move items into stage {stage} of pipeline {pipeline}",
                           stage=stage_named, pipeline=pipeline_named) if changing_pipeline
                        else tr("your roles may not move items into stage {stage}", stage=stage_named))
    elif not problems and not access.may_move_into(actor, process, item, target_stage, pipeline_id):
        problems.append(tr("none of your roles both reaches this item and may move items into stage {stage} of "
                           "pipeline {pipeline}", stage=stage_named, pipeline=pipeline_named) if changing_pipeline
                        else tr("none of your roles both reaches this item and may move items into stage {stage}",
                                stage=stage_named))
    problems.extend(_transition_problems(process, item, actor, target_stage, pipeline_id))
    stage = rules.pipeline.stage(target_stage)
    assert stage is not None
    empty = [f for f in stage.required if is_empty(item.get(f))]
    if empty:
        stage_name, required = names.stage(process, target_stage, pipeline_id), named_fields(process, actor, empty)
        problems.append(tr("stage {stage} requires {fields}, which is empty", stage=stage_name, fields=required)
                        if len(empty) == 1 else
                        tr("stage {stage} requires {fields}, which are empty", stage=stage_name, fields=required))
    return problems


def right_problems(process: CompiledProcess, item: dict[str, Any], actor: Actor) -> list[Message]:
    """Why the actor may not move this item at all, whatever the stage (empty when their `move` level
    reaches it): a refusal of rights (403), where the other reasons of a move are rules (409)."""
    if access.level(actor, process, "move", item.get("pipeline")) == "none":
        return [tr("your roles do not allow moving items of this process")]
    if not access.reaches(actor, process, "move", item):
        reach = access.level(actor, process, "move", item.get("pipeline"))
        return [tr("your roles allow moving only {reach} items (`move: {level}`), and this item is not one",
                   reach=names.Name(reach, names.LEVEL_TITLES.get(reach), quote=""), level=reach)]
    return []


def named_fields(process: CompiledProcess, actor: Actor, field_ids: list[str] | tuple[str, ...]) -> Joined:
    """Fields as a refusal names them: `a`, `b`; one the actor may not see is counted, never named."""
    hidden = access.hidden_fields(actor, process)
    named: list[Any] = [names.field(process, f) for f in field_ids if f not in hidden]
    unseen = len(field_ids) - len(named)
    if unseen:
        named.append(tr("a field you may not see") if unseen == 1 else
                     tr("{count} fields you may not see", count=unseen))
    return joined(named)


def _self_problems(process: CompiledProcess, item: dict[str, Any], actor: Actor,
                   forbidden: tuple[str, ...]) -> list[Message]:
    """Maker-checker: the user in one of the forbidden fields may not take the transition.

    A user field hidden from the actor is not named (the refusal alone tells them no more than the rule does).
    """
    if not forbidden or actor.id is None:
        return []  # the local administrator (and an identity-less trigger) is nobody's maker
    hidden = access.hidden_fields(actor, process)
    mine = []
    for field_id in forbidden:
        value = item.get(field_id)
        if value == actor.id or (isinstance(value, list) and actor.id in value):
            mine.append(tr("a field hidden from you") if field_id in hidden else names.field(process, field_id))
    if not mine:
        return []
    return [tr("the item names you in {fields}, and someone else must take it (`forbid_self`)",
               fields=conjoined(list(dict.fromkeys(mine))))]


def entry_problems(process: CompiledProcess, item: dict[str, Any], actor: Actor) -> list[Message]:
    """Every reason a new item may not be put straight into its stage, a stage other than its
    pipeline's first (empty when allowed).

    Such a create is governed as the moves that would bring the item there from the first stage,
    taken by the creator with the values given: some way of declared transitions must lead from the
    first stage to the stage, each of whose steps the creator may take — their roles, their
    conditions (on the item as it would be created, in the stage the step leaves), their
    `forbid_self` (the creator is the item's `created_by`, `updated_by`, `moved_by` and, unless
    another user is given, `assigned_to`) and the creator's right to move items into the stage the
    step enters. A pipeline that lists no transitions allows every step. The fields a stage
    requires are the create's to check, for the stage the item is put into only: a stage on the way
    requires its fields only while an item is in it."""
    rules = process.pipelines[item["pipeline"]]
    target, first = item["stage"], rules.first
    if target == first:
        return []
    made = {"assigned_to": actor.id, **item, "created_by": actor.id, "updated_by": actor.id}
    onward = rules.onward
    reached, frontier = {first}, [first]
    blocked: dict[tuple[str, str], list[Message]] = {}
    while frontier and target not in reached:
        source = frontier.pop(0)
        at = {**made, "stage": source, "moved_by": None if source == first else actor.id}
        for to in onward.get(source, ()):
            if to in reached:
                continue
            reasons = _step_problems(process, at, actor, to)
            if reasons:
                blocked[(source, to)] = reasons
                continue
            reached.add(to)
            frontier.append(to)
    if target in reached:
        return []
    leads = _leading_to(onward, target)
    found = [reason for (source, to), reasons in blocked.items() if to not in reached and to in leads
             for reason in reasons]
    if not found:
        return [tr("no way of transitions leads from the first stage {first} to {target} in pipeline {pipeline}",
                   first=names.stage(process, first, rules.pipeline.id),
                   target=names.stage(process, target, rules.pipeline.id),
                   pipeline=names.pipeline(process, rules.pipeline.id))]
    return list(dict.fromkeys(found))


def _step_problems(process: CompiledProcess, item: dict[str, Any], actor: Actor, target: str) -> list[Message]:
    """Why the actor may not take one step of a create's way (the item in the stage the step leaves)."""
    problems = []
    if not access.may_move_into(actor, process, item, target):
        problems.append(tr("your roles may not move items into stage {stage}",
                           stage=names.stage(process, target, item["pipeline"])))
    problems.extend(_transition_problems(process, item, actor, target, item["pipeline"]))
    return problems


def _leading_to(onward: dict[str, list[str]], target: str) -> set[str]:
    """The stages from which some way of transitions leads to target (target included)."""
    back: dict[str, set[str]] = {}
    for source, targets in onward.items():
        for to in targets:
            back.setdefault(to, set()).add(source)
    found, frontier = {target}, [target]
    while frontier:
        for source in back.get(frontier.pop(), ()):
            if source not in found:
                found.add(source)
                frontier.append(source)
    return found


def _rule_problems(process: CompiledProcess, item: dict[str, Any], actor: Actor, rule: Any) -> Joined:
    """Why the actor may not take one transition with item (empty when they may)."""
    reasons: list[Message] = []
    allowed_roles = rule.transition.roles
    if not access.may_take(actor, process, allowed_roles, item.get("pipeline")):
        reasons.append(tr("only {roles} may take it", roles=joined(names.role(process, r) for r in allowed_roles)))
    reasons.extend(_self_problems(process, item, actor, rule.transition.forbid_self))
    if rule.condition is not None:
        values = context(process, item, actor)
        holds, error = evaluate(rule.condition, values)
        if not holds:
            hidden = access.hidden_fields(actor, process)
            seen = _shown(process, rule.transition.when or "", values, hidden)
            failed: Any = error
            if error and hidden and _names_hidden(rule.transition.when or "", hidden):
                failed = tr("it could not be evaluated")  # an error's text may quote a value the user may not see
            shown = joined((part for part in (seen, failed) if part and str(part)), "; ")  # the values, and why
            condition = names.expression(process, rule.transition.when or "")
            reasons.append(tr("the condition {condition} is false ({shown})", condition=condition, shown=shown)
                           if shown.parts else tr("the condition {condition} is false", condition=condition))
    return joined(reasons, "; ")


def _transition_problems(process: CompiledProcess, item: dict[str, Any], actor: Actor, target: str,
                         pipeline_id: str) -> list[Message]:
    """Why the transition from the item's stage to target (of pipeline_id) may not be taken: none leads
    there, or none of those that do may be taken by the actor with this item."""
    source = item["stage"]
    if pipeline_id == item["pipeline"]:
        rules = process.pipelines[pipeline_id]
        if not rules.allowed(source, target):
            onward = sorted({t for s, t in rules.pipeline.moves() if s == source})
            return [tr("no transition leads from {source} to {target} in pipeline {pipeline} "
                       "(from {source} items may go to: {onward})", source=names.stage(process, source, pipeline_id),
                       target=names.stage(process, target, pipeline_id), pipeline=names.pipeline(process, pipeline_id),
                       onward=names.stages(process, onward, pipeline_id) if onward else known_list(onward, 20))]
        candidates = rules.rules_for(source, target)
        label: Any = tr("{source} → {target}", source=names.stage(process, source, pipeline_id),
                        target=names.stage(process, target, pipeline_id))
    else:
        rules = process.pipelines[pipeline_id]
        ways = rules.ways_in(item["pipeline"], source)
        if target not in ways:
            origin = names.place(process, item["pipeline"], source)
            if item["pipeline"] not in rules.entered_from:
                return [tr("pipeline {pipeline} declares no transition from pipeline {origin}: its items enter it "
                           "at its first stage {first}", pipeline=names.pipeline(process, pipeline_id),
                           origin=names.pipeline(process, item["pipeline"]),
                           first=names.stage(process, rules.first, pipeline_id))]
            into = (tr("from {origin} items may enter it at: {stages}", origin=origin,
                       stages=names.stages(process, sorted(ways), pipeline_id)) if ways else
                    tr("it takes items of {origin} only from: {stages}",
                       origin=names.pipeline(process, item["pipeline"]),
                       stages=names.stages(process, sorted({s for p, s in rules.entries if p == item["pipeline"]}),
                                           item["pipeline"])))
            return [tr("no transition leads from {origin} to {target} in pipeline {pipeline} ({into})",
                       origin=origin, target=names.stage(process, target, pipeline_id),
                       pipeline=names.pipeline(process, pipeline_id), into=into)]
        candidates = ways[target]
        label = tr("{source} → {target}", source=names.place(process, item["pipeline"], source),
                   target=names.place(process, pipeline_id, target))
    if not candidates:
        return []
    failures: list[Joined] = []
    for rule in candidates:
        reasons = _rule_problems(process, item, actor, rule)
        if not reasons.parts:
            return []
        failures.append(reasons)
    if len(failures) == 1:
        titled = candidates[0].transition.title if len(candidates) == 1 else None
        if titled:  # people know a transition by its title: "the transition «Request prices»"
            label = names.Name(str(label), titled, quote="")
        return [tr("the transition {label}: {reasons}", label=label, reasons=failures[0])]
    return [tr("no transition {label} may be taken: {reasons}", label=label, reasons=joined(failures, " | "))]
