"""Convert schema-valid document data to the model, and the model back to data (and YAML)."""

from __future__ import annotations

from functools import cache
from typing import Any

from smartflow.definitions.model import (
    DEFAULT_ROLES,
    Action,
    CardSection,
    Definition,
    Features,
    Field,
    Option,
    Permission,
    Pipeline,
    Preset,
    Process,
    Role,
    Stage,
    Text,
    Transition,
    Trigger,
    WorkingHours,
)

_FIELD_SCALARS = (
    "required", "default", "multiple", "unique", "min", "max", "min_length", "max_length",
    "pattern", "precision", "currency", "to", "max_size", "renamed_from", "backfill",
    "visible_when", "required_when", "read_only_when",
)
_TRIGGER_SCALARS = ("field", "to", "stage", "pipeline", "when", "after", "at", "run_as")


def _text(raw: Any) -> Text:
    text = Text.of(raw)
    assert text is not None
    return text


def field_from_data(field_id: str, raw: dict[str, Any]) -> Field:
    options = tuple(
        Option(o["id"], _text(o["title"]), o.get("color"), o.get("renamed_from"), _bitrix24(o, "id"))
        for o in raw.get("options", ())
    )
    kwargs = {key: raw[key] for key in _FIELD_SCALARS if key in raw}
    return Field(
        id=field_id, type=raw["type"], title=Text.of(raw.get("title")), description=Text.of(raw.get("description")),
        options=options, extensions=tuple(raw.get("extensions", ())), roles=tuple(raw.get("roles", ())),
        bitrix24_name=_bitrix24(raw, "name"), **kwargs,
    )


def _bitrix24(raw: dict[str, Any], key: str) -> Any:
    """One value of a thing's `bitrix24:` block (the portal's own number or name), or None."""
    return (raw.get("bitrix24") or {}).get(key)


def _put_bitrix24(out: dict[str, Any], **values: Any) -> None:
    found = {key: value for key, value in values.items() if value is not None}
    if found:
        out["bitrix24"] = found


def _transition(raw: dict[str, Any]) -> Transition:
    source = raw["from"]
    sources = None if source == "*" else (tuple(source) if isinstance(source, list) else (source,))
    roles = tuple(raw["roles"]) if "roles" in raw else None
    return Transition(sources, raw["to"], raw.get("when"), roles, Text.of(raw.get("title")),
                      tuple(raw.get("forbid_self", ())))


def pipeline_from_data(pipeline_id: str, raw: dict[str, Any]) -> Pipeline:
    stages = tuple(
        Stage(
            id=stage_id, title=_text(stage["title"]), semantic=stage.get("semantic", "process"),
            color=stage.get("color"), required=tuple(stage.get("required", ())),
            description=Text.of(stage.get("description")), renamed_from=stage.get("renamed_from"),
            replaces=tuple(stage.get("replaces", ())), read_only=tuple(stage.get("read_only", ())),
            bitrix24_code=_bitrix24(stage, "code"),
        )
        for stage_id, stage in raw["stages"].items()
    )
    transitions = tuple(_transition(t) for t in raw["transitions"]) if "transitions" in raw else None
    return Pipeline(pipeline_id, _text(raw["title"]), stages, bool(raw.get("default", False)), transitions,
                    raw.get("renamed_from"), _bitrix24(raw, "category_id"))


def trigger_from_data(raw: dict[str, Any]) -> Trigger:
    actions = tuple(Action(kind, params) for action in raw["do"] for kind, params in action.items())
    kwargs = {key: raw[key] for key in _TRIGGER_SCALARS if key in raw}
    return Trigger(id=raw["id"], on=raw["on"], do=actions, title=Text.of(raw.get("title")), **kwargs)


def permission_from_data(role_id: str, raw: str | dict[str, Any]) -> Permission:
    if isinstance(raw, str):
        from smartflow.definitions.model import ACTIONS

        return Permission(role_id, tuple((action, raw) for action in ACTIONS), None, shorthand=raw)
    levels = tuple((key, value) for key, value in raw.items()
                   if key not in ("stages", "hidden_fields", "read_only_fields"))
    stages = tuple(raw["stages"]) if "stages" in raw else None
    return Permission(role_id, levels, stages, hidden_fields=tuple(raw.get("hidden_fields", ())),
                      read_only_fields=tuple(raw.get("read_only_fields", ())))


def process_from_data(raw: dict[str, Any], source: str = "") -> Process:
    card = tuple(
        CardSection(s["id"], _text(s["title"]), tuple(s["fields"])) for s in raw.get("card", {}).get("sections", ())
    )
    listing = raw.get("list", {})
    return Process(
        id=raw["id"], title=_text(raw["title"]), description=Text.of(raw.get("description")),
        fields=tuple(field_from_data(fid, f) for fid, f in raw.get("fields", {}).items()),
        pipelines=tuple(pipeline_from_data(pid, p) for pid, p in raw["pipelines"].items()),
        features=Features(**raw.get("features", {})),
        working_hours=working_hours_from_data(raw.get("working_hours")),
        triggers=tuple(trigger_from_data(t) for t in raw.get("triggers", ())),
        permissions=tuple(permission_from_data(r, p) for r, p in raw.get("permissions", {}).items()),
        card=card, list_columns=tuple(listing.get("columns", ())), list_sort=listing.get("sort"),
        list_presets=tuple(Preset(p["id"], _text(p["title"]), tuple(p.get("where", ())), bool(p.get("mine")),
                                  p.get("search")) for p in listing.get("presets", ())),
        source=source,
        bitrix24_id=_bitrix24(raw, "id"), bitrix24_entity_type_id=_bitrix24(raw, "entity_type_id"),
    )


def working_hours_from_data(raw: dict[str, Any] | None) -> WorkingHours | None:
    if raw is None:
        return None
    return WorkingHours(days=raw["days"], start=raw["from"], end=raw["to"], timezone=raw.get("timezone", "UTC"),
                        holidays=raw.get("holidays"))


def working_hours_to_data(hours: WorkingHours) -> dict[str, Any]:
    out: dict[str, Any] = {"days": hours.days, "from": hours.start, "to": hours.end}
    if hours.timezone != "UTC":
        out["timezone"] = hours.timezone
    _put(out, "holidays", hours.holidays)
    return out


def roles_from_data(raw: dict[str, Any], source: str = "") -> list[Role]:
    return [
        Role(role_id, _text(role["title"]), Text.of(role.get("description")), source)
        for role_id, role in raw["roles"].items()
    ]


def definition_from_documents(documents: list[tuple[dict[str, Any], str]]) -> Definition:
    """Build the model of a folder; the default roles are added when not declared."""
    processes: list[Process] = []
    roles: list[Role] = []
    for data, source in documents:
        if data.get("kind") == "Process":
            processes.append(process_from_data(data, source))
        elif data.get("kind") == "Roles":
            roles.extend(roles_from_data(data, source))
    declared = {role.id for role in roles}
    defaults = [Role(rid, _text(title)) for rid, title in DEFAULT_ROLES.items() if rid not in declared]
    return Definition(tuple(processes), tuple(defaults + roles))


# ---- model -> data ---------------------------------------------------------------


def _put(out: dict[str, Any], key: str, value: Any, default: Any = None) -> None:
    if value is None or value == default:
        return
    out[key] = value.to_data() if isinstance(value, Text) else value


def field_to_data(field: Field) -> dict[str, Any]:
    out: dict[str, Any] = {"type": field.type}
    _put(out, "title", field.title)
    _put(out, "description", field.description)
    for key in _FIELD_SCALARS:
        _put(out, key, getattr(field, key), False if key in ("required", "multiple", "unique") else None)
    if field.options:
        options = []
        for option in field.options:
            item: dict[str, Any] = {"id": option.id, "title": option.title.to_data()}
            _put(item, "color", option.color)
            _put(item, "renamed_from", option.renamed_from)
            _put_bitrix24(item, id=option.bitrix24_id)
            options.append(item)
        out["options"] = options
    if field.extensions:
        out["extensions"] = list(field.extensions)
    if field.roles:
        out["roles"] = list(field.roles)
    _put_bitrix24(out, name=field.bitrix24_name)
    return out


def _stage_to_data(stage: Stage) -> dict[str, Any]:
    out: dict[str, Any] = {"title": stage.title.to_data()}
    _put(out, "semantic", stage.semantic, "process")
    _put(out, "color", stage.color)
    if stage.required:
        out["required"] = list(stage.required)
    _put(out, "description", stage.description)
    _put(out, "renamed_from", stage.renamed_from)
    if stage.replaces:
        out["replaces"] = list(stage.replaces)
    if stage.read_only:
        out["read_only"] = list(stage.read_only)
    _put_bitrix24(out, code=stage.bitrix24_code)
    return out


def _transition_to_data(transition: Transition) -> dict[str, Any]:
    sources = transition.sources
    out: dict[str, Any] = {
        "from": "*" if sources is None else (sources[0] if len(sources) == 1 else list(sources)),
        "to": transition.target,
    }
    _put(out, "when", transition.when)
    if transition.roles is not None:
        out["roles"] = list(transition.roles)
    _put(out, "title", transition.title)
    if transition.forbid_self:
        out["forbid_self"] = list(transition.forbid_self)
    return out


def pipeline_to_data(pipeline: Pipeline) -> dict[str, Any]:
    out: dict[str, Any] = {"title": pipeline.title.to_data()}
    _put(out, "default", pipeline.default, False)
    _put(out, "renamed_from", pipeline.renamed_from)
    _put_bitrix24(out, category_id=pipeline.bitrix24_category_id)
    out["stages"] = {stage.id: _stage_to_data(stage) for stage in pipeline.stages}
    if pipeline.transitions is not None:
        out["transitions"] = [_transition_to_data(t) for t in pipeline.transitions]
    return out


def trigger_to_data(trigger: Trigger) -> dict[str, Any]:
    out: dict[str, Any] = {"id": trigger.id}
    _put(out, "title", trigger.title)
    out["on"] = trigger.on
    for key in _TRIGGER_SCALARS:
        _put(out, key, getattr(trigger, key))
    out["do"] = [{action.kind: action.params} for action in trigger.do]
    return out


def permission_to_data(permission: Permission) -> str | dict[str, Any]:
    if permission.shorthand is not None:
        return permission.shorthand
    out: dict[str, Any] = dict(permission.levels)
    if permission.stages is not None:
        out["stages"] = list(permission.stages)
    if permission.hidden_fields:
        out["hidden_fields"] = list(permission.hidden_fields)
    if permission.read_only_fields:
        out["read_only_fields"] = list(permission.read_only_fields)
    return out


def process_to_data(process: Process) -> dict[str, Any]:
    """The process as document data: what a YAML file holding it would contain."""
    out: dict[str, Any] = {"kind": "Process", "id": process.id, "title": process.title.to_data()}
    _put(out, "description", process.description)
    features = {k: v for k, v in vars(process.features).items() if v}
    if features:
        out["features"] = features
    if process.working_hours is not None:
        out["working_hours"] = working_hours_to_data(process.working_hours)
    out["fields"] = {f.id: field_to_data(f) for f in process.fields}
    out["pipelines"] = {p.id: pipeline_to_data(p) for p in process.pipelines}
    if process.triggers:
        out["triggers"] = [trigger_to_data(t) for t in process.triggers]
    if process.permissions:
        out["permissions"] = {p.role: permission_to_data(p) for p in process.permissions}
    if process.card:
        out["card"] = {"sections": [
            {"id": s.id, "title": s.title.to_data(), "fields": list(s.fields)} for s in process.card
        ]}
    if process.list_columns:
        listing: dict[str, Any] = {"columns": list(process.list_columns)}
        _put(listing, "sort", process.list_sort)
        if process.list_presets:
            listing["presets"] = [preset_to_data(p) for p in process.list_presets]
        out["list"] = listing
    _put_bitrix24(out, id=process.bitrix24_id, entity_type_id=process.bitrix24_entity_type_id)
    return out


def preset_to_data(preset: Preset) -> dict[str, Any]:
    out: dict[str, Any] = {"id": preset.id, "title": preset.title.to_data()}
    _put(out, "mine", preset.mine, False)
    if preset.where:
        out["where"] = list(preset.where)
    _put(out, "search", preset.search)
    return out


def roles_to_data(roles: list[Role]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for role in roles:
        item: dict[str, Any] = {"title": role.title.to_data()}
        _put(item, "description", role.description)
        out[role.id] = item
    return {"kind": "Roles", "roles": out}


@cache
def _dumper() -> Any:
    """PyYAML's safe dumper, also quoting the strings smartflow's loader reads as numbers.

    The dumper quotes what YAML 1.1 would not read back as a string, but YAML 1.1 floats need a
    signed exponent: unquoted, the string `1.0e5` would load back as the number 100000.0.
    """
    import yaml

    from smartflow.definitions.load import _FLOAT, _INT

    base: Any = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
    dumper: Any = type("SmartflowDumper", (base,), {})
    for tag, pattern in (("tag:yaml.org,2002:int", _INT), ("tag:yaml.org,2002:float", _FLOAT)):
        dumper.add_implicit_resolver(tag, pattern, list("-+0123456789"))
    return dumper


def to_yaml(data: dict[str, Any]) -> str:
    """YAML text for document data, Unicode kept readable, key order kept; it loads back as data."""
    import yaml

    text: str = yaml.dump(data, Dumper=_dumper(), allow_unicode=True, sort_keys=False, default_flow_style=False)
    return text
