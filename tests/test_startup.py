"""What `smartflow` imports at start-up: heavy libraries only in the commands that need them.

Each check runs the command in a fresh interpreter (this process has imported everything
already) and lists the heavy packages that came along. A command's own imports inside its
function run only when that command runs, so a new command may import what it needs there
(a web framework for a server command, say) without slowing `--help` or the other commands.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import PROCESSES

HEAVY = {"sqlalchemy", "jsonschema", "jinja2", "transitions", "tabulate", "openpyxl", "xlsxwriter", "yaml",
         "alembic", "psycopg", "matplotlib", "fastapi", "starlette", "uvicorn", "pydantic", "httpx"}

RUN = """
import json, sys
from smartflow.cli.main import main
try:
    main({argv!r})
except SystemExit as stop:
    code = stop.code
else:
    code = 0
print(json.dumps({{"code": code, "modules": sorted({{name.split(".")[0] for name in sys.modules}})}}), file=sys.stderr)
"""


def heavy_after(argv: list[str], cwd: Path) -> set[str]:
    """The heavy packages loaded once `smartflow ARGV` has run (it must succeed)."""
    finished = subprocess.run([sys.executable, "-c", RUN.format(argv=argv)], cwd=cwd, capture_output=True,
                              text=True, timeout=120)
    report = json.loads(finished.stderr.strip().splitlines()[-1])
    assert report["code"] in (0, None), finished.stdout + finished.stderr
    return set(report["modules"]) & HEAVY


@pytest.mark.parametrize("argv", [["--help"], ["item", "--help"], ["--version"]])
def test_help_imports_no_heavy_library(argv: list[str], tmp_path: Path) -> None:
    assert heavy_after(argv, tmp_path) == set()


def test_importing_the_cli_imports_no_heavy_library(tmp_path: Path) -> None:
    finished = subprocess.run([sys.executable, "-c", "import sys, smartflow.cli.main; "
                               "print(' '.join(sorted({m.split('.')[0] for m in sys.modules})))"],
                              cwd=tmp_path, capture_output=True, text=True, check=True, timeout=120)
    assert set(finished.stdout.split()) & HEAVY == set()


@pytest.mark.db
def test_reading_items_imports_only_the_database_and_the_table_printer(tmp_path: Path) -> None:
    """Show, list and kanban need SQLAlchemy (and tabulate to print); not the validator, the
    templates, the state machines nor the spreadsheet libraries."""
    from smartflow.services import Engine, deploy

    url = f"sqlite:///{tmp_path / 'start.db'}"
    deploy.apply([PROCESSES], url)
    with Engine(url) as crm:
        item_id = crm.create("procurement", {"title": "Concrete", "estimate": "1480000"}, typed_text=True)
    for argv in (["item", "list", "procurement"], ["item", "show", "procurement", str(item_id)],
                 ["kanban", "procurement", "--width", "100"]):
        loaded = heavy_after([*argv, "--db", url], tmp_path)
        assert "sqlalchemy" in loaded, argv  # the check itself sees imports
        assert loaded - {"sqlalchemy", "tabulate"} == set(), argv
