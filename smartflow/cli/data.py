"""CLI commands that move items in and out and look at them whole: export, import, report, graph.

Thin layers: parse → one service call (Engine.export / import_file / report, smartflow.services.analytics)
→ print. The services (SQLAlchemy, openpyxl, matplotlib) are imported inside the commands, so
`smartflow --help` stays instant.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click

from smartflow.cli.common import common, definition_paths, emit, engine, lang_option

SHOWN_PROBLEMS = 10
EXIT_ROWS_FAILED = 1

filters = [
    click.option("--pipeline", default=None, help="Only items of this pipeline."),
    click.option("--stage", default=None, help="Only items in this stage."),
    click.option("--where", "where", multiple=True, metavar='"FIELD OP VALUE"',
                 help="A filter as in `item list` (repeat: all must hold)."),
    click.option("--search", default=None, help="Text to find in the title and text fields."),
]


def _filters(function: Callable[..., Any]) -> Callable[..., Any]:
    for option in reversed(filters):
        function = option(function)
    return function


@contextmanager
def progress(label: str, total: int | None) -> Iterator[Callable[[int], None]]:
    """A progress bar on a terminal (stderr); nothing at all when output is piped or redirected."""
    if not sys.stderr.isatty():
        yield lambda _: None
        return
    if total is None:
        done = [0]

        def count(step: int) -> None:
            done[0] += step
            click.echo(f"\r{label}: {done[0]}", nl=False, err=True)

        yield count
        click.echo("", err=True)
        return
    with click.progressbar(length=total, label=label, file=sys.stderr) as bar:
        yield bar.update


@click.command("export")
@click.argument("process")
@click.option("-o", "--output", required=True, metavar="FILE", help="The file to write; `-` writes CSV to stdout.")
@click.option("--format", "file_format", type=click.Choice(["csv", "xlsx"]), default=None,
              help="The file format (default: from the file name).")
@click.option("--columns", default=None,
              help="Field ids separated by commas, or `all` (default: the process's list view).")
@_filters
@click.option("--sort", default="id", show_default=True, metavar="FIELD[:desc]", help="The order of the rows.")
@click.option("--bom/--no-bom", default=True, show_default=True,
              help="Start a CSV with a byte-order mark, so Excel reads it as UTF-8.")
@click.option("--delimiter", type=click.Choice([",", ";", "tab"]), default=",", show_default=True,
              help="The CSV delimiter (Excel with Russian settings expects `;`).")
@lang_option
@common(data=False)
def export(process: str, output: str, file_format: str | None, columns: str | None, pipeline: str | None,
           stage: str | None, where: tuple[str, ...], search: str | None, sort: str, bom: bool, delimiter: str,
           lang: str | None, db_url: str | None, as_user: str | None) -> None:
    """Export items to CSV or xlsx, as a person expects them in Excel.

    The same filters as `item list`; headers are the field titles in --lang; dates, numbers and
    money (with its currency) are real cells in xlsx; options, users and links show their titles.
    Only items you may read and your export right reaches; formulas are neutralised.
    """
    from smartflow.services.data import ExportOptions, format_of

    chosen = format_of(output, file_format) if output != "-" else (file_format or "csv")
    if chosen is None:
        raise click.UsageError(f"cannot tell the format of {output}: name the file *.csv or *.xlsx, or give "
                               "a --format that fits its name")
    options = ExportOptions(chosen, columns, lang, pipeline, stage, where, search, sort, bom,
                            "\t" if delimiter == "tab" else delimiter)
    if output == "-" and chosen == "xlsx":
        raise click.UsageError("xlsx cannot go to stdout; give -o FILE.xlsx")
    target: Any = sys.stdout.buffer if output == "-" else Path(output)
    with engine(db_url, as_user) as crm:
        total = _total(crm, process, options) if sys.stderr.isatty() else None
        with progress("exporting", total) as step:
            result = crm.export(process, target, options, step)
    hidden = f" ({result.not_exportable} more you may read are outside your export right)" \
        if result.not_exportable else ""
    if result.hidden:
        hidden += f"; left out, hidden from you: {', '.join(result.hidden)}"
    click.echo(f"exported {result.exported} {process} items to {output if output != '-' else 'stdout'}{hidden}",
               err=output == "-")


def _total(crm: Any, process: str, options: Any) -> int | None:
    if options.search:
        return None
    where = [*options.where, *([f"pipeline = {options.pipeline}"] if options.pipeline else []),
             *([f"stage = {options.stage}"] if options.stage else [])]
    return int(crm.count(process, where))


@click.command("import")
@click.argument("process")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--dry-run", is_flag=True, help="Check every row and report what would happen; write nothing.")
@click.option("--mapping", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="A YAML file: file column → field id (or `skip`).")
@click.option("--on-error", type=click.Choice(["skip", "abort"]), default="skip", show_default=True,
              help="skip: write the good rows and list the bad; abort: write nothing if any row fails.")
@click.option("--key", default=None, metavar="FIELD",
              help="Update the item whose FIELD equals the row's (id, or a unique field) instead of adding one.")
@click.option("--no-triggers", is_flag=True, help="Do not run triggers (administrators or `import: all` only).")
@click.option("--report", "report_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Where to write the problems, one per row and column (default: FILE.errors.csv).")
@click.option("--keep-ids", "keep_ids", default=None, metavar="FIELD",
              help="New items take the id the row's FIELD holds (the original id, such as bitrix_id), so links "
                   "and integrations keep naming them; refused when an id is taken (administrators or `import: "
                   "all` only).")
@click.option("--files", "files", type=click.Path(exists=True, file_okay=False, path_type=Path), default=None,
              metavar="DIR", help="Import file columns: their cells name files inside DIR (`@files/12/scan.pdf`).")
@click.option("--history", "past", flag_value="history", default=None,
              help="FILE holds items' stage history (item, at, kind, pipeline, stage, by): written with its "
                   "original times (administrators only); items named by --key (default id).")
@click.option("--comments", "past", flag_value="comments",
              help="FILE holds items' comments (item, at, author, text), written with their original times and "
                   "authors (administrators only); items named by --key (default id).")
@common(data=False)
def import_items(process: str, file: Path, dry_run: bool, mapping: Path | None, on_error: str, key: str | None,
                 no_triggers: bool, report_path: Path | None, keep_ids: str | None, files: Path | None,
                 past: str | None, db_url: str | None, as_user: str | None) -> None:
    """Import items from CSV or xlsx through the same checks as `item create`.

    Columns match fields by id or title (any language), or by --mapping. Every row is validated,
    rights checked, history written and triggers run as for a single create. Exits 1 when any
    row failed; the problems are listed per row and column in the report file.
    """
    from smartflow.services.data import ImportOptions, load_mapping, write_report

    if past is not None:
        given = [name for name, value in (("--dry-run", dry_run), ("--mapping", mapping), ("--keep-ids", keep_ids),
                                          ("--files", files), ("--no-triggers", no_triggers)) if value]
        if given:
            raise click.UsageError(f"--{past} imports the file as it is: {', '.join(given)} does not apply to it")
        _import_past(process, file, past, key, db_url, as_user)
        return
    options = ImportOptions(dry_run, on_error, key, load_mapping(mapping) if mapping else None, not no_triggers,
                            keep_ids=keep_ids, files=files)
    with engine(db_url, as_user) as crm, progress("importing", None) as step:
        result = crm.import_file(process, file, options, step)
    if result.problems:
        report_path = report_path or file.with_name(file.stem + ".errors.csv")
        write_report(result, report_path)
    _summary(result, report_path)
    if result.failed_rows:
        raise SystemExit(EXIT_ROWS_FAILED)


def _import_past(process: str, file: Path, kind: str, key: str | None, db_url: str | None,
                 as_user: str | None) -> None:
    with engine(db_url, as_user) as crm:
        result = crm.import_past(process, file, kind, key or "id")
    click.echo(f"{result.rows} rows of {kind}: {result.written} written, {result.skipped} imported before, "
               f"{len(result.problems)} failed")
    for problem in result.problems[:SHOWN_PROBLEMS]:
        click.echo(f"  {problem}")
    if result.problems:
        raise SystemExit(EXIT_ROWS_FAILED)


def _summary(result: Any, report_path: Path | None) -> None:
    if result.encoding == "cp1251":
        click.echo("note: the file is not UTF-8; it was read as Windows-1251")
    by_reason: dict[str, list[str]] = {}
    for header, reason in result.ignored:
        by_reason.setdefault(reason, []).append(f'"{header}"')
    for reason, headers in by_reason.items():
        click.echo(f"note: not imported: {', '.join(headers)} ({reason})")
    would = "would be " if result.dry_run else ""
    counts = (f"{result.rows} rows: {result.created} {would}created, {result.updated} {would}updated, "
              f"{result.unchanged} unchanged, {result.failed_rows} failed")
    click.echo(counts)
    for problem in result.problems[:SHOWN_PROBLEMS]:
        click.echo(f"  {problem}")
    if len(result.problems) > SHOWN_PROBLEMS:
        click.echo(f"  … and {len(result.problems) - SHOWN_PROBLEMS} more")
    if report_path is not None and result.problems:
        click.echo(f"every problem, per row and column: {report_path}")
    if result.dry_run:
        click.echo("Dry run: nothing was written.")
    elif not result.written:
        click.echo(f"Nothing was written: {result.failed_rows} row(s) failed and --on-error is abort.")
    elif result.failed_rows:
        click.echo(f"The good rows were written; the {result.failed_rows} failed row(s) were skipped.")


@click.command("report")
@click.argument("process")
@click.option("--pipeline", default=None, help="The pipeline (default: the process's default pipeline).")
@click.option("--from", "date_from", type=click.DateTime(["%Y-%m-%d"]), default=None, metavar="DATE",
              help="Only items created on or after this day (YYYY-MM-DD).")
@click.option("--to", "date_to", type=click.DateTime(["%Y-%m-%d"]), default=None, metavar="DATE",
              help="Only items created on or before this day.")
@click.option("--chart", type=click.Path(dir_okay=False, path_type=Path), default=None, metavar="FILE",
              help="Also draw the funnel as FILE.png or FILE.svg (needs `pip install 'smartflow[charts]'`).")
@lang_option
@common()
def report(process: str, pipeline: str | None, date_from: Any, date_to: Any, chart: Path | None, lang: str | None,
           db_url: str | None, as_user: str | None, output_format: str) -> None:
    """The funnel of a process: per stage the items and money, conversion to success, time spent.

    Also the open items whose date fields have passed, and won and lost items by assigned user.
    Counted by the database over the items you may read; --from/--to select items by creation day.
    """
    from smartflow.services import analytics

    if chart is not None:
        analytics.chart_format(chart)
    options = analytics.ReportOptions(pipeline, date_from.date() if date_from else None,
                                      date_to.date() if date_to else None, lang)
    with engine(db_url, as_user) as crm:
        data = crm.report(process, options)
    if chart is not None:
        analytics.draw_funnel(data, chart)
    if output_format == "json":
        import json

        from smartflow.services import plain

        click.echo(json.dumps(plain(data), ensure_ascii=False, indent=2))
    elif output_format == "csv":
        for index, (_, headers, rows) in enumerate(analytics.report_tables(data, for_people=False)):
            if index:
                click.echo("")
            emit([dict(zip(headers, row, strict=True)) for row in rows], headers, "csv")
    else:
        click.echo(analytics.report_text(data))
    if chart is not None:
        click.echo(f"funnel drawn: {chart}", err=output_format != "table")


@click.command("graph")
@click.argument("process")
@click.argument("paths", nargs=-1, type=click.Path(exists=True, path_type=Path))
@click.option("--pipeline", default=None, help="The pipeline (default: the process's default pipeline).")
@click.option("--format", "graph_format", type=click.Choice(["mermaid", "dot"]), default="mermaid",
              show_default=True, help="Mermaid (renders in a pull request) or Graphviz DOT.")
@click.option("--diff", is_flag=True, help="Draw what the files change against the deployed version.")
@click.option("--deployed", is_flag=True, help="Draw the deployed version instead of the files.")
@click.option("--db", "db_url", envvar="SMARTFLOW_DATABASE_URL", metavar="URL",
              help="Database URL, for --diff and --deployed (default: $SMARTFLOW_DATABASE_URL, else sqlite:///smartflow.db).")
@lang_option
def graph(process: str, paths: tuple[Path, ...], pipeline: str | None, graph_format: str, diff: bool,
          deployed: bool, db_url: str | None, lang: str | None) -> None:
    """Draw a pipeline's stages and transitions, with conditions and the roles that may take them.

    Reads the definition files (default: processes/); --deployed reads the database instead, and
    --diff draws both: what the files add (thick, green) and remove (dotted, red).
    """
    from smartflow.services import analytics

    if diff and deployed:
        raise click.UsageError("--diff already compares with the deployed version; give one of them")
    drawn = analytics.pipeline_graph(process, [] if deployed else definition_paths(paths), db_url, pipeline=pipeline,
                                     lang=lang, deployed=deployed, diff=diff)
    click.echo(analytics.to_mermaid(drawn) if graph_format == "mermaid" else analytics.to_dot(drawn))
