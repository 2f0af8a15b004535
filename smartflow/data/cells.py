"""Item values as the cells a person expects in a spreadsheet, and as CSV text.

A cell is typed: dates are dates, numbers are numbers (Decimal, exact), money is a `Money`
(its amount and currency), a boolean is a boolean; enum options, users, links and files show
their titles and names. Text that a spreadsheet would run as a formula is neutralised here,
once, for both writers: CSV gets a leading apostrophe (undone on import), xlsx a string cell
with Excel's quote prefix, which never runs and shows the text unchanged. That holds for every
cell whatever its field's type (a money cell `-5.00 RUB` too): the only text starting with
`= + - @`, a tab or a carriage return left as it is is a plain number (`-5`, `-1.250`), which no
spreadsheet runs (tests/data/test_export_cells.py checks every cell of hostile exports).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import field
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from smartflow.compile.sql import currency_column
from smartflow.data.columns import Column
from smartflow.definitions.model import Process
from smartflow.records import record

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_RISKY = frozenset([*FORMULA_START, "'"])
_BOOLEAN_WORDS = {"ru": ("да", "нет")}
_CURRENCY_FORMAT = re.compile(r'"([A-Za-z]{3})"')


@record(frozen=True)
class Money:
    """An amount of money read from a cell, with its currency code."""

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


@record
class Lookups:
    """Names and titles for the ids of one batch: users (all), linked items and files (per batch)."""

    lang: str | None
    users: dict[int, str]
    links: dict[str, dict[int, str]] = field(default_factory=dict)
    files: dict[int, str] = field(default_factory=dict)


# A batch of items column by column: column id → its values in order; a money field as two columns,
# its amounts (Decimal) under its id and its currencies under `<id>__currency` (as the table holds it).
Batch = dict[str, Sequence[Any]]
Converter = Callable[[Batch], Sequence[Any]]


class Renderer:
    """Turns items into rows of cells; each column's conversion is chosen once, and runs down a whole
    column of a batch at a time.

    `cell_rows(batch)` gives typed cells (for xlsx), `text_rows(batch)` CSV text, neutralised;
    `cells(item)` and `texts(item)` do the same for one item. A batch column by column (as
    `query.stream_columns` reads it) lets each conversion be one comprehension over a column, with
    no dictionary per item and no function call per value where none is needed: that is what keeps
    an export of 100,000 items close to the writer's own speed.
    """

    def __init__(self, process: Process, columns: list[Column], lookups: Lookups) -> None:
        self.process = process
        self.lookups = lookups
        self.typed = [self._column(c) for c in columns]
        self.text = [self._text(c, typed) for c, typed in zip(columns, self.typed, strict=True)]
        # the item columns a batch must hold: the stage's titles may need its pipeline too
        self.reads = {c.id for c in columns}
        if "stage" in self.reads and any(self._titled(c) is None for c in columns if c.id == "stage"):
            self.reads.add("pipeline")

    def cell_rows(self, batch: Batch) -> Iterator[tuple[Any, ...]]:
        return zip(*(convert(batch) for convert in self.typed), strict=True)

    def text_rows(self, batch: Batch) -> Iterator[tuple[Any, ...]]:
        """Rows for the csv module: text, and None, integers and dates, which it writes as "", digits
        and the ISO date itself."""
        return zip(*(convert(batch) for convert in self.text), strict=True)

    def cells(self, item: dict[str, Any]) -> list[Any]:
        return list(next(self.cell_rows(self._batch_of(item))))

    def texts(self, item: dict[str, Any]) -> list[str]:
        """One item's cells as the text the csv module writes."""
        return ["" if v is None else str(v) for v in next(self.text_rows(self._batch_of(item)))]

    def _batch_of(self, item: dict[str, Any]) -> Batch:
        """One item as a batch of one; money ({amount, currency}) as its two columns, as a batch holds it."""
        batch: dict[str, Sequence[Any]] = {key: (value,) for key, value in item.items()}
        for known in self.process.fields:
            if known.type == "money" and not known.multiple:
                money = item.get(known.id)
                batch[known.id] = (money["amount"] if isinstance(money, dict) else None,)
                batch[currency_column(known.id)] = (money["currency"] if isinstance(money, dict) else None,)
        return batch

    def _titled(self, column: Column) -> tuple[str, dict[Any, str], Callable[[Any], str]] | None:
        """For a column that shows a title or a name in place of a stored id (stage, pipeline, an enum
        option, a user): the column it reads, the titles by id, and what an unknown id shows. None for
        other columns, and for stages when two pipelines give one stage id different titles."""
        key, kind, lang = column.id, column.field.type, self.lookups.lang
        if column.field.multiple:
            return None
        if key == "stage":
            titles: dict[Any, str] = {}
            for pipeline in self.process.pipelines:
                for stage in pipeline.stages:
                    if titles.setdefault(stage.id, stage.title.get(lang)) != stage.title.get(lang):
                        return None
            return "stage", titles, str
        if key == "pipeline":
            return "pipeline", {p.id: p.title.get(lang) for p in self.process.pipelines}, str
        if kind == "enum":
            return key, {o.id: o.title.get(lang) for o in column.field.options}, str
        if kind == "user":
            return key, self.lookups.users, lambda v: f"#{v}"
        return None

    def _column(self, column: Column) -> Converter:
        key, lang = column.id, self.lookups.lang
        titled = self._titled(column)
        if titled is not None:
            source, titles, unknown = titled
            return lambda batch: [None if v is None else titles[v] if v in titles else unknown(v)
                                  for v in batch[source]]
        if key == "stage":  # titles differ between pipelines: by (pipeline, stage)
            stages = {(p.id, s.id): s.title.get(lang) for p in self.process.pipelines for s in p.stages}
            return lambda batch: [stages.get(pair, pair[1]) for pair in zip(batch["pipeline"], batch["stage"],
                                                                            strict=True)]
        if column.field.type == "money" and not column.field.multiple:  # two columns: amounts and currencies
            currency = currency_column(key)
            return lambda batch: [None if amount is None else Money(amount, code or "")
                                  for amount, code in zip(batch[key], batch[currency], strict=True)]
        single = self._single(column)
        if column.field.multiple:
            def several(batch: Batch) -> list[Any]:
                return [", ".join(text(v, lang) for v in single(values)) or None if values else None
                        for values in batch[key]]

            return several
        return lambda batch: single(batch[key])

    def _single(self, column: Column) -> Callable[[Sequence[Any]], list[Any]]:
        """The typed cells of one column's values."""
        kind, key, lookups = column.field.type, column.id, self.lookups
        if kind == "user":
            users = lookups.users
            return lambda values: [None if v is None else users.get(v, f"#{v}") for v in values]
        if kind == "enum":
            options: dict[Any, Any] = {o.id: o.title.get(lookups.lang) for o in column.field.options}
            return lambda values: [None if v is None else options.get(v, v) for v in values]
        if kind == "link":
            def linked(values: Sequence[Any]) -> list[Any]:
                titles = lookups.links.get(key, {})
                return [None if v is None else f"{titles[v]} (#{v})" if v in titles else f"#{v}" for v in values]

            return linked
        if kind == "file":
            return lambda values: [None if v is None else lookups.files.get(v, f"#{v}")
                                   for v in values]
        if kind == "money":  # (of a field holding several: {amount, currency} each)
            return lambda values: [None if v is None or v["amount"] is None else Money(v["amount"], v["currency"] or "")
                                   for v in values]
        if kind == "datetime":  # Excel has no time zones: UTC, as stored
            return lambda values: [None if v is None else v.astimezone(UTC).replace(tzinfo=None) for v in values]
        return lambda values: [None if v == "" else v for v in values]

    def _text(self, column: Column, typed: Converter) -> Converter:
        kind, key, lang = column.field.type, column.id, self.lookups.lang
        if kind in ("string", "text", "email", "phone", "url") and not column.field.multiple \
                and key not in ("stage", "pipeline"):
            # None stays None: the csv module writes it as an empty field
            return lambda batch: ["'" + v if v and v[0] in _RISKY and dangerous(v) else v for v in batch[key]]
        titled = self._titled(column)
        if titled is not None:  # titles and names neutralised once, not per value
            source, titles, unknown = titled
            texts = {k: neutralise(v) for k, v in titles.items()}
            return lambda batch: [None if v is None else texts[v] if v in texts else neutralise(unknown(v))
                                  for v in batch[source]]
        if column.field.multiple or kind not in ("money", "integer", "number", "boolean", "date", "datetime"):
            return lambda batch: ["" if v is None else neutralise(str(v)) for v in typed(batch)]
        if kind == "money":  # `-5.00 RUB` starts with a minus: neutralised (`-5.00` alone is a plain number)
            currency = currency_column(key)
            return lambda batch: [None if amount is None else (f"'{amount:f} {code}" if amount < 0 else
                                                               f"{amount:f} {code}") if code else f"{amount:f}"
                                  for amount, code in zip(batch[key], batch[currency], strict=True)]
        if kind == "number":
            return lambda batch: [None if v is None else f"{v:f}" for v in batch[key]]
        if kind == "boolean":
            yes, no = boolean_text(True, lang), boolean_text(False, lang)
            return lambda batch: [None if v is None else yes if v else no for v in batch[key]]
        if kind == "datetime":
            return lambda batch: ["" if v is None else v.isoformat(sep=" ") for v in typed(batch)]
        # integers and dates: the csv module writes None as "" and str() of the value, which is the ISO date
        return lambda batch: batch[key]


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
