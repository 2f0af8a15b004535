"""The examples, run as their READMEs say: `sh examples/<name>/demo.sh` in a fresh folder, twice; the
procurement demo is also the README's quickstart.

The four demos run side by side, each in its own folder and database (the file costs their CPU
time spread over the cores, not its sum). Each README may only show commands its demo.sh runs,
so a README cannot drift from what works; and the sample data files are exactly what
examples/make_samples.py writes.
"""

from __future__ import annotations

import csv
import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

import pytest

from tests.conftest import ROOT

EXAMPLES = ROOT / "examples"
TIMEOUT = 600


@dataclass(frozen=True)
class Example:
    name: str
    # (process, the sample CSV whose titles must all be listed (the demo imports the xlsx twin),
    #  items the demo adds by hand)
    imports: tuple[tuple[str, str, int], ...]
    refusal: tuple[str, ...]  # what `item explain` must print for the refused move
    board: str  # the title of the kanban board's first column (--lang ru)
    shows: tuple[str, ...] = ()  # more lines the first run must print


ALL = (
    Example("procurement", (("procurement", "procurement.csv", 3),),
            ("procurement 1 cannot move to `delivery`:",
             "  - the transition `contract` → `delivery`: only `buyer`, `administrator` may take it",
             "  - the transition `contract` → `delivery`: the item names you in `created_by`, and someone else "
             "must take it (`forbid_self`)"),
            "Получена смета", ("procurement 1: contract → delivery",)),
    Example("hr", (("candidate", "candidates.csv", 1),),
            ("candidate 34 cannot move to `offer`:", "  - your roles may not move items into stage `offer`",
             "only `hr_head`, `manager`, `administrator` may take it; the condition "
             "`test_score is not none and test_score >= 60` is false (test_score = empty)",
             "  - stage `offer` requires a field you may not see, which is empty"),
            "Новый отклик", ("candidate 34: offer → hired", "Онбординг / Onboarding: Петрова Анна Сергеевна")),
    Example("clinic", (("patient", "patients.csv", 0), ("appointment", "appointments.csv", 1)),
            ("appointment 37 cannot move to `completed`:",
             "the condition `paid or payment_method in ['oms', 'dms']` is false (paid = False, payment_method = empty)",
             "  - stage `completed` requires `payment_method`, which is empty"),
            "Записан", ("appointment 37: in_progress → completed", "Пациент #1: Иванова Мария Петровна",
                        "    appointment #5 Повторный приём — Иванова М. П. (via patient)",
                        "    appointment #37 Повторный приём — Иванова М. П. (via patient)")),
    Example("complaints", (("complaint", "complaints.csv", 1),),
            ("complaint 31 cannot move to `resolved`:", "only `manager`, `administrator` may take it"),
            "Новая", ("complaint 31: investigating → resolved",)),
)
IDS = [example.name for example in ALL]


@dataclass
class Result:
    returncode: int
    stdout: str
    stderr: str


def _environment() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SMARTFLOW_")}
    env["COLUMNS"] = "140"
    return env


def _run_together(commands: dict[str, tuple[list[str], Path]], logs: Path) -> dict[str, Result]:
    """Run every command at once (each in its folder), wait for all; output goes to files, not pipes."""
    logs.mkdir(parents=True, exist_ok=True)
    running = {}
    for key, (argv, cwd) in commands.items():
        out, err = logs / f"{key}.out", logs / f"{key}.err"
        with out.open("wb") as stdout, err.open("wb") as stderr:
            running[key] = (subprocess.Popen(argv, cwd=cwd, env=_environment(), stdout=stdout, stderr=stderr),
                            out, err)
    results = {}
    for key, (process, out, err) in running.items():
        try:
            process.wait(timeout=TIMEOUT)
        except subprocess.TimeoutExpired:
            for other, _, _ in running.values():
                other.kill()
            raise
        results[key] = Result(process.returncode, out.read_text(encoding="utf-8"), err.read_text(encoding="utf-8"))
    return results


@dataclass
class Runs:
    folder: Path
    first: Result
    again: Result
    titles: dict[str, list[str]]  # process → the titles `item list` shows after both runs


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Runs]:
    assert shutil.which("smartflow"), "the examples run the installed `smartflow` command"
    folders = {example.name: tmp_path_factory.mktemp(example.name) for example in ALL}
    logs = tmp_path_factory.mktemp("logs")
    demo = {name: (["sh", str(EXAMPLES / name / "demo.sh")], folder) for name, folder in folders.items()}
    first = _run_together(demo, logs / "first")
    again = _run_together(demo, logs / "again")
    lists = {f"{example.name}-{process}": (["smartflow", "item", "list", process, "--columns", "title",
                                            "--limit", "10000", "--format", "json"], folders[example.name])
             for example in ALL for process, _, _ in example.imports}
    listed = _run_together(lists, logs / "lists")
    result = {}
    for example in ALL:
        titles = {}
        for process, _, _ in example.imports:
            shown = listed[f"{example.name}-{process}"]
            assert shown.returncode == 0, shown.stderr
            titles[process] = [item["title"] for item in json.loads(shown.stdout)]
        result[example.name] = Runs(folders[example.name], first[example.name], again[example.name], titles)
    return result


def _sample_titles(path: Path) -> list[str]:
    with path.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.reader(handle))
    column = next(i for i, header in enumerate(rows[0]) if header.casefold() in ("title", "название"))
    return [row[column] for row in rows[1:]]


def _board(stdout: str, first_column: str) -> list[str]:
    lines = stdout.splitlines()
    start = max(i for i, line in enumerate(lines) if line.startswith(first_column))
    return lines[start:]


@pytest.mark.parametrize("example", ALL, ids=IDS)
def test_demo_runs_imports_walks_and_refuses(example: Example, runs: dict[str, Runs]) -> None:
    run = runs[example.name]
    assert run.first.returncode == 0, run.first.stderr
    assert "Traceback" not in run.first.stderr
    assert (run.folder / "smartflow.db").exists(), "the default database is ./smartflow.db"
    assert "Applied: version 1 is live." in run.first.stdout
    for process, sample, _ in example.imports:
        rows = len(_sample_titles(EXAMPLES / example.name / sample))
        assert 25 <= rows <= 40, f"{sample}: {rows} rows"
        assert f"{rows} rows: {rows} created, 0 updated, 0 unchanged, 0 failed" in run.first.stdout, process
    for line in (*example.refusal, *example.shows):
        assert line in run.first.stdout
    board = _board(run.first.stdout, example.board)
    assert board[1].split(" · ")[0].strip().isdigit(), board[:2]


@pytest.mark.parametrize("example", ALL, ids=IDS)
def test_second_run_imports_nothing_new(example: Example, runs: dict[str, Runs]) -> None:
    run = runs[example.name]
    assert run.again.returncode == 0, run.again.stderr
    assert "Traceback" not in run.again.stderr
    assert run.again.stdout.startswith("No changes")
    assert " rows: " not in run.again.stdout
    assert "cannot move" not in run.again.stdout
    for process, sample, by_hand in example.imports:
        expected = _sample_titles(EXAMPLES / example.name / sample)
        titles = run.titles[process]
        assert len(titles) == len(expected) + by_hand, process
        assert sorted(set(expected) - set(titles)) == [], f"{process}: rows of {sample} missing"
    assert _board(run.again.stdout, example.board) == _board(run.first.stdout, example.board)


def test_the_readme_quickstart_deploys_walks_imports_and_shows_the_procurement_board(runs: dict[str, Runs]) -> None:
    """The README's first command ends with `sh examples/procurement/demo.sh`, run by the installed
    `smartflow` as here (the procurement demo's two runs above are that command's)."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "&& python3 -m pip install . && sh examples/procurement/demo.sh" in readme
    run = runs["procurement"]
    board = _board(run.first.stdout, "Получена смета")
    assert len(board) == 8, "the columns' titles and totals, a rule, then five cards"
    assert board[1].startswith("8 · 2.1M RUB")
    # the first purchase, delivered, was handed over to production by the trigger: the newest card there
    assert "#1 Бетон М300" in board[3].split("│")[4]
    assert _board(run.again.stdout, "Получена смета") == board


def _logical_lines(text: str) -> list[str]:
    """Shell lines with continuations joined and whitespace collapsed; comments and blank lines left out."""
    joined = re.sub(r"\\\n", " ", text)
    lines = (" ".join(line.split()) for line in joined.splitlines())
    return [line for line in lines if line and not line.startswith("#")]


def _shell_blocks(readme: str) -> list[str]:
    return re.findall(r"^```(?:sh|shell|bash|console)\n(.*?)^```", readme, flags=re.MULTILINE | re.DOTALL)


@pytest.mark.parametrize("example", ALL, ids=IDS)
def test_readme_shows_only_what_the_demo_runs(example: Example) -> None:
    readme = (EXAMPLES / example.name / "README.md").read_text(encoding="utf-8")
    script = set(_logical_lines((EXAMPLES / example.name / "demo.sh").read_text(encoding="utf-8")))
    shown = [line for block in _shell_blocks(readme) for line in _logical_lines(block)]
    run_it = f"sh examples/{example.name}/demo.sh"
    assert run_it in shown, f"the README shows how to run the demo: {run_it}"
    strays = [line for line in shown if line != run_it and line not in script]
    assert strays == [], "README commands that demo.sh does not run"
    imports = [line for line in shown if line.startswith("smartflow import ")]
    assert len(imports) == len(example.imports), "the README shows each import"
    assert any(line.startswith("smartflow item explain ") for line in shown)
    assert any(line.startswith("smartflow kanban ") for line in shown)
    for line in example.refusal[:1]:
        assert line in readme, "the README shows the refused move's explanation"


def _make_samples():  # type: ignore[no-untyped-def]
    """examples/make_samples.py as a module (it is a script, not part of the package)."""
    if "make_samples" not in sys.modules:
        spec = importlib.util.spec_from_file_location("make_samples", EXAMPLES / "make_samples.py")
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules["make_samples"] = module  # dataclasses look their module up there
        spec.loader.exec_module(module)
    return sys.modules["make_samples"]


def _cells(path: Path) -> list[list[tuple[object, str]]]:
    """An xlsx file's first sheet as (value, number format) per cell: its content, whatever wrote the zip."""
    from openpyxl import load_workbook

    book = load_workbook(path)
    try:
        return [[(cell.value, cell.number_format) for cell in row] for row in book.worksheets[0].iter_rows()]
    finally:
        book.close()


def test_sample_files_are_what_make_samples_writes(tmp_path: Path) -> None:
    make_samples = _make_samples()
    make_samples.main(tmp_path)
    written = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*") if p.is_file())
    assert len(written) == 2 * len(make_samples.DATA)
    for relative in written:
        committed, fresh = EXAMPLES / relative, tmp_path / relative
        same = committed.read_bytes() == fresh.read_bytes() if relative.suffix == ".csv" \
            else _cells(committed) == _cells(fresh)
        assert same, f"examples/{relative} differs from what examples/make_samples.py writes: run it again"


def test_xlsx_cells_are_typed_and_hold_the_csv_rows() -> None:
    from openpyxl import load_workbook

    make_samples = _make_samples()
    for data in make_samples.DATA:
        base = EXAMPLES / data.path
        with base.with_suffix(".csv").open(encoding="utf-8", newline="") as handle:
            text_rows = list(csv.reader(handle))
        book = load_workbook(base.with_suffix(".xlsx"), read_only=True)
        cells = [list(row) for row in book.worksheets[0].iter_rows(values_only=True)]
        book.close()
        assert [str(h) for h in cells[0]] == text_rows[0]
        assert len(cells) == len(text_rows)
        for position, (header, kind) in enumerate(data.columns):
            values = [row[position] for row in cells[1:] if row[position] is not None]
            if kind in (make_samples.DATE, make_samples.DATETIME):
                assert values and all(isinstance(v, (date, datetime)) for v in values), header
            if kind in (make_samples.MONEY, make_samples.INTEGER, make_samples.NUMBER):
                assert values and all(isinstance(v, (int, float)) for v in values), header
