"""Checks of `kind: Test` documents: the processes, stages, fields, users and refs they name exist."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from smartflow.definitions.diagnostics import Diagnostic, Location
from smartflow.definitions.load import Document, JsonPath
from smartflow.definitions.model import SYSTEM_FIELDS
from smartflow.definitions.validate.context import Folder, error, unknown

VERBS = ("create", "update", "move", "delete", "restore", "advance", "run_worker", "expect", "expect_count",
         "expect_outbox", "expect_inbox")
ITEM_VERBS = ("update", "move", "delete", "restore", "expect")


def check_scenarios(folder: Folder) -> Iterator[Diagnostic]:
    """Each step has one verb and names what exists; a ref is created before it is used."""
    for doc, data in folder.test_docs:
        users = set(data.get("users") or {})
        departments = set(data.get("departments") or {})
        roles = folder.role_ids()
        for login, spec in (data.get("users") or {}).items():
            for index, role in enumerate(spec.get("roles") or []):
                if role not in roles:
                    path = ("users", login, "roles", index)
                    yield unknown("role", role, roles, doc.location(path), path)
            if spec.get("department") and spec["department"] not in departments:
                path = ("users", login, "department")
                yield unknown("department", spec["department"], departments, doc.location(path), path)
        for s_index, scenario in enumerate(data["scenarios"]):
            refs: dict[str, str] = {}
            for t_index, step in enumerate(scenario["steps"]):
                yield from _check_step(folder, doc, step, ("scenarios", s_index, "steps", t_index), refs, users)


def _at(doc: Document, path: JsonPath, key: bool = False) -> Location:
    return doc.location(path, key=key)


def _check_step(folder: Folder, doc: Document, step: dict[str, Any], path: JsonPath, refs: dict[str, str],
                users: set[str]) -> Iterator[Diagnostic]:
    verbs = [v for v in VERBS if v in step]
    if len(verbs) != 1:
        yield error("invalid-step", f"a step needs exactly one of {', '.join(VERBS)}; it has "
                    + (", ".join(f"`{v}`" for v in verbs) or "none"), _at(doc, path), "split it into several steps",
                    path)
        return
    verb = verbs[0]
    if "as" in step and step["as"] not in users:
        yield unknown("user", step["as"], users, _at(doc, (*path, "as")), (*path, "as"),
                      "(declare it under `users:`)")
    process_id: str | None = None
    if verb in ("create", "expect_count"):
        process_id = step[verb]
        if folder.process(process_id) is None:
            yield unknown("process", process_id, folder.process_ids(), _at(doc, (*path, verb)), (*path, verb))
            return
        if verb == "create" and "ref" in step:
            refs[step["ref"]] = process_id
    elif verb in ITEM_VERBS:
        ref = step[verb]
        if ref not in refs:
            yield error("unknown-ref", f"`{ref}` names no item created earlier in this scenario",
                        _at(doc, (*path, verb)), "give a `create` step `ref: " + ref + "` before this one",
                        (*path, verb))
            return
        process_id = refs[ref]
    if process_id is None:
        return
    process = folder.process(process_id)
    assert process is not None
    known = [*process.fields, *SYSTEM_FIELDS]
    for key in ("set", "values"):
        for field_id in step.get(key) or {}:
            if field_id not in known:
                yield unknown("field", field_id, known, _at(doc, (*path, key, field_id), True), (*path, key, field_id),
                              f"of `{process_id}`")
    stages = process.stage_ids(step.get("pipeline"))
    for key in ("to", "stage"):
        if key in step and step[key] not in stages:
            yield unknown("stage", step[key], stages, _at(doc, (*path, key)), (*path, key), f"of `{process_id}`")
    if verb == "move" and "to" not in step:
        yield error("missing-key", "a `move` step needs `to:` (the stage)", _at(doc, path), "add `to: STAGE`", path)
