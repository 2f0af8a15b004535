"""The checks of field-level rules: maker-checker on transitions, conditional and read-only fields."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from smartflow.definitions.diagnostics import Diagnostic
from smartflow.definitions.expressions import names_used, parse_condition
from smartflow.definitions.model import SELF_FIELDS, SYSTEM_FIELDS
from smartflow.definitions.validate.behaviour import _check_expression, granted, movers
from smartflow.definitions.validate.context import Folder, ProcessDoc, error, unknown

CONDITION_KEYS = ("visible_when", "required_when", "read_only_when")


def check_forbid_self(folder: Folder) -> Iterator[Diagnostic]:
    """`forbid_self` names user fields: created_by, updated_by, assigned_to, moved_by or a `user` field."""
    for process in folder.processes:
        user_fields = [fid for fid, raw in process.fields.items() if raw.get("type") == "user"]
        allowed = [*SELF_FIELDS, *user_fields]
        for pid, pipeline in process.pipelines.items():
            for index, transition in enumerate(pipeline.get("transitions") or []):
                for n, name in enumerate(transition.get("forbid_self") or []):
                    path = ("pipelines", pid, "transitions", index, "forbid_self", n)
                    if name in process.fields:
                        if name not in user_fields:
                            kind = process.fields[name].get("type")
                            yield error("forbid-self-not-user",
                                        f"`forbid_self` names `{name}`, a {kind} field of `{process.id}`: only "
                                        "fields holding a user can say who may not take the transition",
                                        process.at(path), "name created_by, updated_by, assigned_to, moved_by or "
                                        "a field of type user", path)
                    elif name not in SELF_FIELDS:
                        yield unknown("field", name, allowed, process.at(path), path,
                                      f"in `forbid_self` of pipeline `{pid}`")


def check_field_conditions(folder: Folder) -> Iterator[Diagnostic]:
    """`visible_when`, `required_when` and `read_only_when` parse and name only what the item has."""
    for process in folder.processes:
        known = process.names()
        for field_id, raw in process.fields.items():
            for key in CONDITION_KEYS:
                if key in raw:
                    yield from _check_expression(process, raw[key], ("fields", field_id, key), known, True)


def _field_list(process: ProcessDoc, listed: list[str], base: tuple[Any, ...], context: str) -> Iterator[Diagnostic]:
    fields = list(process.fields)
    for index, field_id in enumerate(listed):
        if field_id in fields:
            continue
        path = (*base, index)
        if field_id in SYSTEM_FIELDS:
            yield error("unknown-field", f"unknown field `{field_id}` {context}", process.at(path),
                        f"`{field_id}` is a system column, which people do not set; remove it from the list", path)
        else:
            yield unknown("field", field_id, fields, process.at(path), path, context)


def check_read_only_fields(folder: Folder) -> Iterator[Diagnostic]:
    """A stage's `read_only` and a role's `read_only_fields` name fields of the process."""
    for process in folder.processes:
        for pid, pipeline in process.pipelines.items():
            for stage_id, stage in pipeline["stages"].items():
                yield from _field_list(process, stage.get("read_only") or [],
                                       ("pipelines", pid, "stages", stage_id, "read_only"),
                                       f"in the read-only fields of stage `{stage_id}`")
        for role_id, grant in (process.data.get("permissions") or {}).items():
            if isinstance(grant, dict):
                yield from _field_list(process, grant.get("read_only_fields") or [],
                                       ("permissions", role_id, "read_only_fields"),
                                       f"in the read-only fields of `{role_id}`")


def _depends(process: ProcessDoc) -> dict[str, list[tuple[str, str]]]:
    """Field → the (condition key, field) pairs its conditions read."""
    out: dict[str, list[tuple[str, str]]] = {}
    for field_id, raw in process.fields.items():
        for key in CONDITION_KEYS:
            node, _ = parse_condition(raw[key]) if key in raw else (None, None)
            if node is not None:
                out.setdefault(field_id, []).extend(
                    (key, name) for name in sorted(names_used(node)) if name in process.fields)
    return out


def _cycle_from(start: str, depends: dict[str, list[tuple[str, str]]]) -> list[tuple[str, str]] | None:
    """A path of (field, condition key) steps from start back to start, or None."""
    stack: list[tuple[str, list[tuple[str, str]]]] = [(start, [])]
    seen: set[str] = set()
    while stack:
        field_id, path = stack.pop()
        for key, target in depends.get(field_id, []):
            step = [*path, (field_id, key)]
            if target == start:
                return step
            if target not in seen:
                seen.add(target)
                stack.append((target, step))
    return None


def check_condition_cycles(folder: Folder) -> Iterator[Diagnostic]:
    """Field conditions do not depend on each other in a circle (nor a field's on its own value)."""
    for process in folder.processes:
        depends = _depends(process)
        reported: set[frozenset[str]] = set()
        for field_id in depends:
            cycle = _cycle_from(field_id, depends)
            if cycle is None or frozenset(f for f, _ in cycle) in reported:
                continue
            reported.add(frozenset(f for f, _ in cycle))
            chain = " → ".join(f"`{f}` ({key})" for f, key in cycle) + f" → `{field_id}`"
            path = ("fields", field_id, cycle[0][1])
            yield error("condition-cycle", f"the conditions of `{process.id}` depend on each other in a circle: "
                        f"{chain}", process.at(path),
                        "a field's visible_when, required_when or read_only_when may not depend, directly or "
                        "through other fields' conditions, on the field itself; base them on other fields", path)


def _hides(grant: Any, field_id: str) -> bool:
    return isinstance(grant, dict) and field_id in (grant.get("hidden_fields") or [])


def check_required_hidden(folder: Folder) -> Iterator[Diagnostic]:
    """A required field is visible to some role that must fill it: one that may create the item (for
    `required: true`) or move items into the stage (for a stage's `required`)."""
    for process in folder.processes:
        grants = process.data.get("permissions") or {}
        creators = granted(process, folder, "create")
        for field_id, raw in process.fields.items():
            if raw.get("required") is True and creators and all(_hides(grants.get(r), field_id) for r in creators):
                path = ("fields", field_id, "required")
                yield error("required-hidden", f"field `{field_id}` of `{process.id}` is required, and every role "
                            f"that may create items hides it ({', '.join(f'`{r}`' for r in sorted(creators))})",
                            process.at(path), "nobody could fill it: show it to a role that creates items, or "
                            "make it optional", path)
        for pid, pipeline in process.pipelines.items():
            for stage_id, stage in pipeline["stages"].items():
                reach = movers(process, folder, stage_id)
                for index, field_id in enumerate(stage.get("required") or []):
                    if reach and all(_hides(grants.get(r), field_id) for r in reach):
                        path = ("pipelines", pid, "stages", stage_id, "required", index)
                        yield error("required-hidden",
                                    f"stage `{stage_id}` requires `{field_id}`, and every role that may move items "
                                    f"into it hides that field ({', '.join(f'`{r}`' for r in sorted(reach))})",
                                    process.at(path), f"nobody who may move items into `{stage_id}` can see or fill "
                                    f"`{field_id}`: show it to one of these roles, or drop the requirement", path)
