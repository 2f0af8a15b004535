"""The checks of field-level rules: maker-checker on transitions, conditional and read-only fields."""

from __future__ import annotations

from collections.abc import Iterator

from smartflow.definitions.diagnostics import Diagnostic
from smartflow.definitions.model import SELF_FIELDS
from smartflow.definitions.validate.context import Folder, error, unknown


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
