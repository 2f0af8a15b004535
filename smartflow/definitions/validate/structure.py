"""Semantic checks of a process's shape: ids, fields, pipelines, stages, card and list.

One function per rule; each states the rule in its message and points at the offender.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from smartflow.definitions.diagnostics import Diagnostic
from smartflow.definitions.filters import OPERATORS, SYSTEM_COLUMNS, doubled, split_filter
from smartflow.definitions.load import JsonPath
from smartflow.definitions.model import SYSTEM_FIELDS
from smartflow.definitions.validate.context import Folder, ProcessDoc, error, literal, unknown, warning
from smartflow.definitions.values import CURRENCIES

# PostgreSQL's reserved key words (SQL Key Words appendix): ids that become table or
# column names may not be one of them, so generated SQL never needs to quote around them.
SQL_RESERVED = frozenset(
    """
    all analyse analyze and any array as asc asymmetric authorization binary both case cast
    check collate collation column concurrently constraint create cross current_catalog
    current_date current_role current_schema current_time current_timestamp current_user
    default deferrable desc distinct do else end except false fetch for foreign freeze from
    full grant group having ilike in initially inner intersect into is isnull join lateral
    leading left like limit localtime localtimestamp natural not notnull null offset on only or
    order outer overlaps placing primary references returning right select session_user similar
    some symmetric system_user table tablesample then to trailing true union unique user using
    variadic verbose when where window with
    """.split()
)

# Names a condition or template reads as Jinja2's own (globals, constants) or smartflow's context.
TEMPLATE_NAMES = frozenset(["none", "true", "false", "range", "dict", "lipsum", "cycler", "joiner", "namespace",
                            "loop", "now", "today", "user", "self", "varargs", "kwargs"])

# Which options make sense for which field types.
_APPLIES: dict[str, set[str]] = {
    "precision": {"number", "money"},
    "currency": {"money"},
    "options": {"enum"},
    "to": {"link"},
    "min": {"integer", "number", "money", "date", "datetime"},
    "max": {"integer", "number", "money", "date", "datetime"},
    "min_length": {"string", "text", "email", "phone", "url"},
    "max_length": {"string", "text", "email", "phone", "url"},
    "pattern": {"string", "text", "email", "phone", "url"},
    "extensions": {"file"},
    "max_size": {"file"},
    "roles": {"user"},
}
_NOT_UNIQUE = {"boolean", "text", "file"}


def check_duplicate_process_ids(folder: Folder) -> Iterator[Diagnostic]:
    """Process ids are unique across all files of a folder."""
    first: dict[str, ProcessDoc] = {}
    for process in folder.processes:
        if process.id in first:
            other = first[process.id].at(("id",))
            yield error("duplicate-id", f"the process id `{process.id}` is already used (first at {other})",
                        process.at(("id",)), "give each process its own id", ("id",))
        else:
            first[process.id] = process


def check_duplicate_role_ids(folder: Folder) -> Iterator[Diagnostic]:
    """Role ids are unique across all Roles files."""
    first: dict[str, str] = {}
    for doc, data in folder.role_docs:
        for role_id in data.get("roles") or {}:
            where = doc.location(("roles", role_id), key=True)
            if role_id in first:
                yield error("duplicate-id", f"the role `{role_id}` is already declared (first at {first[role_id]})",
                            where, "declare each role once", ("roles", role_id))
            else:
                first[role_id] = str(where)


def check_reserved_ids(folder: Folder) -> Iterator[Diagnostic]:
    """Process and field ids become SQL names: no SQL reserved word, no system field name."""
    for process in folder.processes:
        if process.id in SQL_RESERVED:
            yield error("reserved-id", f"the process id `{process.id}` is an SQL reserved word",
                        process.at(("id",)), f"choose another id, e.g. `{process.id}s`", ("id",))
        for field_id in process.fields:
            path = ("fields", field_id)
            if field_id in SYSTEM_FIELDS:
                yield error("reserved-id", f"`{field_id}` is a system field every item already has",
                            process.at(path, key=True),
                            "remove the field (it exists already) or choose another id", path)
            elif field_id in SQL_RESERVED:
                yield error("reserved-id", f"the field id `{field_id}` is an SQL reserved word",
                            process.at(path, key=True), f"choose another id, e.g. `{field_id}_value`", path)
            elif field_id in TEMPLATE_NAMES:
                yield error("reserved-id", f"the field id `{field_id}` is a name conditions and templates reserve, "
                            "so they could never read the field", process.at(path, key=True),
                            f"choose another id, e.g. `{field_id}_value`", path)


def check_field_options_apply(folder: Folder) -> Iterator[Diagnostic]:
    """A field's options must fit its type (precision for numbers, options for enums, …)."""
    for process in folder.processes:
        for field_id, spec in process.fields.items():
            kind = spec["type"]
            for option, types in _APPLIES.items():
                if option in spec and kind not in types:
                    path = ("fields", field_id, option)
                    allowed = ", ".join(sorted(types))
                    yield error("option-not-applicable",
                                f"field `{field_id}` is of type `{kind}`: `{option}` applies only to {allowed}",
                                process.at(path, key=True), f"remove `{option}` or change the type", path)
            if spec.get("unique") and (kind in _NOT_UNIQUE or spec.get("multiple")):
                path = ("fields", field_id, "unique")
                what = "multiple-valued fields" if spec.get("multiple") else f"`{kind}` fields"
                yield error("option-not-applicable", f"field `{field_id}`: `unique` cannot apply to {what}",
                            process.at(path, key=True), "remove `unique`", path)


def check_field_limits(folder: Folder) -> Iterator[Diagnostic]:
    """min ≤ max, min_length ≤ max_length, patterns compile, date limits are ISO dates."""
    for process in folder.processes:
        for field_id, spec in process.fields.items():
            base = ("fields", field_id)
            for bound in ("min", "max"):
                if bound in spec and _parse_value(spec["type"], spec[bound]) is None:
                    yield error("invalid-value", f"field `{field_id}`: `{bound}` {literal(spec[bound])} is not a "
                                f"{_type_word(spec['type'])}", process.at((*base, bound)),
                                _format_hint(spec["type"]), (*base, bound))
            low, high = _parse_value(spec["type"], spec.get("min")), _parse_value(spec["type"], spec.get("max"))
            if low is not None and high is not None and low > high:
                yield error("invalid-range", f"field `{field_id}`: min {spec['min']} is greater than max {spec['max']}",
                            process.at((*base, "min")), "swap them", (*base, "min"))
            if spec.get("min_length", 0) > spec.get("max_length", float("inf")):
                yield error("invalid-range", f"field `{field_id}`: min_length {spec['min_length']} is greater than "
                            f"max_length {spec['max_length']}", process.at((*base, "min_length")), "swap them",
                            (*base, "min_length"))
            if "pattern" in spec:
                try:
                    re.compile(spec["pattern"])
                except re.error as exc:
                    yield error("invalid-pattern", f"field `{field_id}`: the pattern does not compile: {exc}",
                                process.at((*base, "pattern")), "write a Python regular expression",
                                (*base, "pattern"))


def check_currencies(folder: Folder) -> Iterator[Diagnostic]:
    """A money field's `currency` is an active ISO 4217 code (the schema checks only its shape)."""
    for process in folder.processes:
        for field_id, spec in process.fields.items():
            code = spec.get("currency")
            if isinstance(code, str) and re.fullmatch("[A-Z]{3}", code) and code not in CURRENCIES:
                path = ("fields", field_id, "currency")
                yield error("invalid-value", f"field `{field_id}`: `currency` {code} is not an active ISO 4217 "
                            "currency code", process.at(path), "write a code such as RUB, USD or EUR", path)


def check_enum_options(folder: Folder) -> Iterator[Diagnostic]:
    """Enum option ids are unique within their field."""
    for process in folder.processes:
        for field_id, spec in process.fields.items():
            seen: set[str] = set()
            for index, option in enumerate(spec.get("options") or []):
                if option["id"] in seen:
                    path = ("fields", field_id, "options", index, "id")
                    yield error("duplicate-id", f"field `{field_id}` has the option `{option['id']}` twice",
                                process.at(path), "give each option its own id", path)
                seen.add(option["id"])


def check_defaults(folder: Folder) -> Iterator[Diagnostic]:
    """A default (and a backfill) must be a valid value of the field."""
    for process in folder.processes:
        for field_id, spec in process.fields.items():
            for key in ("default", "backfill"):
                if key not in spec or spec[key] is None:
                    continue
                path = ("fields", field_id, key)
                problem = value_problem(spec, spec[key], allow_now=key == "default")
                if problem:
                    yield error("invalid-default", f"field `{field_id}`: the {key} {literal(spec[key])} {problem}",
                                process.at(path), _format_hint(spec["type"], spec, allow_now=key == "default"), path)


def check_link_targets(folder: Folder) -> Iterator[Diagnostic]:
    """A link field points to a process declared in the folder."""
    known = folder.process_ids()
    for process in folder.processes:
        for field_id, spec in process.fields.items():
            if spec["type"] == "link" and "to" in spec and spec["to"] not in known and spec["to"] not in folder.broken:
                path = ("fields", field_id, "to")
                yield unknown("process", spec["to"], known, process.at(path), path, f"in link field `{field_id}`")


def check_default_pipeline(folder: Folder) -> Iterator[Diagnostic]:
    """Exactly one pipeline is the default (a single pipeline is the default by itself)."""
    for process in folder.processes:
        defaults = [pid for pid, p in process.pipelines.items() if p.get("default") is True]
        if len(defaults) > 1:
            for pid in defaults[1:]:
                path = ("pipelines", pid, "default")
                yield error("default-pipeline", f"process `{process.id}` has more than one default pipeline: "
                            + ", ".join(f"`{d}`" for d in defaults), process.at(path, key=True),
                            "mark exactly one pipeline `default: true`", path)
        elif not defaults and len(process.pipelines) > 1:
            yield error("default-pipeline", f"process `{process.id}` has {len(process.pipelines)} pipelines and none "
                        "is the default", process.at(("pipelines",), key=True),
                        "mark exactly one pipeline `default: true`", ("pipelines",))


def check_final_stages(folder: Folder) -> Iterator[Diagnostic]:
    """Every pipeline should have a success and a failure stage (a warning)."""
    for process in folder.processes:
        for pid, pipeline in process.pipelines.items():
            semantics = {s.get("semantic", "process") for s in pipeline["stages"].values()}
            for wanted in ("success", "failure"):
                if wanted not in semantics:
                    path = ("pipelines", pid)
                    yield warning(f"no-{wanted}-stage", f"pipeline `{pid}` of `{process.id}` has no {wanted} stage",
                                  process.at(path, key=True),
                                  f"mark the stage where items end with `semantic: {wanted}`", path)


def check_transition_stages(folder: Folder) -> Iterator[Diagnostic]:
    """Transitions name stages of their own pipeline; a source written `pipeline.stage` names a stage
    of another pipeline of the process (a cross-pipeline transition)."""
    for process in folder.processes:
        for pid, pipeline in process.pipelines.items():
            stages = list(pipeline["stages"])
            for index, transition in enumerate(pipeline.get("transitions") or []):
                base = ("pipelines", pid, "transitions", index)
                sources = transition["from"]
                if sources != "*":
                    listed = sources if isinstance(sources, list) else [sources]
                    for n, stage_id in enumerate(listed):
                        path = (*base, "from", n) if isinstance(sources, list) else (*base, "from")
                        if not isinstance(stage_id, str):
                            continue
                        if "." in stage_id:
                            yield from _check_foreign_source(process, pid, stage_id, path)
                        elif stage_id not in stages:
                            yield unknown("stage", stage_id, stages, process.at(path), path, f"in pipeline `{pid}`")
                if transition["to"] not in stages:
                    path = (*base, "to")
                    yield unknown("stage", transition["to"], stages, process.at(path), path, f"in pipeline `{pid}`")


def _check_foreign_source(process: ProcessDoc, pid: str, source: str, path: JsonPath) -> Iterator[Diagnostic]:
    other, stage_id = source.split(".", 1)
    if other == pid:
        yield error("unknown-stage", f"`{source}` names a stage of pipeline `{pid}` itself", process.at(path),
                    f"write `{stage_id}`: `pipeline.stage` is for a stage of another pipeline", path)
        return
    if other not in process.pipelines:
        yield unknown("pipeline", other, list(process.pipelines), process.at(path), path,
                      f"in `from: {source}` of pipeline `{pid}`")
        return
    known = list(process.pipelines[other]["stages"])
    if stage_id not in known:
        yield unknown("stage", stage_id, known, process.at(path), path,
                      f"of pipeline `{other}` in `from: {source}` of pipeline `{pid}`")


def _sources(transition: dict[str, Any], stages: list[str]) -> list[str]:
    """The stages of its own pipeline a transition starts from (as written: unknown ones too)."""
    if transition["from"] == "*":
        return stages
    listed = transition["from"] if isinstance(transition["from"], list) else [transition["from"]]
    return [s for s in listed if isinstance(s, str) and "." not in s]


def _moves(pipeline: dict[str, Any]) -> dict[str, set[str]]:
    stages = list(pipeline["stages"])
    out: dict[str, set[str]] = {s: set() for s in stages}
    if "transitions" not in pipeline:
        return {s: set(stages) - {s} for s in stages}
    for transition in pipeline["transitions"]:
        for source in _sources(transition, stages):
            if source in out and transition["to"] in out and source != transition["to"]:
                out[source].add(transition["to"])
    return out


def _entries(process: ProcessDoc) -> tuple[set[tuple[str, str]], set[tuple[str, str]]]:
    """The stages cross-pipeline transitions lead out of and into, as (pipeline, stage)."""
    leaving: set[tuple[str, str]] = set()
    entered: set[tuple[str, str]] = set()
    for pid, pipeline in process.pipelines.items():
        for transition in pipeline.get("transitions") or []:
            listed = transition["from"] if isinstance(transition["from"], list) else [transition["from"]]
            foreign = [s.split(".", 1) for s in listed if isinstance(s, str) and "." in s]
            for other, stage_id in foreign:
                leaving.add((other, stage_id))
            if foreign:
                entered.add((pid, transition["to"]))
    return leaving, entered


def check_reachable_stages(folder: Folder) -> Iterator[Diagnostic]:
    """Every stage can be reached from the pipeline's first stage (or from a stage of another pipeline
    by a cross-pipeline transition)."""
    for process in folder.processes:
        _, entered = _entries(process)
        for pid, pipeline in process.pipelines.items():
            moves = _moves(pipeline)
            stages = list(pipeline["stages"])
            roots = [stages[0], *(s for p, s in entered if p == pid and s in moves)]
            reached, frontier = set(roots), list(roots)
            while frontier:
                for target in moves[frontier.pop()]:
                    if target not in reached:
                        reached.add(target)
                        frontier.append(target)
            for stage_id in stages:
                if stage_id not in reached:
                    path = ("pipelines", pid, "stages", stage_id)
                    yield error("unreachable-stage", f"stage `{stage_id}` of pipeline `{pid}` cannot be reached from "
                                f"the first stage `{stages[0]}`", process.at(path, key=True),
                                f"add a transition with `to: {stage_id}`, or remove the stage", path)


def check_dead_end_stages(folder: Folder) -> Iterator[Diagnostic]:
    """A stage that is neither success nor failure has a way out (in its pipeline, or into another one
    by a cross-pipeline transition)."""
    for process in folder.processes:
        leaving, _ = _entries(process)
        for pid, pipeline in process.pipelines.items():
            moves = _moves(pipeline)
            for stage_id, stage in pipeline["stages"].items():
                if stage.get("semantic", "process") == "process" and not moves[stage_id] \
                        and (pid, stage_id) not in leaving:
                    path = ("pipelines", pid, "stages", stage_id)
                    yield error("dead-end-stage", f"stage `{stage_id}` of pipeline `{pid}` is in progress but no "
                                "transition leads out of it", process.at(path, key=True),
                                f"add a transition with `from: {stage_id}`, or mark it `semantic: success` or "
                                "`semantic: failure`", path)


def check_stage_required_fields(folder: Folder) -> Iterator[Diagnostic]:
    """Fields required at a stage exist."""
    for process in folder.processes:
        known = [*list(process.fields), "title", "assigned_to"]
        for pid, pipeline in process.pipelines.items():
            for stage_id, stage in pipeline["stages"].items():
                for index, field_id in enumerate(stage.get("required") or []):
                    if field_id not in known:
                        path = ("pipelines", pid, "stages", stage_id, "required", index)
                        yield unknown("field", field_id, known, process.at(path), path,
                                      f"required at stage `{stage_id}`")


def check_stage_replaces(folder: Folder) -> Iterator[Diagnostic]:
    """A stage that replaces removed stages does not name a stage that still exists."""
    for process in folder.processes:
        for pid, pipeline in process.pipelines.items():
            for stage_id, stage in pipeline["stages"].items():
                for index, old in enumerate(stage.get("replaces") or []):
                    if old in pipeline["stages"]:
                        path = ("pipelines", pid, "stages", stage_id, "replaces", index)
                        yield error("invalid-replaces", f"stage `{stage_id}` replaces `{old}`, which still exists",
                                    process.at(path), f"remove `{old}` from `replaces` or remove the stage", path)


def check_card_and_list(folder: Folder) -> Iterator[Diagnostic]:
    """The card's sections and the list's columns name existing fields."""
    for process in folder.processes:
        known = list(process.fields) + list(SYSTEM_FIELDS)
        placed: dict[str, str] = {}
        for s_index, section in enumerate((process.data.get("card") or {}).get("sections", [])):
            for f_index, field_id in enumerate(section["fields"]):
                path = ("card", "sections", s_index, "fields", f_index)
                if field_id not in known:
                    where = f"in card section `{section['id']}`"
                    yield unknown("field", field_id, known, process.at(path), path, where)
                elif field_id in placed:
                    where = (f"twice in card section `{section['id']}`" if placed[field_id] == section["id"]
                             else f"in card sections `{placed[field_id]}` and `{section['id']}`")
                    yield warning("duplicate-card-field", f"field `{field_id}` is shown {where}", process.at(path),
                                  "show each field in one section", path)
                else:
                    placed[field_id] = section["id"]
        listing = process.data.get("list") or {}
        for index, column in enumerate(listing.get("columns", [])):
            if column not in known:
                path = ("list", "columns", index)
                yield unknown("field", column, known, process.at(path), path, "in the list columns")
        if "sort" in listing:
            field_id = listing["sort"].split(":")[0]
            if field_id not in known:
                yield unknown("field", field_id, known, process.at(("list", "sort")), ("list", "sort"), "in list sort")



def check_presets(folder: Folder) -> Iterator[Diagnostic]:
    """The list's presets have distinct ids, and each condition reads as `FIELD OP VALUE` on a field of
    the process, with an option id for an enum and a stage id for the stage."""
    for process in folder.processes:
        seen: set[str] = set()
        known = [*process.fields, *SYSTEM_COLUMNS]
        for p_index, preset in enumerate((process.data.get("list") or {}).get("presets", [])):
            if preset["id"] in seen:
                path = ("list", "presets", p_index, "id")
                yield error("duplicate-preset", f"preset `{preset['id']}` is listed twice", process.at(path),
                            "give each preset its own id", path)
            seen.add(preset["id"])
            for w_index, text in enumerate(preset.get("where", [])):
                path = ("list", "presets", p_index, "where", w_index)
                yield from _check_condition(process, text, known, path)


def _check_condition(process: ProcessDoc, text: str, known: list[str], path: JsonPath) -> Iterator[Diagnostic]:
    parts = split_filter(text)
    if parts is None:
        yield error("invalid-condition", f"cannot read the condition {text!r}", process.at(path),
                    f"write FIELD OP VALUE, with OP one of {OPERATORS}", path)
        return
    name, op, raw = parts
    if doubled(op, raw):
        yield error("invalid-condition", f"cannot read the condition {text!r}: `{op}` is followed by `{raw[:1]}`",
                    process.at(path), "write one operator: = != < <= > >= in contains", path)
        return
    if name not in known:
        yield unknown("field", name, known, process.at(path), path, f"in the preset condition {text!r}")
        return
    if op in ("is empty", "is not empty", "contains"):
        return
    values = [v.strip() for v in raw.split(",")] if op == "in" else [raw.strip()]
    spec = process.fields.get(name, {})
    if name == "stage":
        allowed = process.stage_ids()
    elif spec.get("type") == "enum":
        allowed = [o["id"] for o in spec.get("options", [])]
    else:
        return
    for value in values:
        if value not in allowed:
            owner = f"a stage of {process.id}" if name == "stage" else f"an option of `{name}`"
            yield error("invalid-condition", f"the preset condition {text!r} names `{value}`, which is not {owner}",
                        process.at(path),
                        f"use one of: {', '.join(allowed)}", path)


# ---- field values ----------------------------------------------------------------


def _type_word(kind: str) -> str:
    return {"date": "date (YYYY-MM-DD)", "datetime": "date and time (ISO 8601)"}.get(kind, "number")


def _format_hint(kind: str, spec: dict[str, Any] | None = None, allow_now: bool = False) -> str:
    if kind == "date":
        return "write an ISO date such as 2026-12-01" + (", or `today`" if allow_now else "")
    if kind == "datetime":
        return "write an ISO date and time such as 2026-12-01T09:30:00" + (", or `now`" if allow_now else "")
    if kind == "enum" and spec:
        return "use one of the option ids: " + ", ".join(f"`{o['id']}`" for o in spec.get("options", []))
    if kind == "boolean":
        return "write true or false"
    if kind in ("integer", "number", "money"):
        example = "42" if kind == "integer" else "42 or 4.5"
        return f"write a plain decimal number such as {example}, unquoted (0755, 0x1F or 1_000 are strings)"
    return f"write a valid {kind} value"


def _parse_value(kind: str, value: Any) -> Any:
    """A comparable form of a min/max bound, or None when it does not parse."""
    if value is None:
        return None
    try:
        if kind == "date":
            return date.fromisoformat(value) if isinstance(value, str) else None
        if kind == "datetime":
            if not isinstance(value, str):
                return None
            moment = datetime.fromisoformat(value)  # naive bounds are UTC, as the runtime reads them
            return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return None
        return Decimal(str(value))
    except (ValueError, InvalidOperation):
        return None


def value_problem(spec: dict[str, Any], value: Any, allow_now: bool = False) -> str | None:
    """Why value is not a valid value of the field described by spec, or None."""
    if spec.get("multiple") and isinstance(value, list):
        for item in value:
            problem = value_problem({**spec, "multiple": False}, item, allow_now)
            if problem:
                return problem
        return None
    kind = spec["type"]
    if kind in ("string", "text", "email", "phone", "url", "user"):
        if not isinstance(value, str):
            return "is not a string"
        if "max_length" in spec and len(value) > spec["max_length"]:
            return f"is longer than max_length {spec['max_length']}"
        if "pattern" in spec:
            try:
                if not re.fullmatch(spec["pattern"], value):
                    return f"does not match the pattern {spec['pattern']!r}"
            except re.error:
                return None
        return None
    if kind == "integer":
        return None if isinstance(value, int) and not isinstance(value, bool) else "is not an integer"
    if kind in ("number", "money"):
        return None if isinstance(value, (int, float)) and not isinstance(value, bool) else "is not a number"
    if kind == "boolean":
        return None if isinstance(value, bool) else "is not true or false"
    if kind in ("date", "datetime"):
        if allow_now and value == ("today" if kind == "date" else "now"):
            return None
        return None if _parse_value(kind, value) is not None else f"is not a {_type_word(kind)}"
    if kind == "enum":
        ids = [o["id"] for o in spec.get("options", [])]
        return None if value in ids else "is not one of the options"
    return "cannot be given for this field type" if kind in ("link", "file") else None


_TEXT_TRUE = {"true", "yes", "y", "1", "да", "on"}
_TEXT_FALSE = {"false", "no", "n", "0", "нет", "off"}


def literal_problem(spec: dict[str, Any], value: Any) -> str | None:
    """Why an action's value can't fill the field (None when fine, or when it is a template).

    Strings in actions are templates; one without `{{`/`{%` is fixed text, which the runtime
    reads as a person's typing (`1500.50`, `2026-12-01`, `yes`), so it is checked that way.
    """
    from smartflow.definitions.expressions import is_template

    if not isinstance(value, str) or spec["type"] in ("string", "text", "email", "phone", "url", "user"):
        return value_problem(spec, value) if not is_template(value) else None
    if is_template(value):
        return None
    kind, text = spec["type"], value.strip()
    parts = [p.strip() for p in text.split(",")] if spec.get("multiple") else [text]
    for part in parts:
        problem = _text_problem({**spec, "multiple": False}, kind, part)
        if problem:
            return problem
    return None


def _text_problem(spec: dict[str, Any], kind: str, text: str) -> str | None:
    if kind in ("integer", "link", "file"):
        what = "a whole number" if kind == "integer" else "an id"
        return None if re.fullmatch(r"[-+]?[0-9]+", text) else f"is not {what}"
    if kind == "money" and len(text.split()) == 2 and text.split()[1].upper() not in CURRENCIES:
        return f"names the currency {text.split()[1]!r}, not an ISO 4217 code (such as RUB, USD or EUR)"
    if kind in ("number", "money"):
        amount = text.split()[0] if kind == "money" and text else text
        try:
            Decimal(amount.replace(",", "."))
        except InvalidOperation:
            return "is not a number"
        return None
    if kind == "boolean":
        return None if text.lower() in _TEXT_TRUE | _TEXT_FALSE else "is not true or false"
    if kind in ("date", "datetime"):
        return value_problem(spec, text, allow_now=True)
    if kind == "enum":
        return value_problem(spec, text)
    return None
