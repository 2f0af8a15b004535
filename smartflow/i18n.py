"""Messages a person reads, in their language: gettext catalogues (smartflow/locale, built with Babel)
and the message type errors carry.

A message is raised in English — `str()` of it is the text the CLI prints and the logs keep, naming
fields and stages by id — and keeps its msgid and parameters, so an interface renders it again in the
reader's language, naming a field or a stage by its title there (`Message.render`). The msgids are
marked with `tr(...)`, which `pybabel extract -k tr` collects (docs/how-to/errors.md, "In the reader's
language").

Standard library only: every layer may raise a message, and errors.py stands on this module.
"""

from __future__ import annotations

import ast
import gettext
from collections.abc import Iterable
from functools import cache
from pathlib import Path
from string import Formatter
from typing import Any

from smartflow.records import record

DOMAIN = "smartflow"
LOCALE_DIR = Path(__file__).resolve().parent / "locale"
LANGUAGES = ("en", "ru")  # the first is the msgids' own language
QUOTES = {"ru": ("«", "»"), "en": ("“", "”")}


@cache
def catalogue(lang: str) -> gettext.NullTranslations:
    """The compiled catalogue of lang, read once per process; English (the msgids) needs none."""
    if lang == LANGUAGES[0]:
        return gettext.NullTranslations()
    return gettext.translation(DOMAIN, LOCALE_DIR, languages=[lang])


def translate(text: str, lang: str) -> str:
    """text (a msgid) in lang; untranslated text stays English."""
    return catalogue(lang).gettext(text) if lang in LANGUAGES else text


def word_in(key: str, english: str, lang: str) -> str:
    """One of the board's words (web/text.py) in lang: its catalogue entry has the key as msgctxt and the
    English as msgid; untranslated, the English."""
    return catalogue(lang).pgettext(key, english) if lang in LANGUAGES else english


def extract_words(fileobj: Any, keywords: Any, comment_tags: Any, options: dict[str, Any]
                  ) -> Iterable[tuple[int, str, Any, list[str]]]:
    """Babel's extraction method for the board's word tables (babel.cfg): each entry of a dict literal
    assigned to a `…WORDS` name or given to `WORDS.update` becomes `pgettext(key, English)`, and each
    `tr("…")` of the module a message as `-k tr` finds it."""
    tree = ast.parse(fileobj.read().decode(options.get("encoding", "utf-8")))
    for node in ast.walk(tree):
        table = None
        if isinstance(node, ast.Assign | ast.AnnAssign) and isinstance(node.value, ast.Dict):
            target = node.targets[0] if isinstance(node, ast.Assign) else node.target
            table = node.value if isinstance(target, ast.Name) and target.id.endswith("WORDS") else None
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "update" \
                and isinstance(node.func.value, ast.Name) and node.func.value.id.endswith("WORDS") and node.args \
                and isinstance(node.args[0], ast.Dict):
            table = node.args[0]
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "tr" and node.args \
                and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str):
            yield node.lineno, "tr", node.args[0].value, []
        for key, value in zip(table.keys if table else (), table.values if table else (), strict=True):
            if isinstance(key, ast.Constant) and isinstance(value, ast.Constant) and isinstance(value.value, str):
                yield value.lineno, "pgettext", (key.value, value.value), []


def accepted(header: str | None) -> str | None:
    """The first of our languages an Accept-Language header names (`ru-RU,ru;q=0.9` → ru), else None."""
    for part in (header or "").split(","):
        code = part.split(";")[0].strip().lower()[:2]
        if code in LANGUAGES:
            return code
    return None


@record(frozen=True)
class Name:
    """A field, stage or pipeline a message names: its id for developers (`amount`, as the CLI has
    always printed it), its title for people («Сумма»). title is a definition's Text (anything with
    `.get(lang)`), a Message, a plain string, or None (then the id is all there is)."""

    id: str
    title: Any = None
    quote: str = "`"

    def __str__(self) -> str:
        return f"{self.quote}{self.id}{self.quote}"

    def render(self, lang: str) -> str:
        left, right = QUOTES.get(lang, QUOTES["en"])
        return f"{left}{self.local(lang)}{right}"

    def local(self, lang: str) -> str:
        title = self.title
        if isinstance(title, Message):
            return title.render(lang)
        if hasattr(title, "get") and not isinstance(title, dict):
            return str(title.get(lang)) or self.id
        if isinstance(title, dict):
            return str(title.get(lang) or title.get("en") or next(iter(title.values()), self.id))
        return str(title) if title else self.id


@record(frozen=True)
class Joined:
    """Several parameters shown as one: `a`, `b` (each rendered in the reader's language)."""

    parts: tuple[Any, ...]
    separator: str = ", "

    def __str__(self) -> str:
        return self.separator.join(str(part) for part in self.parts)

    def render(self, lang: str) -> str:
        return _rendered(self.separator, lang).join(_rendered(part, lang) for part in self.parts)


def joined(parts: Iterable[Any], separator: str = ", ") -> Joined:
    return Joined(tuple(parts), separator)


def conjoined(parts: list[Any]) -> Any:
    """Parameters as "a and b" (and "a and b and c"), the "and" in the reader's language."""
    found = parts[0]
    for part in parts[1:]:
        found = tr("{first} and {second}", first=found, second=part)
    return found


def disjoined(parts: list[Any]) -> Any:
    """Parameters as "a or b" (and "a or b or c"), the "or" in the reader's language."""
    found = parts[0]
    for part in parts[1:]:
        found = tr("{first} or {second}", first=found, second=part)
    return found


class Message(str):
    """A message in English (this string itself) that can be rendered in another language.

    Parameters are plain values (shown as they are), Names (an id in English, a title when
    rendered), Joined lists, or Messages themselves.
    """

    msgid: str
    params: dict[str, Any]

    def __new__(cls, msgid: str, /, **params: Any) -> Message:
        self = super().__new__(cls, _format(msgid, params, None))
        self.msgid = msgid
        self.params = params
        return self

    def render(self, lang: str) -> str:
        """The message in lang, fields and stages named by their titles there."""
        return _format(translate(self.msgid, lang), self.params, lang)

    def __reduce__(self) -> tuple[Any, ...]:  # pickled (a worker's error) as the message, not its English text
        return (_rebuild, (self.msgid, self.params))


def _rebuild(msgid: str, params: dict[str, Any]) -> Message:
    return Message(msgid, **params)


def tr(msgid: str, /, **params: Any) -> Message:
    """Mark msgid for the catalogue (`pybabel extract -k tr`) and make a message of it."""
    return Message(msgid, **params)


def render(text: Any, lang: str | None) -> str:
    """Any message-like value in lang (None: the English, developer text); plain strings pass through."""
    if lang is None:
        return str(text)
    return _rendered(text, lang)


def _rendered(value: Any, lang: str) -> str:
    """A parameter in lang: anything with `render(lang)` (a Message, Name, Joined, an expression) renders
    itself; a plain value is shown as it is."""
    if isinstance(value, str) and not isinstance(value, Message):
        return value
    shown = getattr(value, "render", None)
    return shown(lang) if callable(shown) else str(value)


_FORMATTER = Formatter()


def _format(template: str, params: dict[str, Any], lang: str | None) -> str:
    """template with its {name} fields filled; a field the params lack stays as written."""
    out = []
    for literal, field, spec, conversion in _FORMATTER.parse(template):
        out.append(literal)
        if field is None:
            continue
        if field not in params:
            out.append("{" + field + (f"!{conversion}" if conversion else "") + (f":{spec}" if spec else "") + "}")
            continue
        value = params[field]
        shown = str(value) if lang is None else _rendered(value, lang)
        out.append(format(shown, spec) if spec else shown)
    return "".join(out)
