"""The columns of an exported or imported file: which fields, in what order, under which titles.

Export headers are field titles in the chosen language; import matches a header to a field
by its id or by its title in any language, or by an explicit mapping file, so a file exported
in Russian imports back as it is and a hand-made file with ids works too.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from smartflow.data import DataFileError
from smartflow.definitions.hints import did_you_mean, known_list
from smartflow.definitions.model import Field, Process, Text
from smartflow.errors import InvalidValue
from smartflow.i18n import Name, tr
from smartflow.records import record

SYSTEM_TITLES: dict[str, Text] = {
    "id": Text((("en", "ID"), ("ru", "ID"))),
    "title": Text((("en", "Title"), ("ru", "Название"))),
    "pipeline": Text((("en", "Pipeline"), ("ru", "Воронка"))),
    "stage": Text((("en", "Stage"), ("ru", "Стадия"))),
    "assigned_to": Text((("en", "Assigned to"), ("ru", "Ответственный"))),
    "created_by": Text((("en", "Created by"), ("ru", "Создал"))),
    "created_at": Text((("en", "Created at"), ("ru", "Создано"))),
    "updated_at": Text((("en", "Updated at"), ("ru", "Изменено"))),
    "moved_at": Text((("en", "Moved at"), ("ru", "Перемещено"))),
    "closed_at": Text((("en", "Closed at"), ("ru", "Закрыто"))),
}
_SYSTEM_TYPES = {"id": "integer", "assigned_to": "user", "created_by": "user", "created_at": "datetime",
                 "updated_at": "datetime", "moved_at": "datetime", "closed_at": "datetime"}
# Columns an import never writes: smartflow sets them (id only picks the item to update, with --key id).
READ_ONLY = ("id", "created_by", "created_at", "updated_at", "moved_at", "closed_at")
SKIP = "skip"


@record(frozen=True)
class Column:
    """One column of a file: a process field, or a system column given a stand-in field of its type."""

    id: str
    field: Field
    system: bool

    def header(self, lang: str | None) -> str:
        if self.system:
            return SYSTEM_TITLES[self.id].get(lang)
        return self.field.label(lang)

    @property
    def read_only(self) -> bool:
        return self.system and self.id in READ_ONLY


def column(process: Process, column_id: str) -> Column:
    """The column of a field or system column id; InvalidValue with a "did you mean" for an unknown one."""
    field = process.field(column_id)
    if field is not None:
        return Column(column_id, field, False)
    if column_id in SYSTEM_TITLES:
        return Column(column_id, Field(id=column_id, type=_SYSTEM_TYPES.get(column_id, "string"),
                                       title=SYSTEM_TITLES[column_id]), True)
    known = [*SYSTEM_TITLES, *(f.id for f in process.fields)]
    raise InvalidValue(f"{process.id} has no column `{column_id}`",
                       did_you_mean(column_id, known) or f"columns: {known_list(known, 40)}", field=column_id)


def all_column_ids(process: Process) -> list[str]:
    """Every column, the ones an import can write first: what `--columns all` exports."""
    return ["id", "title", "pipeline", "stage", "assigned_to", *(f.id for f in process.fields),
            "created_by", "created_at", "updated_at", "moved_at", "closed_at"]


def export_columns(process: Process, spec: str | None) -> list[Column]:
    """The columns of `--columns`: the list view's by default, `all`, or ids separated by commas.

    The id comes first, as in `item list`: it names the item (and `import --key id` updates by it).
    """
    if spec is None:
        ids = ["id", *(process.list_columns or ("title", "stage"))]
    elif spec.strip() == "all":
        ids = all_column_ids(process)
    else:
        ids = [part.strip() for part in spec.split(",") if part.strip()]
        if not ids:
            raise InvalidValue("--columns names no column", "give field ids separated by commas, or `all`")
        ids = ids if "id" in ids else ["id", *ids]
    return [column(process, column_id) for column_id in dict.fromkeys(ids)]


def _key(text: str) -> str:
    return " ".join(str(text).split()).casefold()


def _names(process: Process) -> dict[str, set[str]]:
    """Every name a header may use → the column ids it could mean."""
    names: dict[str, set[str]] = {}
    for column_id in all_column_ids(process):
        known = column(process, column_id)
        spellings = [column_id] + [text for _, text in (known.field.title.values if known.field.title else ())]
        for spelling in spellings:
            names.setdefault(_key(spelling), set()).add(column_id)
    return names


@record
class HeaderMatch:
    """What each header of a file means: a column, or None with the reason it is not imported."""

    columns: list[Column | None]
    ignored: list[tuple[str, str]]

    def position(self, column_id: str) -> int | None:
        return next((i for i, c in enumerate(self.columns) if c is not None and c.id == column_id), None)


def match_headers(process: Process, headers: list[str], mapping: dict[str, str | None] | None = None,
                  keep: tuple[str, ...] = ()) -> HeaderMatch:
    """Match headers to columns: the mapping first, then ids and titles in any language.

    Columns in `keep` are matched even when read-only (the --key column). Two headers meaning
    one column, or a header that could mean two, are refused: guessing would write the wrong field.
    """
    mapping = mapping or {}
    unknown = [h for h in mapping if h not in headers]
    if unknown:
        raise DataFileError(f"the mapping names column(s) the file does not have: {known_list(unknown)}",
                           f"the file's columns: {known_list(headers, 40)}")
    names = _names(process)
    matched: list[Column | None] = []
    ignored: list[tuple[str, str]] = []
    seen: dict[str, str] = {}
    for header in headers:
        if header in mapping:
            target = mapping[header]
            found: Column | None = None if target in (None, SKIP) else column(process, str(target))
            if found is None:
                ignored.append((header, tr("skipped by the mapping")))
        else:
            candidates = names.get(_key(header), set())
            if len(candidates) > 1:
                raise DataFileError(f"the column {header!r} could mean {known_list(sorted(candidates))}",
                                   "name it in a --mapping file")
            found = column(process, next(iter(candidates))) if candidates else None
            if found is None and header.strip():
                hint = did_you_mean(_key(header), names)
                ignored.append((header, "no such field" + (f"; {hint}" if hint else "; map it with --mapping")))
        if found is not None and found.read_only and found.id not in keep:
            ignored.append((header, tr("read-only, set by smartflow")))
            found = None
        if found is not None:
            if found.id in seen:
                raise DataFileError(tr("the columns {first} and {second} both mean {field}", first=repr(seen[found.id]),
                                       second=repr(header), field=Name(found.id, found.field.title)),
                                    "remove one, or skip one in a --mapping file")
            seen[found.id] = header
        matched.append(found)
    return HeaderMatch(matched, ignored)


def load_mapping(path: Path) -> dict[str, str | None]:
    """A mapping file: YAML of file column → field id (or `skip`)."""
    import yaml

    try:
        data: Any = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise DataFileError(f"cannot read the mapping {path}: {exc}") from None
    if not isinstance(data, dict) or not all(isinstance(k, str) and (v is None or isinstance(v, str))
                                             for k, v in data.items()):
        raise DataFileError(f"the mapping {path} must map column names to field ids",
                            'write one line per column: "Сумма, руб": estimate (or: skip)')
    return data
