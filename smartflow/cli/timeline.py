"""CLI commands for an item's comments and to-dos (subcommands of `smartflow item`): parse → one
service call → print. A comment or to-do of an item you may not read is "not found", as the item is."""

from __future__ import annotations

import sys
from typing import Any

import click

from smartflow.cli.common import common, emit, engine


def _text_argument(text: str) -> str:
    """TEXT as given, or standard input for `-` (a comment of several lines)."""
    return sys.stdin.read() if text == "-" else text


def _when(value: Any) -> str:
    return "" if value is None else str(value)[:16].replace("T", " ")


@click.command("comment")
@click.argument("process")
@click.argument("item_id", type=int, metavar="ID")
@click.argument("text")
@common(data=False)
def item_comment(process: str, item_id: int, text: str, db_url: str | None, as_user: str | None) -> None:
    """Comment on an item (TEXT `-`: read it from standard input); `@login` mentions notify that user."""
    with engine(db_url, as_user) as crm:
        made = crm.comment(process, item_id, _text_argument(text))
    mentioned = f" (mentioned: {', '.join(made['mentions'])})" if made["mentions"] else ""
    click.echo(f"comment {made['id']} added to {process} {item_id}{mentioned}")


@click.command("comments")
@click.argument("process")
@click.argument("item_id", type=int, metavar="ID")
@common()
def item_comments(process: str, item_id: int, db_url: str | None, as_user: str | None, output_format: str) -> None:
    """An item's comments, oldest first."""
    with engine(db_url, as_user) as crm:
        rows = crm.comments(process, item_id)
    if output_format == "table":
        rows = [{**r, "created_at": _when(r["created_at"]), "edited": "edited" if r["edited_at"] else ""} for r in rows]
        emit(rows, ["id", "created_at", "author", "text", "edited"], "table")
        return
    emit(rows, ["id", "created_at", "author", "text", "edited_at", "mentions"], output_format)


@click.command("comment-edit")
@click.argument("process")
@click.argument("item_id", type=int, metavar="ID")
@click.argument("comment_id", type=int, metavar="COMMENT")
@click.argument("text")
@common(data=False)
def item_comment_edit(process: str, item_id: int, comment_id: int, text: str, db_url: str | None,
                      as_user: str | None) -> None:
    """Change your own comment; its earlier text stays in the item's history."""
    with engine(db_url, as_user) as crm:
        crm.edit_comment(process, item_id, comment_id, _text_argument(text))
    click.echo(f"comment {comment_id} changed")


@click.command("comment-delete")
@click.argument("process")
@click.argument("item_id", type=int, metavar="ID")
@click.argument("comment_id", type=int, metavar="COMMENT")
@common(data=False)
def item_comment_delete(process: str, item_id: int, comment_id: int, db_url: str | None, as_user: str | None) -> None:
    """Delete your own comment; its text stays in the item's history."""
    with engine(db_url, as_user) as crm:
        crm.delete_comment(process, item_id, comment_id)
    click.echo(f"comment {comment_id} deleted")


@click.command("todo")
@click.argument("process")
@click.argument("item_id", type=int, metavar="ID")
@click.argument("title")
@click.option("--due", default=None, help="The deadline: 2026-12-31, 2026-12-31T15:00 (UTC), or +2wd, +3d, +4h.")
@click.option("--responsible", default=None, metavar="LOGIN", help="Who does it (default: you).")
@common(data=False)
def item_todo(process: str, item_id: int, title: str, due: str | None, responsible: str | None, db_url: str | None,
              as_user: str | None) -> None:
    """Add a to-do to an item: a title, a deadline and who is responsible."""
    with engine(db_url, as_user) as crm:
        made = crm.add_todo(process, item_id, title, due, responsible)
    deadline = f", due {_when(made['due'])}" if made["due"] else ""
    click.echo(f"to-do {made['id']} added to {process} {item_id} for {made['responsible'] or 'nobody'}{deadline}")


@click.command("todos")
@click.argument("process", required=False)
@click.argument("item_id", type=int, metavar="[ID]", required=False)
@common()
def item_todos(process: str | None, item_id: int | None, db_url: str | None, as_user: str | None,
               output_format: str) -> None:
    """An item's to-dos; without PROCESS and ID, your own open ones, most urgent first."""
    if (process is None) != (item_id is None):
        raise click.UsageError("give both PROCESS and ID, or neither (your own to-dos)")
    with engine(db_url, as_user) as crm:
        rows = crm.todos(process, item_id) if process is not None and item_id is not None else crm.my_todos()
    columns = ["id", "title", "due", "responsible", "state"] if process else \
        ["id", "process", "item_id", "item_title", "title", "due", "state"]
    if output_format == "table":
        rows = [{**r, "due": _when(r["due"])} for r in rows]
    emit(rows, columns if output_format != "json" else [*columns, "created_by", "created_at", "done_at"],
         output_format)


@click.command("todo-done")
@click.argument("process")
@click.argument("item_id", type=int, metavar="ID")
@click.argument("todo_id", type=int, metavar="TODO")
@click.option("--undo", is_flag=True, help="Open it again.")
@common(data=False)
def item_todo_done(process: str, item_id: int, todo_id: int, undo: bool, db_url: str | None,
                   as_user: str | None) -> None:
    """Mark a to-do done (yours, one you gave, or on an item you may change)."""
    with engine(db_url, as_user) as crm:
        crm.set_todo_done(process, item_id, todo_id, not undo)
    click.echo(f"to-do {todo_id} {'open again' if undo else 'done'}")


COMMANDS = (item_comment, item_comments, item_comment_edit, item_comment_delete, item_todo, item_todos,
            item_todo_done)
