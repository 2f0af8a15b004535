"""Start-up cost of the `smartflow` command, as a ratio to `python -c pass` in the same run.

    python3 bench/bench_startup.py [--rounds 15]

Each command runs as a fresh process, the rounds interleaved so machine load hits all alike;
a figure is the median over the rounds of the command's CPU time (user + system, from wait4:
less sensitive than wall time to other processes on a shared machine) divided by the same
round's `python -c pass`. Wall-clock ratios are printed beside. The floors are what a command
cannot go under: importing click (every command) and SQLAlchemy (every command that opens a
database). `item list` / `item show` run against a scratch SQLite database with one item.
"""

from __future__ import annotations

import argparse
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15)
    args = parser.parse_args()
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
        "smartflow --help": [*smartflow, "--help"],
        "smartflow item list": [*smartflow, "item", "list", "procurement", "--db", database],
        "smartflow item show": [*smartflow, "item", "show", "procurement", "1", "--db", database],
    }
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
    print("| command | CPU × `python -c pass` | wall × `python -c pass` |")
    print("| --- | --- | --- |")
    for name in commands:
        cpu_ratio = statistics.median(c / b for c, b in zip(cpus[name], base_cpu, strict=True))
        wall_ratio = statistics.median(w / b for w, b in zip(walls[name], base_wall, strict=True))
        print(f"| {name} | {cpu_ratio:.2f}× | {wall_ratio:.2f}× |")


if __name__ == "__main__":
    main()
