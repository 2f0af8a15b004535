"""JSON Schema validation of loaded documents, every error mapped back to file:line:col."""

from __future__ import annotations

import json
from collections.abc import Iterator
from functools import cache
from importlib import resources
from typing import Any

from smartflow.definitions.diagnostics import Diagnostic, did_you_mean, known_list
from smartflow.definitions.load import Document, JsonPath, format_path

SCHEMA_FILE = "smartflow.schema.json"

_BOOLEAN_WORDS = {"yes", "no", "on", "off", "y", "n", "Yes", "No", "On", "Off", "YES", "NO", "ON", "OFF"}
_TYPE_NAMES = {
    bool: "a boolean", int: "an integer", float: "a number", str: "a string",
    list: "a list", dict: "a mapping", type(None): "empty (null)",
}


def schema_text() -> str:
    """The published JSON Schema, exactly as shipped in the package."""
    return resources.files("smartflow").joinpath("schemas", SCHEMA_FILE).read_text(encoding="utf-8")


@cache
def schema() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(schema_text())
    return loaded


_ANNOTATIONS = frozenset({"description", "title", "$comment", "examples"})


def _inline_refs(node: Any, defs: dict[str, Any], done: dict[str, Any], active: frozenset[str] = frozenset()) -> Any:
    """node with each `{"$ref": "#/$defs/x"}` (plus annotations only) replaced by the definition itself.

    Validation is the same, and errors carry the same `schema` (the definition), but the
    validator no longer looks each reference up: that lookup was a third of the schema check.
    References with other keywords beside them, or in a cycle, are kept as they are.
    """
    if isinstance(node, list):
        return [_inline_refs(item, defs, done, active) for item in node]
    if not isinstance(node, dict):
        return node
    ref = node.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/$defs/") and set(node) - {"$ref"} <= _ANNOTATIONS:
        name = ref.removeprefix("#/$defs/")
        if name in defs and name not in active:
            if name not in done:
                done[name] = _inline_refs(defs[name], defs, done, active | {name})
            return done[name]
    return {key: _inline_refs(value, defs, done, active) for key, value in node.items()}


@cache
def validator() -> Any:
    """The Draft 2020-12 validator, built once per process."""
    from jsonschema import Draft202012Validator

    Draft202012Validator.check_schema(schema())
    published = schema()
    inlined = {k: _inline_refs(v, published.get("$defs", {}), {}) if k != "$defs" else v for k, v in published.items()}
    return Draft202012Validator(inlined)


def _describe(value: Any) -> str:
    kind = _TYPE_NAMES.get(type(value), type(value).__name__)
    if isinstance(value, (dict, list)):
        return kind
    if isinstance(value, bool):  # as written in YAML, not Python's True / False
        return f"{kind} `{str(value).lower()}`"
    return f"{kind} `{value}`" if value is not None else kind


def _subject(path: JsonPath) -> str:
    return f"`{format_path(path)}`" if path else "the document"


def _expected_type(expected: Any) -> str:
    names = {"string": "a string", "integer": "an integer", "number": "a number", "boolean": "true or false",
             "array": "a list", "object": "a mapping", "null": "empty"}
    if isinstance(expected, list):
        return " or ".join(names.get(t, t) for t in expected)
    return names.get(expected, str(expected))


def _resolve(branch: Any) -> Any:
    while isinstance(branch, dict) and "$ref" in branch and branch["$ref"].startswith("#/$defs/"):
        branch = schema()["$defs"][branch["$ref"].removeprefix("#/$defs/")]
    return branch


def _json_types(branch: Any) -> set[type]:
    """The Python types a schema branch can accept (all of them when it does not say)."""
    branch = _resolve(branch)
    if not isinstance(branch, dict):
        return {object}
    declared = branch.get("type")
    mapping: dict[str, tuple[type, ...]] = {
        "object": (dict,), "array": (list,), "string": (str,), "boolean": (bool,),
        "integer": (int,), "number": (int, float), "null": (type(None),),
    }
    if declared is not None:
        names = declared if isinstance(declared, list) else [declared]
        return {t for name in names for t in mapping[name]}
    if "enum" in branch:
        return {type(v) for v in branch["enum"]}
    if "const" in branch:
        return {type(branch["const"])}
    if "anyOf" in branch:
        return set().union(*(_json_types(b) for b in branch["anyOf"]))
    return {object}


def _accepts(types: set[type], instance: Any) -> bool:
    if isinstance(instance, bool):  # a bool is an int to Python, not to JSON Schema
        return bool in types or object in types
    return any(isinstance(instance, t) for t in types)


def _leaf_errors(error: Any) -> Iterator[Any]:
    """For anyOf errors, descend into the one branch that matches the value's type."""
    if error.validator in ("anyOf", "oneOf") and error.context:
        instance = error.instance
        matching = [
            index for index, branch in enumerate(error.validator_value)
            if _accepts(_json_types(branch), instance)
        ]
        if len(matching) == 1:
            for sub in error.context:
                if sub.relative_schema_path and sub.relative_schema_path[0] == matching[0]:
                    yield from _leaf_errors(sub)
            return
    yield error


def _unknown_key_diagnostics(doc: Document, error: Any, path: JsonPath) -> Iterator[Diagnostic]:
    allowed = list(error.schema.get("properties", {}))
    for key in error.instance:
        if key in allowed:
            continue
        key_path = (*path, key)
        hint = did_you_mean(key, allowed) or f"allowed keys here: {known_list(allowed)}"
        yield Diagnostic("unknown-key", f"unknown key `{key}` in {_subject(path)}", doc.location(key_path, key=True),
                         hint=hint, json_path=format_path(key_path))


def _diagnostics_for(doc: Document, error: Any) -> Iterator[Diagnostic]:
    path: JsonPath = tuple(error.absolute_path)
    subject = _subject(path)
    where = doc.location(path)
    json_path = format_path(path)
    value = error.instance
    custom = error.schema.get("x-error") if isinstance(error.schema, dict) else None
    validator_kind = error.validator

    if validator_kind in ("additionalProperties", "unevaluatedProperties") and isinstance(value, dict):
        yield from _unknown_key_diagnostics(doc, error, path)
        return
    if validator_kind == "required":
        missing = [name for name in error.validator_value if name not in value]
        for name in missing:
            yield Diagnostic("missing-key", f"{subject} is missing the required key `{name}`", where,
                             hint=f"add `{name}:`", json_path=json_path)
        return
    if "propertyNames" in error.relative_schema_path or "propertyNames" in error.schema_path:
        key = str(value)
        key_path = (*path, key)
        rule = custom or "must be an id"
        is_id = error.schema == schema()["$defs"]["id"]  # else the language code of a text
        yield Diagnostic("invalid-id", f"the key `{key}` in {subject} {rule}",
                         doc.location(key_path, key=True),
                         hint=f"rename it, e.g. `{_suggest_id(key)}`" if is_id else None,
                         json_path=format_path(key_path))
        return
    shape_error = validator_kind == "type" and isinstance(value, (dict, list))
    if custom and validator_kind in ("pattern", "maxLength", "anyOf", "oneOf", "const", "type", "minLength") and (
        validator_kind in ("anyOf", "oneOf") or not shape_error
    ):
        yield Diagnostic("invalid-value", f"{subject} {custom}; got {_describe(value)}", where,
                         hint=_hint_for_value(value) or _quote_hint(value, error.schema), json_path=json_path)
        return
    if validator_kind == "type":
        message = f"{subject} must be {_expected_type(error.validator_value)}, got {_describe(value)}"
        yield Diagnostic("wrong-type", message, where, hint=_hint_for_value(value, error.validator_value),
                         json_path=json_path)
        return
    if validator_kind == "enum":
        allowed = [str(v) for v in error.validator_value]
        close = did_you_mean(value, allowed) if isinstance(value, str) else None
        hint = close or f"use one of: {', '.join(allowed)}"
        yield Diagnostic("invalid-value", f"{subject} is {_describe(value)}, which is not allowed", where,
                         hint=hint, json_path=json_path)
        return
    if validator_kind == "const":
        yield Diagnostic("invalid-value", f"{subject} must be `{error.validator_value}`, got {_describe(value)}",
                         where, json_path=json_path)
        return
    if validator_kind in ("minItems", "minProperties") and error.validator_value == 1:
        yield Diagnostic("empty-value", f"{subject} must not be empty", where,
                         hint="add at least one entry, or remove the key", json_path=json_path)
        return
    if validator_kind == "maxProperties":
        keys = ", ".join(f"`{k}`" for k in value)
        yield Diagnostic("invalid-value", f"{subject} {custom or 'has too many keys'}; it has {keys}", where,
                         hint="split it into one list entry per action", json_path=json_path)
        return
    if validator_kind == "uniqueItems" and isinstance(value, list):
        seen: list[Any] = []
        for index, item in enumerate(value):
            if item in seen:  # located at the repeat, as duplicate keys are
                item_path = (*path, index)
                yield Diagnostic("invalid-value", f"{subject} lists {_listed(item)} twice", doc.location(item_path),
                                 hint="remove the repeated entry", json_path=format_path(item_path))
                return
            seen.append(item)
    if validator_kind == "minLength" and error.validator_value == 1:
        yield Diagnostic("empty-value", f"{subject} must not be empty", where, json_path=json_path)
        return
    yield Diagnostic("invalid-value", f"{subject}: {error.message}", where, hint=_hint_for_value(value),
                     json_path=json_path)


def _listed(item: Any) -> str:
    return f"`{item}`" if isinstance(item, str) else _describe(item)


def _hint_for_value(value: Any, expected: Any = None) -> str | None:
    if isinstance(value, str) and value in _BOOLEAN_WORDS:
        return "write true or false; YAML 1.1 words such as yes/no/on/off are strings here"
    if expected == "string" and isinstance(value, (int, float, bool)):
        return f'quote it: "{value}"' if not isinstance(value, bool) else f'quote it: "{str(value).lower()}"'
    return None


def _quote_hint(value: Any, branch: Any) -> str | None:
    """`quote it: "2024"` when the number or boolean, written as a string, would be accepted here."""
    if not isinstance(value, (int, float, bool)):
        return None
    text = str(value).lower() if isinstance(value, bool) else str(value)
    return f'quote it: "{text}"' if validator().evolve(schema=branch).is_valid(text) else None


def _suggest_id(key: str) -> str:
    import re

    cleaned = re.sub(r"[^a-z0-9]+", "_", key.lower()).strip("_") or "field"
    if not cleaned[0].isalpha():
        cleaned = "f_" + cleaned
    return cleaned[:28].rstrip("_")


def check_document(doc: Document) -> list[Diagnostic]:
    """Every schema problem of one document, located and de-duplicated."""
    out: list[Diagnostic] = []
    seen: set[tuple[str, int, int, str]] = set()
    for error in validator().iter_errors(doc.data):
        for leaf in _leaf_errors(error):
            for diagnostic in _diagnostics_for(doc, leaf):
                key = (diagnostic.code, diagnostic.location.line, diagnostic.location.col, diagnostic.message)
                if key not in seen:
                    seen.add(key)
                    out.append(diagnostic)
    return out
