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
from smartflow.web.text import WORDS

ROOT = Path(__file__).resolve().parent.parent
PO = LOCALE_DIR / "ru" / "LC_MESSAGES" / "smartflow.po"
MO = PO.with_suffix(".mo")


def extracted() -> set[str]:
    """The msgids of the source, as `pybabel extract -F babel.cfg -k tr` finds them."""
    found = extract_from_dir(str(ROOT / "smartflow"), method_map=[("**.py", "python")], keywords={"tr": None},
                             comment_tags=(), strip_comment_tags=True)
    return {message for _, _, message, _, _ in found if isinstance(message, str)}


def untranslated(msgids: set[str], catalog: Catalog) -> list[str]:
    """The msgids without a usable translation: absent, empty, fuzzy, or naming a parameter the msgid lacks."""
    wrong = []
    for msgid in sorted(msgids):
        message = catalog.get(msgid)
        if message is None or not message.string or message.fuzzy or not _fields(message.string) <= _fields(msgid):
            wrong.append(msgid)
    return wrong


def _fields(text: str) -> set[str]:
    return {field for _, field, _, _ in string.Formatter().parse(text) if field}


def read(path: Path) -> Catalog:
    with path.open("rb") as file:
        return read_po(file)


def test_every_message_has_a_russian_translation() -> None:
    msgids = extracted()
    assert len(msgids) > 80  # the refusals, validation, not-found and rights messages are marked
    missing = untranslated(msgids, read(PO))
    assert not missing, ("no Russian in smartflow/locale/ru/LC_MESSAGES/smartflow.po for (run `pybabel extract` and "
                         "`pybabel update`, translate, `pybabel compile`; docs/how-to/errors.md):\n"
                         + "\n".join(missing))


def test_the_check_fails_on_a_missing_or_fuzzy_translation(tmp_path: Path) -> None:
    catalog = read(PO)
    msgids = extracted()
    victim = sorted(msgids)[0]
    catalog[victim].string = ""
    broken = tmp_path / "smartflow.po"
    with broken.open("wb") as file:
        write_po(file, catalog)
    assert untranslated(msgids, read(broken)) == [victim]
    catalog = read(PO)
    catalog["the item is already in stage {stage}"].flags.add("fuzzy")
    catalog["{value} is not a number"].string = "{amount} — не число"  # a parameter the message does not pass
    assert untranslated(msgids, catalog) == ["the item is already in stage {stage}", "{value} is not a number"]
    assert untranslated(msgids | {"a message nobody translated"}, read(PO)) == ["a message nobody translated"]


def test_the_shipped_mo_is_the_po_compiled() -> None:
    with MO.open("rb") as file:
        compiled = {m.id: m.string for m in read_mo(file) if m.id}
    assert compiled == {m.id: m.string for m in read(PO) if m.id and m.string and not m.fuzzy}


def test_the_package_ships_the_catalogues() -> None:
    pyproject = (ROOT / "pyproject.toml").read_text("utf-8")
    assert '"locale/*/LC_MESSAGES/*.mo"' in pyproject  # package-data: `pip install .` carries what gettext reads


def test_the_boards_words_have_both_languages() -> None:
    """The board's own words (web/text.py) are a (ru, en) table beside the catalogue: none may lack either."""
    lacking = [key for key, (ru, en) in WORDS.items() if not ru.strip() or not en.strip()]
    assert not lacking


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
