"""The `smartflow` command line: thin commands over the library.

Heavy modules (jsonschema, SQLAlchemy, Jinja2) are imported inside the commands, so
`smartflow --help` stays instant. Exit codes are decided here and only here:
0 success, 1 invalid definitions / refused operation, 2 usage errors.
"""

from __future__ import annotations

from pathlib import Path

import click

from smartflow import __version__

EXIT_OK = 0
EXIT_INVALID = 1
EXIT_USAGE = 2

DEFAULT_PATH = Path("processes")


def _paths(paths: tuple[Path, ...]) -> list[Path]:
    if paths:
        return list(paths)
    if not DEFAULT_PATH.exists():
        raise click.UsageError(f"no path given and there is no `{DEFAULT_PATH}/` folder here; "
                               "name the files or folder to use, or run `smartflow init`")
    return [DEFAULT_PATH]


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="smartflow")
def main() -> None:
    """smartflow: CRM smart processes defined in YAML, validated, deployed and run."""


@main.command()
@click.argument("paths", nargs=-1, type=click.Path(exists=True, path_type=Path))
@click.option("--format", "output_format", type=click.Choice(["text", "json"]), default="text", show_default=True,
              help="How to print the diagnostics.")
@click.option("--strict", is_flag=True, help="Treat warnings as errors.")
def validate(paths: tuple[Path, ...], output_format: str, strict: bool) -> None:
    """Check definition files (default: processes/) and report every problem, located.

    Prints nothing and exits 0 when everything is valid; otherwise prints each problem as
    `file:line:col: error[code]: message` with a hint, and exits 1.
    """
    from smartflow.validate import validate_paths
    from smartflow.validate.report import render_json, render_text, summary

    result = validate_paths(_paths(paths))
    failed = not result.ok or (strict and bool(result.diagnostics.warnings))
    if output_format == "json":
        click.echo(render_json(result))
    elif result.diagnostics:
        click.echo(render_text(result), err=False)
        click.echo(summary(result))
    raise SystemExit(EXIT_INVALID if failed else EXIT_OK)


@main.command()
def schema() -> None:
    """Print the JSON Schema of definition files (for editors and other tools)."""
    from smartflow.validate.schema import schema_text

    click.echo(schema_text(), nl=False)


@main.command()
@click.argument("directory", default="processes", type=click.Path(file_okay=False, path_type=Path))
@click.option("--force", is_flag=True, help="Overwrite files that already exist.")
def init(directory: Path, force: bool) -> None:
    """Start a processes folder: an example process, the roles file and the schema."""
    from smartflow.scaffold import ScaffoldError, scaffold

    try:
        written = scaffold(directory, force=force)
    except ScaffoldError as exc:
        click.echo(f"error: {exc}", err=True)
        raise SystemExit(EXIT_INVALID) from None
    for path in written:
        click.echo(f"created {path}")
    click.echo(f"next: edit {directory}/example.yaml, then run `smartflow validate {directory}`")
