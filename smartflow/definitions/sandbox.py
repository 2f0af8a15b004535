"""The hardened Jinja2 sandbox conditions and templates run in.

Jinja2's ImmutableSandboxedEnvironment already blocks attribute escapes (`__class__`,
`mro`, unsafe `str.format`) and mutation of the context; on top of it we refuse, before they
run, the operations that make a small template eat the machine: `**` with a large exponent,
`*` building huge strings or lists, `range` beyond a cap, padding and formatting with huge
widths (filters, `%`, `str.format`, `ljust` and the other padding methods), `replace` and
`join` that would build a huge string. Whatever still runs too long is stopped by a
wall-clock limit (a trace function checks the deadline while the template runs), and
rendered output is capped in size. The trace function runs between Python steps, so one
step done in C (a `%` or `replace` over a huge size) must be refused before it runs.
"""

from __future__ import annotations

import re
import sys
import time
from typing import Any

from jinja2 import nodes
from jinja2 import sandbox as _jinja_sandbox
from jinja2.sandbox import ImmutableSandboxedEnvironment, SecurityError

MAX_EXPONENT = 64
MAX_SEQUENCE = 10_000
MAX_WIDTH = 1_000
MAX_OUTPUT = 64 * 1024
TIME_LIMIT = 0.5  # seconds of wall-clock time for one condition or template

_PRINTF = re.compile(r"%(?:\([^)]*\))?[-+ #0]*(\*|\d+)?(?:\.(\*|\d+))?")  # %-08.3f, %*d, %(name)10s
_SPEC = re.compile(r"\{[^{}]*?:([^{}]*)\}")  # the format spec of {name:spec}
_NESTED_SPEC = re.compile(r"\{[^{}]*:[^{}]*\{")  # {:>{width}}: the width comes from an argument
_PADDING = frozenset(["center", "ljust", "rjust", "zfill", "expandtabs"])
# Attributes that lead from a value to code, frames or types, whatever the object: Jinja2's own
# lists, and the frame and traceback ones beside them. A name starting with `_` is refused too.
INTERNAL_NAMES = frozenset({
    "mro", "f_globals", "f_locals", "f_builtins", "f_back", "f_code", "tb_frame", "tb_next",
    *_jinja_sandbox.UNSAFE_FUNCTION_ATTRIBUTES, *_jinja_sandbox.UNSAFE_METHOD_ATTRIBUTES,
    *_jinja_sandbox.UNSAFE_GENERATOR_ATTRIBUTES, *_jinja_sandbox.UNSAFE_COROUTINE_ATTRIBUTES,
    *_jinja_sandbox.UNSAFE_ASYNC_GENERATOR_ATTRIBUTES,
})


class TemplateRefused(SecurityError):
    """A condition or template that would run away; refused or stopped, never run to the end."""


class EvaluationStopped(TemplateRefused):
    """A condition or template stopped by a limit while it ran (time, memory), not refused beforehand.

    The same text may pass on a less busy machine, so a delayed job stopped this way is retried.
    """


def _refuse_private(name: Any, always: bool = False) -> None:
    if always or (isinstance(name, str) and (name.startswith("_") or name in INTERNAL_NAMES)):
        raise TemplateRefused(f"access to {name!r} is not allowed: names starting with `_` and Python's "
                              "internals are out of reach")


def _check_width(width: Any) -> int:
    if isinstance(width, (int, float)) and not isinstance(width, bool) and abs(width) > MAX_WIDTH:
        raise TemplateRefused(f"a width of {width} is over the limit of {MAX_WIDTH}")
    return int(width) if isinstance(width, (int, float)) else width


def _check_format(text: str, arguments: Any, printf: bool) -> None:
    """Refuse a `%` (printf) or `str.format` text that would pad or format to a huge width or precision."""
    if printf:
        numbers = [n for match in _PRINTF.finditer(text) for n in match.groups() if n]
        from_arguments = "*" in numbers
    else:
        numbers = re.findall(r"\d+", " ".join(_SPEC.findall(text)))
        from_arguments = bool(_NESTED_SPEC.search(text))
    for number in numbers:
        if number != "*":
            _check_width(int(number))
    if from_arguments:
        values = arguments.values() if isinstance(arguments, dict) else arguments
        for value in values if isinstance(arguments, (tuple, list, dict)) else (arguments,):
            _check_width(value)


def _check_replace(text: Any, old: Any, new: Any, count: Any = -1) -> None:
    if isinstance(text, str) and isinstance(old, str) and isinstance(new, str) and len(new) > len(old):
        hits = text.count(old) if old else len(text) + 1
        if isinstance(count, int) and count >= 0:
            hits = min(hits, count)
        if len(text) + hits * (len(new) - len(old)) > MAX_OUTPUT:
            raise TemplateRefused(f"replacing would build a text over the limit of {MAX_OUTPUT}")


def _check_join(separator: Any, sequence: Any) -> None:
    if isinstance(separator, str) and hasattr(sequence, "__len__") and \
            len(separator) * max(0, len(sequence) - 1) > MAX_OUTPUT:
        raise TemplateRefused(f"joining {len(sequence)} items would build a text over the limit of {MAX_OUTPUT}")


def _safe_range(*args: int) -> range:
    span = range(*args)
    if len(span) > MAX_SEQUENCE:
        raise TemplateRefused(f"range of {len(span)} items is over the limit of {MAX_SEQUENCE}")
    return span


class HardenedEnvironment(ImmutableSandboxedEnvironment):
    """The immutable sandbox, with resource-hungry operations refused before they run."""

    intercepted_binops = frozenset(["**", "*", "+", "%"])

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self.globals["range"] = _safe_range
        original_center, original_indent, original_format = (
            self.filters["center"], self.filters["indent"], self.filters["format"])
        truncate, wordwrap = self.filters["truncate"], self.filters["wordwrap"]
        replace, join, attr = self.filters["replace"], self.filters["join"], self.filters["attr"]

        def center(value: str, width: int = 80) -> str:
            return str(original_center(value, _check_width(width)))

        def indent(value: str, width: int | str = 4, *args: Any, **kwargs: Any) -> str:
            if isinstance(width, str) and len(width) > MAX_WIDTH:
                raise TemplateRefused(f"an indent of {len(width)} characters is over the limit of {MAX_WIDTH}")
            return str(original_indent(value, _check_width(width), *args, **kwargs))

        def format_(value: str, *args: Any, **kwargs: Any) -> str:
            _check_format(str(value), kwargs or args, printf=True)
            return str(original_format(value, *args, **kwargs))

        def truncate_(environment: Any, value: str, length: int = 255, *args: Any, **kwargs: Any) -> str:
            return str(truncate(environment, value, _check_width(length), *args, **kwargs))

        truncate_.jinja_pass_arg = truncate.jinja_pass_arg  # type: ignore[attr-defined]

        def wordwrap_(environment: Any, value: str, width: int = 79, *args: Any, **kwargs: Any) -> str:
            return str(wordwrap(environment, value, _check_width(width), *args, **kwargs))

        def replace_(context: Any, value: str, old: str, new: str, count: Any = None) -> str:
            _check_replace(str(value), old, new, -1 if count is None else count)
            return str(replace(context, value, old, new, count))

        def join_(context: Any, value: Any, separator: str = "", attribute: Any = None) -> str:
            if not hasattr(value, "__len__"):
                value = list(value)
            _check_join(separator, value)
            return str(join(context, value, separator, attribute))

        def attr_(environment: Any, value: Any, name: str) -> Any:
            _refuse_private(name)
            return attr(environment, value, name)

        attr_.jinja_pass_arg = attr.jinja_pass_arg  # type: ignore[attr-defined]
        wordwrap_.jinja_pass_arg = wordwrap.jinja_pass_arg  # type: ignore[attr-defined]
        replace_.jinja_pass_arg = replace.jinja_pass_arg  # type: ignore[attr-defined]
        join_.jinja_pass_arg = join.jinja_pass_arg  # type: ignore[attr-defined]
        self.filters.update(center=center, indent=indent, format=format_, truncate=truncate_, wordwrap=wordwrap_,
                            replace=replace_, join=join_, attr=attr_)

    def from_string(self, source: Any, *args: Any, **kwargs: Any) -> Any:
        """A compiled template that knows whether it runs straight through (`runs_straight`)."""
        template = super().from_string(source, *args, **kwargs)
        template.runs_straight = runs_straight(source if isinstance(source, nodes.Template) else self.parse(source))
        return template

    def compile_expression(self, source: str, undefined_to_none: bool = True) -> Any:
        """A compiled expression that knows whether it runs straight through (`runs_straight`)."""
        expression = super().compile_expression(source, undefined_to_none)
        expression.runs_straight = expression._template.runs_straight  # the template from_string made for it
        return expression

    def is_safe_attribute(self, obj: Any, attr: str, value: Any) -> bool:
        """No private or internal attribute, on any object (Jinja2 checks some only on some types)."""
        return not (attr.startswith("_") or attr in INTERNAL_NAMES) and super().is_safe_attribute(obj, attr, value)

    def getitem(self, obj: Any, argument: Any) -> Any:
        """`x['__class__']` is refused like `x.__class__`, even on a mapping that has such a key."""
        _refuse_private(argument)
        return super().getitem(obj, argument)

    def getattr(self, obj: Any, attribute: str) -> Any:
        """`x._key` is refused before Jinja2 would fall back to `x['_key']` on a mapping."""
        _refuse_private(attribute)
        return super().getattr(obj, attribute)

    def unsafe_undefined(self, obj: Any, attribute: str) -> Any:
        """A refused attribute stops the template at once, rather than leaving an undefined to trip later."""
        _refuse_private(attribute, always=True)

    def call(__self, __context: Any, __obj: Any, *args: Any, **kwargs: Any) -> Any:
        """Calls of str methods that pad, replace or join are checked before they run (in C)."""
        owner = getattr(__obj, "__self__", None)
        if isinstance(owner, str):
            name = getattr(__obj, "__name__", "")
            if name in _PADDING:
                for value in (*args, *kwargs.values()):
                    _check_width(value)
            elif name == "replace":
                _check_replace(owner, *args, *kwargs.values())
            elif name == "join" and args:
                _check_join(owner, args[0])
        return super().call(__context, __obj, *args, **kwargs)

    def wrap_str_format(self, value: Any) -> Any:
        """`str.format` and `format_map`, sandboxed by Jinja2, with their widths checked first."""
        wrapped = super().wrap_str_format(value)
        if wrapped is None:
            return None
        text = str(value.__self__)
        mapping = value.__name__ == "format_map"

        def checked(*args: Any, **kwargs: Any) -> Any:
            given = args[0] if mapping and args and isinstance(args[0], dict) else (*args, *kwargs.values())
            _check_format(text, given, printf=False)
            return wrapped(*args, **kwargs)

        return checked

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        if operator == "**":
            if isinstance(right, (int, float)) and abs(right) > MAX_EXPONENT:
                raise TemplateRefused(f"an exponent of {right} is over the limit of {MAX_EXPONENT}")
            if isinstance(left, int) and abs(left).bit_length() * max(1, int(abs(right))) > 4096:
                raise TemplateRefused("the power would be too large a number")
        elif operator == "*":
            _check_repeat(left, right)
            _check_repeat(right, left)
        elif (operator == "+" and isinstance(left, (str, list)) and isinstance(right, (str, list))
              and len(left) + len(right) > MAX_OUTPUT):
            raise TemplateRefused(f"a concatenation of {len(left) + len(right)} items is over the limit")
        elif operator == "%" and isinstance(left, str):
            _check_format(left, right, printf=True)
        return super().call_binop(context, operator, left, right)


def _check_repeat(sequence: Any, times: Any) -> None:
    repeats = isinstance(sequence, (str, list, tuple)) and isinstance(times, int) and not isinstance(times, bool)
    if repeats and len(sequence) * times > MAX_OUTPUT:
        raise TemplateRefused(f"repeating {len(sequence)} items {times} times is over the limit of {MAX_OUTPUT}")


# What a text may hold and still run straight through, with no clock watching it and outside a
# child process (automation.evaluator): names, constants, attributes and items, comparisons,
# `and`/`or`/`not`, `+`, `-`, `*`, `/`, `//`, `~`, `if` and `set`, and the filters and tests below,
# each linear in its input. No loop, call, macro, `**` or `%`: its run is bounded by its own size and
# its values' (the sandbox caps `*` and `+` on sequences), so a clock would only cost four times the
# render of a short text.
_STRAIGHT_NODES = frozenset({
    "Template", "Output", "TemplateData", "Expression", "Name", "Const", "Getattr", "Getitem", "Slice", "Compare",
    "Operand", "And", "Or", "Not", "Neg", "Pos", "CondExpr", "If", "Assign", "Concat", "List", "Tuple", "Dict",
    "Pair", "Add", "Sub", "Mul", "Div", "FloorDiv", "Test", "Filter",
})
_STRAIGHT_FILTERS = frozenset({"default", "d", "lower", "upper", "length", "count", "trim", "string", "int", "float",
                               "abs", "round", "title", "capitalize", "tojson", "first", "last", "e", "escape"})
_STRAIGHT_TESTS = frozenset({"defined", "undefined", "none", "number", "string", "integer", "float", "boolean",
                             "true", "false", "eq", "ne", "lt", "le", "gt", "ge", "in", "even", "odd", "sameas",
                             "mapping"})


def runs_straight(tree: Any) -> bool:
    """Whether a parsed template or expression holds only what runs straight through (above)."""
    kind = type(tree).__name__
    if kind not in _STRAIGHT_NODES:
        return False
    if kind == "Filter" and tree.name not in _STRAIGHT_FILTERS:
        return False
    if kind == "Test" and tree.name not in _STRAIGHT_TESTS:
        return False
    return all(runs_straight(child) for child in tree.iter_child_nodes())


class _Deadline:
    """A trace function that stops the running template once its time is up."""

    def __init__(self, seconds: float) -> None:
        self.deadline = time.monotonic() + seconds
        self.seconds = seconds
        self.count = 0

    def __call__(self, frame: Any, event: str, arg: Any) -> Any:
        self.count += 1
        if self.count % 64 == 0 and time.monotonic() > self.deadline:
            raise EvaluationStopped(f"the template ran longer than {self.seconds:g} s and was stopped")
        return self


def run_limited(function: Any, *args: Any, seconds: float = TIME_LIMIT, **kwargs: Any) -> Any:
    """Call function (a render or a compiled expression) under the wall-clock limit."""
    if getattr(function, "runs_straight", False):
        return function(*args, **kwargs)
    previous = sys.gettrace()
    sys.settrace(_Deadline(seconds))
    try:
        return function(*args, **kwargs)
    finally:
        sys.settrace(previous)


def _render(template: Any, values: dict[str, Any]) -> str:
    """`template.render(values)`, without its two copies of the template's globals.

    Jinja2 keeps a template's globals as a ChainMap over the environment's, and every render copies
    it twice (into the context's variables and into the set of global names): 8 of the 10 µs a short
    text takes. Here the globals are copied into a plain dict once per template, and each render
    builds the same context `Template.new_context` builds, from that copy."""
    globals_: dict[str, Any] | None = template.__dict__.get("_smartflow_globals")
    if globals_ is None:
        globals_ = template._smartflow_globals = dict(template.globals)
    environment = template.environment
    context = environment.context_class(environment, {**globals_, **values}, template.name, template.blocks,
                                        globals=globals_)
    try:
        return str(environment.concat(template.root_render_func(context)))
    except Exception:
        environment.handle_exception()
        raise  # handle_exception always raises (the error with the template's own traceback)


def render(template: Any, values: dict[str, Any], seconds: float | None = TIME_LIMIT) -> str:
    """Render a compiled template under the limits; raises TemplateRefused past them.

    A template that runs straight through (`runs_straight`), or one rendered with seconds=None (a
    text automation.evaluator found cheap), renders without the trace function: four times faster,
    and its time is bounded by its inputs.
    """
    if seconds is None or getattr(template, "runs_straight", False):
        output = _render(template, values)
    else:
        output = run_limited(_render, template, values, seconds=seconds)
    if len(output) > MAX_OUTPUT:
        raise TemplateRefused(f"the rendered text is {len(output)} characters, over the limit of {MAX_OUTPUT}")
    return str(output)
