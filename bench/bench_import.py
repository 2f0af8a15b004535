"""Benchmark: importing a CSV file against raw bulk inserts of the same rows, in the same run.

    python3 bench/bench_import.py [--db URL] [--rows 100000] [--rounds 3] [--memory] [--totals-off]

The file has --rows rows of the benchmark's deal process (bench_data.py): title, code (unique),
money, enum, integer, date, boolean, text, user, stage. Each round loads it into a fresh
deployment three ways, and each figure is the median over the rounds of the round's own ratio
(speed of smartflow ÷ speed of the raw load):

- smartflow: `Engine.import_file` of the CSV, as `smartflow import` runs it: every cell parsed,
  every rule of a create checked, history rows written;
- raw executemany: SQLAlchemy Core `connection.execute(table.insert(), rows)` of the same rows,
  already typed in memory, in one transaction (no parsing, no checks, no history);
- raw COPY (PostgreSQL): psycopg's `COPY … FROM STDIN` of the same typed rows.

With --totals-off, each load of a round is also run into a deployment whose board-totals triggers
(compile/totals.py) were dropped — the load as it was before the database kept the board's counts
and sums — in alternating order, and a second table gives each load's time with the triggers over
its time without them (the median of the rounds' own ratios).

With --memory, the peak resident set of a fresh process importing 10% of the rows and all of
them (flat memory: about the same). Without --db it runs on a SQLite file in a temporary folder;
with a PostgreSQL URL it works in fresh schemas that it drops afterwards.
"""

from __future__ import annotations

import argparse
import csv
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))


from bench_data import _definition, database, item_rows  # the deal process, its rows, a fresh deployment

from smartflow.compile import totals
from smartflow.compile.sql import build_metadata
from smartflow.db import make_engine

HEADERS = ["title", "code", "amount", "kind", "quantity", "due", "urgent", "supplier", "assigned_to", "stage"]


def write_file(path: Path, count: int) -> None:
    """The CSV a person would import: the same rows as the raw loads, written as text."""
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(HEADERS)
        for row in item_rows(count):
            writer.writerow([row["title"], row["code"], f"{row['amount'] / 100:.2f} {row['amount__currency']}",
                             row["kind"], row["quantity"], row["due"].isoformat(), str(row["urgent"]).lower(),
                             row["supplier"], f"user{row['assigned_to'] - 1}", row["stage"]])


def drop_totals(url: str) -> None:
    """The board-totals triggers of the deal process dropped (its totals then no longer kept)."""
    engine = make_engine(url)
    try:
        with engine.begin() as connection:
            for statement in totals.drop_statements("deal", connection.dialect.name, function=True):
                connection.exec_driver_sql(statement)
    finally:
        engine.dispose()


def load_smartflow(url: str, source: Path) -> float:
    from smartflow import Engine
    from smartflow.data.importer import ImportOptions, import_file

    with Engine(url, via="import") as crm:
        start = time.perf_counter()
        result = import_file(crm, "deal", source, ImportOptions())
        elapsed = time.perf_counter() - start
    assert result.failed_rows == 0 and result.created > 0, result.problems[:3]
    return elapsed


def _typed_rows(count: int) -> list[dict[str, Any]]:
    return list(item_rows(count))


def load_executemany(url: str, rows: list[dict[str, Any]]) -> float:
    table = build_metadata(_definition()).tables["p_deal"]
    engine = make_engine(url)
    try:
        start = time.perf_counter()
        with engine.begin() as connection:
            connection.execute(table.insert(), rows)
        return time.perf_counter() - start
    finally:
        engine.dispose()


def load_copy(url: str, rows: list[dict[str, Any]]) -> float:
    table = build_metadata(_definition()).tables["p_deal"]
    columns = list(rows[0])
    engine = make_engine(url)
    try:
        start = time.perf_counter()
        with engine.begin() as connection:
            cursor = connection.connection.dbapi_connection.cursor()
            names = ", ".join(f'"{c}"' for c in columns)
            with cursor.copy(f'COPY "{table.name}" ({names}) FROM STDIN') as copy:
                for row in rows:
                    copy.write_row([row[c] for c in columns])
        return time.perf_counter() - start
    finally:
        engine.dispose()


def peak_rss(url: str, source: Path) -> float:
    """MB of peak resident memory of a fresh process importing source."""
    code = ("import sys, resource; sys.path[:0] = sys.argv[1:3]; import bench_import as b; from pathlib import Path; "
            "b.load_smartflow(sys.argv[3], Path(sys.argv[4])); "
            "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)")
    here = str(Path(__file__).resolve().parent)
    out = subprocess.run([sys.executable, "-c", code, here, str(Path(here).parent), url, str(source)],
                         check=True, capture_output=True, text=True).stdout
    return int(out.split()[-1]) / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", default=None, help="PostgreSQL URL (default: a SQLite file)")
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--memory", action="store_true")
    parser.add_argument("--totals-off", action="store_true",
                        help="also load with the board-totals triggers dropped, and compare")
    args = parser.parse_args()
    postgres = args.db is not None and args.db.startswith("postgresql")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        source = folder / "deals.csv"
        write_file(source, args.rows)
        rows = _typed_rows(args.rows)
        ratios: dict[str, list[float]] = {"executemany": [], "copy": []}
        times: dict[str, list[float]] = {"smartflow": [], "executemany": [], "copy": []}
        for _ in range(args.rounds):
            with database(args.db, folder) as url:
                ours = load_smartflow(url, source)
            with database(args.db, folder) as url:
                raw = load_executemany(url, rows)
            times["smartflow"].append(ours)
            times["executemany"].append(raw)
            ratios["executemany"].append(raw / ours)
            if postgres:
                with database(args.db, folder) as url:
                    copied = load_copy(url, rows)
                times["copy"].append(copied)
                ratios["copy"].append(copied / ours)
        backend = "PostgreSQL" if postgres else "SQLite"
        print(f"{backend}, {args.rows:,} rows, {args.rounds} rounds (medians; ratio = speed of smartflow ÷ speed of "
              "the raw load)")
        print("| load | seconds | rows/s | smartflow's speed as a ratio |")
        print("| --- | ---: | ---: | ---: |")
        print(f"| smartflow import (CSV) | {statistics.median(times['smartflow']):.2f} | "
              f"{args.rows / statistics.median(times['smartflow']):,.0f} | |")
        for name in ("executemany", "copy"):
            if times[name]:
                label = "raw Core executemany" if name == "executemany" else "raw COPY"
                print(f"| {label} | {statistics.median(times[name]):.2f} | "
                      f"{args.rows / statistics.median(times[name]):,.0f} | {statistics.median(ratios[name]):.2f}× |")
        if args.totals_off:
            upkeep(args.db, folder, source, rows, args.rounds, postgres)
        if args.memory:
            small = folder / "small.csv"
            write_file(small, args.rows // 10)
            with database(args.db, folder) as url:
                low = peak_rss(url, small)
            with database(args.db, folder) as url:
                high = peak_rss(url, source)
            print(f"peak RSS: {low:.0f} MB importing {args.rows // 10:,} rows, {high:.0f} MB importing "
                  f"{args.rows:,}")


def upkeep(base: str | None, folder: Path, source: Path, rows: list[dict[str, Any]], rounds: int,
           postgres: bool) -> None:
    """Each load with the board-totals triggers and without them, alternating which goes first."""
    loads = {"smartflow import (CSV)": lambda url: load_smartflow(url, source),
             "raw Core executemany": lambda url: load_executemany(url, rows)}
    if postgres:
        loads["raw COPY"] = lambda url: load_copy(url, rows)
    found: dict[str, dict[bool, list[float]]] = {name: {True: [], False: []} for name in loads}
    for round_number in range(rounds):
        for name, load in loads.items():
            for kept in ((True, False) if round_number % 2 == 0 else (False, True)):
                with database(base, folder) as url:
                    if not kept:
                        drop_totals(url)
                    found[name][kept].append(load(url))
    print("\nthe board's totals kept by triggers, or not (medians; ratio: the median of the rounds' own ratios)")
    print("| load | with the triggers | without | with ÷ without |")
    print("| --- | ---: | ---: | ---: |")
    for name, times in found.items():
        ratio = statistics.median(w / o for w, o in zip(times[True], times[False], strict=True))
        print(f"| {name} | {statistics.median(times[True]):.2f} s | {statistics.median(times[False]):.2f} s | "
              f"{ratio:.2f}× |")


if __name__ == "__main__":
    main()
