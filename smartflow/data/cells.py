"""Item values as the cells a person expects in a spreadsheet, and as CSV text.

A cell is typed: dates are dates, numbers are numbers (Decimal, exact), money is a `Money`
(its amount and currency), a boolean is a boolean; enum options, users, links and files show
their titles and names. Text that a spreadsheet would run as a formula is neutralised here,
once, for both writers: CSV gets a leading apostrophe (undone on import), xlsx a string cell
with Excel's quote prefix, which never runs and shows the text unchanged.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from smartflow.data.columns import Column
from smartflow.model import Process

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_RISKY = frozenset([*FORMULA_START, "'"])
_BOOLEAN_WORDS = {"ru": ("да", "нет")}
_CURRENCY_FORMAT = re.compile(r'"([A-Za-z]{3})"')


@dataclass(frozen=True)
class Money:
    amount: Decimal
    currency: str

    def text(self) -> str:
        return f"{format(self.amount, 'f')} {self.currency}"


def dangerous(text: str) -> bool:
    """Whether a spreadsheet would take text as a formula (OWASP's list of first characters)."""
    return text.lstrip("'")[:1] in FORMULA_START if text else False


def neutralise(text: str) -> str:
    """CSV: a leading apostrophe before a formula; `'=x` itself gains one too, so `restore` is exact."""
    return "'" + text if text[:1] in _RISKY and dangerous(text) else text


def restore(text: str) -> str:
    """The text neutralise was given (import reads exports back)."""
    return text[1:] if text.startswith("'") and dangerous(text) else text


def boolean_text(value: bool, lang: str | None) -> str:
    yes, no = _BOOLEAN_WORDS.get(lang or "", ("yes", "no"))
    return yes if value else no


def currency_of(number_format: str | None) -> str | None:
    """The currency an xlsx money cell's number format names (`#,##0.00 "RUB"` → RUB)."""
    found = _CURRENCY_FORMAT.search(number_format or "")
    return found.group(1).upper() if found else None


def money_format(places: int, currency: str) -> str:
    return ("#,##0." + "0" * places if places else "#,##0") + f' "{currency}"'


def number_format(places: int) -> str:
    return "0." + "0" * places if places else "0"


@dataclass
class Lookups:
    """Names and titles for the ids of one batch: users (all), linked items and files (per batch)."""

    lang: str | None
    users: dict[int, str]
    links: dict[str, dict[int, str]] = field(default_factory=dict)
    files: dict[int, str] = field(default_factory=dict)


Cell = Callable[[Any], Any]


class Renderer:
    """Turns items into rows of cells, column by column; each column's conversion is chosen once.

    `cells(item)` gives typed cells (for xlsx), `texts(item)` CSV text, neutralised. Choosing the
    conversion per column up front, rather than per value, is what keeps an export of 100,000 items
    close to the writer's own speed.
    """

    def __init__(self, process: Process, columns: list[Column], lookups: Lookups) -> None:
        self.process = process
        self.lookups = lookups
        self.typed = [self._column(c) for c in columns]
        self.text = [self._text(c, typed) for c, typed in zip(columns, self.typed, strict=True)]

    def cells(self, item: dict[str, Any]) -> list[Any]:
        return [convert(item) for convert in self.typed]

    def texts(self, item: dict[str, Any]) -> list[str]:
        return [convert(item) for convert in self.text]

    def _column(self, column: Column) -> Callable[[dict[str, Any]], Any]:
        key, lang = column.id, self.lookups.lang
        if key == "stage":
            stages = {(p.id, s.id): s.title.get(lang) for p in self.process.pipelines for s in p.stages}
            return lambda item: stages.get((item["pipeline"], item["stage"]), item["stage"])
        if key == "pipeline":
            pipelines = {p.id: p.title.get(lang) for p in self.process.pipelines}
            return lambda item: pipelines.get(item["pipeline"], item["pipeline"])
        single = self._single(column)
        if column.field.multiple:
            return lambda item: ", ".join(text(single(v), lang) for v in item.get(key) or ()) or None
        return lambda item: single(item.get(key))

    def _single(self, column: Column) -> Cell:
        kind, key, lookups = column.field.type, column.id, self.lookups
        if kind == "user":
            return lambda v: None if v is None else lookups.users.get(v, f"#{v}")
        if kind == "enum":
            options = {o.id: o.title.get(lookups.lang) for o in column.field.options}
            return lambda v: None if v is None else options.get(v, v)
        if kind == "link":
            return lambda v: None if v is None else lookups.links.get(key, {}).get(v, f"#{v}")
        if kind == "file":
            return lambda v: None if v is None else lookups.files.get(v, f"#{v}")
        if kind == "money":
            return lambda v: None if v is None or v["amount"] is None else Money(v["amount"], v["currency"] or "")
        if kind == "datetime":  # Excel has no time zones: UTC, as stored
            return lambda v: None if v is None else v.astimezone(UTC).replace(tzinfo=None)
        return lambda v: None if v == "" else v

    def _text(self, column: Column, typed: Callable[[dict[str, Any]], Any]) -> Callable[[dict[str, Any]], str]:
        kind, key, lang = column.field.type, column.id, self.lookups.lang
        if kind in ("string", "text", "email", "phone", "url") and not column.field.multiple \
                and key not in ("stage", "pipeline"):
            return lambda item: neutralise(v) if (v := item.get(key)) else ""
        if column.field.multiple or kind not in ("money", "integer", "number", "boolean", "date", "datetime"):
            return lambda item: "" if (value := typed(item)) is None else neutralise(str(value))
        if kind == "money":
            return lambda item: "" if (v := item.get(key)) is None or v["amount"] is None else \
                f"{v['amount']:f} {v['currency'] or ''}".rstrip()
        if kind == "number":
            return lambda item: "" if (v := item.get(key)) is None else f"{v:f}"
        if kind == "boolean":
            yes, no = boolean_text(True, lang), boolean_text(False, lang)
            return lambda item: "" if (v := item.get(key)) is None else (yes if v else no)
        if kind == "datetime":
            return lambda item: "" if (v := typed(item)) is None else v.isoformat(sep=" ")
        return lambda item: "" if (v := item.get(key)) is None else (v.isoformat() if kind == "date" else str(v))


def text(value: Any, lang: str | None) -> str:
    """A typed cell as CSV text: ISO dates, plain decimals, `1500.00 RUB`, yes/no (да/нет)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return boolean_text(value, lang)
    if isinstance(value, Money):
        return value.text()
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, date):
        return value.isoformat()
    return str(value)
