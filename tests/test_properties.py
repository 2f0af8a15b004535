"""Property tests: generated definitions validate, round-trip through YAML, and scalars keep their type.

The generator builds *valid* folders of definitions as document data (what a YAML file holds):
random ids, bilingual titles, fields of every type with fitting options, pipelines with exactly
one default, transitions that keep every stage reachable, permissions, triggers whose actions
name existing fields, stages and processes. Validation of what it builds must report nothing.
"""

from __future__ import annotations

import itertools
import math
import re
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from smartflow.definitions.convert import process_from_data, process_to_data, roles_from_data, roles_to_data, to_yaml
from smartflow.definitions.load import Document, LoadError, decode, load_file, load_text
from smartflow.definitions.model import ACTIONS, DEFAULT_ROLES, LEVELS, SYSTEM_FIELDS
from smartflow.definitions.validate import validate_documents
from smartflow.definitions.validate.schema import schema
from smartflow.definitions.validate.structure import SQL_RESERVED
from smartflow.definitions.values import CURRENCIES
from tests.conftest import PROCESSES

# Each generated folder takes ~0.1 s to draw and as long to validate: few examples, no deadline.
PROPERTY = settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
ROUND_TRIP = settings(PROPERTY, max_examples=40)
FAST = settings(max_examples=100, deadline=None)

# ---- building blocks -------------------------------------------------------------

# Every character the loader accepts: no C0 controls but tab/newline/CR, no DEL, no C1
# controls (the Cc category is exactly those), no lone surrogates.
ANY_CHAR = st.characters(codec="utf-8", exclude_categories=("Cs", "Cc"), include_characters="\t\n\r")
CYRILLIC = "абвгдеёжзийклмнопрстуфхцчшщъыьэюяАБВГДЕЁЖЗИЙКЛМНОПРСТУФХЦЧШЩЪЫЬЭЮЯ"
LATIN = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
WORDS_RU = ["Закупка", "Смета", "Поставщик", "Срок поставки", "Отменена", "Договор и счёт", "Пациент", "Врач"]
WORDS_EN = ["Procurement", "Estimate", "Supplier", "Delivery due", "Cancelled", "Contract", "Patient", "Doctor"]
REAL_IDS = [
    "estimate", "supplier", "due_date", "amount", "priority", "contract_no", "patient", "doctor",
    "main", "express", "new", "in_work", "won", "lost", "buyer", "recruiter", "a", "x1", "f_2",
]
STRING_TYPES = ("string", "text", "email", "phone", "url")
DATE_TYPES = ("date", "datetime")
CONTEXT = ("now", "today", "user")
# A field's pattern -> the regex its values are generated from (short matches only).
PATTERNS = {
    "^[a-z]{1,8}$": r"[a-z]{1,8}",
    "^[A-ZА-Я0-9/-]{3,10}$": r"[A-ZА-Я0-9/-]{3,10}",
    r"^\+?[0-9]{5,11}$": r"\+?[0-9]{5,11}",
    "[0-9a-f]{2,6}": r"[0-9a-f]{2,6}",
}


def sample(elements: Any) -> st.SearchStrategy[Any]:
    """sampled_from over a tuple: hashable arguments let Hypothesis cache the strategy."""
    return st.sampled_from(tuple(elements))


# Ids follow the published schema's own rule, so the generator keeps up when the rule changes.
ID_RULE = schema()["$defs"]["id"]
ids = st.one_of(
    sample([i for i in REAL_IDS if re.fullmatch(ID_RULE["pattern"], i)]),
    st.tuples(
        sample("abcdefghijklmnopqrstuvwxyz"),
        st.text("abcdefghijklmnopqrstuvwxyz0123456789", max_size=6),
        st.lists(st.text("abcdefghijklmnopqrstuvwxyz0123456789", min_size=1, max_size=6), max_size=3),
    ).map(lambda t: t[0] + t[1] + "".join("_" + part for part in t[2])),  # at most 28 characters
).filter(lambda s: len(s) <= ID_RULE["maxLength"] and re.fullmatch(ID_RULE["pattern"], s))
sql_ids = ids.filter(lambda s: s not in SQL_RESERVED)
field_ids = sql_ids.filter(lambda s: s not in SYSTEM_FIELDS)

title_strings = st.one_of(
    sample(WORDS_RU + WORDS_EN),
    st.text(alphabet=CYRILLIC + LATIN + " -.,«»№0123456789", min_size=1, max_size=20),
    st.text(alphabet=ANY_CHAR, min_size=1, max_size=12),
)
texts = st.one_of(
    title_strings,
    st.fixed_dictionaries({"ru": title_strings, "en": title_strings}),
    st.dictionaries(sample(["ru", "en", "de", "kk", "pt-BR", "zh-CN"]), title_strings, min_size=1, max_size=3),
)
# Free text inside a template: anything but `{`, so no Jinja delimiter can start.
template_text = st.text(
    alphabet=st.characters(codec="utf-8", exclude_categories=("Cs", "Cc"), exclude_characters="{",
                           include_characters="\n"),
    max_size=16,
)
SHORT_ALPHABET = CYRILLIC + LATIN + " _-.@0123456789"
short_strings = st.text(alphabet=SHORT_ALPHABET, max_size=12)
finite_floats = st.floats(allow_nan=False, allow_infinity=False)
colors = st.text("0123456789abcdefABCDEF", min_size=6, max_size=6).map("#".__add__)


def templates(names: list[str]) -> st.SearchStrategy[str]:
    reference = sample(names).map(lambda n: "{{ " + n + " }}")
    return st.lists(st.one_of(template_text, reference), min_size=1, max_size=4).map("".join)


def action_values(names: list[str], spec: dict[str, Any] | None) -> st.SearchStrategy[Any]:
    """A value an action writes into a field: a template naming a field, or a valid literal."""
    template = st.tuples(templates(names), sample(names), templates(names)).map(
        lambda t: t[0] + "{{ " + t[1] + " }} " + t[2])
    literal = values(spec) if spec is not None else None
    return template if literal is None else st.one_of(template, literal)


def conditions(names: list[str]) -> st.SearchStrategy[str]:
    name = sample(names)
    return st.one_of(
        name,
        name.map("not {}".format),
        st.tuples(name, name).map(lambda t: f"{t[0]} and {t[1]}"),
        st.tuples(name, name).map(lambda t: f"{t[0]} or not {t[1]}"),
        st.tuples(name, st.integers(-100, 100)).map(lambda t: f"{t[0]} > {t[1]}"),
        st.tuples(name, sample(["x", "да", "new"])).map(lambda t: f"{t[0]} == {t[1]!r}"),
    )


def single_value(spec: dict[str, Any]) -> st.SearchStrategy[Any] | None:
    """Valid values of one field (None for types that take no literal value)."""
    kind = spec["type"]
    if kind in STRING_TYPES:
        if "pattern" in spec:
            pattern = spec["pattern"]
            return st.from_regex(PATTERNS[pattern], fullmatch=True).filter(lambda v: re.fullmatch(pattern, v))
        return st.text(alphabet=SHORT_ALPHABET, min_size=spec.get("min_length", 0), max_size=12)
    if kind == "user":
        return short_strings
    if kind == "integer":
        return st.integers(spec.get("min"), spec.get("max"))
    if kind in ("number", "money"):
        low, high = spec.get("min"), spec.get("max")
        floats = st.floats(low, high, allow_nan=False, allow_infinity=False)
        int_low = math.ceil(low) if low is not None else None
        int_high = math.floor(high) if high is not None else None
        if int_low is not None and int_high is not None and int_low > int_high:
            return floats  # no whole number between min and max
        return st.one_of(st.integers(int_low, int_high), floats)
    if kind == "boolean":
        return st.booleans()
    if kind == "date":
        low, high = (date.fromisoformat(spec[k]) if k in spec else None for k in ("min", "max"))
        return st.dates(low or date.min, high or date.max).map(date.isoformat)
    if kind == "datetime":
        low, high = (datetime.fromisoformat(spec[k]) if k in spec else None for k in ("min", "max"))
        return st.datetimes(low or datetime.min, high or datetime.max).map(datetime.isoformat)
    if kind == "enum":
        return sample([o["id"] for o in spec["options"]])
    return None  # link, file


def values(spec: dict[str, Any]) -> st.SearchStrategy[Any] | None:
    one = single_value(spec)
    if one is None or not spec.get("multiple"):
        return one
    return st.one_of(one, st.lists(one, max_size=3))


@st.composite
def ordered_pair(draw: Any, elements: st.SearchStrategy[Any]) -> tuple[Any, Any]:
    a, b = draw(elements), draw(elements)
    return (a, b) if a <= b else (b, a)


@st.composite
def field_specs(draw: Any, process_ids: list[str]) -> dict[str, Any]:
    kind = draw(sample(
        ["string", "text", "integer", "number", "money", "boolean", "date", "datetime", "enum", "user", "link",
         "file", "email", "phone", "url"]
    ))
    spec: dict[str, Any] = {"type": kind}
    if draw(st.booleans()) or draw(st.booleans()):
        spec["title"] = draw(texts)
    if draw(st.integers(0, 3)) == 0:
        spec["description"] = draw(texts)
    if draw(st.booleans()):
        spec["required"] = draw(st.booleans())
    if kind in ("string", "enum", "user", "link", "file", "date") and draw(st.integers(0, 3)) == 0:
        spec["multiple"] = True
    if kind not in ("boolean", "text", "file") and not spec.get("multiple") and draw(st.integers(0, 3)) == 0:
        spec["unique"] = True
    if kind in STRING_TYPES:
        if draw(st.booleans()):
            spec["max_length"] = draw(st.integers(12, 500))  # every generated value has at most 12 characters
        if draw(st.integers(0, 2)) == 0:
            spec["pattern"] = draw(sample(sorted(PATTERNS)))  # every match has at least 1 character
        if draw(st.integers(0, 2)) == 0:
            spec["min_length"] = draw(st.integers(0, 1 if "pattern" in spec else 12))
    elif kind == "integer":
        low, high = draw(ordered_pair(st.integers(-(10**12), 10**12)))
        spec.update({k: v for k, v in (("min", low), ("max", high)) if draw(st.booleans())})
    elif kind in ("number", "money"):
        low, high = draw(ordered_pair(st.one_of(st.integers(-(10**9), 10**9), st.floats(-1e15, 1e15))))
        spec.update({k: v for k, v in (("min", low), ("max", high)) if draw(st.booleans())})
        if draw(st.booleans()):
            spec["precision"] = draw(st.integers(0, 12))
        if kind == "money" and draw(st.booleans()):
            spec["currency"] = draw(sample(sorted(CURRENCIES)))  # ISO 4217's active codes, as validate wants
    elif kind == "date":
        low, high = draw(ordered_pair(st.dates()))
        spec.update({k: v.isoformat() for k, v in (("min", low), ("max", high)) if draw(st.booleans())})
    elif kind == "datetime":  # naive: a naive min with an aware max crashes check_field_limits (TypeError)
        low, high = draw(ordered_pair(st.datetimes()))
        spec.update({k: v.isoformat() for k, v in (("min", low), ("max", high)) if draw(st.booleans())})
    elif kind == "enum":
        option_ids = draw(st.lists(ids, min_size=1, max_size=5, unique=True))
        options = []
        for option_id in option_ids:
            option: dict[str, Any] = {"id": option_id, "title": draw(texts)}
            if draw(st.booleans()):
                option["color"] = draw(colors)
            if draw(st.integers(0, 4)) == 0:
                option["renamed_from"] = draw(ids)
            options.append(option)
        spec["options"] = options
    elif kind == "link":
        spec["to"] = draw(sample(process_ids))
    elif kind == "file":
        if draw(st.booleans()):
            extension = st.text("abcdefghijklmnopqrstuvwxyz0123456789", min_size=1, max_size=5)
            spec["extensions"] = draw(st.lists(extension, max_size=4))
        if draw(st.booleans()):
            spec["max_size"] = draw(st.integers(1, 10**9))
    value_strategy = values(spec)
    if value_strategy is not None and draw(st.booleans()):
        if kind in DATE_TYPES and draw(st.booleans()):
            spec["default"] = "today" if kind == "date" else "now"
        else:
            spec["default"] = draw(value_strategy)
    if value_strategy is not None and draw(st.integers(0, 3)) == 0:
        spec["backfill"] = draw(value_strategy)
    if draw(st.integers(0, 4)) == 0:
        spec["renamed_from"] = draw(field_ids)
    return spec


@st.composite
def pipelines(draw: Any, known_fields: list[str]) -> tuple[dict[str, Any], list[str]]:
    """One pipeline's data (without transition roles yet) and its stage ids."""
    extra = draw(sample([None, None, "success", "failure"]))  # sometimes a second success or failure stage
    counts = {"process": draw(st.integers(1, 3)), "success": 1 + (extra == "success"),
              "failure": 1 + (extra == "failure")}
    total = sum(counts.values())
    stage_ids = draw(st.lists(ids, min_size=total, max_size=total, unique=True))
    semantics = [s for s, n in counts.items() for _ in range(n)]
    semantics = ["process", *draw(st.permutations(semantics[1:]))]  # items start in an in-progress stage
    semantic_of = dict(zip(stage_ids, semantics, strict=True))
    stages: dict[str, Any] = {}
    for stage_id in stage_ids:
        stage: dict[str, Any] = {"title": draw(texts)}
        if semantic_of[stage_id] != "process" or draw(st.integers(0, 3)) == 0:
            stage["semantic"] = semantic_of[stage_id]
        if draw(st.booleans()):
            stage["color"] = draw(colors)
        if draw(st.booleans()):
            stage["required"] = draw(st.lists(sample([*known_fields, "title", "assigned_to"]),
                                              max_size=3, unique=True))
        if draw(st.integers(0, 3)) == 0:
            stage["description"] = draw(texts)
        if draw(st.integers(0, 4)) == 0:
            stage["renamed_from"] = draw(ids)
        if draw(st.integers(0, 4)) == 0:
            stage["replaces"] = draw(st.lists(ids.filter(lambda s: s not in stage_ids), max_size=2, unique=True))
        stages[stage_id] = stage
    pipeline: dict[str, Any] = {"title": draw(texts), "stages": stages}
    if draw(st.integers(0, 3)) > 0:  # otherwise any move is allowed
        pipeline["transitions"] = draw(transitions(stage_ids, semantic_of))
    return pipeline, stage_ids


@st.composite
def transitions(draw: Any, stage_ids: list[str], semantic_of: dict[str, str]) -> list[dict[str, Any]]:
    """Transitions that reach every stage and leave every in-progress stage."""
    in_progress = [s for s in stage_ids if semantic_of[s] == "process"]
    finals = [s for s in stage_ids if semantic_of[s] != "process"]
    moves: list[tuple[Any, str]] = list(itertools.pairwise(in_progress))
    reached = list(in_progress)
    # the last in-progress stage leads to the first final stage: every in-progress stage has a way out
    last = in_progress[-1]
    others = draw(st.lists(sample(reached), max_size=2, unique=True))
    moves.append(([last, *[s for s in others if s != last]] if others else last, finals[0]))
    reached.append(finals[0])
    for final in finals[1:]:
        source = draw(st.one_of(st.just("*"), sample(reached),
                                st.lists(sample(reached), min_size=1, max_size=3, unique=True)))
        moves.append((source, final))
        reached.append(final)
    for _ in range(draw(st.integers(0, 3))):
        source = draw(st.one_of(st.just("*"), sample(stage_ids),
                                st.lists(sample(stage_ids), min_size=1, max_size=3, unique=True)))
        moves.append((source, draw(sample(stage_ids))))
    out = []
    for source, target in draw(st.permutations(moves)):
        transition: dict[str, Any] = {"from": source, "to": target}
        if draw(st.integers(0, 3)) == 0:
            transition["title"] = draw(texts)
        out.append(transition)
    return out


def movers(permissions: dict[str, Any], roles: list[str], target: str) -> set[str]:
    """Roles that may move items into target (the rule of check_transition_roles)."""
    out = set()
    for role in roles:
        grant = permissions.get(role)
        if grant is None:
            if role == "administrator":
                out.add(role)
            continue
        level = grant if isinstance(grant, str) else grant.get("move", "none")
        stages = None if isinstance(grant, str) else grant.get("stages")
        if level != "none" and (stages is None or target in stages):
            out.add(role)
    return out


@st.composite
def permission_grants(draw: Any, role: str, stage_ids: list[str], field_ids: list[str]) -> Any:
    if role == "administrator":  # keeps the right to move anywhere, so every transition has a taker
        grant = draw(st.one_of(
            sample(["all", "own", "department"]),
            st.fixed_dictionaries(
                {"move": sample(["own", "department", "all"])},
                optional={a: sample(LEVELS) for a in ACTIONS if a != "move"},
            ),
        ))
    elif draw(st.booleans()):
        return draw(sample(LEVELS))
    else:
        grant = draw(st.fixed_dictionaries({}, optional={a: sample(LEVELS) for a in ACTIONS}))
        if draw(st.booleans()):
            grant["stages"] = draw(st.lists(sample(stage_ids), max_size=3, unique=True))
    # the administrator hides nothing, so a stage's required fields are seen by a role that moves items there
    if isinstance(grant, dict) and field_ids and role != "administrator" and draw(st.integers(0, 2)) == 0:
        grant["hidden_fields"] = draw(st.lists(sample(field_ids), max_size=3, unique=True))
    return grant


@st.composite
def process_skeletons(draw: Any, process_id: str, process_ids: list[str], roles: list[str]) -> dict[str, Any]:
    """A process without triggers (they need every process of the folder)."""
    data: dict[str, Any] = {"kind": "Process", "id": process_id, "title": draw(texts)}
    if draw(st.booleans()):
        data["description"] = draw(texts)
    features = draw(st.fixed_dictionaries(
        {}, optional={k: st.booleans() for k in ("observers", "recycle_bin", "begin_close_dates", "links")}))
    if features:
        data["features"] = features
    fields = {fid: draw(field_specs(process_ids)) for fid in draw(st.lists(field_ids, max_size=5, unique=True))}
    data["fields"] = fields
    names = sorted({*fields, *SYSTEM_FIELDS, *CONTEXT})

    pipeline_ids = draw(st.lists(ids, min_size=1, max_size=3, unique=True))
    default = draw(sample(pipeline_ids))
    all_stages: list[str] = []
    data["pipelines"] = {}
    for pid in pipeline_ids:
        pipeline, stage_ids = draw(pipelines(list(fields)))
        all_stages.extend(s for s in stage_ids if s not in all_stages)
        flag = draw(sample([None, True])) if len(pipeline_ids) == 1 else (
            True if pid == default else draw(sample([None, False])))
        if flag is not None:
            pipeline = {"title": pipeline.pop("title"), "default": flag, **pipeline}
        data["pipelines"][pid] = pipeline

    permissions = {role: draw(permission_grants(role, all_stages, list(fields)))
                   for role in draw(st.lists(sample(roles), max_size=4, unique=True))}
    if permissions or draw(st.booleans()):
        data["permissions"] = permissions
    for pipeline in data["pipelines"].values():
        for transition in pipeline.get("transitions", []):
            if draw(st.integers(0, 2)) == 0:
                transition["when"] = draw(conditions(names))
            if draw(st.booleans()):
                listed = draw(st.lists(sample(roles), min_size=1, max_size=3, unique=True))
                if not movers(permissions, roles, transition["to"]) & set(listed):
                    listed.append("administrator")
                transition["roles"] = listed

    known = [*fields, *SYSTEM_FIELDS]
    if draw(st.booleans()):
        shown = draw(st.lists(sample(known), min_size=1, max_size=8, unique=True))
        cuts = sorted({*draw(st.lists(st.integers(1, len(shown)), max_size=2)), len(shown)})
        section_ids = draw(st.lists(ids, min_size=len(cuts), max_size=len(cuts), unique=True))
        sections, start = [], 0
        for section_id, end in zip(section_ids, cuts, strict=True):
            sections.append({"id": section_id, "title": draw(texts), "fields": shown[start:end]})
            start = end
        data["card"] = {"sections": sections}
    if draw(st.booleans()):
        listing: dict[str, Any] = {"columns": draw(st.lists(sample(known), min_size=1, max_size=6,
                                                             unique=True))}
        if draw(st.booleans()):
            listing["sort"] = draw(sample(known)) + draw(sample(["", ":asc", ":desc"]))
        data["list"] = listing
    return data


def _stage_ids(process: dict[str, Any], pipeline_id: str | None = None) -> list[str]:
    if pipeline_id is not None:
        return list(process["pipelines"][pipeline_id]["stages"])
    out: list[str] = []
    for pipeline in process["pipelines"].values():
        out.extend(s for s in pipeline["stages"] if s not in out)
    return out


def _default_pipeline(process: dict[str, Any]) -> str:
    return next((p for p, spec in process["pipelines"].items() if spec.get("default") is True),
                next(iter(process["pipelines"])))


@st.composite
def actions(draw: Any, process: dict[str, Any], trigger_pipeline: str | None, folder: list[dict[str, Any]],
            roles: list[str]) -> dict[str, Any]:
    fields = process["fields"]
    names = sorted({*fields, *SYSTEM_FIELDS, *CONTEXT})
    kind = draw(sample(["set", "move", "create_item", "assign", "notify", "webhook", "comment"]))
    if kind == "set":
        params = {}
        for field_id in draw(st.lists(sample([*fields, "title", "assigned_to"]), min_size=1, max_size=3,
                                      unique=True)):
            params[field_id] = draw(action_values(names, fields.get(field_id)))
        return {"set": params}
    if kind == "move":
        if draw(st.booleans()):
            return {"move": draw(sample(_stage_ids(process, trigger_pipeline)))}
        if draw(st.booleans()):
            pipeline_id = draw(sample(list(process["pipelines"])))
            return {"move": {"stage": draw(sample(_stage_ids(process, pipeline_id))), "pipeline": pipeline_id}}
        return {"move": {"stage": draw(sample(_stage_ids(process, trigger_pipeline)))}}
    if kind == "create_item":
        target = folder[draw(st.integers(0, len(folder) - 1))]  # an index: the dicts change later
        params = {"process": target["id"]}
        pipeline_id = None
        if draw(st.booleans()):
            pipeline_id = params["pipeline"] = draw(sample(list(target["pipelines"])))
        if draw(st.booleans()):
            params["stage"] = draw(sample(_stage_ids(target, pipeline_id or _default_pipeline(target))))
        links = [f for f, spec in target["fields"].items() if spec["type"] == "link" and spec["to"] == process["id"]]
        if links and draw(st.booleans()):
            params["link"] = draw(sample(links))
        if draw(st.booleans()):
            params["title"] = draw(templates(names))
        # the new item's required fields without a default are given (or the link back fills one)
        given = [f for f, spec in target["fields"].items()
                 if spec.get("required") and spec.get("default") is None and f != params.get("link")]
        given += draw(st.lists(sample([*target["fields"], "title", "assigned_to"]), max_size=3, unique=True))
        if given:
            params["fields"] = {f: draw(action_values(names, target["fields"].get(f))) for f in given}
        return {"create_item": params}
    if kind == "assign":
        return {"assign": draw(st.fixed_dictionaries({}, optional={
            "user": sample(["created_by", "ivanov", "Иванов И.И."]),
            "role": sample(roles),
            "department": sample(["Закупки", "sales", "HR"]),
            "strategy": sample(["round_robin", "least_busy"]),
        }).filter(bool))}
    if kind == "notify":
        return {"notify": draw(st.fixed_dictionaries({"message": templates(names)}, optional={
            "users": st.lists(sample(["assigned_to", "created_by", "observers", "@petrova", "@иванов",
                                               *(f for f, spec in fields.items() if spec["type"] == "user")]),
                              min_size=1, max_size=3, unique=True),
            "roles": st.lists(sample(roles), min_size=1, max_size=2, unique=True),
            "subject": templates(names),
        }))}
    if kind == "webhook":
        return {"webhook": draw(st.fixed_dictionaries(
            {"url": st.from_regex(r"https?://[a-z0-9]{1,10}(\.[a-z]{2,5})?(/[a-z0-9_-]{0,8}){0,2}", fullmatch=True)},
            optional={
                "method": sample(["POST", "PUT", "PATCH"]),
                "headers": st.dictionaries(sample(["X-Token", "Content-Type"]), short_strings, max_size=2),
                "body": templates(names),
            },
        ))}
    return {"comment": draw(templates(names))}


@st.composite
def triggers(draw: Any, process: dict[str, Any], folder: list[dict[str, Any]], roles: list[str]) -> dict[str, Any]:
    fields = process["fields"]
    names = sorted({*fields, *SYSTEM_FIELDS, *CONTEXT})
    events = ["created", "updated", "stage_entered", "stage_left", "scheduled"] + (["field_changed"] if fields else [])
    on = draw(sample(events))
    trigger: dict[str, Any] = {"id": "", "on": on}
    if draw(st.integers(0, 2)) == 0:
        trigger["title"] = draw(texts)
    pipeline_id = None
    if draw(st.integers(0, 2)) == 0:
        pipeline_id = trigger["pipeline"] = draw(sample(list(process["pipelines"])))
    if on == "field_changed":
        trigger["field"] = draw(sample(list(fields)))
        target_values = values(fields[trigger["field"]])
        if target_values is not None and draw(st.booleans()):
            trigger["to"] = draw(target_values)
    if on in ("stage_entered", "stage_left"):
        trigger["stage"] = draw(sample(_stage_ids(process, pipeline_id)))
    if on == "scheduled" or draw(st.integers(0, 4)) == 0:
        dates = [f for f, spec in fields.items() if spec["type"] in DATE_TYPES] + ["created_at", "updated_at"]
        at = draw(sample(dates))
        if draw(st.booleans()):
            at += draw(sample([" - ", " + ", "-", "+", " -", "+ "])) + str(draw(st.integers(1, 99)))
            at += draw(sample(["m", "h", "d", "w", "wd"]))
        trigger["at"] = at
    if draw(st.integers(0, 3)) == 0:
        trigger["after"] = f"{draw(st.integers(1, 500))}{draw(sample(['m', 'h', 'd', 'w', 'wd']))}"
    if draw(st.booleans()):
        trigger["when"] = draw(conditions(names))
    if draw(st.integers(0, 4)) == 0:
        trigger["run_as"] = draw(sample(["robot", "Сервис", "created_by"]))
    trigger["do"] = draw(st.lists(actions(process, pipeline_id, folder, roles), min_size=1, max_size=3))
    return trigger


def _listens(process: dict[str, Any], trigger: dict[str, Any]) -> set[tuple[str, ...]]:
    on, pid = trigger["on"], process["id"]
    if on in ("created", "updated"):
        return {(on, pid)}
    if on == "field_changed":
        return {("changed", pid, trigger["field"])}
    if on in ("stage_entered", "stage_left"):
        return {(on, pid, trigger["stage"])}
    return set()


def _produces(process: dict[str, Any], action: dict[str, Any], folder: list[dict[str, Any]]) -> set[tuple[str, ...]]:
    """Events the action may cause (a superset of what the validator assumes: loops are never missed)."""
    (kind, params), = action.items()
    pid = process["id"]
    if kind == "set":
        return {("updated", pid), *(("changed", pid, f) for f in params)}
    if kind == "move":
        stage = params if isinstance(params, str) else params["stage"]
        return {("updated", pid), ("stage_entered", pid, stage),
                *(("stage_left", pid, s) for s in _stage_ids(process) if s != stage)}
    if kind == "assign":
        return {("updated", pid), ("changed", pid, "assigned_to")}
    if kind == "create_item":  # and the new item enters a stage of its process
        target = next(p for p in folder if p["id"] == params["process"])
        return {("created", target["id"]), *(("stage_entered", target["id"], s) for s in _stage_ids(target))}
    return set()


def break_trigger_cycles(folder: list[dict[str, Any]]) -> None:
    """Drop actions that could fire a trigger at or before their own (in folder order): no loops."""
    order = [(process, trigger) for process in folder for trigger in process.get("triggers", [])]
    listened: set[tuple[str, ...]] = set()
    for process, trigger in order:
        listened |= _listens(process, trigger)
        trigger["do"] = [a for a in trigger["do"] if not _produces(process, a, folder) & listened] or [
            {"comment": "{{ title }}: готово / done"}
        ]


@st.composite
def folders(draw: Any, max_processes: int = 3) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
    """A folder of valid definitions: processes, and a Roles document when roles are declared."""
    process_ids = draw(st.lists(sql_ids, min_size=1, max_size=max_processes, unique=True))
    declared = draw(st.lists(st.one_of(sample(sorted(DEFAULT_ROLES)), ids), max_size=4, unique=True))
    roles = sorted({*DEFAULT_ROLES, *declared})
    roles_doc = None
    if declared:
        roles_doc = {"kind": "Roles", "roles": {}}
        for role in declared:
            roles_doc["roles"][role] = {"title": draw(texts)}
            if draw(st.integers(0, 2)) == 0:
                roles_doc["roles"][role]["description"] = draw(texts)
    processes = [draw(process_skeletons(pid, process_ids, roles)) for pid in process_ids]
    for process in processes:
        trigger_ids = draw(st.lists(ids, max_size=3, unique=True))
        if trigger_ids or draw(st.integers(0, 3)) == 0:
            process["triggers"] = []
        for trigger_id in trigger_ids:
            trigger = draw(triggers(process, processes, roles))
            trigger["id"] = trigger_id
            process["triggers"].append(trigger)
    break_trigger_cycles(processes)
    for process in processes:
        show_fields_texts_use(process)
    return processes, roles_doc


def show_fields_texts_use(process: dict[str, Any]) -> None:
    """No role hides a field a comment or notification uses (validate warns about such texts), nor one
    required at creation (validate: required-hidden)."""
    from smartflow.definitions.expressions import names_used, parse_template
    from smartflow.definitions.validate.behaviour import _templates

    used: set[str] = set()
    for trigger in process.get("triggers", []):
        for action in trigger["do"]:
            if next(iter(action)) in ("comment", "notify"):
                for source, _ in _templates(action, ()):
                    node, _problem = parse_template(source)
                    used |= names_used(node) if node is not None else set()
    # a field required at creation stays visible to the roles that create items (validate: required-hidden)
    used |= {f for f, raw in (process.get("fields") or {}).items() if raw.get("required") is True}
    for grant in (process.get("permissions") or {}).values():
        if isinstance(grant, dict) and "hidden_fields" in grant:
            grant["hidden_fields"] = [f for f in grant["hidden_fields"] if f not in used]


def load_data(data: dict[str, Any], file: str) -> Document:
    """Dump data with to_yaml and load it back the way `smartflow validate` reads a file."""
    text = to_yaml(data)
    document, duplicates = load_text(decode(text.encode("utf-8"), file), file)
    assert duplicates == []
    return document


# ---- a. generated definitions are valid -------------------------------------------


@PROPERTY
@given(folders())
def test_generated_definitions_validate_without_diagnostics(folder: tuple[list[dict[str, Any]], Any]) -> None:
    processes, roles_doc = folder
    originals = [*processes, *([roles_doc] if roles_doc is not None else [])]
    documents = [load_data(data, f"processes/{data.get('id', 'roles')}.yaml") for data in originals]
    assert [document.data for document in documents] == originals
    result = validate_documents(documents)
    assert [f"{d.location}: {d.severity}[{d.code}]: {d.message}" for d in result.diagnostics] == []
    assert result.ok


# ---- b. data -> model -> data -> YAML -> data -> model ----------------------------


@ROUND_TRIP
@given(folders(max_processes=2))
def test_model_round_trips_through_yaml(folder: tuple[list[dict[str, Any]], Any]) -> None:
    processes, roles_doc = folder
    for data in processes:
        model = process_from_data(data, "p.yaml")
        again = process_from_data(load_data(process_to_data(model), "p.yaml").data, "p.yaml")
        assert again == model
    if roles_doc is not None:
        roles = roles_from_data(roles_doc)
        assert roles_from_data(load_data(roles_to_data(roles), "roles.yaml").data) == roles


@pytest.mark.parametrize("path", sorted(PROCESSES.glob("*.yaml")), ids=lambda p: p.name)
def test_shipped_files_round_trip(path: Path) -> None:
    document, duplicates = load_file(path)
    assert duplicates == []
    if document.data["kind"] == "Process":
        model = process_from_data(document.data, path.name)
        assert process_from_data(load_data(process_to_data(model), path.name).data, path.name) == model
    else:
        roles = roles_from_data(document.data, path.name)
        assert roles_from_data(load_data(roles_to_data(roles), path.name).data, path.name) == roles


# ---- c. scalars keep their type ---------------------------------------------------

YAML_LOOKALIKES = [
    # YAML 1.1 booleans and nulls, and YAML 1.2 ones
    "yes", "no", "Yes", "NO", "on", "Off", "y", "n", "Y", "N", "true", "false", "True", "FALSE", "null", "Null",
    "~", "", "да", "нет",
    # numbers in every base and spelling
    "0755", "0o755", "0x1F", "0b101", "1_000", "1e5", "1.0e5", "1.0E5", "-2.5e-3", "1.0e+5", ".5", "1.", "+1", "-0",
    "00", "007", "1.5", "3.14", "-12", ".inf", "-.inf", ".NaN", "NaN", "inf", "1,000", "1 000", "١٢٣",
    # sexagesimals, dates, times
    "1:30", "190:20:30", "-1:30", "1:30.5", "2024-01-02", "2001-12-14t21:59:43.10-05:00", "2024-1-2", "12:00",
    # YAML syntax characters
    "=", "<<", "!", "!!str", "&a", "*a", "- x", "? x", ": x", "#x", "x #y", "x: y", "@x", "`x", "%x", "'", '"',
    "|", ">", "{}", "[]", "{a: 1}", "[1, 2]", "---", "...", "-", "?", ":", ",", "\\", "\\n", "a\\tb",
]
_core_true, _core_false = {"true", "True", "TRUE"}, {"false", "False", "FALSE"}


@st.composite
def tricky_strings(draw: Any) -> str:
    core = draw(st.one_of(
        sample(YAML_LOOKALIKES),
        st.integers().map(str),
        finite_floats.map(repr),
        st.from_regex(r"[-+]?[0-9]{1,4}(\.[0-9]{0,3})?([eE][-+]?[0-9]{1,3})?", fullmatch=True),
        st.from_regex(r"[0-9]{1,3}(:[0-5][0-9]){1,2}", fullmatch=True),
        st.dates().map(date.isoformat),
        st.text(alphabet=CYRILLIC + LATIN + " :#-'\"\n", max_size=12),
        st.text(alphabet=ANY_CHAR, max_size=16),
    ))
    space = sample(["", " ", "  ", "\t", "\n", " \n", "\n\n", "\r\n", "\u00a0", "\u2028", "\ufeff"])
    return draw(space) + core + draw(space) if draw(st.integers(0, 2)) == 0 else core


@FAST
@given(tricky_strings())
@example("1.0e5")  # YAML 1.1 floats need a signed exponent, so the dumper once wrote this unquoted
@example(" да\n1:30 ")
def test_any_string_loads_back_as_the_same_string(value: str) -> None:
    data = {"kind": "Process", "id": "p", "title": value, "description": {"ru": value, "en": value},
            "list": {"columns": [value]}, "keys": {value: "key"}}
    loaded = load_data(data, "p.yaml").data
    assert loaded == data
    assert type(loaded["title"]) is str
    assert type(loaded["list"]["columns"][0]) is str


@FAST
@given(st.one_of(st.integers(), finite_floats, st.booleans()))
def test_numbers_and_booleans_keep_their_type(value: int | float | bool) -> None:
    data = {"fields": {"f": {"type": "number", "default": value, "min": value}}, "items": [value, {"v": value}]}
    loaded = load_data(data, "p.yaml").data
    for got in (loaded["fields"]["f"]["default"], loaded["fields"]["f"]["min"], loaded["items"][0],
                loaded["items"][1]["v"]):
        assert type(got) is type(value)
        assert got == value
        if isinstance(value, float):
            assert math.copysign(1, got) == math.copysign(1, value)


@FAST
@given(st.one_of(sample(YAML_LOOKALIKES), st.from_regex(r"[A-Za-z0-9.+:_-]{1,8}", fullmatch=True)))
def test_only_true_and_false_are_booleans_when_written_plain(word: str) -> None:
    try:
        document, _ = load_text(f"kind: Process\ntitle: {word}\n", "p.yaml")
    except LoadError:  # not a valid plain scalar (`- x`, `{a: 1`, ...): the loader refuses it, fine
        return
    value = document.data["title"]
    assert isinstance(value, bool) == (word in _core_true | _core_false)
    if isinstance(value, bool):
        assert value is (word in _core_true)
    if isinstance(value, int) and not isinstance(value, bool):
        assert re.fullmatch(r"[-+]?(0|[1-9][0-9]*)", word)
    if isinstance(value, float):
        assert re.fullmatch(r"[-+]?(0|[1-9][0-9]*)\.[0-9]+([eE][-+]?[0-9]+)?", word)
