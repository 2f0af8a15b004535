"""What the command modules share: the common options, the engine they open, how values print.

Every command is parse → one service call → render; this module holds the parse and render
halves that several command groups use. It imports no command module.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

DEFAULT_PATH = Path("processes")

F = Callable[..., Any]


def common(data: bool = True) -> Callable[[F], F]:
    """The options every runtime command takes."""

    def wrap(function: F) -> F:
        function = click.option("--as", "as_user", envvar="SMARTFLOW_USER", metavar="USER",
                                help="Act as this user (default: $SMARTFLOW_USER, else the local administrator).")(
            function)
        function = click.option("--db", "db_url", envvar="SMARTFLOW_DATABASE_URL", metavar="URL",
                                help="Database URL (default: $SMARTFLOW_DATABASE_URL, else sqlite:///smartflow.db).")(
            function)
        if data:
            function = click.option("--format", "output_format", type=click.Choice(["table", "json", "csv"]),
                                    default="table", show_default=True, help="How to print the data.")(function)
        return function

    return wrap


def engine(db_url: str | None, as_user: str | None) -> Any:
    from smartflow.services.engine import Engine

    return Engine(db_url, as_user=as_user, via="cli")


def plain(value: Any, lang: str | None = None) -> Any:
    from smartflow.services import Text
    from smartflow.services import plain as plain_value

    if isinstance(value, Text):
        return value.get(lang)
    if isinstance(value, dict) and set(value) == {"amount", "currency"}:
        return f"{plain_value(value['amount'])} {value['currency']}" if value["amount"] is not None else ""
    if isinstance(value, list):
        return ", ".join(str(plain(v)) for v in value)
    result = plain_value(value)
    return "" if result is None else result


def changed(value: Any) -> str:
    """One side of a change (`old → new`) in words: — when empty, yes/no for a boolean, 0 as 0."""
    if value is None or value == "" or value == []:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(plain(value))


_USER_COLUMNS = ("assigned_to", "created_by", "updated_by", "moved_by")


def display(definition: Any, column: str, value: Any, lang: str | None, users: dict[int, str]) -> Any:
    """A value as a person reads it: option titles, user names, yes/no, money with its currency."""
    field = definition.field(column) if definition is not None else None
    if column in _USER_COLUMNS or (field is not None and field.type == "user"):
        ids = value if isinstance(value, list) else [value]
        return ", ".join(users.get(i, str(i)) for i in ids if i is not None)
    if field is not None and field.type == "enum":
        titles = {o.id: o.title.get(lang) for o in field.options}
        ids = value if isinstance(value, list) else [value]
        return ", ".join(titles.get(i, str(i)) for i in ids if i is not None)
    if isinstance(value, bool):
        return "yes" if value else "no"
    if column == "stage" and definition is not None and isinstance(value, str):
        for pipeline in definition.pipelines:
            stage = pipeline.stage(value)
            if stage is not None:
                return stage.title.get(lang)
    return plain(value, lang)


def user_ids(definition: Any, rows: list[dict[str, Any]], columns: Any) -> set[int]:
    """The user ids the columns of rows hold (who is assigned, who created, a user field's people): whose
    names `display` shows."""
    wanted = [c for c in columns if c in _USER_COLUMNS
              or (definition is not None and (field := definition.field(c)) is not None and field.type == "user")]
    found: set[int] = set()
    for row in rows:
        for column in wanted:
            value = row.get(column)
            found.update(v for v in (value if isinstance(value, list) else [value]) if isinstance(v, int))
    return found


def displayed_rows(definition: Any, rows: list[dict[str, Any]], columns: list[str], lang: str | None,
                   users: dict[int, str]) -> list[dict[str, Any]]:
    return [{c: display(definition, c, row.get(c), lang, users) for c in columns} for row in rows]


def emit(rows: list[dict[str, Any]], columns: list[str], output_format: str, headers: list[str] | None = None) -> None:
    """Print rows as a table, JSON (typed values) or CSV."""
    from smartflow.services import plain as plain_value

    if output_format == "json":
        import json

        click.echo(json.dumps([{c: plain_value(r.get(c)) for c in columns} for r in rows], ensure_ascii=False,
                              indent=2, default=str))
        return
    if output_format == "csv":
        import csv

        writer = csv.writer(sys.stdout, lineterminator="\n")
        writer.writerow(headers or columns)
        for row in rows:
            writer.writerow([plain(row.get(c)) for c in columns])
        return
    from smartflow.services import grid

    click.echo(grid([[plain(r.get(c)) for c in columns] for r in rows], headers or columns))


def parse_sets(pairs: tuple[str, ...], json_text: str | None) -> dict[str, Any]:
    values: dict[str, Any] = {}
    if json_text:
        import json

        source = Path(json_text[1:]).read_text("utf-8") if json_text.startswith("@") else json_text
        try:
            loaded = json.loads(source)
        except json.JSONDecodeError as exc:
            raise click.UsageError(f"--json is not valid JSON: {exc}") from None
        if not isinstance(loaded, dict):
            raise click.UsageError("--json must be an object of field ids to values")
        values.update(loaded)
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        if not sep or not key.strip():
            raise click.UsageError(f"--set {pair!r}: write FIELD=VALUE")
        key = key.strip()
        held = values.get(key)
        uploads = held if isinstance(held, list) else [held] if isinstance(held, str) else []
        if key in values and uploads and all(u.strip().startswith("@") for u in uploads) \
                and raw.strip().startswith("@"):
            values[key] = [*uploads, raw]  # `--set scans=@a.jpg --set scans=@b.jpg`: both files
        else:
            values[key] = raw
    return values


lang_option = click.option("--lang", envvar="SMARTFLOW_LANG", default=None, metavar="LANG",
                           help="Language of titles (ru, en, …; default $SMARTFLOW_LANG, else English).")



def history_line(entry: dict[str, Any]) -> str:
    """One history entry in words: `move stage: new → work`, `create in stage new (5 fields)`."""
    if entry["kind"] == "create" and isinstance(entry["new"], dict):
        given = [k for k in entry["new"] if k not in ("pipeline", "stage", "title")]
        return f"create in stage {entry['new'].get('stage')} ({len(given)} fields set)"
    if entry["kind"] == "comment":
        return f"comment: {entry['new']}"
    if entry["kind"] in ("comment.edit", "comment.delete") and isinstance(entry["old"], dict):
        return f"{entry['kind']} {entry['old'].get('id')}: {entry['old'].get('text')}"
    if entry["kind"] == "automation" and isinstance(entry["new"], dict):
        return f"automation stopped: {entry['new'].get('error')}"
    if entry["field"]:
        return f"{entry['kind']} {entry['field']}: {changed(entry['old'])} → {changed(entry['new'])}"
    return str(entry["kind"])


db_option = click.option("--db", "db_url", envvar="SMARTFLOW_DATABASE_URL", metavar="URL",
                         help="Database URL (default: $SMARTFLOW_DATABASE_URL, else sqlite:///smartflow.db).")


def definition_paths(paths: tuple[Path, ...]) -> list[Path]:
    if paths:
        return list(paths)
    if not DEFAULT_PATH.exists():
        raise click.UsageError(f"no path given and there is no `{DEFAULT_PATH}/` folder here; "
                               "name the files or folder to use, or run `smartflow init`")
    return [DEFAULT_PATH]
