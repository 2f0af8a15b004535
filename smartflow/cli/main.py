"""The `smartflow` command line: thin commands over the library.

Heavy modules (jsonschema, SQLAlchemy, Jinja2) are imported inside the commands, and the
command modules themselves only when their command runs (`COMMANDS`), so `smartflow --help`
stays instant. Exit codes are decided here and only here: 0 success, 1 invalid definitions /
refused operation, 2 usage errors.
"""

from __future__ import annotations

import importlib
from gettext import gettext as _

import click

from smartflow import __version__
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
    "COMMANDS", "EXIT_AUTOMATION", "EXIT_BAD_VALUE", "EXIT_BUSY", "EXIT_CONFLICT", "EXIT_DATABASE", "EXIT_DEFINITIONS",
    "EXIT_DENIED",
    "EXIT_INVALID", "EXIT_MOVE_REFUSED", "EXIT_NOT_DEPLOYED", "EXIT_NOT_FOUND", "EXIT_OK", "EXIT_REFUSED", "EXIT_USAGE",
    "SmartflowGroup", "main",
]

# Every command of `smartflow`: where it lives (module:attribute) and its summary for `--help`,
# which is the first paragraph of the command's own help (tests/test_startup.py keeps the two
# equal and checks that every command of the command modules is here). A command's module is
# imported only when that command runs or shows its own help.
COMMANDS: dict[str, tuple[str, str]] = {
    "access": ("smartflow.cli.items:access",
               "Who may do what: a process's users with their levels, stages and hidden fields, or one user's rights."),
    "apply": ("smartflow.cli.deploy:apply", "Deploy the definitions: all steps in one transaction, or nothing."),
    "bitrix24": ("smartflow.bitrix24.command:bitrix24",
                 "Move from Bitrix24: read a portal's smart processes into YAML and data."),
    "department": ("smartflow.cli.items:department", "Departments (a tree: a department may have a parent)."),
    "export": ("smartflow.cli.data:export", "Export items to CSV or xlsx, as a person expects them in Excel."),
    "graph": ("smartflow.cli.data:graph",
              "Draw a pipeline's stages and transitions, with conditions and the roles that may take them."),
    "import": ("smartflow.cli.data:import_items",
               "Import items from CSV or xlsx through the same checks as `item create`."),
    "inbox": ("smartflow.cli.automation:inbox", "Your notifications (pass --as USER)."),
    "init": ("smartflow.cli.deploy:init",
             "Start a processes folder: an example process, the roles file and the schema."),
    "item": ("smartflow.cli.items:item", "Create, show, list, change, move and delete items."),
    "jobs": ("smartflow.cli.automation:jobs",
             "Delayed trigger jobs: pending, done, dropped and failed (newest first)."),
    "kanban": ("smartflow.cli.views:kanban",
               "The kanban board: a column per stage with its count, money sum and top cards."),
    "outbox": ("smartflow.cli.automation:outbox",
               "Notifications and webhooks waiting to be delivered, sent or failed (newest first)."),
    "plan": ("smartflow.cli.deploy:plan",
             "Show what `apply` would change in the database, and its effect on existing items."),
    "report": ("smartflow.cli.data:report",
               "The funnel of a process: per stage the items and money, conversion to success, time spent."),
    "rollback": ("smartflow.cli.deploy:rollback",
                 "Deploy an earlier version's definitions again (a plan and an apply, same safety rules)."),
    "schema": ("smartflow.cli.deploy:schema",
               "Print the JSON Schema of definition files (for editors and other tools)."),
    "serve": ("smartflow.cli.serve:serve", "Serve the HTTP API (/api/v1, docs at /api/docs) until SIGTERM or Ctrl-C."),
    "test": ("smartflow.cli.deploy:test_command",
             "Run the `kind: Test` scenarios of the folder against a fresh deployment of its definitions."),
    "token": ("smartflow.cli.items:token", "API tokens for the HTTP API (`Authorization: Bearer TOKEN`)."),
    "user": ("smartflow.cli.items:user", "Users and their roles."),
    "validate": ("smartflow.cli.deploy:validate",
                 "Check definition files (default: processes/) and report every problem, located."),
    "versions": ("smartflow.cli.deploy:versions", "List the deployed definition versions, newest first."),
    "worker": ("smartflow.cli.automation:worker",
               "Run delayed trigger jobs when due and deliver notifications and webhooks."),
}


class SmartflowGroup(click.Group):
    """Turns smartflow's errors into one message and an exit code; never a traceback.

    Its commands are loaded lazily from `COMMANDS` (click's `LazyGroup` pattern): `--help` lists
    them from the table's summaries, and a command's module is imported when it is looked up.
    """

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(set(self.commands) | set(COMMANDS))

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.commands and cmd_name in COMMANDS:
            module, _, attribute = COMMANDS[cmd_name][0].partition(":")
            command = getattr(importlib.import_module(module), attribute)
            if not isinstance(command, click.Command):
                raise TypeError(f"{COMMANDS[cmd_name][0]} is not a click command")
            self.add_command(command, cmd_name)
        return self.commands.get(cmd_name)

    def summary_command(self, cmd_name: str) -> click.Command:
        """The command as `--help` lists it: the loaded one, else a stand-in with its summary."""
        loaded = self.commands.get(cmd_name)
        return loaded if loaded is not None else click.Command(cmd_name, help=COMMANDS[cmd_name][1])

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        # click's own listing, with the table's summaries instead of importing every command
        commands = [(name, self.summary_command(name)) for name in self.list_commands(ctx)]
        commands = [(name, command) for name, command in commands if not command.hidden]
        if commands:
            limit = formatter.width - 6 - max(len(name) for name, _ in commands)
            with formatter.section(_("Commands")):
                formatter.write_dl([(name, command.get_short_help_str(limit)) for name, command in commands])

    def resolve_command(self, ctx: click.Context,
                        args: list[str]) -> tuple[str | None, click.Command | None, list[str]]:
        try:
            return super().resolve_command(ctx, args)
        except click.UsageError as error:
            # click suggests close names ("Did you mean 'item'?") from the commands it holds:
            # offer it every command, loaded or not.
            unknown = getattr(error, "command_name", None)
            if unknown is None:
                raise
            raise type(error)(unknown, possibilities=self.list_commands(ctx), ctx=ctx) from None

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
