"""Start-up cost of the `smartflow` command, as a ratio to `python -c pass` and to its floors, in the same run.

    python3 bench/bench_startup.py [--rounds 15]

Each command runs as a fresh process, the rounds interleaved so machine load hits all alike;
a figure is the median over the rounds of the command's CPU time (user + system, from wait4:
less sensitive than wall time to other processes on a shared machine) divided by the same
round's `python -c pass`, or by the same round's floor. Wall-clock ratios are printed beside.
The floors are what a command cannot go under:

- `--help`: a bare click group with the same commands (names and summaries) and the same
  settings, run with `--help`: click alone, nothing of smartflow;
- `item list` / `item show`: a script that imports SQLAlchemy, opens the same database and reads its
  schema (`SELECT count(*) FROM sqlite_master`): SQLite reads a database file (its header, the WAL, the
  schema) at the first statement that needs it, and `SELECT 1` needs none, so a floor of `SELECT 1`
  never read the file, which any query of a table must (1.5–2.5 ms, measured).

`item list` / `item show` run against a scratch SQLite database with one item. smartflow's bytecode is
compiled first, as an installed package has it (pip compiles a wheel's modules when it installs them,
and Python writes them on the first import unless PYTHONDONTWRITEBYTECODE says not to): without it,
each run would compile smartflow's modules from source, about 0.25 s, while its floors' SQLAlchemy
and click load theirs from their installed bytecode.
"""

from __future__ import annotations

import argparse
import compileall
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PY = sys.executable


def run(command: list[str], cwd: str) -> tuple[float, float]:
    """(wall seconds, CPU seconds) of one run of command."""
    start = time.perf_counter()
    process = subprocess.Popen(command, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - start
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        raise SystemExit(f"{' '.join(command)} exited with {process.returncode}")
    return wall, usage.ru_utime + usage.ru_stime


def bare_click_group() -> str:
    """The source of a script: a click group with smartflow's commands (names, summaries) and settings,
    run with --help; the command table is read here, so the script imports nothing of smartflow."""
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from smartflow.cli.main import COMMANDS, main

    commands = {name: summary for name, (_, summary) in COMMANDS.items()}
    return (
        "import click\n"
        f"@click.group(context_settings={main.context_settings!r})\n"
        "@click.version_option('0.1.0', prog_name='smartflow')\n"
        "def main():\n"
        f"    {main.help!r}\n"
        f"for name, summary in {commands!r}.items():\n"
        "    main.add_command(click.Command(name, help=summary))\n"
        "main(['--help'], prog_name='smartflow')\n"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15)
    args = parser.parse_args()
    compileall.compile_dir(Path(__file__).resolve().parent.parent / "smartflow", quiet=2)
    scratch = tempfile.mkdtemp(prefix="smartflow-startup-")
    processes = Path(__file__).resolve().parent.parent / "processes"
    database = "sqlite:///" + str(Path(scratch) / "bench.db")
    smartflow = [PY, "-m", "smartflow"]
    subprocess.run([*smartflow, "apply", str(processes), "--db", database], check=True, stdout=subprocess.DEVNULL)
    subprocess.run([*smartflow, "item", "create", "procurement", "--db", database, "--set", "title=Concrete",
                    "--set", "estimate=1480000"], check=True, stdout=subprocess.DEVNULL)
    commands = {
        "python -c pass": [PY, "-c", "pass"],
        "floor: import click": [PY, "-c", "import click"],
        "floor: import sqlalchemy": [PY, "-c", "import sqlalchemy"],
        "floor: a bare click group's --help": [PY, "-c", bare_click_group()],
        "floor: SQLAlchemy opens the database": [PY, "-c", (
            "import sqlalchemy as sa\n"
            f"with sa.create_engine({database!r}).connect() as c:\n"
            "    c.exec_driver_sql('SELECT count(*) FROM sqlite_master').all()")],
        "smartflow --help": [*smartflow, "--help"],
        "smartflow item list": [*smartflow, "item", "list", "procurement", "--db", database],
        "smartflow item show": [*smartflow, "item", "show", "procurement", "1", "--db", database],
    }
    floors = {"smartflow --help": "floor: a bare click group's --help",
              "smartflow item list": "floor: SQLAlchemy opens the database",
              "smartflow item show": "floor: SQLAlchemy opens the database"}
    walls: dict[str, list[float]] = {name: [] for name in commands}
    cpus: dict[str, list[float]] = {name: [] for name in commands}
    try:
        for _ in range(args.rounds):
            for name, command in commands.items():
                wall, cpu = run(command, scratch)
                walls[name].append(wall)
                cpus[name].append(cpu)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    base_wall, base_cpu = walls["python -c pass"], cpus["python -c pass"]
    print(f"{args.rounds} rounds; python -c pass: {statistics.median(base_cpu) * 1000:.0f} ms CPU, "
          f"{statistics.median(base_wall) * 1000:.0f} ms wall (medians)")
    print("| command | CPU × `python -c pass` | wall × `python -c pass` | CPU × its floor | wall × its floor |")
    print("| --- | --- | --- | --- | --- |")

    def ratio(values: list[float], bases: list[float]) -> float:
        return statistics.median(v / b for v, b in zip(values, bases, strict=True))

    for name in commands:
        floor = floors.get(name)
        versus = (f"{ratio(cpus[name], cpus[floor]):.2f}× | {ratio(walls[name], walls[floor]):.2f}×" if floor
                  else "— | —")
        print(f"| {name} | {ratio(cpus[name], base_cpu):.2f}× | {ratio(walls[name], base_wall):.2f}× | {versus} |")
    print(f"\nload average {os.getloadavg()[0]:.1f} at the end")


if __name__ == "__main__":
    main()
