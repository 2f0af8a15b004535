"""Commands for the engineers who keep definitions in git: validate, schema, init, plan, apply,
versions, rollback and `smartflow test`."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from smartflow.cli.common import db_option, definition_paths
from smartflow.cli.exits import EXIT_INVALID, EXIT_OK


@click.command()
@click.argument("paths", nargs=-1, type=click.Path(exists=True, path_type=Path))
@click.option("--format", "output_format", type=click.Choice(["text", "json"]), default="text", show_default=True,
              help="How to print the diagnostics.")
@click.option("--strict", is_flag=True, help="Treat warnings as errors.")
def validate(paths: tuple[Path, ...], output_format: str, strict: bool) -> None:
    """Check definition files (default: processes/) and report every problem, located.

    Prints nothing and exits 0 when everything is valid; otherwise prints each problem as
    `file:line:col: error[code]: message` with a hint, and exits 1.
    """
    from smartflow.services import deploy

    result = deploy.validate(definition_paths(paths))
    failed = not result.ok or (strict and bool(result.diagnostics.warnings))
    if output_format == "json":
        click.echo(deploy.diagnostics_json(result))
    elif result.diagnostics:
        click.echo(deploy.diagnostics_text(result), err=False)
        click.echo(deploy.diagnostics_summary(result))
    raise SystemExit(EXIT_INVALID if failed else EXIT_OK)


@click.command()
def schema() -> None:
    """Print the JSON Schema of definition files (for editors and other tools)."""
    from smartflow.services import deploy

    click.echo(deploy.schema_text(), nl=False)


@click.command()
@click.argument("directory", default="processes", type=click.Path(file_okay=False, path_type=Path))
@click.option("--force", is_flag=True, help="Overwrite files that already exist.")
def init(directory: Path, force: bool) -> None:
    """Start a processes folder: an example process, the roles file and the schema."""
    from smartflow.services import deploy

    try:
        written = deploy.scaffold(directory, force=force)
    except deploy.ScaffoldError as exc:
        click.echo(f"error: {exc}", err=True)
        raise SystemExit(EXIT_INVALID) from None
    for path in written:
        click.echo(f"created {path}")
    click.echo(f"next: edit {directory}/example.yaml, then run `smartflow validate {directory}`")


@click.command()
@click.argument("paths", nargs=-1, type=click.Path(exists=True, path_type=Path))
@db_option
@click.option("--format", "output_format", type=click.Choice(["text", "json"]), default="text", show_default=True)
@click.option("--against", type=int, metavar="VERSION", help="Compare with an earlier deployed version instead.")
def plan(paths: tuple[Path, ...], db_url: str | None, output_format: str, against: int | None) -> None:
    """Show what `apply` would change in the database, and its effect on existing items.

    Exits 0 when there is nothing to do and 1 when there are changes (as `kubectl diff`),
    so CI can detect drift.
    """
    from smartflow.services import deploy

    result = deploy.plan(definition_paths(paths), db_url, against=against)
    click.echo(deploy.plan_json(result) if output_format == "json" else deploy.plan_text(result))
    raise SystemExit(EXIT_OK if result.empty else EXIT_INVALID)


def wait_options(command: Callable[..., None]) -> Callable[..., None]:
    """How long apply and rollback wait: for another apply, and (PostgreSQL) for table locks and statements."""
    options = [
        click.option("--lock-timeout", type=click.FloatRange(min=0), default=60.0, show_default=True,
                     metavar="SECONDS", help="Seconds to wait for another apply to finish."),
        # The defaults live in the services layer (kept out of here so `--help` stays instant).
        click.option("--table-lock-timeout", type=click.FloatRange(min=0), default=None, metavar="SECONDS",
                     help="PostgreSQL: seconds to wait for a lock on a table that other sessions use "
                          "(0: no limit).  [default: 10]"),
        click.option("--statement-timeout", type=click.FloatRange(min=0), default=None, metavar="SECONDS",
                     help="PostgreSQL: seconds one statement of the apply may run (0: no limit).  [default: 600]"),
    ]
    for option in reversed(options):
        command = option(command)
    return command


@click.command()
@click.argument("paths", nargs=-1, type=click.Path(exists=True, path_type=Path))
@db_option
@click.option("--allow-data-loss", is_flag=True,
              help="Carry out steps that drop data (the data is kept in the sf_archive table).")
@click.option("--dry-run", is_flag=True, help="Run the whole apply in a transaction, then roll it back.")
@click.option("--as", "actor", envvar="SMARTFLOW_USER", metavar="USER", help="Who deploys (recorded with the version).")
@wait_options
def apply(paths: tuple[Path, ...], db_url: str | None, allow_data_loss: bool, dry_run: bool, actor: str | None,
          lock_timeout: float, table_lock_timeout: float | None, statement_timeout: float | None) -> None:
    """Deploy the definitions: all steps in one transaction, or nothing.

    Steps that would lose data are refused with the plan's numbers unless
    --allow-data-loss is given.
    """
    from smartflow.services import deploy

    result = deploy.apply(definition_paths(paths), db_url, allow_data_loss=allow_data_loss, dry_run=dry_run,
                          actor=actor, lock_timeout=lock_timeout,
                          timeouts=deploy.timeouts(table_lock_timeout, statement_timeout))
    _report_apply(result, dry_run, allow_data_loss)


def _report_apply(result: Any, dry_run: bool, allow_data_loss: bool) -> None:
    from smartflow.services import deploy

    if result.empty:
        click.echo("No changes: the database matches the definitions.")
        return
    click.echo(deploy.plan_text(result, allow_data_loss))
    click.echo("\nDry run: everything was rolled back." if dry_run
               else f"\nApplied: version {deploy.live_version(result)} is live.")


@click.command()
@db_option
@click.option("--format", "output_format", type=click.Choice(["table", "json"]), default="table", show_default=True)
def versions(db_url: str | None, output_format: str) -> None:
    """List the deployed definition versions, newest first."""
    import json

    from smartflow.services import deploy, grid

    rows = deploy.versions(db_url)
    if output_format == "json":
        click.echo(json.dumps(rows, default=str, ensure_ascii=False, indent=2))
        return
    if not rows:
        click.echo("Nothing deployed yet.")
        return
    table = [[r["version"], str(r["created_at"])[:19], r["created_by"], (r["git_commit"] or "")[:12],
              r["hash"][:12], r["changes"]] for r in rows]
    click.echo(grid(table, ["version", "deployed at", "by", "git commit", "hash", "changes"], right={0, 5}))


@click.command()
@click.argument("version", type=int)
@db_option
@click.option("--allow-data-loss", is_flag=True, help="Carry out steps that drop data (kept in sf_archive).")
@click.option("--dry-run", is_flag=True, help="Run the rollback in a transaction, then roll it back.")
@click.option("--as", "actor", envvar="SMARTFLOW_USER", metavar="USER", help="Who deploys.")
@wait_options
def rollback(version: int, db_url: str | None, allow_data_loss: bool, dry_run: bool, actor: str | None,
             lock_timeout: float, table_lock_timeout: float | None, statement_timeout: float | None) -> None:
    """Deploy an earlier version's definitions again (a plan and an apply, same safety rules)."""
    from smartflow.services import deploy

    result = deploy.rollback(version, db_url, allow_data_loss=allow_data_loss, dry_run=dry_run, actor=actor,
                             lock_timeout=lock_timeout, timeouts=deploy.timeouts(table_lock_timeout, statement_timeout))
    _report_apply(result, dry_run, allow_data_loss)


@click.command("test")
@click.argument("paths", nargs=-1, type=click.Path(exists=True, path_type=Path))
@click.option("-k", "keyword", default=None, help="Only scenarios whose name contains this text.")
@click.option("-x", "--exitfirst", is_flag=True, help="Stop at the first failing scenario.")
def test_command(paths: tuple[Path, ...], keyword: str | None, exitfirst: bool) -> None:
    """Run the `kind: Test` scenarios of the folder against a fresh deployment of its definitions.

    Prints a line per scenario and each failure with its step, what was expected and what
    was found; exits 0 when all pass and 1 when any fails.
    """
    from smartflow.scenarios import render, run

    outcome = run(definition_paths(paths), keyword, exitfirst)
    if not outcome.results:
        click.echo("no scenarios found (write `kind: Test` documents beside the processes)")
        raise SystemExit(EXIT_INVALID)
    for line in render(outcome):
        click.echo(line)
    raise SystemExit(EXIT_INVALID if outcome.failed else EXIT_OK)
