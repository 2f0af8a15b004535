"""The `smartflow` command line: thin commands over the library.

Heavy modules (jsonschema, SQLAlchemy, Jinja2) are imported inside the commands, so
`smartflow --help` stays instant. Exit codes are decided here and only here:
0 success, 1 invalid definitions / refused operation, 2 usage errors.
"""

from __future__ import annotations

import click

from smartflow import __version__
from smartflow.cli import automation, data, deploy, items, serve
from smartflow.cli.exits import (  # re-exported: the CLI's exit codes, for scripts and tests
    EXIT_AUTOMATION,
    EXIT_BAD_VALUE,
    EXIT_BUSY,
    EXIT_CONFLICT,
    EXIT_DATABASE,
    EXIT_DEFINITIONS,
    EXIT_DENIED,
    EXIT_INVALID,
    EXIT_MOVE_REFUSED,
    EXIT_NOT_DEPLOYED,
    EXIT_NOT_FOUND,
    EXIT_OK,
    EXIT_REFUSED,
    EXIT_USAGE,
    exit_code,
)

__all__ = [
    "EXIT_AUTOMATION", "EXIT_BAD_VALUE", "EXIT_BUSY", "EXIT_CONFLICT", "EXIT_DATABASE", "EXIT_DEFINITIONS",
    "EXIT_DENIED",
    "EXIT_INVALID", "EXIT_MOVE_REFUSED", "EXIT_NOT_DEPLOYED", "EXIT_NOT_FOUND", "EXIT_OK", "EXIT_REFUSED", "EXIT_USAGE",
    "SmartflowGroup", "main",
]


class SmartflowGroup(click.Group):
    """Turns smartflow's errors into one message and an exit code; never a traceback."""

    def invoke(self, ctx: click.Context) -> object:
        from smartflow.errors import DefinitionError, SmartflowError

        try:
            return super().invoke(ctx)
        except SmartflowError as error:
            if isinstance(error, DefinitionError):
                from smartflow.services import deploy

                click.echo(deploy.diagnostics_text(error.result), err=True)
                click.echo(deploy.diagnostics_summary(error.result), err=True)
            click.echo(f"error: {error}", err=True)
            if error.hint:
                click.echo(f"  hint: {error.hint}", err=True)
            raise SystemExit(exit_code(error)) from None
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


@click.group(cls=SmartflowGroup, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="smartflow")
def main() -> None:
    """smartflow: CRM smart processes defined in YAML, validated, deployed and run."""


for register in (deploy.register, items.register, automation.register, data.register):
    register(main)
main.add_command(serve.serve)
