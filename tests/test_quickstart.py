"""The README's first quickstart command, run as a person would (the installed `smartflow`)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from tests.conftest import ROOT

DEMO = ROOT / "examples" / "procurement" / "demo.sh"


def test_readme_main_job_runs_and_shows_the_board(tmp_path: Path) -> None:
    assert shutil.which("smartflow"), "the README installs the `smartflow` command first"
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "&& python3 -m pip install . && sh examples/procurement/demo.sh" in readme
    env = {k: v for k, v in os.environ.items() if not k.startswith("SMARTFLOW_")}
    env["COLUMNS"] = "140"
    first = subprocess.run(["sh", str(DEMO)], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert first.returncode == 0, first.stderr
    assert (tmp_path / "smartflow.db").exists()
    assert "Applied: version 1 is live." in first.stdout
    assert "only `buyer`, `administrator` may take it" in first.stdout
    assert "30 rows: 30 created, 0 updated, 0 unchanged, 0 failed" in first.stdout  # procurement.xlsx
    board = _board(first.stdout)
    assert len(board) == 8, "the columns' titles and totals, a rule, then five cards"
    assert board[1].startswith("8 · 2.1M RUB")
    # the first purchase, delivered, was handed over to production by the trigger: the newest card there
    assert "#1 Бетон М300" in board[3].split("│")[4]
    again = subprocess.run(["sh", str(DEMO)], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert again.returncode == 0, again.stderr
    assert again.stdout.startswith("No changes")
    assert _board(again.stdout) == board
    assert "Traceback" not in first.stderr + again.stderr


def _board(stdout: str) -> list[str]:
    """The kanban board the demo ends with: from its first column's title to the end."""
    lines = stdout.splitlines()
    return lines[max(i for i, line in enumerate(lines) if line.startswith("Получена смета")):]
