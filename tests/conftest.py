"""Shared fixtures: the repository root, the shipped processes, a CLI runner."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

ROOT = Path(__file__).resolve().parent.parent
PROCESSES = ROOT / "processes"


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


@pytest.fixture(params=__import__("tests.dbutil", fromlist=["backends"]).backends())
def db_url(request: pytest.FixtureRequest, tmp_path: Path):  # type: ignore[no-untyped-def]
    """A fresh empty database: SQLite, and PostgreSQL when configured."""
    from tests.dbutil import database_url

    yield from database_url(request.param, tmp_path)
