"""Cells of an imported file as canonical values: what cells.py writes, read back, and what people type.

Typed xlsx cells are taken as they are (a date cell is a date, a number a number, a money cell's
currency comes from its number format); text goes through the same `fields.parse_text` as
`--set FIELD=VALUE`, after titles are turned back into ids: enum options by id or title in any
language, users by login or name, linked items by `#ID` or title, stages and pipelines by id or
title. Every problem names the value as the person wrote it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from datetime import UTC, date, datetime
from decimal import Decimal
from functools import partial
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from smartflow.data.cells import currency_of, restore
from smartflow.data.columns import Column
from smartflow.definitions.model import Field, Pipeline, Process
from smartflow.definitions.values import boolean
from smartflow.i18n import Message
from smartflow.runtime import fields, query
from smartflow.runtime.fields import DEFAULT_CURRENCY, ValueProblem
from smartflow.runtime.items import Write

_RUSSIAN_DATE = re.compile(r"^(\d{1,2})\.(\d{1,2})\.(\d{4})$")
_ID = re.compile(r"^#?(\d+)$")
_TITLED = re.compile(r"^(.*?\S)\s*\(#(\d+)\)$", re.DOTALL)  # a linked item as an export shows it: "Title (#31)"
_INTEGER = re.compile(r"[+-]?[0-9]+\Z")  # what int() and Decimal() read alike
_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}\Z")
_USER_ID = re.compile(r"^#(\d+)$")
_AMBIGUOUS = -1


class CellProblem(Exception):
    """A cell that cannot be read as its column's value; message names the value as written."""

    def __init__(self, column: str, value: Any, message: str) -> None:
        super().__init__(message)
        self.column = column
        self.value = value


def _key(text: str) -> str:
    return " ".join(text.split()).casefold()


def quoted(message: str, raw: Any) -> str:
    """`'12,5O' is not a number` → `"12,5O" is not a number`: the value as the person typed it (a catalogue
    message stays one, to be shown in the reader's language)."""
    if not isinstance(raw, str):
        return message
    if isinstance(message, Message):
        return Message(message.msgid, **{key: f'"{raw}"' if value == repr(raw) else value
                                         for key, value in message.params.items()})
    return message.replace(repr(raw), f'"{raw}"', 1)


def said(problem: Exception) -> str:
    """What a ValueProblem says: its catalogue message when it is one."""
    first = problem.args[0] if problem.args else None
    return first if isinstance(first, Message) else str(problem)


class Resolver:
    """Turns one import's cells into canonical values; users and options once, link titles per batch."""

    def __init__(self, process: Process, users: list[dict[str, Any]], neutralised: bool = True,
                 files: Path | None = None) -> None:
        self.process = process
        self.files = files.resolve() if files is not None else None  # the folder file cells name files in
        self.neutralised = neutralised  # CSV text: a leading apostrophe before a formula is ours, not the value's
        self.users: dict[str, int] = {}
        for user in users:
            self.users[_key(user["login"])] = user["id"]
        for user in users:
            name = _key(user["name"])
            if name not in self.users:
                self.users[name] = user["id"]
            elif self.users[name] != user["id"] and _key(user["login"]) != name:
                self.users[name] = _AMBIGUOUS
        self.links: dict[str, dict[str, list[int]]] = {}
        self.singles: dict[str, Field] = {}
        self.names: dict[str, dict[str, str]] = {}  # options and stages by the keys of their ids and titles
        self.converters: dict[str, Callable[[Any], Any]] = {}  # per column: how its text cells read

    def load_links(self, write: Write, columns: list[Column | None], rows: list[list[Any]]) -> None:
        """Find the linked items a batch names by title: one query per link column."""
        self.links = {}
        for index, column in enumerate(columns):
            if column is None or column.field.type != "link":
                continue
            titles = {_title_of(part.strip()) for row in rows for part in self._parts(column, row[index])
                      if isinstance(part, str) and not _ID.match(part.strip())}
            found: dict[str, list[int]] = {}
            if titles:
                target = write.compiled.processes[column.field.to or ""]
                table = target.table
                for row in write.connection.execute(sa.select(table.c.id, table.c.title).where(
                        table.c.title.in_(titles), query.visible(write, target)).order_by(table.c.id)):
                    found.setdefault(row.title, []).append(row.id)
            self.links[column.id] = found

    def _text(self, raw: Any) -> str:
        return restore(str(raw)) if self.neutralised else str(raw)

    def _parts(self, column: Column, raw: Any) -> list[Any]:
        if isinstance(raw, str):
            raw = self._text(raw)
            if not raw.strip():
                return []
            if column.field.multiple:
                return [part.strip() for part in raw.split(",") if part.strip()]
            return [raw]
        return [] if raw is None else [raw]

    def value(self, column: Column, raw: Any, number_format: str | None = None) -> Any:
        """The canonical value of a cell (None when empty); raises CellProblem."""
        values = []
        for part in self._parts(column, raw):
            try:
                values.append(self._single(column, part, number_format))
            except ValueProblem as problem:
                message = quoted(said(problem), part)
                message = quoted(message, part.strip()) if isinstance(part, str) else message
                raise CellProblem(column.id, raw, message) from None
        if column.field.multiple:
            return values
        return values[0] if values else None

    def reader(self, column: Column) -> Callable[[Any, str | None], Any]:
        """value(column, …) prepared for one column: a CSV's text cells of a single-valued field go
        straight to the column's `_from_text` (the very conversion `value` makes of them), the rest
        through `value`."""
        field = column.field
        if field.multiple or field.type in ("link", "file"):
            return partial(self.value, column)
        neutralised = self.neutralised
        convert = self._from_text(column)
        value = self.value

        if field.type in ("string", "text"):  # converted as they are: nothing to refuse
            def read_text(raw: Any, number_format: str | None = None) -> Any:
                if type(raw) is not str:
                    return value(column, raw, number_format)
                text = restore(raw) if neutralised and raw.startswith("'") else raw
                return None if not text or text.isspace() else text

            return read_text

        def read(raw: Any, number_format: str | None = None) -> Any:
            if type(raw) is not str:
                return value(column, raw, number_format)
            text = restore(raw) if neutralised and raw.startswith("'") else raw  # restore: only those
            if not text or text.isspace():
                return None
            try:
                return convert(text)
            except ValueProblem as problem:
                message = quoted(quoted(said(problem), text), text.strip())
                raise CellProblem(column.id, raw, message) from None

        return read

    def _single_field(self, field: Field) -> Field:
        """The field's type alone: the rules are checked by the create, once per value."""
        single = self.singles.get(field.id)
        if single is None:
            single = self.singles[field.id] = Field(id=field.id, type=field.type, precision=field.precision,
                                                     currency=field.currency)
        return single

    def _single(self, column: Column, raw: Any, number_format: str | None) -> Any:
        field = column.field
        kind = field.type
        if kind in ("user", "enum", "link") or isinstance(raw, bool) or \
                not isinstance(raw, (int, float, Decimal, datetime, date)):
            return self._from_text(column)(raw if isinstance(raw, str) or kind in ("user", "enum", "link")
                                           else str(raw))
        single = self._single_field(field)
        if kind == "money" and not isinstance(raw, (datetime, date)):
            currency = currency_of(number_format) or field.currency or DEFAULT_CURRENCY
            return fields.coerce(single, {"amount": _decimal(raw), "currency": currency})
        if kind in ("string", "text", "email", "phone", "url") and isinstance(raw, (int, float, Decimal)):
            return format(_decimal(raw).normalize(), "f") if not isinstance(raw, int) else str(raw)
        if kind == "datetime" and isinstance(raw, datetime) and raw.tzinfo is None:
            return raw.replace(tzinfo=UTC)  # exports write UTC
        return fields.coerce(single, _decimal(raw) if isinstance(raw, float) else raw)

    def _from_text(self, column: Column) -> Callable[[Any], Any]:
        """How a column reads a text cell (not blank; users, options and links any cell), once per
        column: the plain forms of the commonest types directly, as `fields.parse_text` reads them,
        everything else by it."""
        found = self.converters.get(column.id)
        if found is not None:
            return found
        field = column.field
        kind = field.type
        single = self._single_field(field)
        parse_text = fields.parse_text
        convert: Callable[[Any], Any]
        if kind in ("string", "text"):
            convert = _unchanged
        elif kind == "user":
            convert = self._user
        elif kind == "enum":
            convert = partial(self._option, field)
        elif kind == "link":
            convert = partial(self._link, column)
        elif kind == "file":
            convert = self._file
        elif kind == "integer":
            def convert(raw: Any) -> Any:
                text = raw.strip()
                return int(text) if _INTEGER.match(text) else parse_text(single, text)
        elif kind == "boolean":
            def convert(raw: Any) -> Any:
                text = raw.strip()
                truth = boolean(text)  # as fields.coerce reads yes/no
                if truth is None:
                    raise ValueProblem(f"{text!r} is not true or false")
                return truth
        elif kind == "date":
            def convert(raw: Any) -> Any:
                text = raw.strip()
                if _ISO_DATE.match(text):
                    try:
                        return date.fromisoformat(text)
                    except ValueError:
                        pass  # parse_text names the problem
                elif found := _RUSSIAN_DATE.match(text):
                    return _day(found, text)
                return parse_text(single, text)
        else:
            def convert(raw: Any) -> Any:
                return parse_text(single, raw.strip())
        self.converters[column.id] = convert
        return convert

    def _file(self, raw: Any) -> fields.FileRef:
        """`@files/12/scan.pdf` (or without the `@`): a file inside the import's files folder, read for
        upload as `--set FIELD=@PATH` reads one. Nothing outside that folder is read."""
        if self.files is None:
            raise ValueProblem("files are imported only with a folder to read them from (--files DIR)")
        text = str(raw).strip().removeprefix("@")
        path = (self.files / text).resolve()
        if not path.is_relative_to(self.files) or not path.is_file():
            raise ValueProblem(f"{text!r} is not a file inside {self.files}")
        return fields.file_reference(path)

    def _user(self, raw: Any) -> int:
        text = str(raw).strip()
        found = _USER_ID.match(text)  # `#12` is an id; plain digits are a login (or a name), as everywhere
        user_id = int(found.group(1)) if found else self.users.get(_key(text))
        if user_id == _AMBIGUOUS:
            raise ValueProblem(f"{raw!r} names several users; give the login")
        if user_id is None or (found and user_id not in self.users.values()):
            raise ValueProblem(f"{raw!r} is not a user (give a login or a name)")
        return user_id

    def _option(self, field: Field, raw: Any) -> str:
        wanted = _key(str(raw))
        names = self.names.get(field.id)
        if names is None:
            names = self.names[field.id] = _names((o.id, o.title) for o in field.options)
        found = names.get(wanted)
        if found is not None:
            return found
        titles = ", ".join(o.title.get() for o in field.options)
        raise ValueProblem(f"{raw!r} is not one of the options ({titles})")

    def _link(self, column: Column, raw: Any) -> int:
        text = str(raw).strip()
        found = _ID.match(text)
        if found:
            if int(found.group(1)) <= 0:
                raise ValueProblem(f"{raw!r} is not an id")
            return int(found.group(1))
        titled = _TITLED.match(text)
        ids = self.links.get(column.id, {}).get(titled.group(1) if titled else text, [])
        target = column.field.to
        if titled:  # "Title (#31)": the item of that title — the one with that id when several have it
            if int(titled.group(2)) in ids:
                return int(titled.group(2))
            text = titled.group(1)
        if not ids:
            raise ValueProblem(f"there is no {target} titled {raw!r}")
        if len(ids) > 1:
            raise ValueProblem(f"{len(ids)} {target} items are titled {raw!r}; give the id as #ID")
        return ids[0]

    def pipeline(self, raw: Any) -> Pipeline | None:
        """The pipeline a cell names by id or title (None when empty)."""
        text = self._text(raw).strip() if raw is not None else ""
        if not text:
            return None
        for pipeline in self.process.pipelines:
            if _key(text) in (_key(pipeline.id), *(_key(t) for _, t in pipeline.title.values)):
                return pipeline
        raise CellProblem("pipeline", raw, f'"{text}" is not a pipeline of {self.process.id} '
                          f"({', '.join(p.title.get() for p in self.process.pipelines)})")

    def stage(self, pipeline: Pipeline, raw: Any) -> str | None:
        """The stage of pipeline a cell names by id or title (None when empty)."""
        text = self._text(raw).strip() if raw is not None else ""
        if not text:
            return None
        names = self.names.get(f"stage:{pipeline.id}")
        if names is None:
            names = self.names[f"stage:{pipeline.id}"] = _names((s.id, s.title) for s in pipeline.stages)
        found = names.get(_key(text))
        if found is not None:
            return found
        raise CellProblem("stage", raw, f'"{text}" is not a stage of pipeline `{pipeline.id}` '
                          f"({', '.join(s.title.get() for s in pipeline.stages)})")


def _unchanged(raw: Any) -> Any:
    return raw


def _names(things: Iterable[tuple[str, Any]]) -> dict[str, str]:
    """Ids by the keys of their id and titles; the first that has a name wins (as a search in order would)."""
    names: dict[str, str] = {}
    for thing_id, title in things:
        for name in (thing_id, *(t for _, t in title.values)):
            names.setdefault(_key(name), thing_id)
    return names


def _decimal(raw: Any) -> Decimal:
    """An xlsx number as an exact decimal: floats by their shortest repr (1500.1, not 1500.0999…)."""
    return Decimal(repr(raw)) if isinstance(raw, float) else Decimal(raw)


def _day(found: re.Match[str], text: str) -> date:
    day, month, year = (int(g) for g in found.groups())
    try:
        return date(year, month, day)
    except ValueError:
        raise ValueProblem(f"{text!r} is not a date") from None


def _title_of(text: str) -> str:
    """The title a link cell names: "Title (#31)" (as an export writes it) names "Title"."""
    titled = _TITLED.match(text)
    return titled.group(1) if titled else text
