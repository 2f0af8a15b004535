"""`smartflow item file`: list an item's files and save one (uploads go with `--set FIELD=@PATH`)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from smartflow.cli.common import common, emit, engine


def with_uploads(crm: Any, process: str, values: dict[str, Any]) -> dict[str, Any]:
    """values with each `@PATH` of a file field read here and sent as an upload (`--set scans=@a.jpg
    --set scans=@b.jpg`: both); anything else as given, for the services to check."""
    fields = {f.id: f for f in crm.process(process).fields if f.type == "file"}
    out = dict(values)
    for key, raw in values.items():
        field = fields.get(key)
        parts = raw if isinstance(raw, list) else [raw]
        if field is None or not parts or not all(isinstance(p, str) and p.strip().startswith("@") for p in parts):
            continue
        uploads = [crm.read_upload(Path(p.strip()[1:]).expanduser(), key) for p in parts]
        out[key] = uploads if field.multiple else uploads[-1]
    return out


@click.group("file")
def item_file() -> None:
    """An item's files: list them, save one (upload with `item update --set FIELD=@PATH`)."""


@item_file.command("list")
@click.argument("process")
@click.argument("item_id", type=int, metavar="ID")
@common()
def file_list(process: str, item_id: int, db_url: str | None, as_user: str | None, output_format: str) -> None:
    """The files of each file field of an item you may see."""
    with engine(db_url, as_user) as crm:
        found = crm.files(process, item_id)
    rows = [{"field": field_id, **entry} for field_id, listed in found.items() for entry in listed]
    emit(rows, ["field", "id", "name", "size", "content_type"], output_format)


@item_file.command("get")
@click.argument("process")
@click.argument("item_id", type=int, metavar="ID")
@click.argument("field")
@click.argument("file", required=False, metavar="[FILE]")
@click.option("-o", "--output", required=True, metavar="PATH",
              help="Where to save it: a file, a folder (the file keeps its name there), or - for stdout.")
@common(data=False)
def file_get(process: str, item_id: int, field: str, file: str | None, output: str, db_url: str | None,
             as_user: str | None) -> None:
    """Save a file of an item's field: FILE is its id or name, and may be left out when the field holds one."""
    from smartflow.errors import NotFound

    with engine(db_url, as_user) as crm:
        listed = crm.files(process, item_id)
        if field not in listed:
            raise NotFound(f"{process} has no file field `{field}`",
                           f"file fields: {', '.join(listed) or 'none'}")
        chosen = _chosen(process, item_id, field, listed[field], file)
        info, content = crm.file(process, item_id, chosen["id"])
    if output == "-":
        sys.stdout.buffer.write(content)
        sys.stdout.buffer.flush()
        return
    target = Path(output).expanduser()
    if target.is_dir():
        target = target / info["name"]
    target.write_bytes(content)
    click.echo(f"{info['name']} ({info['size']} bytes, {info['content_type']}) saved to {target}", err=True)


def _chosen(process: str, item_id: int, field: str, listed: list[dict[str, Any]], file: str | None
            ) -> dict[str, Any]:
    from smartflow.errors import InvalidValue, NotFound

    if file is None:
        if len(listed) == 1:
            return listed[0]
        if not listed:
            raise NotFound(f"{process} {item_id} has no file in `{field}`")
        names = ", ".join(f"{f['id']} ({f['name']})" for f in listed)
        raise InvalidValue(f"`{field}` of {process} {item_id} holds {len(listed)} files: name one of {names}",
                           "give its id or its name as FILE", field=field)
    for entry in listed:
        if str(entry["id"]) == file.strip() or entry["name"] == file:
            return entry
    raise NotFound(f"{process} {item_id} has no file {file} in `{field}`",
                   f"run `smartflow item file list {process} {item_id}`")
