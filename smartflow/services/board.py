"""What the web board needs beyond the item calls: which moves to offer on a card, and which
required fields a move still waits for. Both answer from the same rules `move` checks."""

from __future__ import annotations

from typing import Any

from smartflow.runtime import access, fields
from smartflow.runtime.compiled import CompiledProcess
from smartflow.runtime.fieldrules import required_when_missing
from smartflow.runtime.items import Write


def move_targets(write: Write, compiled: CompiledProcess, item: dict[str, Any]) -> list[str]:
    """The stages of the item's pipeline the actor could move it into, data aside: the pipeline has
    the transition, the actor's roles reach the item and may move into the stage, and the
    transition's `roles` include one of theirs. Conditions and required fields depend on the
    item's values: a move they refuse is explained (or asks for the fields) when it is tried."""
    actor = write.actor
    if (access.level(actor, compiled, "move", item["pipeline"]) == "none"
            or not access.reaches(actor, compiled, "move", item)):
        return []
    rules = compiled.pipelines[item["pipeline"]]
    targets = []
    for stage_id in rules.stage_ids:
        if stage_id == item["stage"] or not rules.allowed(item["stage"], stage_id):
            continue
        if not access.may_move_into(actor, compiled, item, stage_id):
            continue
        candidates = rules.rules_for(item["stage"], stage_id)
        if candidates and not any(access.may_take(actor, compiled, rule.transition.roles, item["pipeline"])
                              for rule in candidates):
            continue
        targets.append(stage_id)
    return targets


def missing_required(write: Write, compiled: CompiledProcess, item: dict[str, Any], stage: str,
                     pipeline: str | None = None) -> list[str]:
    """The fields the target stage requires, or whose `required_when` holds there, that are empty on
    the item, among those the actor sees (a hidden one cannot be asked for: the move is then refused
    with its reason)."""
    rules = compiled.pipelines.get(pipeline or item["pipeline"])
    target = rules.pipeline.stage(stage) if rules else None
    if target is None:
        return []
    hidden = access.hidden_fields(write.actor, compiled)
    missing = [f for f in target.required if f not in hidden and fields.is_empty(item.get(f))]
    moved = {**item, "stage": stage, "pipeline": pipeline or item["pipeline"]}
    return missing + [f for f in required_when_missing(compiled, moved, write.actor) if f not in missing]


def item_rights(write: Write, compiled: CompiledProcess, item: dict[str, Any]) -> dict[str, bool]:
    """Whether the actor's levels reach this item for update and delete (the card offers only those)."""
    actor = write.actor
    return {action: access.level(actor, compiled, action, item.get("pipeline")) != "none"
            and access.reaches(actor, compiled, action, item)
            for action in ("update", "delete", "move")}


def unfillable(write: Write, compiled: CompiledProcess, item: dict[str, Any], wanted: list[str]) -> dict[str, str]:
    """Which of the fields a move waits for the actor cannot fill, and why: "no_update" when their update
    right does not reach the item, "read_only" for a field read-only to their roles. A move waiting for one
    of them can never pass for this actor: the board says so instead of asking for it again."""
    actor = write.actor
    if access.level(actor, compiled, "update") == "none" or not access.reaches(actor, compiled, "update", item):
        return {field_id: "no_update" for field_id in wanted}
    fixed = access.read_only_fields(actor, compiled)
    return {field_id: "read_only" for field_id in wanted if field_id in fixed}
