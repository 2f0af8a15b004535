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
