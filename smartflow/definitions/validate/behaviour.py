"""Semantic checks of a process's behaviour: roles and rights, conditions, templates, triggers."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from smartflow.definitions.diagnostics import Diagnostic, did_you_mean, known_list
from smartflow.definitions.expressions import (
    forbidden_tags,
    names_used,
    parse_condition,
    parse_template,
    private_accesses,
)
from smartflow.definitions.load import JsonPath
from smartflow.definitions.model import SYSTEM_FIELDS
from smartflow.definitions.validate.context import Folder, ProcessDoc, error, literal, unknown, warning
from smartflow.definitions.validate.structure import literal_problem, value_problem

_DATE_TYPES = ("date", "datetime")
_SETTABLE_SYSTEM = ("title", "assigned_to")


def _role_refs(process: ProcessDoc) -> Iterator[tuple[str, JsonPath, bool]]:
    """Every role a process names: (role, path, is_key)."""
    for role_id in process.data.get("permissions") or {}:
        yield role_id, ("permissions", role_id), True
    for field_id, field in (process.data.get("fields") or {}).items():
        for r_index, role_id in enumerate((field.get("roles") or []) if isinstance(field, dict) else []):
            yield role_id, ("fields", field_id, "roles", r_index), False
    for pid, pipeline in process.pipelines.items():
        for t_index, transition in enumerate(pipeline.get("transitions") or []):
            for r_index, role_id in enumerate(transition.get("roles") or []):
                yield role_id, ("pipelines", pid, "transitions", t_index, "roles", r_index), False
    for t_index, trigger in enumerate(process.data.get("triggers") or []):
        for a_index, action in enumerate(trigger["do"]):
            base = ("triggers", t_index, "do", a_index)
            if "notify" in action:
                for r_index, role_id in enumerate(action["notify"].get("roles") or []):
                    yield role_id, (*base, "notify", "roles", r_index), False
            if "assign" in action and "role" in action["assign"]:
                yield action["assign"]["role"], (*base, "assign", "role"), False


def check_role_references(folder: Folder) -> Iterator[Diagnostic]:
    """Permissions, transitions and actions name declared roles."""
    known = folder.role_ids()
    for process in folder.processes:
        for role_id, path, is_key in _role_refs(process):
            if role_id not in known:
                yield unknown("role", role_id, known, process.at(path, key=is_key), path,
                              "(declare it in a `kind: Roles` file)")


def check_permission_stages(folder: Folder) -> Iterator[Diagnostic]:
    """Stages a role may move items into exist in the process."""
    for process in folder.processes:
        stages = process.stage_ids()
        for role_id, grant in (process.data.get("permissions") or {}).items():
            if not isinstance(grant, dict):
                continue
            for index, stage_id in enumerate(grant.get("stages") or []):
                if stage_id not in stages:
                    path = ("permissions", role_id, "stages", index)
                    yield unknown("stage", stage_id, stages, process.at(path), path, f"in the rights of `{role_id}`")


def check_permission_hidden_fields(folder: Folder) -> Iterator[Diagnostic]:
    """Fields a role may not see are fields of the process (system columns cannot be hidden)."""
    for process in folder.processes:
        fields = list(process.fields)
        for role_id, grant in (process.data.get("permissions") or {}).items():
            if not isinstance(grant, dict):
                continue
            for index, field_id in enumerate(grant.get("hidden_fields") or []):
                if field_id in fields:
                    continue
                path = ("permissions", role_id, "hidden_fields", index)
                context = f"in the hidden fields of `{role_id}`"
                if field_id in SYSTEM_FIELDS:
                    yield error("unknown-field", f"unknown field `{field_id}` {context}", process.at(path),
                                f"`{field_id}` is a system column, and system columns cannot be hidden; "
                                "remove it from the list", path)
                else:
                    yield unknown("field", field_id, fields, process.at(path), path, context)


def granted(process: ProcessDoc, folder: Folder, action: str, stage: str | None = None) -> set[str]:
    """Roles whose rights give them action on items of this process (for a move: into stage)."""
    grants = process.data.get("permissions") or {}
    roles: set[str] = set()
    for role_id in folder.role_ids():
        grant = grants.get(role_id)
        if grant is None:
            # administrators may do everything unless the process says otherwise
            if role_id == "administrator":
                roles.add(role_id)
            continue
        level = grant if isinstance(grant, str) else grant.get(action, "none")
        stages = None if isinstance(grant, str) or stage is None else grant.get("stages")
        if level != "none" and (stages is None or stage in stages):
            roles.add(role_id)
    return roles


def movers(process: ProcessDoc, folder: Folder, target: str) -> set[str]:
    """Roles whose rights let them move an item of this process into stage target."""
    return granted(process, folder, "move", target)


def check_transition_roles(folder: Folder) -> Iterator[Diagnostic]:
    """Every transition can be taken by at least one role."""
    for process in folder.processes:
        for pid, pipeline in process.pipelines.items():
            for index, transition in enumerate(pipeline.get("transitions") or []):
                allowed = movers(process, folder, transition["to"])
                listed = transition.get("roles")
                takers = allowed & set(listed) if listed is not None else allowed
                if not takers:
                    path = ("pipelines", pid, "transitions", index)
                    if listed:
                        who = ", ".join(f"`{r}`" for r in listed) + (" lacks" if len(listed) == 1 else " lack")
                    else:
                        who = "none of the roles has"
                    yield error("transition-no-role",
                                f"no role may take the transition to `{transition['to']}` in pipeline `{pid}`: "
                                f"{who} the right to move items into `{transition['to']}`",
                                process.at(path), "grant `move` (and the stage) to one of its roles in `permissions`",
                                path)


def _check_expression(process: ProcessDoc, source: str, path: JsonPath, known: set[str],
                      condition: bool) -> Iterator[Diagnostic]:
    kind = "condition" if condition else "template"
    node, problem = parse_condition(source) if condition else parse_template(source)
    where = process.at(path)
    if problem is not None:
        line = f" (line {problem.line} of the {kind})" if problem.line > 1 else ""
        if condition and source.strip().startswith("{{") and source.strip().endswith("}}"):
            bare = source.strip().removeprefix("{{").removesuffix("}}").strip()
            hint = f"a condition is an expression already: write `{bare}`, without `{{{{ }}}}`"
        elif condition:
            hint = "conditions are Jinja2 expressions such as `estimate > 0 and supplier`"
        else:
            hint = "templates are Jinja2 text such as `Delivery of {{ title }} is due`"
        yield error(f"{kind}-syntax", f"the {kind} {source!r} does not parse: {problem.message}{line}", where,
                    hint, path)
        return
    if not condition:
        for tag in forbidden_tags(node):
            yield error("template-forbidden", f"the template uses `{tag}`, which is not allowed", where,
                        "templates stand alone: write the text in place", path)
    private = sorted(private_accesses(node), key=source.find)
    if private:
        names = ", ".join(f"`{name}`" for name in private)
        yield error("private-access", f"the {kind} {source!r} reaches into Python's internals: {names}", where,
                    f"{kind}s may use fields and plain values only: names that start with `_` and attributes "
                    "such as `mro` are refused; use the field's value itself", path)
    for name in sorted(names_used(node) - known - set(private)):
        hint = did_you_mean(name, known) or "use a field id of the process, a system field, `now`, `today` or `user`"
        yield error("unknown-name", f"the {kind} {source!r} uses `{name}`, which is not a field of `{process.id}`",
                    where, hint, path)


def check_conditions(folder: Folder) -> Iterator[Diagnostic]:
    """Conditions parse as Jinja2 expressions and name only fields the item has."""
    for process in folder.processes:
        known = process.names()
        for pid, pipeline in process.pipelines.items():
            for index, transition in enumerate(pipeline.get("transitions") or []):
                if "when" in transition:
                    path = ("pipelines", pid, "transitions", index, "when")
                    yield from _check_expression(process, transition["when"], path, known, True)
        for index, trigger in enumerate(process.data.get("triggers") or []):
            if "when" in trigger:
                yield from _check_expression(process, trigger["when"], ("triggers", index, "when"), known, True)


def _templates(action: dict[str, Any], base: JsonPath) -> Iterator[tuple[str, JsonPath]]:
    kind, params = next(iter(action.items()))
    if kind == "comment":
        yield params, (*base, "comment")
    elif kind == "notify":
        for key in ("subject", "message"):
            if key in params:
                yield params[key], (*base, "notify", key)
    elif kind == "webhook" and "body" in params:
        yield params["body"], (*base, "webhook", "body")
    elif kind == "todo":
        yield params["title"], (*base, "todo", "title")
    elif kind == "set":
        for field_id, value in params.items():
            if isinstance(value, str):
                yield value, (*base, "set", field_id)
    elif kind == "create_item":
        if "title" in params:
            yield params["title"], (*base, "create_item", "title")
        for field_id, value in (params.get("fields") or {}).items():
            if isinstance(value, str):
                yield value, (*base, "create_item", "fields", field_id)


def check_templates(folder: Folder) -> Iterator[Diagnostic]:
    """Templates parse, use no include/import/extends, and name only the item's fields."""
    for process in folder.processes:
        known = process.names()
        for t_index, trigger in enumerate(process.data.get("triggers") or []):
            for a_index, action in enumerate(trigger["do"]):
                for source, path in _templates(action, ("triggers", t_index, "do", a_index)):
                    yield from _check_expression(process, source, path, known, False)


def check_templates_reveal_hidden(folder: Folder) -> Iterator[Diagnostic]:
    """A comment or notification whose text uses a field some role may not see: the text is read by
    people (the item's history, the recipients' inbox), whatever their roles hide."""
    for process in folder.processes:
        hiders: dict[str, list[str]] = {}
        for role_id, grant in (process.data.get("permissions") or {}).items():
            if isinstance(grant, dict):
                for field_id in grant.get("hidden_fields") or []:
                    hiders.setdefault(field_id, []).append(role_id)
        if not hiders:
            continue
        for t_index, trigger in enumerate(process.data.get("triggers") or []):
            for a_index, action in enumerate(trigger["do"]):
                if not isinstance(action, dict) or next(iter(action), None) not in ("comment", "notify", "todo"):
                    continue
                for source, path in _templates(action, ("triggers", t_index, "do", a_index)):
                    node, problem = parse_template(source)
                    if node is None or problem is not None:
                        continue  # check_templates reports it
                    for name in sorted(names_used(node) & set(hiders)):
                        roles = ", ".join(f"`{r}`" for r in hiders[name])
                        yield warning("template-reveals-hidden",
                                      f"the template {source!r} uses `{name}`, which {roles} may not see",
                                      process.at(path), "whoever may not see the field reads `(hidden)` "
                                      "in its place: leave the field out of the text", path)


def check_trigger_ids(folder: Folder) -> Iterator[Diagnostic]:
    """Trigger ids are unique within a process."""
    for process in folder.processes:
        seen: set[str] = set()
        for index, trigger in enumerate(process.data.get("triggers") or []):
            if trigger["id"] in seen:
                path = ("triggers", index, "id")
                yield error("duplicate-id", f"process `{process.id}` has two triggers `{trigger['id']}`",
                            process.at(path), "give each trigger its own id", path)
            seen.add(trigger["id"])


def check_trigger_events(folder: Folder) -> Iterator[Diagnostic]:
    """A trigger's event names an existing field, stage, pipeline or date field."""
    for process in folder.processes:
        fields = process.fields
        pipelines = list(process.pipelines)
        for index, trigger in enumerate(process.data.get("triggers") or []):
            base: JsonPath = ("triggers", index)
            pipeline_id = trigger.get("pipeline")
            if pipeline_id is not None and pipeline_id not in pipelines:
                yield unknown("pipeline", pipeline_id, pipelines, process.at((*base, "pipeline")), (*base, "pipeline"))
                pipeline_id = None
            if "stage" in trigger:
                stages = process.stage_ids(pipeline_id)
                if trigger["stage"] not in stages:
                    yield unknown("stage", trigger["stage"], stages, process.at((*base, "stage")), (*base, "stage"))
            if "field" in trigger:
                watchable = [*fields, *_SETTABLE_SYSTEM]
                if trigger["field"] not in watchable:
                    path = (*base, "field")
                    yield unknown("field", trigger["field"], watchable, process.at(path), path)
                elif "to" in trigger and trigger["field"] in fields:
                    problem = value_problem(fields[trigger["field"]], trigger["to"])
                    if problem:
                        yield error("invalid-value", f"trigger `{trigger['id']}`: `to` {literal(trigger['to'])} "
                                    f"{problem} of field `{trigger['field']}`", process.at((*base, "to")), None,
                                    (*base, "to"))
            if "at" in trigger:
                date_field = trigger["at"].split()[0].split("-")[0].split("+")[0]
                dates = [f for f, spec in fields.items() if spec["type"] in _DATE_TYPES] + ["created_at", "updated_at"]
                if date_field in fields and date_field not in dates:
                    yield error("invalid-value", f"trigger `{trigger['id']}`: `at` needs a date or datetime field, "
                                f"and `{date_field}` is of type `{fields[date_field]['type']}`",
                                process.at((*base, "at")), f"date fields: {known_list(dates)}", (*base, "at"))
                elif date_field not in dates:
                    yield unknown("field", date_field, dates, process.at((*base, "at")), (*base, "at"),
                                  "(`at` needs a date or datetime field)")


PEOPLE = ("assigned_to", "created_by", "observers")


def check_notify_users(folder: Folder) -> Iterator[Diagnostic]:
    """`notify.users` names the item's people (assigned_to, created_by, observers, a user field) or @login."""
    for process in folder.processes:
        people = [*PEOPLE, *(f for f, spec in process.fields.items() if spec["type"] == "user")]
        for t_index, trigger in enumerate(process.data.get("triggers") or []):
            for a_index, action in enumerate(trigger["do"]):
                for u_index, name in enumerate((action.get("notify") or {}).get("users") or []):
                    if name.startswith("@") or name in people:
                        continue
                    path = ("triggers", t_index, "do", a_index, "notify", "users", u_index)
                    hint = did_you_mean(name, people) or (f"use {known_list(people)}, or `@login` for one "
                                                          "particular user")
                    yield error("unknown-field", f"`notify` names `{name}`, which is not a user field of "
                                f"`{process.id}`", process.at(path), hint, path)


def check_trigger_actions(folder: Folder) -> Iterator[Diagnostic]:
    """Actions name fields, stages and processes that exist."""
    for process in folder.processes:
        for t_index, trigger in enumerate(process.data.get("triggers") or []):
            for a_index, action in enumerate(trigger["do"]):
                base: JsonPath = ("triggers", t_index, "do", a_index)
                pipeline_id = trigger.get("pipeline")  # an unknown one is reported by check_trigger_events
                known = pipeline_id if pipeline_id in process.pipelines else None
                yield from _check_action(folder, process, action, base, known)


def _check_action(folder: Folder, process: ProcessDoc, action: dict[str, Any], base: JsonPath,
                  pipeline_id: str | None) -> Iterator[Diagnostic]:
    kind, params = next(iter(action.items()))
    if kind == "set":
        settable = list(process.fields) + list(_SETTABLE_SYSTEM)
        for field_id, value in params.items():
            path = (*base, "set", field_id)
            if field_id not in settable:
                yield unknown("field", field_id, settable, process.at(path, key=True), path, "in `set`")
            elif field_id in process.fields:
                problem = literal_problem(process.fields[field_id], value)
                if problem:
                    yield error("invalid-value", f"`set` gives field `{field_id}` {literal(value)}, which {problem}",
                                process.at(path), None, path)
    elif kind == "move":
        stage_id = params if isinstance(params, str) else params["stage"]
        target_pipeline = None if isinstance(params, str) else params.get("pipeline")
        if target_pipeline is not None and target_pipeline not in process.pipelines:
            path = (*base, "move", "pipeline")
            yield unknown("pipeline", target_pipeline, list(process.pipelines), process.at(path), path)
            return
        stages = process.stage_ids(target_pipeline or pipeline_id)
        if stage_id not in stages:
            path = (*base, "move") if isinstance(params, str) else (*base, "move", "stage")
            yield unknown("stage", stage_id, stages, process.at(path), path, "in `move`")
    elif kind == "create_item":
        yield from _check_create_item(folder, process, params, (*base, "create_item"))
    elif kind == "todo":
        yield from _check_todo(process, params, (*base, "todo"))


def _check_create_item(folder: Folder, process: ProcessDoc, params: dict[str, Any],
                       base: JsonPath) -> Iterator[Diagnostic]:
    target = folder.process(params["process"])
    if target is None and params["process"] in folder.broken:
        return  # its own file's errors are reported; don't add a second, misleading one
    if target is None:
        path = (*base, "process")
        yield unknown("process", params["process"], folder.process_ids(), process.at(path), path, "in `create_item`")
        return
    if "pipeline" in params and params["pipeline"] not in target.pipelines:
        path = (*base, "pipeline")
        yield unknown("pipeline", params["pipeline"], list(target.pipelines), process.at(path), path,
                      f"of process `{target.id}`")
    elif "stage" in params:
        stages = target.stage_ids(params.get("pipeline") or _default_pipeline(target))
        if params["stage"] not in stages:
            path = (*base, "stage")
            yield unknown("stage", params["stage"], stages, process.at(path), path, f"of process `{target.id}`")
    if "link" in params:
        path = (*base, "link")
        spec = target.fields.get(params["link"])
        links = [f for f, s in target.fields.items() if s["type"] == "link" and s.get("to") == process.id]
        if spec is None or spec["type"] != "link" or spec.get("to") != process.id:
            yield error("invalid-link", f"`{params['link']}` is not a link field of `{target.id}` pointing to "
                        f"`{process.id}`", process.at(path), did_you_mean(params["link"], links)
                        or f"add a field `{{type: link, to: {process.id}}}` to `{target.id}`", path)
    settable = list(target.fields) + list(_SETTABLE_SYSTEM)
    given = params.get("fields") or {}
    for field_id, value in given.items():
        path = (*base, "fields", field_id)
        if field_id not in settable:
            yield unknown("field", field_id, settable, process.at(path, key=True), path, f"of process `{target.id}`")
        elif field_id in target.fields:
            problem = literal_problem(target.fields[field_id], value)
            if problem:
                yield error("invalid-value", f"`create_item` gives field `{field_id}` of `{target.id}` "
                            f"{literal(value)}, which {problem}", process.at(path), None, path)
    missing = [f for f, spec in target.fields.items() if spec.get("required") and spec.get("default") is None
               and f not in given and f != params.get("link")]
    if missing:
        path = (*base, "fields") if given else base
        yield error("missing-required", f"`create_item` leaves required field(s) of `{target.id}` empty: "
                    + ", ".join(f"`{f}`" for f in missing), process.at(path, key=bool(given)),
                    "set them under `fields:`", path)


def _check_todo(process: ProcessDoc, params: dict[str, Any], base: JsonPath) -> Iterator[Diagnostic]:
    """A `todo` action's responsible is one of the item's people or `@login`; its deadline an offset
    (`+2wd`), a date field, or a date field with an offset (`deadline - 1wd`)."""
    people = ["assigned_to", "created_by",
              *(f for f, spec in process.fields.items() if spec["type"] == "user" and not spec.get("multiple"))]
    responsible = params.get("responsible")
    if responsible is not None and not responsible.startswith("@") and responsible not in people:
        path = (*base, "responsible")
        yield error("unknown-field", f"`todo` names `{responsible}` responsible, which is not a user field of "
                    f"`{process.id}`", process.at(path), did_you_mean(responsible, people)
                    or f"use {known_list(people)}, or `@login` for one particular user", path)
    due = params.get("due")
    if due is not None:
        path = (*base, "due")
        shape = re.match(r"^\s*([a-z][a-z0-9_]*)?\s*(?:([-+])\s*(\d+(?:m|h|d|w|wd|wh)))?\s*$", due)
        dates = [f for f, spec in process.fields.items() if spec["type"] in _DATE_TYPES]
        if shape is None or not (shape.group(1) or shape.group(2)) or (shape.group(1) is None and
                                                                         not due.strip().startswith("+")):
            yield error("invalid-value", f"`todo` has the deadline {due!r}, which is not a duration nor a date "
                        "field", process.at(path), "write `+2wd`, `+3d`, `+4h`, a date field, or `deadline - 1wd`",
                        path)
        elif shape.group(1) and shape.group(1) not in (*dates, "now", "today"):
            yield unknown("field", shape.group(1), dates, process.at(path), path, "(`due` needs a date field)")


def _default_pipeline(process: ProcessDoc) -> str:
    for pid, pipeline in process.pipelines.items():
        if pipeline.get("default") is True:
            return pid
    return next(iter(process.pipelines))


def check_trigger_cycles(folder: Folder) -> Iterator[Diagnostic]:
    """Trigger chains that can feed themselves forever (a warning: conditions may stop them)."""
    triggers: list[tuple[ProcessDoc, int, dict[str, Any]]] = [
        (process, index, trigger)
        for process in folder.processes
        for index, trigger in enumerate(process.data.get("triggers") or [])
    ]
    listeners: dict[tuple[str, ...], set[int]] = {}  # event -> the triggers it fires (not all pairs: linear)
    for m, (other, _, candidate) in enumerate(triggers):
        for event in _listens(other.id, candidate):
            listeners.setdefault(event, set()).add(m)
    edges: dict[int, set[int]] = {n: set() for n in range(len(triggers))}
    for n, (process, _, trigger) in enumerate(triggers):
        for event in set(_events_of_actions(folder, process, trigger)):
            edges[n] |= listeners.get(event, set())
    reported: set[frozenset[int]] = set()
    for start in range(len(triggers)):
        cycle = _find_cycle(start, edges)
        if cycle and frozenset(cycle) not in reported:
            reported.add(frozenset(cycle))
            process, index, trigger = triggers[start]
            chain = " → ".join(f"{triggers[n][0].id}.{triggers[n][2]['id']}" for n in [*cycle, cycle[0]])
            path = ("triggers", index)
            yield warning("trigger-cycle", f"triggers can fire each other in a loop: {chain}", process.at(path),
                          "add a `when` condition that stops the loop; at run time the chain is cut at its depth cap",
                          path)


def _listens(process_id: str, trigger: dict[str, Any]) -> set[tuple[str, ...]]:
    on = trigger["on"]
    if on == "created":
        return {("created", process_id)}
    if on == "updated":
        return {("updated", process_id)}
    if on == "field_changed":
        return {("changed", process_id, trigger["field"])}
    if on in ("stage_entered", "stage_left"):
        return {(on, process_id, trigger["stage"])}
    return set()


def _events_of_actions(folder: Folder, process: ProcessDoc, trigger: dict[str, Any]) -> Iterator[tuple[str, ...]]:
    """The events a trigger's actions cause, as the runtime fires them (runtime/items.py)."""
    for action in trigger["do"]:
        kind, params = next(iter(action.items()))
        if kind == "set":
            yield ("updated", process.id)
            for field_id in params:
                yield ("changed", process.id, field_id)
        elif kind == "move":
            stage_id = params if isinstance(params, str) else params["stage"]
            yield ("stage_entered", process.id, stage_id)
            for other in process.stage_ids():
                if other != stage_id:
                    yield ("stage_left", process.id, other)
        elif kind == "assign":
            yield ("updated", process.id)
            yield ("changed", process.id, "assigned_to")
        elif kind == "create_item":
            yield ("created", params["process"])
            target = folder.process(params["process"])
            if target is not None:
                stage = params.get("stage") or (target.stage_ids(params.get("pipeline") or _default_pipeline(target))
                                                or [None])[0]
                yield ("stage_entered", params["process"], str(stage))


def _find_cycle(start: int, edges: dict[int, set[int]]) -> list[int] | None:
    """A cycle through start, as the list of nodes from start, or None."""
    stack: list[tuple[int, list[int]]] = [(start, [start])]
    seen: set[int] = set()
    while stack:
        node, path = stack.pop()
        for nxt in sorted(edges[node]):
            if nxt == start:
                return path
            if nxt not in seen:
                seen.add(nxt)
                stack.append((nxt, [*path, nxt]))
    return None
