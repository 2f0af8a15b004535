"""The deployed processes as a client needs them, for one user: fields with their types, titles
in every language, options, pipelines with their stages, and what the user may do. Fields hidden
from the user are left out, as they are from everything else the user is shown."""

from __future__ import annotations

from typing import Any

from smartflow.definitions.model import ACTIONS, Field, Process, Text
from smartflow.runtime import access
from smartflow.runtime.compiled import CompiledProcess
from smartflow.runtime.items import Write
from smartflow.services import presets

SYSTEM_FIELDS: tuple[tuple[str, str], ...] = (
    ("id", "integer"), ("version", "integer"), ("title", "string"), ("pipeline", "string"), ("stage", "string"),
    ("assigned_to", "user"), ("created_by", "user"), ("created_at", "datetime"), ("updated_by", "user"),
    ("updated_at", "datetime"), ("moved_by", "user"), ("moved_at", "datetime"),
)


def titles(text: Text | None) -> dict[str, str] | None:
    """A title in every language it has ("" for a title written without one)."""
    return dict(text.values) if text is not None else None


def field_data(field: Field) -> dict[str, Any]:
    data: dict[str, Any] = {"id": field.id, "type": field.type, "title": titles(field.title),
                            "required": field.required, "multiple": field.multiple}
    for key in ("description",):
        if getattr(field, key) is not None:
            data[key] = titles(getattr(field, key))
    for key in ("unique", "min", "max", "min_length", "max_length", "pattern", "precision", "currency", "to",
                "max_size"):
        value = getattr(field, key)
        if value not in (None, False):
            data[key] = value if isinstance(value, (int, str, bool, float)) else str(value)
    if field.default is not None:  # as the definition writes it: a create that gives no value gets it
        data["default"] = field.default if isinstance(field.default, (int, str, bool, float, list)) \
            else str(field.default)
    if field.extensions:
        data["extensions"] = list(field.extensions)
    if field.roles:
        data["roles"] = list(field.roles)  # a user field: only users holding one of these roles
    if field.options:
        data["options"] = [{"id": o.id, "title": titles(o.title), **({"color": o.color} if o.color else {})}
                           for o in field.options]
    if field.bitrix24_name:  # the Bitrix24 portal's name of the field (the facade's numbers are in sf_numbers)
        data["bitrix24"] = {"name": field.bitrix24_name}
    return data


def visible_fields(process: Process, hidden: frozenset[str]) -> list[Field]:
    return [f for f in process.fields if f.id not in hidden]


def describe(write: Write, compiled: CompiledProcess) -> dict[str, Any]:
    """One process for write's user: its shape and the user's rights on it (of its pipelines, those they
    have a right in: a role held in some pipelines only does not offer the others)."""
    process = compiled.process
    hidden = access.hidden_fields(write.actor, compiled)
    levels = {action: access.widest(write.actor, compiled, action) for action in ACTIONS}
    return {
        "id": process.id,
        "title": titles(process.title),
        "description": titles(process.description),
        "version": write.compiled.version,
        "fields": [field_data(f) for f in visible_fields(process, hidden)],
        "system_fields": [{"id": name, "type": kind} for name, kind in SYSTEM_FIELDS],
        "pipelines": [{
            "id": pipeline.id, "title": titles(pipeline.title), "default": pipeline.default,
            "stages": [{"id": s.id, "title": titles(s.title), "semantic": s.semantic, "color": s.color,
                        "required": [f for f in s.required if f not in hidden],
                        "may_move_into": access.stage_allowed(write.actor, compiled, s.id, pipeline.id)
                        and access.level(write.actor, compiled, "move", pipeline.id) != "none",
                        **({"bitrix24": {"code": s.bitrix24_code}} if s.bitrix24_code else {})}
                       for s in pipeline.stages],
        } for pipeline in process.pipelines if access.in_pipeline(write.actor, compiled, pipeline.id)],
        "card": [{"id": section.id, "title": titles(section.title),
                  "fields": [f for f in section.fields if f not in hidden]} for section in process.card],
        "list_columns": [c for c in process.list_columns if c not in hidden],
        "features": {"recycle_bin": process.features.recycle_bin, "observers": process.features.observers},
        "may": levels,
        "presets": presets.shared(write, compiled),
    }


def summary(write: Write, compiled: CompiledProcess) -> dict[str, Any]:
    """One line of the process list."""
    process = compiled.process
    return {"id": process.id, "title": titles(process.title), "version": write.compiled.version,
            "may": {action: access.widest(write.actor, compiled, action) for action in ACTIONS}}
