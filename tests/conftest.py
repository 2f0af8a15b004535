"""Shared fixtures: the repository root, the shipped processes, a CLI runner."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

ROOT = Path(__file__).resolve().parent.parent
PROCESSES = ROOT / "processes"

# The README's commands install the `smartflow` command beside the interpreter that runs the tests
# (a virtual environment's bin/); the demos and quickstart tests run it by name, as a person would,
# so that folder comes first on PATH even when the environment was not activated.
_SCRIPTS = str(Path(sys.executable).parent)
if _SCRIPTS not in os.environ.get("PATH", "").split(os.pathsep):
    os.environ["PATH"] = _SCRIPTS + os.pathsep + os.environ.get("PATH", "")


def pytest_configure(config: pytest.Config) -> None:
    """Bytecode for smartflow and the tests, written once before any test runs (by the controller, before
    xdist starts its workers). The suite starts hundreds of Python processes (the demos' and the README's
    `smartflow` commands, servers, spawned workers); where the environment says PYTHONDONTWRITEBYTECODE,
    as some CI machines do, each would otherwise compile smartflow's modules anew, about 0.3 s of CPU."""
    if hasattr(config, "workerinput"):
        return
    import compileall

    for folder in (ROOT / "smartflow", ROOT / "tests"):
        compileall.compile_dir(folder, quiet=2)


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


@pytest.fixture(params=__import__("tests.dbutil", fromlist=["backends"]).backends())
def db_url(request: pytest.FixtureRequest, tmp_path: Path):  # type: ignore[no-untyped-def]
    """A fresh empty database: SQLite, and PostgreSQL when configured."""
    from tests.dbutil import database_url

    yield from database_url(request.param, tmp_path)
