"""The hardened Jinja2 sandbox conditions and templates run in.

Jinja2's ImmutableSandboxedEnvironment already blocks attribute escapes (`__class__`,
`mro`, unsafe `str.format`) and mutation of the context; on top of it we refuse, before they
run, the operations that make a small template eat the machine: `**` with a large exponent,
`*` building huge strings or lists, `range` beyond a cap, padding and formatting with huge
widths. Whatever still runs too long is stopped by a wall-clock limit (a trace function
checks the deadline while the template runs), and rendered output is capped in size.
"""

from __future__ import annotations

import re
import sys
import time
from typing import Any

from jinja2.sandbox import ImmutableSandboxedEnvironment, SecurityError

MAX_EXPONENT = 64
MAX_SEQUENCE = 10_000
MAX_WIDTH = 1_000
MAX_OUTPUT = 64 * 1024
TIME_LIMIT = 0.5  # seconds of wall-clock time for one condition or template

_WIDTHS = re.compile(r"%[-+ #0]*(\d+)|\{[^}]*:[^}]*?(\d+)[^}]*\}")


class TemplateRefused(SecurityError):
    """A condition or template that would run away; refused or stopped, never run to the end."""


def _check_width(width: Any) -> int:
    if isinstance(width, int) and not isinstance(width, bool) and abs(width) > MAX_WIDTH:
        raise TemplateRefused(f"a width of {width} is over the limit of {MAX_WIDTH}")
    return int(width) if isinstance(width, (int, float)) else width


def _safe_range(*args: int) -> range:
    span = range(*args)
    if len(span) > MAX_SEQUENCE:
        raise TemplateRefused(f"range of {len(span)} items is over the limit of {MAX_SEQUENCE}")
    return span


class HardenedEnvironment(ImmutableSandboxedEnvironment):
    """The immutable sandbox, with resource-hungry operations refused before they run."""

    intercepted_binops = frozenset(["**", "*", "+"])

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self.globals["range"] = _safe_range
        original_center, original_indent, original_format = (
            self.filters["center"], self.filters["indent"], self.filters["format"])
        truncate, wordwrap = self.filters["truncate"], self.filters["wordwrap"]

        def center(value: str, width: int = 80) -> str:
            return str(original_center(value, _check_width(width)))

        def indent(value: str, width: int | str = 4, *args: Any, **kwargs: Any) -> str:
            if isinstance(width, str) and len(width) > MAX_WIDTH:
                raise TemplateRefused(f"an indent of {len(width)} characters is over the limit of {MAX_WIDTH}")
            return str(original_indent(value, _check_width(width), *args, **kwargs))

        def format_(value: str, *args: Any, **kwargs: Any) -> str:
            for match in _WIDTHS.finditer(str(value)):
                _check_width(int(match.group(1) or match.group(2)))
            return str(original_format(value, *args, **kwargs))

        def truncate_(value: str, length: int = 255, *args: Any, **kwargs: Any) -> str:
            return str(truncate(value, _check_width(length), *args, **kwargs))

        def wordwrap_(environment: Any, value: str, width: int = 79, *args: Any, **kwargs: Any) -> str:
            return str(wordwrap(environment, value, _check_width(width), *args, **kwargs))

        wordwrap_.jinja_pass_arg = wordwrap.jinja_pass_arg  # type: ignore[attr-defined]
        self.filters.update(center=center, indent=indent, format=format_, truncate=truncate_, wordwrap=wordwrap_)

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
        return super().call_binop(context, operator, left, right)


def _check_repeat(sequence: Any, times: Any) -> None:
    repeats = isinstance(sequence, (str, list, tuple)) and isinstance(times, int) and not isinstance(times, bool)
    if repeats and len(sequence) * times > MAX_OUTPUT:
        raise TemplateRefused(f"repeating {len(sequence)} items {times} times is over the limit of {MAX_OUTPUT}")


class _Deadline:
    """A trace function that stops the running template once its time is up."""

    def __init__(self, seconds: float) -> None:
        self.deadline = time.monotonic() + seconds
        self.seconds = seconds
        self.count = 0

    def __call__(self, frame: Any, event: str, arg: Any) -> Any:
        self.count += 1
        if self.count % 64 == 0 and time.monotonic() > self.deadline:
            raise TemplateRefused(f"the template ran longer than {self.seconds:g} s and was stopped")
        return self


def run_limited(function: Any, *args: Any, seconds: float = TIME_LIMIT, **kwargs: Any) -> Any:
    """Call function (a render or a compiled expression) under the wall-clock limit."""
    previous = sys.gettrace()
    sys.settrace(_Deadline(seconds))
    try:
        return function(*args, **kwargs)
    finally:
        sys.settrace(previous)


def render(template: Any, values: dict[str, Any], seconds: float = TIME_LIMIT) -> str:
    """Render a compiled template under the limits; raises TemplateRefused past them."""
    output = run_limited(template.render, values, seconds=seconds)
    if len(output) > MAX_OUTPUT:
        raise TemplateRefused(f"the rendered text is {len(output)} characters, over the limit of {MAX_OUTPUT}")
    return str(output)
