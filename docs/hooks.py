"""MkDocs hooks: the reference pages, generated at build time from the sources of truth.

- reference/definition-format.md from the JSON Schema (smartflow/schemas/smartflow.schema.json),
- reference/cli.md from the click commands (walking `smartflow.cli.main`'s command table),
- reference/http-api.md from the OpenAPI document of `smartflow.http.app.create_app()`,
- reference/errors.md from `smartflow.errors`, `smartflow/cli/exits.py`, the HTTP problem codes and
  the validation diagnostics.

Nothing here is written by hand, so the reference cannot drift from the code: a command, option,
schema key, HTTP path or error added to the code appears in the next build (tests/test_docs.py
checks the built HTML for every one of them).
"""

from __future__ import annotations

import ast
import inspect
import json
import re
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
SCHEMA = ROOT / "smartflow" / "schemas" / "smartflow.schema.json"
GENERATED = "*This page is generated from the code when the documentation is built; do not edit it by hand.*\n"


# ---------------------------------------------------------------- mkdocs entry point

def on_files(files: Any, config: Any) -> Any:
    """Add the generated reference pages to the site's files."""
    from mkdocs.structure.files import File

    for name, text in pages().items():
        files.append(File.generated(config, name, content=text))
    return files


def pages() -> dict[str, str]:
    """Every generated page, by its path under docs/."""
    return {
        "reference/definition-format.md": definition_format(),
        "reference/cli.md": cli_reference(),
        "reference/http-api.md": http_reference(),
        "reference/errors.md": errors_reference(),
    }


def cell(text: object) -> str:
    """Text for one Markdown table cell."""
    return " ".join(str(text).split()).replace("|", "\\|")


def code(text: object) -> str:
    value = str(text)
    fence = "``" if "`" in value else "`"
    pad = " " if value.startswith("`") or value.endswith("`") else ""
    return f"{fence}{pad}{value}{pad}{fence}"


# ---------------------------------------------------------------- the definition format

def definition_format() -> str:
    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    defs: dict[str, Any] = schema["$defs"]
    out = ["# Definition format", "", GENERATED,
           f"Every key of a definition file, from the JSON Schema that `smartflow validate` checks files "
           f"against (`smartflow schema` prints it; `{schema['$id']}`). {schema.get('description', '')}", "",
           "Each file holds one document; its `kind` says which: "
           + ", ".join(f"[`kind: {kind}`](#{kind.lower()})" for kind in schema["properties"]["kind"]["enum"])
           + ". The [shared types](#shared-types) at the end are referred to by name.", ""]
    kinds = [v["then"]["$ref"].rsplit("/", 1)[1] for v in schema.get("allOf", []) if "then" in v]
    order = kinds + [name for name in defs if name not in kinds]
    shared_written = False
    for name in order:
        body = defs[name]
        if name not in kinds and not shared_written:
            out += ["## Shared types", ""]
            shared_written = True
        level = "##" if name in kinds else "###"
        out += _def_section(name, body, defs, level)
    return "\n".join(out) + "\n"


def _is_object(schema: dict[str, Any]) -> bool:
    return "properties" in schema


def _def_section(name: str, body: dict[str, Any], defs: dict[str, Any], level: str) -> list[str]:
    title = {"process": "Process", "roles": "Roles", "test": "Test"}.get(name, name)
    out = [f'{level} {title} {{ #{name} }}', ""]
    if body.get("description"):
        out += [body["description"], ""]
    if not _is_object(body) and "anyOf" not in body:
        out += [f"Type: {_type(body, defs)}.", ""]
        out += _constraints(body)
        return out
    for path, obj, note in _objects(name, body):
        if path != name:
            out += [f"**`{path}`**{note}", ""]
            if obj.get("description") and path != name:
                out += [obj["description"], ""]
        out += _table(obj, defs)
    for variant in body.get("anyOf", []):
        if "$ref" in variant or not _is_object(variant):
            out += [f"- or {_type(variant, defs)}"]
    if body.get("anyOf"):
        out += [""]
    return out


def _objects(path: str, schema: dict[str, Any], note: str = "") -> Iterator[tuple[str, dict[str, Any], str]]:
    """The object schemas inside one definition, each with its path of keys, outermost first."""
    for variant in schema.get("anyOf", []) + schema.get("oneOf", []):
        if _is_object(variant):
            yield from _objects(path, variant, note)
    if not _is_object(schema):
        return
    yield path, schema, note
    for key, sub in schema["properties"].items():
        yield from _inner(f"{path}.{key}", sub)


def _inner(path: str, schema: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any], str]]:
    if "$ref" in schema:
        return
    if _is_object(schema) or any(_is_object(v) for v in schema.get("anyOf", []) + schema.get("oneOf", [])):
        yield from _objects(path, schema)
    if isinstance(schema.get("items"), dict):
        yield from _inner(f"{path}[]", schema["items"])
    if isinstance(schema.get("additionalProperties"), dict):
        yield from _inner(f"{path}.*", schema["additionalProperties"])


def _table(obj: dict[str, Any], defs: dict[str, Any]) -> list[str]:
    required = set(obj.get("required", []))
    rows = ["| key | type | required | default | description |", "| --- | --- | --- | --- | --- |"]
    for key, sub in obj["properties"].items():
        description = sub.get("description", "")
        default = code(json.dumps(sub["default"], ensure_ascii=False)) if "default" in sub else ""
        rows.append(f"| {code(key)} | {cell(_type(sub, defs))} | {'yes' if key in required else ''} | {default} "
                    f"| {cell(description)} {cell(' '.join(_constraints(sub)))} |")
    return [*rows, ""]


def _type(schema: dict[str, Any], defs: dict[str, Any]) -> str:
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[1]
        return f"[{name}](#{name})"
    if "const" in schema:
        return code(schema["const"])
    if "enum" in schema:
        return "one of " + ", ".join(code(v) for v in schema["enum"])
    for combined in ("anyOf", "oneOf"):
        if combined in schema:
            return " or ".join(_type(v, defs) for v in schema[combined])
    kind = schema.get("type")
    if isinstance(kind, list):
        return " or ".join(kind)
    if kind == "array":
        items = schema.get("items")
        return f"list of {_type(items, defs)}" if isinstance(items, dict) else "list"
    if kind == "object":
        values = schema.get("additionalProperties")
        if isinstance(values, dict) and not _is_object(schema):
            names = schema.get("propertyNames", {})
            key = _type(names, defs) if "$ref" in names else "key"
            return f"mapping of {key} → {_type(values, defs)}"
        return "mapping"
    return kind or "any value"


def _constraints(schema: dict[str, Any]) -> list[str]:
    found = []
    words = {"minimum": "at least", "maximum": "at most", "minLength": "at least {} characters",
             "maxLength": "at most {} characters", "minItems": "at least {} items", "minProperties":
             "at least {} entries", "maxProperties": "at most {} entries", "pattern": "matches"}
    for key, word in words.items():
        if key in schema:
            value = schema[key]
            found.append(f"{word} {code(value)}" if "{}" not in word else word.format(value))
    if schema.get("uniqueItems"):
        found.append("no repeats")
    return ["(" + "; ".join(found) + ")"] if found else []


# ---------------------------------------------------------------- the command line

def cli_reference() -> str:
    import click

    from smartflow.cli.main import main

    out = ["# Command line", "", GENERATED,
           "Every command and option of `smartflow`, from the commands themselves (`smartflow COMMAND --help` "
           "prints the same). Every command that touches a database takes `--db URL`; see "
           "[exit codes](errors.md#exit-codes) for what each command returns.", ""]
    root = click.Context(main, info_name="smartflow")
    envvars: dict[str, set[str]] = {}
    out += _command(main, root, "smartflow", 2, envvars)
    out += ["## Environment variables", "",
            "Options that may also be given by an environment variable (the option wins when both are given):", "",
            "| variable | option | of the commands |", "| --- | --- | --- |"]
    for name in sorted(envvars):
        out.append(f"| {name} | {cell(', '.join(sorted(envvars[name])))} |")
    return "\n".join(out) + "\n"


def _command(command: Any, ctx: Any, path: str, depth: int, envvars: dict[str, set[str]]) -> list[str]:
    import click

    out: list[str] = []
    if depth > 2 or path != "smartflow":
        out += [f"{'#' * min(depth, 4)} `{path}`", ""]
    pieces = " ".join(command.collect_usage_pieces(ctx))
    out += ["```text", f"{path} {pieces}".rstrip(), "```", ""]
    if command.help and path != "smartflow":
        out += [inspect.cleandoc(command.help).replace("\b\n", ""), ""]
    arguments = [p for p in command.params if isinstance(p, click.Argument)]
    options = [p for p in command.params if isinstance(p, click.Option) and not p.hidden]
    if arguments:
        out += ["| argument | required | repeatable |", "| --- | --- | --- |"]
        for argument in arguments:
            out.append(f"| {code(argument.human_readable_name)} | {'yes' if argument.required else ''} "
                       f"| {'yes' if argument.nargs == -1 or argument.multiple else ''} |")
        out.append("")
    if options:
        out += ["| option | takes | default | description |", "| --- | --- | --- | --- |"]
        for option in options:
            names = ", ".join(code(name) for name in [*option.opts, *option.secondary_opts])
            takes = "" if option.is_flag else (option.metavar or option.type.get_metavar(option, ctx) or
                                                option.type.name.upper())
            default = _default(option)
            described = option.help or ""
            if option.envvar:
                for variable in [option.envvar] if isinstance(option.envvar, str) else option.envvar:
                    envvars.setdefault(f"{code(variable)} | {code(option.opts[-1])}", set()).add(
                        path.removeprefix("smartflow "))
                described += f" Environment: {', '.join(code(v) for v in _as_list(option.envvar))}."
            if option.multiple:
                described += " Repeatable."
            if option.required:
                described += " Required."
            out.append(f"| {names} | {cell(code(takes) if takes else '')} | {cell(default)} | {cell(described)} |")
        out.append("")
    if isinstance(command, click.Group):
        for name in command.list_commands(ctx):
            sub = command.get_command(ctx, name)
            if sub is None or sub.hidden:
                continue
            child = click.Context(sub, info_name=name, parent=ctx)
            out += _command(sub, child, f"{path} {name}", depth + (0 if path == "smartflow" else 1), envvars)
    return out


def _as_list(value: str | list[str] | tuple[str, ...]) -> list[str]:
    return [value] if isinstance(value, str) else list(value)


def _default(option: Any) -> str:
    value = option.default
    unset = type(value).__name__ in {"Sentinel", "_Sentinel"}  # click 8.3's UNSET: no default
    if unset or option.is_flag or value is None or value == () or callable(value) or (option.multiple and not value):
        return ""
    if isinstance(value, list | tuple):
        value = ", ".join(str(v) for v in value)
    return code(value)


# ---------------------------------------------------------------- the HTTP API

def http_reference() -> str:
    from smartflow.http.app import create_app

    with tempfile.TemporaryDirectory() as folder:  # the generic document needs no deployed database
        document = create_app(f"sqlite:///{Path(folder) / 'unused.db'}").openapi()
    out = ["# HTTP API", "", GENERATED,
           f"Every path and method of the HTTP API that `smartflow serve` answers, from its OpenAPI document. "
           f"{document['info'].get('description', '')} A running server also serves the document typed per "
           "deployed process, at `GET /api/openapi.json`, and interactive documentation over it at `/api/docs`; "
           "the [HTTP API guide](../how-to/http-api.md) shows them in use, and errors are listed in "
           "[error codes](errors.md#http-problem-codes).", "",
           "| method | path | what |", "| --- | --- | --- |"]
    operations = [(path, method, op) for path, methods in document["paths"].items()
                  for method, op in methods.items()]
    for path, method, op in operations:
        anchor = _anchor(method, path)
        out.append(f"| {method.upper()} | [{code(path)}](#{anchor}) | {cell(op.get('summary', ''))} |")
    out.append("")
    schemas = document.get("components", {}).get("schemas", {})
    for path, method, op in operations:
        out += [f"## {method.upper()} `{path}` {{ #{_anchor(method, path)} }}", ""]
        if op.get("description"):
            out += [inspect.cleandoc(op["description"]), ""]
        parameters = op.get("parameters", [])
        if parameters:
            out += ["| parameter | in | required | type | description |", "| --- | --- | --- | --- | --- |"]
            for parameter in parameters:
                kind = _json_type(parameter.get("schema", {}), schemas)
                said = parameter.get("description") or parameter.get("schema", {}).get("description", "")
                out.append(f"| {code(parameter['name'])} | {parameter['in']} | "
                           f"{'yes' if parameter.get('required') else ''} | {cell(kind)} | "
                           f"{cell(said)} |")
            out.append("")
        body = op.get("requestBody")
        if body:
            for media, content in body.get("content", {}).items():
                out += [f"Request body ({code(media)}): {cell(_json_type(content.get('schema', {}), schemas))}", ""]
        responses = op.get("responses", {})
        if responses:
            out += ["Responses: " + ", ".join(f"{code(status)} {answer.get('description', '')}".strip()
                                              for status, answer in responses.items()), ""]
    return "\n".join(out) + "\n"


def _anchor(method: str, path: str) -> str:
    return (method + "-" + re.sub(r"[^a-z0-9]+", "-", path.lower())).strip("-")


def _json_type(schema: dict[str, Any], schemas: dict[str, Any]) -> str:
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[1]
        target = schemas.get(name, {})
        if "properties" in target:
            keys = ", ".join(code(k) for k in target["properties"])
            return f"{name} {{{keys}}}"
        return name
    for combined in ("anyOf", "oneOf"):
        if combined in schema:
            return " or ".join(_json_type(v, schemas) for v in schema[combined])
    if "enum" in schema:
        return "one of " + ", ".join(code(v) for v in schema["enum"])
    if schema.get("type") == "array":
        return f"list of {_json_type(schema.get('items', {}), schemas)}"
    return str(schema.get("type", "any"))


# ---------------------------------------------------------------- errors and exit codes

def exit_codes() -> list[tuple[str, int, str]]:
    """(name, code, meaning) of every exit code, from the comments of smartflow/cli/exits.py."""
    source = (ROOT / "smartflow" / "cli" / "exits.py").read_text(encoding="utf-8")
    return [(name, int(number), meaning.strip()) for name, number, meaning in
            re.findall(r"^(EXIT_\w+) = (\d+)\s*#\s*(.*)$", source, re.M)]


def errors_reference() -> str:
    from smartflow import errors
    from smartflow.cli.exits import exit_code
    from smartflow.http.problems import STATUSES

    out = ["# Errors and exit codes", "", GENERATED,
           "Every error smartflow reports is one message and, usually, a hint on how to fix it; the command line "
           "prints them as `error: …` and `  hint: …` on standard error and exits with a code below; the HTTP API "
           "answers `application/problem+json` with the same message and hint and a stable `code`. A refused "
           "operation changes nothing.", "", "## Exit codes", "", "| code | name | meaning |", "| --- | --- | --- |"]
    for name, number, meaning in exit_codes():
        out.append(f"| {number} | {code(name)} | {cell(meaning)} |")
    out += ["", "## Errors", "",
            "The exceptions of `smartflow.errors` (the Python API raises them), with the exit code of the command "
            "line and the status and `code` of the HTTP API:", "",
            "| error | exit code | HTTP status and code | what it means |", "| --- | --- | --- | --- |"]
    classes = [c for c in vars(errors).values()
               if isinstance(c, type) and issubclass(c, errors.SmartflowError) and c.__module__ == errors.__name__]
    for kind in classes:
        exit_number = exit_code(kind.__new__(kind))
        http = next((f"{status} {code(name)}" for cls, status, name in STATUSES if issubclass(kind, cls)),
                    f"400 {code('refused')}")  # problems.from_error's answer to any other error
        own = getattr(kind, "code", None)
        if isinstance(own, str) and own not in http:
            http = f"{http} {code(own)}".strip()
        parent = next((b.__name__ for b in kind.__bases__ if b is not Exception), "")
        doc = inspect.getdoc(kind) or ""
        out.append(f"| {code(kind.__name__)}{f' ({parent})' if parent else ''} | {exit_number} | {http} "
                   f"| {cell(doc)} |")
    out += ["", "## HTTP problem codes", "",
            "Every `code` an HTTP error answer may carry, with its status:", "",
            "| status | code |", "| --- | --- |"]
    for status, name in http_problem_codes():
        out.append(f"| {status} | {code(name)} |")
    out += ["", "## Validation diagnostics", "",
            "The codes `smartflow validate` prints in `error[code]` and `warning[code]` (and in the `code` of "
            "`--format json`), each with a location and usually a hint:", "",
            "| code | reported as |", "| --- | --- |"]
    for name, severity in diagnostic_codes():
        out.append(f"| {code(name)} | {severity} |")
    return "\n".join(out) + "\n"


def http_problem_codes() -> list[tuple[int, str]]:
    """Every (status, code) the HTTP package can answer: its STATUSES table and its problem(...) calls."""
    from smartflow.http.problems import STATUSES

    found = {(status, name) for _, status, name in STATUSES}
    found.add((412, "stale-version"))  # a conflict under If-Match (problems.from_error)
    found.add((400, "refused"))  # any other of smartflow's errors (problems.from_error)
    for source in sorted((ROOT / "smartflow" / "http").glob("*.py")):
        for node in ast.walk(ast.parse(source.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and getattr(node.func, "attr", getattr(node.func, "id", "")) == "problem":
                first = node.args[:2]
                if (len(first) == 2 and all(isinstance(a, ast.Constant) for a in first)
                        and isinstance(first[0].value, int) and isinstance(first[1].value, str)):
                    found.add((first[0].value, first[1].value))
    return sorted(found)


def diagnostic_codes() -> list[tuple[str, str]]:
    """The codes of validation diagnostics, read from the calls that make them in smartflow/definitions."""
    found: dict[str, set[str]] = {}
    shape = re.compile(r"^[a-z]+(-[a-z]+)+$|^[a-z]+$")
    for source in sorted((ROOT / "smartflow" / "definitions").rglob("*.py")):
        for node in ast.walk(ast.parse(source.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Call):
                continue
            name = getattr(node.func, "attr", getattr(node.func, "id", ""))
            if name not in {"error", "warning", "_fail", "Diagnostic", "LoadError"}:
                continue
            severity = "warning" if name == "warning" else "error"
            for keyword in node.keywords:
                if keyword.arg == "severity" and "WARNING" in ast.unparse(keyword.value):
                    severity = "warning"
            literal = next((a.value for a in [*node.args, *(k.value for k in node.keywords if k.arg == "code")]
                            if isinstance(a, ast.Constant) and isinstance(a.value, str) and shape.match(a.value)),
                           None)
            if literal:
                found.setdefault(literal, set()).add(severity)
    return [(name, " and ".join(sorted(kinds))) for name, kinds in sorted(found.items())]
