"""The catalogues: every message marked with `tr(...)` in the source has a Russian translation, the
compiled .mo that ships is the .po compiled, and a message renders in English (ids, as the CLI prints)
and in Russian (titles)."""

from __future__ import annotations

import string
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po, write_po

from smartflow.i18n import LOCALE_DIR, Name, accepted, joined, tr
from smartflow.web import inbox  # noqa: F401  (adds the inbox page's words)
from smartflow.web.text import WORDS, word

ROOT = Path(__file__).resolve().parent.parent
PO = LOCALE_DIR / "ru" / "LC_MESSAGES" / "smartflow.po"
MO = PO.with_suffix(".mo")
Key = tuple[str | None, str]  # (msgctxt, msgid)


def method_map() -> list[tuple[str, str]]:
    """babel.cfg's extraction map, as `pybabel extract -F babel.cfg` reads it."""
    sections = [line.strip()[1:-1] for line in (ROOT / "babel.cfg").read_text("utf-8").splitlines()
                if line.startswith("[")]
    return [(pattern.strip(), method.strip()) for method, pattern in (s.rsplit(":", 1) for s in sections)]


def extracted() -> set[Key]:
    """The messages of the source, as `pybabel extract -F babel.cfg -k tr -k pgettext:1c,2` finds them:
    (context, msgid), the context the board word's key (None for a `tr` message)."""
    found = extract_from_dir(str(ROOT), method_map=method_map(), keywords={"tr": None, "pgettext": ((1, "c"), 2)},
                             comment_tags=(), strip_comment_tags=True)
    return {(context, message) for _, _, message, _, context in found if isinstance(message, str)}


def untranslated(keys: set[Key], catalog: Catalog) -> list[Key]:
    """The messages without a usable translation: absent, empty, fuzzy, or naming a parameter the msgid lacks."""
    wrong = []
    for context, msgid in sorted(keys, key=lambda key: (key[0] or "", key[1])):
        message = catalog.get(msgid, context=context)
        if message is None or not message.string or message.fuzzy or not _fields(message.string) <= _fields(msgid):
            wrong.append((context, msgid))
    return wrong


def _fields(text: str) -> set[str]:
    return {field for _, field, _, _ in string.Formatter().parse(text) if field}


def read(path: Path) -> Catalog:
    with path.open("rb") as file:
        return read_po(file)


def test_every_message_has_a_russian_translation() -> None:
    keys = extracted()
    assert len({k for k in keys if k[0] is None}) > 80  # the refusals, validation, not-found and rights messages
    missing = untranslated(keys, read(PO))
    assert not missing, ("no Russian in smartflow/locale/ru/LC_MESSAGES/smartflow.po for (run `pybabel extract` and "
                         "`pybabel update`, translate, `pybabel compile`; docs/how-to/errors.md):\n"
                         + "\n".join(f"{context or ''} {msgid}" for context, msgid in missing))


def test_the_check_fails_on_a_missing_or_fuzzy_translation(tmp_path: Path) -> None:
    catalog = read(PO)
    keys = extracted()
    victim = sorted(k for k in keys if k[0] is None)[0]
    catalog[victim[1]].string = ""
    broken = tmp_path / "smartflow.po"
    with broken.open("wb") as file:
        write_po(file, catalog)
    assert untranslated(keys, read(broken)) == [victim]
    catalog = read(PO)
    catalog["the item is already in stage {stage}"].flags.add("fuzzy")
    catalog["{value} is not a number"].string = "{amount} — не число"  # a parameter the message does not pass
    catalog.get("Sign in", context="sign_in").string = ""  # a board word
    assert untranslated(keys, catalog) == [(None, "the item is already in stage {stage}"),
                                           (None, "{value} is not a number"), ("sign_in", "Sign in")]
    assert untranslated(keys | {(None, "a message nobody translated"), ("new_word", "A new word")}, read(PO)) == [
        (None, "a message nobody translated"), ("new_word", "A new word")]


def test_the_shipped_mo_is_the_po_compiled() -> None:
    with MO.open("rb") as file:
        compiled = {m.id: m.string for m in read_mo(file) if m.id}
    assert compiled == {m.id: m.string for m in read(PO) if m.id and m.string and not m.fuzzy}


def test_the_package_ships_the_catalogues() -> None:
    pyproject = (ROOT / "pyproject.toml").read_text("utf-8")
    assert '"locale/*/LC_MESSAGES/*.mo"' in pyproject  # package-data: `pip install .` carries what gettext reads


def test_the_boards_words_are_in_the_catalogue_by_their_keys() -> None:
    """Every word of the board (web/text.py, text_views.py, inbox.py) is extracted as (key, English), so the
    completeness check covers it, and reads in Russian from the catalogue; one English may be two words."""
    assert {(key, english) for key, english in WORDS.items()} <= extracted()
    assert all(english.strip() for english in WORDS.values())
    assert (word("sign_in", "ru"), word("sign_in", "en")) == ("Вход", "Sign in")
    assert word("item_number", "ru").format(id=7) == "№ 7"
    assert word("overdue", "ru") == "Просрочено" and word("state_overdue", "ru") == "просрочено"


def test_a_message_in_english_and_in_russian() -> None:
    stage = Name("prices", {"ru": "Запрос цен", "en": "Prices"})
    fields = joined([Name("supplier", {"ru": "Поставщик", "en": "Supplier"}), Name("amount", None)])
    message = tr("stage {stage} requires {fields}, which are empty", stage=stage, fields=fields)
    assert message == "stage `prices` requires `supplier`, `amount`, which are empty"  # the CLI's text, unchanged
    assert message.render("ru") == "для этапа «Запрос цен» нужно заполнить поля «Поставщик», «amount»"
    assert message.render("en") == "stage “Prices” requires “Supplier”, “amount”, which are empty"
    nested = tr("the transition {label}: {reasons}", label="x", reasons=joined([message], "; "))
    assert nested.render("ru").startswith("переход x: для этапа «Запрос цен»")


@pytest.mark.parametrize(("header", "lang"), [("ru-RU,ru;q=0.9", "ru"), ("de, en;q=0.5", "en"), ("", None),
                                              (None, None), ("fr", None), ("RU", "ru")])
def test_accept_language(header: str | None, lang: str | None) -> None:
    assert accepted(header) == lang


def test_a_message_survives_pickling() -> None:
    import pickle

    message = tr("{value} is not a number", value="'x'")
    again = pickle.loads(pickle.dumps(message))
    assert again == message and again.render("ru") == "'x' — не число"


def test_the_board_raises_only_marked_messages() -> None:
    """A refusal the board (smartflow/web) raises itself is a catalogue message (`tr`) or a board word, never
    English text: a person reads every one of them."""
    import ast

    unmarked = []
    for path in sorted((ROOT / "smartflow" / "web").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text("utf-8"))):
            made = node.exc if isinstance(node, ast.Raise) else None
            if isinstance(made, ast.Call) and made.args and isinstance(made.args[0], ast.JoinedStr | ast.Constant):
                unmarked.append(f"{path.name}:{node.lineno}")
    assert not unmarked, unmarked


def test_a_role_is_named_by_its_title_and_a_choice_of_roles_reads_or() -> None:
    from smartflow.definitions.model import Role, Text
    from smartflow.i18n import disjoined
    from smartflow.runtime.names import titled_role

    roles = (Role("doctor", Text((("ru", "Врач"), ("en", "Doctor")))),)
    either = disjoined([titled_role(roles, "doctor"), titled_role(roles, "manager"), titled_role(roles, "nurse")])
    assert str(either) == "`doctor` or `manager` or `nurse`"  # the CLI's ids
    assert either.render("ru") == "«Врач» или «Менеджер» или «nurse»"  # a built-in role titled by default
    assert either.render("en") == "“Doctor” or “Manager” or “nurse”"
