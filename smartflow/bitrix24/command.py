"""`smartflow bitrix24 …`: the commands of the Bitrix24 bridge (the CLI names this module in its table
of commands; the CLI and this package stand side by side on the services)."""

from __future__ import annotations

from pathlib import Path

import click


@click.group()
def bitrix24() -> None:
    """Move from Bitrix24: read a portal's smart processes into YAML and data."""


@bitrix24.command()
@click.option("--webhook", required=True, metavar="URL",
              help="An inbound webhook of the portal: https://portal/rest/USER_ID/CODE/ (scopes crm and user).")
@click.option("--out", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="The folder to write (new or empty): process YAML, roles, data/*.csv, users.csv, PULL.md.")
@click.option("--types", default=None, metavar="LIST",
              help="Only these smart processes: codes, titles or entityTypeIds, comma-separated.")
@click.option("--rate", type=click.FloatRange(0.1, 50), default=2.0, show_default=True,
              help="Requests per second (Bitrix24 allows 2 on its standard plans).")
@click.option("--language", default="ru", show_default=True, metavar="LANG",
              help="The portal's language: the titles Bitrix24 gives in one language are written as this one's.")
def pull(webhook: str, out: Path, types: str | None, rate: float, language: str) -> None:
    """Read a portal's smart processes through its REST API into a folder `smartflow validate`,
    `apply` and `import` take: definitions, items, stage history, comments, files, product rows.
    Nothing is written unless everything was read; an interrupted pull continues where it stopped
    when run again (its work folder is `.OUT.pull` beside OUT). PULL.md says what was carried and
    what could not be (rights, robots and business processes)."""
    from smartflow.bitrix24.pull import pull as pulling

    language = language.strip().lower()
    if not language.isalpha() or len(language) > 8:
        raise click.BadParameter(f"{language!r} is not a language code", param_hint="--language")
    wanted = [t.strip() for t in types.split(",") if t.strip()] if types else None
    counts = pulling(webhook, out, wanted, rate, report=click.echo, language=language,
                     progress=lambda line: click.echo(line, err=True))
    total = sum(counts.values())
    click.echo(f"wrote {out}: {len(counts)} processes, {total} items; next: smartflow validate {out}")
