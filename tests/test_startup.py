"""What `smartflow` imports at start-up: heavy libraries only in the commands that need them.

Each check runs the command in a fresh interpreter (this process has imported everything
already) and lists the heavy packages that came along. A command's own imports inside its
function run only when that command runs, so a new command may import what it needs there
(a web framework for a server command, say) without slowing `--help` or the other commands.
"""

from __future__ import annotations

import importlib
import inspect
import json
import pkgutil
import subprocess
import sys
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

import smartflow.cli
from smartflow.cli.main import COMMANDS, SmartflowGroup, main
from tests.conftest import PROCESSES

HEAVY = {"sqlalchemy", "jsonschema", "jinja2", "transitions", "tabulate", "openpyxl", "xlsxwriter", "yaml",
         "alembic", "psycopg", "matplotlib", "fastapi", "starlette", "uvicorn", "pydantic", "httpx",
         "zxcvbn"}

RUN = """
import json, sys
from smartflow.cli.main import main
try:
    main({argv!r})
except SystemExit as stop:
    code = stop.code
else:
    code = 0
print(json.dumps({{"code": code, "modules": sorted(sys.modules)}}), file=sys.stderr)
"""

# The modules that hold the commands; main.py imports one only when its command is looked up.
COMMAND_MODULES = {f"smartflow.cli.{m.name}" for m in pkgutil.iter_modules(smartflow.cli.__path__)} - {
    "smartflow.cli.main", "smartflow.cli.common", "smartflow.cli.exits"} | {"smartflow.bitrix24.command"}


def modules_after(argv: list[str], cwd: Path) -> set[str]:
    """Every module loaded once `smartflow ARGV` has run (it must succeed)."""
    finished = subprocess.run([sys.executable, "-c", RUN.format(argv=argv)], cwd=cwd, capture_output=True,
                              text=True, timeout=120)
    report = json.loads(finished.stderr.strip().splitlines()[-1])
    assert report["code"] in (0, None), finished.stdout + finished.stderr
    return set(report["modules"])


def heavy_after(argv: list[str], cwd: Path) -> set[str]:
    """The heavy packages loaded once `smartflow ARGV` has run (it must succeed)."""
    return {name.split(".")[0] for name in modules_after(argv, cwd)} & HEAVY


@pytest.mark.parametrize("argv", [["--help"], ["item", "--help"], ["--version"]])
def test_help_imports_no_heavy_library(argv: list[str], tmp_path: Path) -> None:
    assert heavy_after(argv, tmp_path) == set()


def test_help_imports_no_command_module(tmp_path: Path) -> None:
    assert {"smartflow.cli.deploy", "smartflow.cli.items", "smartflow.cli.serve"} <= COMMAND_MODULES
    for argv in (["--help"], ["--version"]):
        assert modules_after(argv, tmp_path) & COMMAND_MODULES == set(), argv


def test_a_command_imports_only_its_own_module(tmp_path: Path) -> None:
    # the item group's commands live in items.py, views.py (show, list), files.py (file), timeline.py
    # (comments, to-dos) and linking.py (observers, bin)
    assert modules_after(["item", "--help"], tmp_path) & COMMAND_MODULES == {"smartflow.cli.items",
                                                                             "smartflow.cli.views",
                                                                             "smartflow.cli.files",
                                                                             "smartflow.cli.timeline",
                                                                             "smartflow.cli.linking"}
    assert modules_after(["schema", "--help"], tmp_path) & COMMAND_MODULES == {"smartflow.cli.deploy"}


def _top_level_commands() -> dict[str, click.Command]:
    """Every command the command modules define that is not a subcommand of one of their groups."""
    found: dict[int, click.Command] = {}
    for name in sorted(COMMAND_MODULES):
        module = importlib.import_module(name)
        found.update({id(v): v for v in vars(module).values() if isinstance(v, click.Command)})
    nested = {id(c) for g in found.values() if isinstance(g, click.Group) for c in g.commands.values()}
    return {command.name or "": command for key, command in found.items() if key not in nested}


def test_the_command_table_lists_every_command_where_it_lives() -> None:
    commands = _top_level_commands()
    assert sorted(COMMANDS) == sorted(commands)
    for name, (where, _) in COMMANDS.items():
        module, _, attribute = where.partition(":")
        assert getattr(importlib.import_module(module), attribute) is commands[name], name


def test_the_command_table_summaries_are_the_commands_own() -> None:
    """`--help` lists the table's summaries; each must be its command's first help paragraph, and
    shorten to the same text at any width."""
    for name, command in _top_level_commands().items():
        summary = COMMANDS[name][1]
        assert summary == inspect.cleandoc(command.help or "").partition("\n\n")[0], name
        assert not command.short_help and not command.hidden and not command.deprecated, name
        stand_in = click.Command(name, help=summary)
        for limit in range(10, 120):
            assert stand_in.get_short_help_str(limit) == command.get_short_help_str(limit), (name, limit)


@pytest.mark.parametrize("width", [60, 100])
def test_help_lists_the_commands_as_an_eager_group_would(width: int) -> None:
    # a fresh group: `main` in this process may have loaded some commands already
    lazy = SmartflowGroup("main", help=main.help, context_settings=main.context_settings, params=main.params)
    eager = click.Group("main", help=main.help, context_settings=main.context_settings, params=main.params)
    for name, command in _top_level_commands().items():
        eager.add_command(command, name)
    runner = CliRunner()
    lazy_help = runner.invoke(lazy, ["--help"], prog_name="smartflow", terminal_width=width)
    assert lazy.commands == {}  # listed from the table alone
    eager_help = runner.invoke(eager, ["--help"], prog_name="smartflow", terminal_width=width)
    assert lazy_help.exit_code == 0
    assert lazy_help.output == eager_help.output
    assert "\n  item        Create, show, list, change" in lazy_help.output


def test_an_unknown_command_is_refused_with_a_close_name() -> None:
    lazy = SmartflowGroup("main", context_settings=main.context_settings)  # none of its commands loaded yet
    result = CliRunner().invoke(lazy, ["itme", "list"], prog_name="smartflow")
    assert result.exit_code == 2
    assert "No such command 'itme'." in result.output
    if hasattr(click.exceptions, "NoSuchCommand"):  # click 8.4 and later suggest a close name
        assert "Did you mean 'item'?" in result.output


def test_importing_the_cli_imports_no_heavy_library(tmp_path: Path) -> None:
    finished = subprocess.run([sys.executable, "-c", "import sys, smartflow.cli.main; "
                               "print(' '.join(sorted({m.split('.')[0] for m in sys.modules})))"],
                              cwd=tmp_path, capture_output=True, text=True, check=True, timeout=120)
    assert set(finished.stdout.split()) & HEAVY == set()


@pytest.mark.db
def test_reading_items_imports_only_the_database_and_the_table_printer(tmp_path: Path) -> None:
    """Show, list and kanban need SQLAlchemy (and print with smartflow.grid); not the validator, the
    templates, the state machines nor the spreadsheet libraries."""
    from smartflow.services import Engine, deploy

    url = f"sqlite:///{tmp_path / 'start.db'}"
    deploy.apply([PROCESSES], url)
    with Engine(url) as crm:
        item_id = crm.create("procurement", {"title": "Concrete", "estimate": "1480000"}, typed_text=True)
    for argv in (["item", "list", "procurement"], ["item", "show", "procurement", str(item_id)],
                 ["kanban", "procurement", "--width", "100"]):
        modules = modules_after([*argv, "--db", url], tmp_path)
        loaded = {name.split(".")[0] for name in modules} & HEAVY
        assert "sqlalchemy" in loaded, argv  # the check itself sees imports
        assert loaded - {"sqlalchemy"} == set(), argv
        # the shipped processes have unique fields, whose indexes name a PostgreSQL condition:
        # only apply builds indexes, so an SQLite read does not import the PostgreSQL dialect
        assert "sqlalchemy.dialects.sqlite" in modules, argv
        assert "sqlalchemy.dialects.postgresql" not in modules, argv


@pytest.mark.db
def test_a_command_that_logs_nobody_in_hashes_no_password(tmp_path: Path) -> None:
    """A scrypt hash costs about 50 ms: the dummy hash that unknown logins are checked against is
    made on the first login attempt, not when the runtime is imported."""
    from smartflow.services import deploy

    url = f"sqlite:///{tmp_path / 'start.db'}"
    deploy.apply([PROCESSES], url)
    script = (
        "import hashlib, sys\n"
        "calls = []\n"
        "real = hashlib.scrypt\n"
        "hashlib.scrypt = lambda *a, **k: calls.append(1) or real(*a, **k)\n"
        "from smartflow.cli.main import main\n"
        f"try:\n    main(['item', 'list', 'procurement', '--db', {url!r}])\n"
        "except SystemExit as stop:\n    assert stop.code in (0, None), stop.code\n"
        "print('scrypt calls:', len(calls), file=sys.stderr)\n"
    )
    finished = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, capture_output=True, text=True,
                              timeout=120)
    assert finished.returncode == 0, finished.stderr
    assert finished.stderr.strip().splitlines()[-1] == "scrypt calls: 0"


def test_every_dataclass_has_a_docstring() -> None:
    """Python 3.11 gives a dataclass without a docstring one made from `inspect.signature`, at import:
    about 0.3 ms a class on every start, and no use to a reader. So each says what it is."""
    import dataclasses

    undocumented = []
    for module in pkgutil.walk_packages(smartflow.__path__, "smartflow."):
        if module.name.endswith("__main__"):
            continue
        loaded = importlib.import_module(module.name)
        for value in vars(loaded).values():
            if (isinstance(value, type) and dataclasses.is_dataclass(value) and value.__module__ == loaded.__name__
                    and (value.__doc__ or "").startswith(value.__name__ + "(")):
                undocumented.append(f"{loaded.__name__}.{value.__name__}")
    assert undocumented == []


@pytest.mark.db
def test_a_read_builds_only_the_system_tables_it_uses(tmp_path: Path) -> None:
    """Building SQLAlchemy's Table objects for all of smartflow's two dozen tables costs about 20 ms:
    a command builds those it reads (and the ones they refer to)."""
    from smartflow.services import Engine, deploy

    url = f"sqlite:///{tmp_path / 'start.db'}"
    deploy.apply([PROCESSES], url)
    with Engine(url) as crm:
        crm.list("procurement")
        built = set(crm._cache["compiled"].metadata.tables)
    assert "p_procurement" in built and "sf_users" in built
    assert not built & {"sf_jobs", "sf_outbox", "sf_archive", "sf_audit", "sf_file_chunks", "sf_todos"}


@pytest.mark.db
def test_a_change_compiles_the_automation_of_its_own_process_only(tmp_path: Path) -> None:
    """Changing a purchase compiles procurement's triggers; not complaints', whose working-hours calendar
    would import the holidays library (about 0.15 s) though no purchase counts working days."""
    from smartflow.services import Engine, deploy

    url = f"sqlite:///{tmp_path / 'start.db'}"
    deploy.apply([PROCESSES], url)
    with Engine(url) as crm:
        item_id = crm.create("procurement", {"title": "Concrete", "estimate": "1480000"}, typed_text=True)
    modules = modules_after(["item", "update", "procurement", str(item_id), "--set", "estimate=1500000",
                             "--db", url], tmp_path)
    assert "jinja2" in modules  # the check sees imports: procurement's own templates were compiled
    assert not {name for name in modules if name.split(".")[0] == "holidays"}
