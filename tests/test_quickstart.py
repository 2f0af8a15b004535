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
    assert "python3 -m pip install . && sh examples/procurement/demo.sh" in readme
    env = {k: v for k, v in os.environ.items() if not k.startswith("SMARTFLOW_")}
    env["COLUMNS"] = "140"
    first = subprocess.run(["sh", str(DEMO)], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert first.returncode == 0, first.stderr
    assert (tmp_path / "smartflow.db").exists()
    assert "Applied: version 1 is live." in first.stdout
    assert "only `buyer`, `administrator` may take it" in first.stdout
    board = first.stdout.splitlines()[-4:]
    assert board[0].startswith("Получена смета")
    assert "1 · 1.5M RUB" in board[1]
    assert "#1 Бетон М300" in board[3]
    again = subprocess.run(["sh", str(DEMO)], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert again.returncode == 0, again.stderr
    assert again.stdout.startswith("No changes")
    assert again.stdout.splitlines()[-4:] == board
    assert "Traceback" not in first.stderr + again.stderr
