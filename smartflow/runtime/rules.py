"""The rules of a move, all evaluated at once so `explain` can list every failing one."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from smartflow.definitions.diagnostics import known_list
from smartflow.definitions.expressions import names_used, parse_condition
from smartflow.runtime import access, clock
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


def _shown(source: str, values: dict[str, Any], hidden: frozenset[str]) -> str:
    """The values a condition saw, as `name = value`; a field hidden from the user shows as `hidden`."""
    node, _ = parse_condition(source)
    if node is None:
        return ""
    names = sorted(n for n in names_used(node) if n not in ("now", "today"))
    return ", ".join(f"{n} = {'hidden' if n in hidden else _literal(values.get(n))}" for n in names)


def _names_hidden(source: str, hidden: frozenset[str]) -> bool:
    node, _ = parse_condition(source)
    return node is not None and bool(names_used(node) & hidden)


def _literal(value: Any) -> str:
    """A value as a person reads it in a message: 1500.00, 2026-12-01, 'text', empty."""
    if is_empty(value):
        return "empty"
    if isinstance(value, (Decimal, date, datetime)):
        return str(value)
    return repr(value)


def move_problems(process: CompiledProcess, item: dict[str, Any], actor: Actor, target_stage: str,
                  target_pipeline: str | None = None) -> list[str]:
    """Every reason the actor may not move item into target_stage (empty when allowed)."""
    pipeline_id = target_pipeline or item["pipeline"]
    rules = process.pipelines[pipeline_id]
    problems: list[str] = []
    if target_stage not in rules.stage_ids:
        return [f"pipeline `{pipeline_id}` has no stage `{target_stage}` (stages: {known_list(rules.stage_ids, 20)})"]
    changing_pipeline = pipeline_id != item["pipeline"]
    if not changing_pipeline and target_stage == item["stage"]:
        return [f"the item is already in stage `{target_stage}`"]
    if access.level(actor, process, "move") == "none":
        problems.append("your roles do not allow moving items of this process")
    elif not access.reaches(actor, process, "move", item):
        reach = access.level(actor, process, "move")
        problems.append(f"your roles allow moving only {reach} items (`move: {reach}`), and this item is not one")
    if not access.stage_allowed(actor, process, target_stage):
        problems.append(f"your roles may not move items into stage `{target_stage}`")
    elif not problems and not access.may_move_into(actor, process, item, target_stage):
        problems.append(f"none of your roles both reaches this item and may move items into stage `{target_stage}`")
    if not changing_pipeline:
        problems.extend(_transition_problems(process, item, actor, target_stage))
    stage = rules.pipeline.stage(target_stage)
    assert stage is not None
    empty = [f for f in stage.required if is_empty(item.get(f))]
    if empty:
        hidden = access.hidden_fields(actor, process)
        named = [f"`{f}`" for f in empty if f not in hidden]
        unseen = len(empty) - len(named)  # a field hidden from the user is counted, never named
        if unseen:
            named.append("a field you may not see" if unseen == 1 else f"{unseen} fields you may not see")
        problems.append(f"stage `{target_stage}` requires {', '.join(named)}, "
                        f"which {'is' if len(empty) == 1 else 'are'} empty")
    return problems


def _self_problems(process: CompiledProcess, item: dict[str, Any], actor: Actor,
                   forbidden: tuple[str, ...]) -> list[str]:
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
            mine.append("a field hidden from you" if field_id in hidden else f"`{field_id}`")
    if not mine:
        return []
    return [f"the item names you in {' and '.join(dict.fromkeys(mine))}, and someone else must take it "
            "(`forbid_self`)"]


def entry_problems(process: CompiledProcess, item: dict[str, Any], actor: Actor) -> list[str]:
    """Every reason a new item may not be put straight into its stage (empty when allowed): as for a
    move, a transition must lead into the stage that the actor may take and whose condition holds for
    the item (as it would be created). A pipeline that lists no transitions allows every stage."""
    rules = process.pipelines[item["pipeline"]]
    target = item["stage"]
    if rules.pipeline.transitions is None:
        return []
    into = list({id(rule.transition): rule for (_, to), found in rules.rules.items() if to == target
                 for rule in found}.values())
    if not into:
        return [f"no transition leads into `{target}` in pipeline `{rules.pipeline.id}`"]
    failures = [reasons for rule in into if (reasons := _rule_problems(process, item, actor, rule))]
    if len(failures) < len(into):
        return []
    if len(failures) == 1:
        return [f"the transition into `{target}`: {failures[0]}"]
    return [f"no transition into `{target}` may be taken: " + " | ".join(failures)]


def _rule_problems(process: CompiledProcess, item: dict[str, Any], actor: Actor, rule: Any) -> str:
    """Why the actor may not take one transition with item ("" when they may)."""
    reasons = []
    allowed_roles = rule.transition.roles
    if not access.may_take(actor, process, allowed_roles):
        reasons.append(f"only {', '.join(f'`{r}`' for r in allowed_roles)} may take it")
    reasons.extend(_self_problems(process, item, actor, rule.transition.forbid_self))
    if rule.condition is not None:
        values = context(process, item, actor)
        holds, error = evaluate(rule.condition, values)
        if not holds:
            hidden = access.hidden_fields(actor, process)
            seen = _shown(rule.transition.when or "", values, hidden)
            if error and hidden and _names_hidden(rule.transition.when or "", hidden):
                error = "it could not be evaluated"  # an error's text may quote a value the user may not see
            shown = "; ".join(part for part in (seen, error) if part)  # the values it saw, and why it failed
            detail = f" ({shown})" if shown else ""
            reasons.append(f"the condition `{rule.transition.when}` is false{detail}")
    return "; ".join(reasons)


def _transition_problems(process: CompiledProcess, item: dict[str, Any], actor: Actor, target: str) -> list[str]:
    rules = process.pipelines[item["pipeline"]]
    source = item["stage"]
    if not rules.allowed(source, target):
        onward = sorted({t for s, t in rules.pipeline.moves() if s == source})
        return [f"no transition leads from `{source}` to `{target}` in pipeline `{rules.pipeline.id}` "
                f"(from `{source}` items may go to: {known_list(onward, 20)})"]
    candidates = rules.rules_for(source, target)
    if not candidates:
        return []
    failures: list[str] = []
    for rule in candidates:
        reasons = _rule_problems(process, item, actor, rule)
        if not reasons:
            return []
        failures.append(reasons)
    if len(failures) == 1:
        return [f"the transition `{source}` → `{target}`: {failures[0]}"]
    return [f"no transition `{source}` → `{target}` may be taken: " + " | ".join(failures)]
