"""An item's files: list, upload, download and remove, with the item's rights and the field's.

A file belongs to the item and field it was uploaded for: it is reached only through that item
(`…/items/{id}/files/{file_id}`), and a field takes a file by id only when it holds it already
(`items._held_file`). Reading needs the item's read right and the field's visibility (hidden from
the user's roles, or `visible_when` false); whatever the reason a file cannot be read, the answer
is the same NotFound as for a file that does not exist. Uploading and removing are changes of the
field through `items.update`, so its rules hold: the update right, read-only fields, a stage's
required fields, `extensions` and `max_size`, history and triggers.
"""

from __future__ import annotations

from typing import Any

from smartflow.errors import InvalidValue, NotFound
from smartflow.runtime import access, fields, filestore, items
from smartflow.runtime.compiled import CompiledProcess
from smartflow.runtime.fieldrules import not_visible
from smartflow.runtime.items import Write


def _missing(process_id: str, item_id: int, file_id: int) -> NotFound:
    return NotFound(f"{process_id} {item_id} has no file {file_id}",
                    "check the ids; files of items you may not see are not shown")


def info(row: Any) -> dict[str, Any]:
    """A file as clients see it."""
    return {"id": row.id, "name": row.name, "size": row.size, "content_type": row.content_type}


def _ids(value: Any) -> list[int]:
    return [v for v in (value if isinstance(value, list) else [value]) if isinstance(v, int)]


def _readable_fields(write: Write, process: CompiledProcess, item: dict[str, Any]) -> list[str]:
    """The file fields of item the actor may see."""
    hidden = access.hidden_fields(write.actor, process) | not_visible(process, item, write.actor)
    return [f for f in process.file_fields if f not in hidden]


def described(write: Write, process: CompiledProcess, item: dict[str, Any]) -> dict[str, Any]:
    """item with each file field it carries as its files: a list of {id, name, size, content_type} for
    a multiple field, one such object (or None) for a single one."""
    return described_all(write, process, [item])[0]


def described_all(write: Write, process: CompiledProcess, found: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Items as `described` gives each, their files read in one query."""
    present = [f for f in process.file_fields if any(f in item for item in found)]
    if not present:
        return found
    rows = filestore.rows(write.connection, write.compiled.tables,
                          sorted({i for item in found for f in present for i in _ids(item.get(f))}))
    out = []
    for item in found:
        changed = dict(item)
        for field_id in present:
            if field_id in item:
                listed = [info(rows[i]) for i in _ids(item[field_id]) if i in rows]
                changed[field_id] = listed if process.fields[field_id].multiple else (listed[0] if listed else None)
        out.append(changed)
    return out


def listing(write: Write, process_id: str, item_id: int) -> dict[str, list[dict[str, Any]]]:
    """The files of each file field of an item the actor may see, by field."""
    process = items.process_of(write, process_id)
    item = items.fetch(write, process, item_id)
    shown = {f: item.get(f) for f in _readable_fields(write, process, item)}
    return {f: v if isinstance(v, list) else ([v] if v else [])
            for f, v in described(write, process, shown).items()}


def _file_field(write: Write, process: CompiledProcess, item: dict[str, Any], field_id: str) -> Any:
    field = process.fields.get(field_id)
    if field is None or field.type != "file" or field_id not in _readable_fields(write, process, item):
        known = _readable_fields(write, process, item)
        raise NotFound(f"{process.process.id} has no file field `{field_id}`",
                       f"file fields: {', '.join(known) or 'none'}")
    return field


def upload(write: Write, process_id: str, item_id: int, field_id: str,
           uploads: list[tuple[str, bytes]]) -> list[dict[str, Any]]:
    """Attach uploads (name, content) to a file field: appended to a multiple field, replacing a single
    one's file (which is then removed). Returns the field's files."""
    process = items.process_of(write, process_id)
    item = items.fetch(write, process, item_id)
    field = _file_field(write, process, item, field_id)
    if not uploads:
        raise InvalidValue(f"no file was sent for `{field_id}`", "send one or more `file` parts", field=field_id)
    if not field.multiple and len(uploads) > 1:
        raise InvalidValue(f"field `{field_id}` holds one file; {len(uploads)} were sent", "send one file",
                           field=field_id)
    refs = []
    for name, content in uploads:
        try:
            refs.append(fields.file_upload(name, content))
        except fields.ValueProblem as problem:
            raise InvalidValue(f"field `{field_id}`: {problem}", "send a smaller file", field=field_id) from None
    held = _ids(item.get(field_id))
    value: Any = [*held, *refs] if field.multiple else refs[0]
    items.update(write, process_id, item_id, {field_id: value})
    if not field.multiple and held:
        filestore.discard(write.connection, write.compiled.tables, held)
    return listing(write, process_id, item_id).get(field_id, [])


def _holding(write: Write, process: CompiledProcess, item: dict[str, Any], file_id: int) -> str | None:
    """The visible file field of item that holds file_id."""
    for field_id in _readable_fields(write, process, item):
        if file_id in _ids(item.get(field_id)):
            return field_id
    return None


def download(write: Write, process_id: str, item_id: int, file_id: int) -> tuple[dict[str, Any], bytes]:
    """A file of an item, as (info, content)."""
    process = items.process_of(write, process_id)
    try:
        item = items.fetch(write, process, item_id)
    except NotFound:
        raise _missing(process_id, item_id, file_id) from None
    if _holding(write, process, item, file_id) is None:
        raise _missing(process_id, item_id, file_id)
    tables = write.compiled.tables
    row = filestore.rows(write.connection, tables, [file_id]).get(file_id)
    if row is None:
        raise _missing(process_id, item_id, file_id)
    content = filestore.content(write.connection, tables, row)
    row = filestore.rows(write.connection, tables, [file_id])[file_id]  # as adopted, when it was a legacy path
    return info(row), content


def remove(write: Write, process_id: str, item_id: int, file_id: int) -> dict[str, Any]:
    """Take a file off its item (the field's rules hold: a stage may require it) and forget it.
    Returns {"field": id, "files": the field's files now}."""
    process = items.process_of(write, process_id)
    try:
        item = items.fetch(write, process, item_id)
    except NotFound:
        raise _missing(process_id, item_id, file_id) from None
    field_id = _holding(write, process, item, file_id)
    if field_id is None:
        raise _missing(process_id, item_id, file_id)
    field = process.fields[field_id]
    value: Any = [i for i in _ids(item.get(field_id)) if i != file_id] if field.multiple else None
    items.update(write, process_id, item_id, {field_id: value})
    filestore.discard(write.connection, write.compiled.tables, [file_id])
    return {"field": field_id, "files": listing(write, process_id, item_id).get(field_id, [])}
