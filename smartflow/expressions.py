"""Conditions and templates: Jinja2 in the immutable sandbox, parsed once, never eval'd.

Conditions (`when:`) are Jinja2 expressions, as in Ansible (`estimate > 0 and supplier`);
messages and field values of actions are Jinja2 templates. This module parses them for
validation (syntax, the names they use, forbidden tags) and compiles them for the runtime.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Any

# Names every condition and template may use besides the item's fields and system fields.
CONTEXT_NAMES = ("now", "today", "user")


@dataclass(frozen=True)
class ParseProblem:
    """A condition or template that does not parse; line is within the expression."""

    message: str
    line: int


@cache
def environment() -> Any:
    """The one sandboxed Jinja2 environment conditions and templates are compiled in."""
    from jinja2 import StrictUndefined

    from smartflow.sandbox import HardenedEnvironment

    # an empty field renders as nothing, not as the word "None"
    env = HardenedEnvironment(undefined=StrictUndefined, autoescape=False, keep_trailing_newline=True,
                              finalize=lambda value: "" if value is None else value)
    # Templates stand alone: no loader, so include/import/extends have nothing to reach.
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


def is_template(value: Any) -> bool:
    return isinstance(value, str) and ("{{" in value or "{%" in value)
