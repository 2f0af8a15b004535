"""The views people read: the item card, the list view and the kanban board in the terminal."""

from __future__ import annotations

from typing import Any

import click

from smartflow.cli.common import (
    common,
    display,
    displayed_rows,
    emit,
    engine,
    history_line,
    lang_option,
    plain,
    user_ids,
)


@click.command("show")
@click.argument("process")
@click.argument("item_id", type=int, metavar="ID")
@lang_option
@common()
def item_show(process: str, item_id: int, lang: str | None, db_url: str | None, as_user: str | None,
              output_format: str) -> None:
    """The item card: fields by section, stage, pipeline, links both ways, recent history."""
    from smartflow.services import plain as plain_value

    with engine(db_url, as_user) as crm, crm.snapshot():
        card = crm.card(process, item_id)
        item, definition = card["item"], card["process"]
        users = crm.user_names(user_ids(definition, [item], item)) if output_format == "table" else {}
    if output_format != "table":
        payload = {k: plain_value(v) for k, v in item.items()}
        payload["links"] = card["links"]
        if output_format == "json":
            import json

            click.echo(json.dumps(payload, ensure_ascii=False, indent=2, default=str))
        else:
            emit([item], list(item), "csv")
        return
    pipeline = definition.pipeline(item["pipeline"])
    stage = pipeline.stage(item["stage"]) if pipeline else None
    click.echo(f"{definition.title.get(lang)} #{item['id']}: {item['title']}")
    click.echo(f"  stage: {stage.title.get(lang) if stage else item['stage']} ({item['stage']}, "
               f"pipeline {item['pipeline']}) · version {item['version']}")
    linked = {(link["field"], link["id"]): link["title"] for link in card["links"]["out"]}
    sections = [(s.title.get(lang), list(s.fields)) for s in definition.card]
    sections = sections or [("", [f.id for f in definition.fields])]
    shown: set[str] = set()
    for title, field_ids in sections:
        if title:
            click.echo(f"\n  [{title}]")
        for field_id in field_ids:
            shown.add(field_id)
            if field_id not in item:  # hidden from this user
                continue
            field = definition.field(field_id)
            label = field.label(lang) if field else field_id
            click.echo(f"  {label}: {_shown(definition, field_id, item, lang, users, linked)}")
    rest = [f for f in definition.fields if f.id not in shown and item.get(f.id) not in (None, [], "")]
    for field in rest:
        click.echo(f"  {field.label(lang)}: {_shown(definition, field.id, item, lang, users, linked)}")
    click.echo(f"\n  assigned to: {_shown(definition, 'assigned_to', item, lang, users)} · created "
               f"{str(item['created_at'])[:16]} by {_shown(definition, 'created_by', item, lang, users)}")
    for direction, heading in (("out", "links"), ("in", "linked from")):
        if card["links"][direction]:
            click.echo(f"\n  {heading}:")
            for link in card["links"][direction]:
                click.echo(f"    {link['process']} #{link['id']} {link['title']} (via {link['field']})")
    if card["history"]:
        click.echo("\n  recent history:")
        for entry in card["history"]:
            click.echo(f"    {str(entry['at'])[:19]} {entry['who']}: {history_line(entry)}")


def _shown(definition: Any, column: str, item: dict[str, Any], lang: str | None, users: dict[int, str],
           linked: dict[tuple[str, int], str] | None = None) -> str:
    field = definition.field(column)
    value = item.get(column)
    if field is not None and field.type == "link" and linked is not None and value not in (None, []):
        ids = value if isinstance(value, list) else [value]  # the linked item's title, as the links list shows it
        return ", ".join(f"{linked[column, i]} (#{i})" if (column, i) in linked else f"#{i}" for i in ids)
    text = display(definition, column, value, lang, users)
    return str(text) if text not in (None, "") else "—"


@click.command("list")
@click.argument("process")
@click.option("--pipeline", default=None)
@click.option("--stage", default=None)
@click.option("--where", "where", multiple=True, metavar='"FIELD OP VALUE"',
              help="A filter: = != < <= > >= in contains, or `FIELD is empty` (repeat: all must hold).")
@click.option("--search", default=None, help="Text to find in the title and text fields.")
@click.option("--sort", default=None, metavar="FIELD[:desc]")
@click.option("--limit", type=click.IntRange(1, 10_000), default=50, show_default=True)
@click.option("--after", type=int, default=None, metavar="ID", help="The next page: items after this one.")
@click.option("--columns", default=None, help="Comma-separated field ids (default: the process's list view).")
@lang_option
@common()
def item_list(process: str, pipeline: str | None, stage: str | None, where: tuple[str, ...], search: str | None,
              sort: str | None, limit: int, after: int | None, columns: str | None, lang: str | None,
              db_url: str | None, as_user: str | None, output_format: str) -> None:
    """The list view: filter, search, sort and page through items."""
    with engine(db_url, as_user) as crm, crm.snapshot():
        definition = crm.process(process)
        if columns:
            chosen = [c.strip() for c in columns.split(",") if c.strip()]
        else:  # the list view's columns the user may see
            hidden = crm.hidden_fields(process)
            chosen = [c for c in definition.list_columns or ("title", "stage") if c not in hidden]
        if "id" not in chosen:
            chosen.insert(0, "id")
        rows = crm.list(process, pipeline=pipeline, stage=stage, where=list(where), search=search, sort=sort,
                        limit=limit, after=after, columns=tuple(chosen) if columns else None)
        users = crm.user_names(user_ids(definition, rows, chosen)) if output_format != "json" else {}
    headers = [definition.field(c).label(lang) if definition.field(c) else c for c in chosen]
    if output_format == "json":
        emit(rows, chosen, "json")
    else:
        emit(displayed_rows(definition, rows, chosen, lang, users), chosen, output_format, headers)
    if output_format == "table" and len(rows) == limit:
        click.echo(f"… more: --after {rows[-1]['id']}", err=True)


@click.command("kanban")
@click.argument("process")
@click.option("--pipeline", default=None)
@click.option("--top", type=click.IntRange(1, 50), default=5, show_default=True, help="Cards shown per column.")
@click.option("--width", type=int, default=None, help="Board width (default: the terminal's).")
@lang_option
@common()
def kanban(process: str, pipeline: str | None, top: int, width: int | None, lang: str | None, db_url: str | None,
           as_user: str | None, output_format: str) -> None:
    """The kanban board: a column per stage with its count, money sum and top cards."""
    with engine(db_url, as_user) as crm:
        board = crm.kanban(process, pipeline, top)
    if output_format == "json":
        import json

        from smartflow.services import plain as plain_value

        for column in board["columns"]:
            column["title"] = column["title"].get(lang)

        click.echo(json.dumps(plain_value(board), ensure_ascii=False, indent=2, default=str))
        return
    if output_format == "csv":
        rows = [{"stage": c["stage"], "title": c["title"].get(lang), "count": c["count"],
                 "sum": "; ".join(f"{plain(v)} {k}" for k, v in c["sums"].items())} for c in board["columns"]]
        emit(rows, ["stage", "title", "count", "sum"], "csv")
        return
    import shutil

    click.echo(render_board(board, width or shutil.get_terminal_size((120, 40)).columns, lang))


def _money(sums: dict[str, Any]) -> str:
    return " + ".join(f"{_short(amount)} {currency}" for currency, amount in sums.items()) or "—"


def _short(amount: Any) -> str:
    """1 500 000.50 → 1.5M: kanban columns are narrow."""
    value = float(amount)
    for size, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= size:
            return f"{value / size:.1f}".rstrip("0").rstrip(".") + suffix
    return f"{value:.2f}".rstrip("0").rstrip(".")


def render_board(board: dict[str, Any], width: int, lang: str | None) -> str:
    """Columns side by side, each as wide as the terminal allows; long titles cut with …"""
    columns = board["columns"]
    gap = " │ "
    cell = max(12, (width - len(gap) * (len(columns) - 1)) // max(1, len(columns)))

    def fit(text: str) -> str:
        return text if len(text) <= cell else text[:cell - 1] + "…"

    header = [fit(c["title"].get(lang)) for c in columns]
    counts = [fit(f"{c['count']} · {_money(c['sums'])}" if board["money_field"] else f"{c['count']}")
              for c in columns]
    depth = max((len(c["cards"]) for c in columns), default=0)
    lines = [gap.join(h.ljust(cell) for h in header).rstrip(), gap.join(n.ljust(cell) for n in counts).rstrip(),
             gap.join("─" * cell for _ in columns)]
    for row in range(depth):
        cells = []
        for column in columns:
            card = column["cards"][row] if row < len(column["cards"]) else None
            cells.append(fit(f"#{card['id']} {card['title']}") if card else "")
        lines.append(gap.join(c.ljust(cell) for c in cells).rstrip())
    return "\n".join(lines)
