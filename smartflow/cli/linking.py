"""`smartflow item observers` and `smartflow item bin`: an item's observers, and a process's recycle bin
(the commands of the `item` group that `cli/items.py` adds)."""

from __future__ import annotations

import click

from smartflow.cli.common import common, emit, engine


@click.command("observers")
@click.argument("process")
@click.argument("item_id", type=int, metavar="ID")
@click.option("--add", "add", multiple=True, metavar="LOGIN", help="Make this user an observer (repeat for several).")
@click.option("--remove", "remove", multiple=True, metavar="LOGIN", help="Stop this user observing (repeatable).")
@common()
def item_observers(process: str, item_id: int, add: tuple[str, ...], remove: tuple[str, ...], db_url: str | None,
                   as_user: str | None, output_format: str) -> None:
    """Show an item's observers, or add and remove some (needs the `update` right over it)."""
    with engine(db_url, as_user) as crm:
        if add or remove:
            rows = crm.change_observers(process, item_id, add=add, remove=remove)
        else:
            rows = crm.observers(process, item_id)
    if output_format == "table" and not rows:
        click.echo("no observers")
        return
    emit(rows, ["login", "name"], output_format)


@click.command("bin")
@click.argument("process")
@common()
def item_bin(process: str, db_url: str | None, as_user: str | None, output_format: str) -> None:
    """The recycle bin: a process's deleted items you may restore (`smartflow item restore`), newest first."""
    with engine(db_url, as_user) as crm:
        rows = crm.recycle_bin(process)
    if output_format == "table":
        rows = [{**row, "deleted_at": str(row["deleted_at"])[:19]} for row in rows]
    emit(rows, ["id", "title", "stage", "deleted_at"], output_format)
