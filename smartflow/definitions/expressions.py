"""Conditions and templates: Jinja2 in the immutable sandbox, parsed once, never eval'd.

Conditions (`when:`) are Jinja2 expressions, as in Ansible (`estimate > 0 and supplier`);
messages and field values of actions are Jinja2 templates. This module parses them for
validation (syntax, the names they use, forbidden tags) and compiles them for the runtime.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from functools import cache
from typing import Any

from smartflow.records import record

# Names every condition and template may use besides the item's fields and system fields.
CONTEXT_NAMES = ("now", "today", "user")


@record(frozen=True)
class ParseProblem:
    """A condition or template that does not parse; line is within the expression."""

    message: str
    line: int


@cache
def environment() -> Any:
    """The one sandboxed Jinja2 environment conditions and templates are compiled in."""
    from jinja2 import StrictUndefined

    from smartflow.definitions.sandbox import HardenedEnvironment

    # an empty field renders as nothing, not as the word "None"
    env = HardenedEnvironment(undefined=StrictUndefined, autoescape=False, keep_trailing_newline=True,
                              finalize=lambda value: "" if value is None else value)
    # Templates stand alone: no loader, so include/import/extends have nothing to reach. The globals
    # that hand out Python callables a text never needs (`lipsum.__globals__` is the classic escape)
    # are taken away; `range`, `dict` and `namespace` stay.
    for name in ("lipsum", "cycler", "joiner"):
        env.globals.pop(name, None)
    return env


def _builtin_names() -> set[str]:
    return set(environment().globals)


def parse_condition(source: str) -> tuple[Any | None, ParseProblem | None]:
    """The expression's AST, or the problem that stops it parsing."""
    from jinja2 import TemplateSyntaxError
    from jinja2.parser import Parser

    env = environment()
    try:
        parser = Parser(env, source, state="variable")
        expr = parser.parse_expression()
        if not parser.stream.eos:
            token = parser.stream.current
            return None, ParseProblem(f"unexpected `{token.value}` after the end of the expression", token.lineno)
    except TemplateSyntaxError as exc:
        message = (exc.message or "invalid expression").replace("'end of template'", "the end of the expression")
        return None, ParseProblem(message, exc.lineno)
    return expr, None


def parse_template(source: str) -> tuple[Any | None, ParseProblem | None]:
    from jinja2 import TemplateSyntaxError

    try:
        return environment().parse(source), None
    except TemplateSyntaxError as exc:
        return None, ParseProblem(exc.message or "invalid template", exc.lineno)


def names_used(node: Any) -> set[str]:
    """Top-level variable names an expression or template reads (not those it assigns)."""
    from jinja2 import meta, nodes

    if isinstance(node, nodes.Template):
        found: set[str] = set(meta.find_undeclared_variables(node))
    else:
        names = [node, *node.find_all(nodes.Name)]  # find_all skips the root: `when: delivred` is one Name
        found = {n.name for n in names if isinstance(n, nodes.Name) and n.ctx == "load"}
    return found - _builtin_names()


def forbidden_tags(node: Any) -> list[str]:
    """Tags a template may not use: include, import and extends reach outside it."""
    from jinja2 import nodes

    kinds = {nodes.Include: "include", nodes.Import: "import", nodes.FromImport: "import", nodes.Extends: "extends"}
    return sorted({name for kind, name in kinds.items() if any(True for _ in node.find_all(kind))})


def _is_private(name: str) -> bool:
    """A name that reaches for Python's internals: `_secret`, `__class__`, `mro`, `__globals__`."""
    from smartflow.definitions.sandbox import INTERNAL_NAMES

    return name.startswith("_") or name in INTERNAL_NAMES


def _format_fields(text: str) -> Iterator[str]:
    """The attribute and index names inside a `str.format` text: `{0.__class__}` gives `__class__`."""
    from string import Formatter

    try:
        parsed = list(Formatter().parse(text))
    except ValueError:
        return
    for _, field_name, spec, _ in parsed:
        if field_name:
            yield from re.findall(r"[.\[]\s*([A-Za-z_][A-Za-z0-9_]*)", field_name)
        if spec:
            yield from _format_fields(spec)  # `{x:{y.__class__}}`: fields nest inside a spec


def private_accesses(node: Any) -> list[str]:
    """Private or internal names a condition or template reaches for, in order, without repeats.

    Attribute access (`x.__class__`), item access with a literal key (`x['__class__']`), the
    `attr` filter (`x|attr('__class__')`), a private variable name (`_x`) and a literal
    `str.format` text (`'{0.__class__}'.format(x)`) are all refused; the sandbox refuses them
    again at run time, whatever the value.
    """
    from jinja2 import nodes

    found: list[str] = []
    for child in [node, *node.find_all(nodes.Node)]:
        if isinstance(child, nodes.Getattr):
            found.append(child.attr)
        elif isinstance(child, nodes.Getitem) and isinstance(child.arg, nodes.Const) \
                and isinstance(child.arg.value, str):
            found.append(child.arg.value)
        elif isinstance(child, nodes.Filter) and child.name == "attr":
            found.extend(arg.value for arg in child.args
                         if isinstance(arg, nodes.Const) and isinstance(arg.value, str))
        elif isinstance(child, nodes.Name):
            found.append(child.name)
        elif isinstance(child, nodes.Call) \
                and isinstance(child.node, nodes.Getattr) and child.node.attr in ("format", "format_map") \
                and isinstance(child.node.node, nodes.Const) and isinstance(child.node.node.value, str):
            found.extend(_format_fields(child.node.node.value))
    return list(dict.fromkeys(name for name in found if _is_private(name)))


def is_template(value: Any) -> bool:
    return isinstance(value, str) and ("{{" in value or "{%" in value)
