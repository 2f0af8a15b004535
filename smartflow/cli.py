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
EXIT_INVALID = 1  # validate: invalid definitions; plan: changes pending
EXIT_USAGE = 2
EXIT_DEFINITIONS = 3  # plan/apply/rollback: the definitions are invalid
EXIT_REFUSED = 4  # apply refused a step that would lose data
EXIT_BUSY = 5  # another apply holds the lock
EXIT_DATABASE = 6  # the database cannot be used
EXIT_NOT_FOUND = 7  # an unknown version, item or user (or one you may not see)
EXIT_DENIED = 8  # your roles do not allow it
EXIT_BAD_VALUE = 9  # a field value breaks its rule
EXIT_MOVE_REFUSED = 10  # the move is not allowed (transition, condition, required fields, stage right)
EXIT_CONFLICT = 11  # someone changed the item first
EXIT_NOT_DEPLOYED = 12  # nothing deployed, or no such process
EXIT_AUTOMATION = 13  # a trigger's synchronous action failed, so the change was refused

DEFAULT_PATH = Path("processes")


def _exit_code(error: Exception) -> int:
    """The one place exit codes are decided for smartflow's own errors."""
    from smartflow import errors
    from smartflow.runtime.automation import AutomationFailed

    table: list[tuple[type[Exception], int]] = [
        (errors.DefinitionError, EXIT_DEFINITIONS),
        (errors.ApplyRefused, EXIT_REFUSED),
        (errors.Busy, EXIT_BUSY),
        (errors.UnknownVersion, EXIT_NOT_FOUND),
        (errors.DatabaseUnavailable, EXIT_DATABASE),
        (errors.NotFound, EXIT_NOT_FOUND),
        (errors.PermissionDenied, EXIT_DENIED),
        (errors.InvalidValue, EXIT_BAD_VALUE),
        (errors.TransitionNotAllowed, EXIT_MOVE_REFUSED),
        (errors.ConflictError, EXIT_CONFLICT),
        (errors.NotDeployed, EXIT_NOT_DEPLOYED),
        (AutomationFailed, EXIT_AUTOMATION),
    ]
    return next((code for kind, code in table if isinstance(error, kind)), EXIT_INVALID)


class SmartflowGroup(click.Group):
    """Turns smartflow's errors into one message and an exit code; never a traceback."""

    def invoke(self, ctx: click.Context) -> object:
        from smartflow.errors import DefinitionError, SmartflowError

        try:
            return super().invoke(ctx)
        except SmartflowError as error:
            if isinstance(error, DefinitionError):
                from smartflow.validate.report import render_text, summary

                click.echo(render_text(error.result), err=True)
                click.echo(summary(error.result), err=True)
            click.echo(f"error: {error}", err=True)
            if error.hint:
                click.echo(f"  hint: {error.hint}", err=True)
            raise SystemExit(_exit_code(error)) from None
        except Exception as error:
            # A database error no service turned into one of ours (a bad URL, a server gone away,
            # a table dropped by hand): still one line and an exit code, never a traceback.
            if not type(error).__module__.startswith("sqlalchemy"):
                raise
            detail = getattr(error, "orig", None) or error
            click.echo(f"error: the database refused the operation: {str(detail).splitlines()[0]}", err=True)
            click.echo("  hint: check --db / SMARTFLOW_DATABASE_URL, that the server is up and that "
                       "`smartflow apply` has run", err=True)
            raise SystemExit(EXIT_DATABASE) from None


db_option = click.option("--db", "db_url", envvar="SMARTFLOW_DATABASE_URL", metavar="URL",
                         help="Database URL (default: $SMARTFLOW_DATABASE_URL, else sqlite:///smartflow.db).")


def _paths(paths: tuple[Path, ...]) -> list[Path]:
    if paths:
        return list(paths)
    if not DEFAULT_PATH.exists():
        raise click.UsageError(f"no path given and there is no `{DEFAULT_PATH}/` folder here; "
                               "name the files or folder to use, or run `smartflow init`")
    return [DEFAULT_PATH]


@click.group(cls=SmartflowGroup, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
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


@main.command()
@click.argument("paths", nargs=-1, type=click.Path(exists=True, path_type=Path))
@db_option
@click.option("--format", "output_format", type=click.Choice(["text", "json"]), default="text", show_default=True)
@click.option("--against", type=int, metavar="VERSION", help="Compare with an earlier deployed version instead.")
def plan(paths: tuple[Path, ...], db_url: str | None, output_format: str, against: int | None) -> None:
    """Show what `apply` would change in the database, and its effect on existing items.

    Exits 0 when there is nothing to do and 1 when there are changes (as `kubectl diff`),
    so CI can detect drift.
    """
    from smartflow import deploy
    from smartflow.plan.render import render_json, render_text

    desired = deploy.load_desired(_paths(paths))
    result = deploy.plan(desired, db_url, against=against)
    click.echo(render_json(result) if output_format == "json" else render_text(result))
    raise SystemExit(EXIT_OK if result.empty else EXIT_INVALID)


@main.command()
@click.argument("paths", nargs=-1, type=click.Path(exists=True, path_type=Path))
@db_option
@click.option("--allow-data-loss", is_flag=True,
              help="Carry out steps that drop data (the data is kept in the sf_archive table).")
@click.option("--dry-run", is_flag=True, help="Run the whole apply in a transaction, then roll it back.")
@click.option("--as", "actor", envvar="SMARTFLOW_USER", metavar="USER", help="Who deploys (recorded with the version).")
@click.option("--lock-timeout", type=float, default=60.0, show_default=True,
              help="Seconds to wait for another apply to finish.")
def apply(paths: tuple[Path, ...], db_url: str | None, allow_data_loss: bool, dry_run: bool, actor: str | None,
          lock_timeout: float) -> None:
    """Deploy the definitions: all steps in one transaction, or nothing.

    Steps that would lose data are refused with the plan's numbers unless
    --allow-data-loss is given.
    """
    from smartflow import deploy
    from smartflow.plan.render import render_text

    desired = deploy.load_desired(_paths(paths))
    result = deploy.apply(desired, db_url, allow_data_loss=allow_data_loss, dry_run=dry_run, actor=actor,
                          lock_timeout=lock_timeout)
    _report_apply(result, dry_run, allow_data_loss, render_text)


def _report_apply(result: object, dry_run: bool, allow_data_loss: bool, render: object) -> None:
    from smartflow.plan import Plan

    assert isinstance(result, Plan) and callable(render)
    if result.empty:
        click.echo("No changes: the database matches the definitions.")
        return
    click.echo(render(result, allow_data_loss))
    from smartflow.plan.ops import RecordVersion

    record = result.operations[-1]
    assert isinstance(record, RecordVersion)
    click.echo("\nDry run: everything was rolled back." if dry_run else f"\nApplied: version {record.number} is live.")


@main.command()
@db_option
@click.option("--format", "output_format", type=click.Choice(["table", "json"]), default="table", show_default=True)
def versions(db_url: str | None, output_format: str) -> None:
    """List the deployed definition versions, newest first."""
    import json

    from tabulate import tabulate

    from smartflow import deploy

    rows = deploy.versions(db_url)
    if output_format == "json":
        click.echo(json.dumps(rows, default=str, ensure_ascii=False, indent=2))
        return
    if not rows:
        click.echo("Nothing deployed yet.")
        return
    table = [[r["version"], str(r["created_at"])[:19], r["created_by"], (r["git_commit"] or "")[:12],
              r["hash"][:12], r["changes"]] for r in rows]
    click.echo(tabulate(table, headers=["version", "deployed at", "by", "git commit", "hash", "changes"]))


@main.command()
@click.argument("version", type=int)
@db_option
@click.option("--allow-data-loss", is_flag=True, help="Carry out steps that drop data (kept in sf_archive).")
@click.option("--dry-run", is_flag=True, help="Run the rollback in a transaction, then roll it back.")
@click.option("--as", "actor", envvar="SMARTFLOW_USER", metavar="USER", help="Who deploys.")
def rollback(version: int, db_url: str | None, allow_data_loss: bool, dry_run: bool, actor: str | None) -> None:
    """Deploy an earlier version's definitions again (a plan and an apply, same safety rules)."""
    from smartflow import deploy
    from smartflow.plan.render import render_text

    desired = deploy.version_documents(version, db_url)
    result = deploy.apply(desired, db_url, allow_data_loss=allow_data_loss, dry_run=dry_run, actor=actor)
    _report_apply(result, dry_run, allow_data_loss, render_text)


@main.command("test")
@click.argument("paths", nargs=-1, type=click.Path(exists=True, path_type=Path))
@click.option("-k", "keyword", default=None, help="Only scenarios whose name contains this text.")
@click.option("-x", "--exitfirst", is_flag=True, help="Stop at the first failing scenario.")
def test_command(paths: tuple[Path, ...], keyword: str | None, exitfirst: bool) -> None:
    """Run the `kind: Test` scenarios of the folder against a fresh deployment of its definitions.

    Prints a line per scenario and each failure with its step, what was expected and what
    was found; exits 0 when all pass and 1 when any fails.
    """
    from smartflow.testing import render, run

    outcome = run(_paths(paths), keyword, exitfirst)
    if not outcome.results:
        click.echo("no scenarios found (write `kind: Test` documents beside the processes)")
        raise SystemExit(EXIT_INVALID)
    for line in render(outcome):
        click.echo(line)
    raise SystemExit(EXIT_INVALID if outcome.failed else EXIT_OK)


def _register_runtime_commands() -> None:
    from smartflow.cli_automation import register as register_automation
    from smartflow.cli_data import register as register_data
    from smartflow.cli_items import register

    register(main)
    register_automation(main)
    register_data(main)


_register_runtime_commands()
