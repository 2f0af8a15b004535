"""Benchmark: how create, move, a list page, the kanban board and an export grow with the table.

    python3 bench/bench_scale.py [--db URL] [--sizes 10000,100000,1000000] [--ops 300] [--rounds 3]

For each size, a fresh deployment of the benchmark's deal process (bench_data.py) is loaded with
that many items (raw Core inserts: loading is not measured; their last change spread over a year,
as on a board in use and in bench_board.py) and its statistics gathered (`ANALYZE` on SQLite, as
`PRAGMA optimize` would; `VACUUM ANALYZE` on PostgreSQL, as autovacuum would), then each
operation is timed beside
its raw SQLAlchemy Core equivalent on the same table, in the same run:

- create: `Engine.create` of one item — raw: a Core INSERT of the item row and of its history row;
- move: `Engine.move` of one item — raw: a Core UPDATE of its stage and version and a history INSERT;
- create, totals not kept; move, totals not kept: the same two, measured with the board-totals
  triggers dropped (compile/totals.py; created again and the totals rebuilt after, unmeasured) —
  what create and move cost before the database kept the board's counts and sums;
- list page: `Engine.list(pipeline=…, stage=…, limit=50)`, a kanban column as a list (sorted by id)
  — raw: the same page by a Core SELECT;
- kanban: `Engine.kanban` (per stage: count, money sums by currency, five newest cards) — raw: the
  same reads by Core, the per-stage totals the database keeps (`sf_board_totals`, summed per key)
  and one SELECT of the newest cards per stage;
- kanban by GROUP BY: raw only, the board as it was counted before the kept totals (and still is
  for a user who may not read every item): one Core GROUP BY over the pipeline's items for the
  counts and sums, and the same cards — for comparison, in the "raw Core" column;
- export: `Engine.export` of every item to CSV — raw: a Core SELECT of the same columns, streamed,
  written by the csv module.

Each figure is the median over --rounds of one operation's time (create, move, list, kanban: the
mean over --ops calls); "× raw" is smartflow's time over the raw time of the same round, "growth"
the time at this size over the time at the first size (flat ≈ 1, linear ≈ the size ratio).
Without --db it runs on SQLite files in a temporary folder; with a PostgreSQL URL it works in
fresh schemas that it drops afterwards.
"""

from __future__ import annotations

import argparse
import csv
import math
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import sqlalchemy as sa
from bench_data import RAW_COLUMNS, STAGES, _definition, bulk_load, database, item_rows

from smartflow import Engine
from smartflow.compile import totals
from smartflow.compile.sql import build_metadata
from smartflow.data.export import ExportOptions
from smartflow.db import make_engine

OPERATIONS = ("create", "create, totals not kept", "move", "move, totals not kept", "list page", "kanban",
              "kanban by GROUP BY", "export")


class Raw:
    """The raw Core side: statements built once, run with parameters, one transaction per write."""

    def __init__(self, url: str) -> None:
        metadata = build_metadata(_definition())
        self.items, self.history = metadata.tables["p_deal"], metadata.tables["sf_history"]
        self.totals = metadata.tables["sf_board_totals"]
        self.engine = make_engine(url)

    def create(self, n: int) -> None:
        now = datetime.now(UTC)
        with self.engine.begin() as connection:
            item_id = connection.execute(self.items.insert(), {
                "title": f"raw {n}", "pipeline": "main", "stage": "new", "created_at": now, "updated_at": now,
                "version": 1, "amount": 100_00, "amount__currency": "RUB", "code": f"R-{n}-{random.random()}"},
            ).inserted_primary_key[0]
            connection.execute(self.history.insert(), {"process": "deal", "item_id": item_id, "at": now,
                                                       "kind": "create", "via": "api", "new": {"title": f"raw {n}"}})

    def move(self, item_id: int, stage: str) -> None:
        now = datetime.now(UTC)
        with self.engine.begin() as connection:
            connection.execute(sa.update(self.items).where(self.items.c.id == item_id).values(
                stage=stage, version=self.items.c.version + 1, moved_at=now, updated_at=now))
            connection.execute(self.history.insert(), {"process": "deal", "item_id": item_id, "at": now,
                                                       "kind": "move", "field": "stage", "new": stage, "via": "api"})

    def page(self, stage: str) -> list[Any]:
        table = self.items
        with self.engine.connect() as connection:
            return connection.execute(sa.select(*(table.c[c] for c in RAW_COLUMNS)).where(
                table.c.pipeline == "main", table.c.stage == stage, table.c.deleted_at.is_(None))
                .order_by(table.c.id).limit(50)).all()

    def kanban(self) -> list[Any]:
        kept = self.totals
        with self.engine.connect() as connection:
            sums = connection.execute(sa.select(kept.c.pipeline, kept.c.stage, kept.c.field, kept.c.currency,
                                                sa.func.sum(kept.c["items"]), sa.func.sum(kept.c.total))
                                      .where(kept.c.process == "deal", kept.c.pipeline.in_(["main", ""]))
                                      .group_by(kept.c.pipeline, kept.c.stage, kept.c.field, kept.c.currency)).all()
            return [sums, self._cards(connection)]

    def _cards(self, connection: Any) -> list[Any]:
        table = self.items
        return [connection.execute(sa.select(table.c.id, table.c.title, table.c.amount).where(
            table.c.pipeline == "main", table.c.stage == stage, table.c.deleted_at.is_(None))
            .order_by(table.c.updated_at.desc(), table.c.id.desc()).limit(5)).all() for stage in STAGES]

    def grouped_kanban(self) -> list[Any]:
        table = self.items
        with self.engine.connect() as connection:
            sums = connection.execute(sa.select(table.c.stage, table.c.amount__currency, sa.func.count(),
                                                sa.func.sum(table.c.amount))
                                      .where(table.c.pipeline == "main", table.c.deleted_at.is_(None))
                                      .group_by(table.c.stage, table.c.amount__currency)).all()
            return [sums, self._cards(connection)]

    def export(self, out: Path) -> None:
        table = self.items
        with self.engine.connect() as connection, out.open("w", encoding="utf-8-sig", newline="") as handle:
            connection = connection.execution_options(stream_results=True, yield_per=2000)
            writer = csv.writer(handle)
            writer.writerow(RAW_COLUMNS)
            for row in connection.execute(sa.select(*(table.c[c] for c in RAW_COLUMNS))
                                          .where(table.c.deleted_at.is_(None)).order_by(table.c.id)):
                writer.writerow(row)


def per_call(action: Callable[[int], Any], ops: int) -> float:
    start = time.perf_counter()
    for n in range(ops):
        action(n)
    return (time.perf_counter() - start) / ops


UPKEEP: dict[int, dict[str, float]] = {}  # size → operation → time with the totals' triggers ÷ without


def measure(url: str, folder: Path, size: int, ops: int, rounds: int) -> dict[str, tuple[float, float]]:
    """operation → (smartflow seconds, raw seconds), medians over the rounds (of per-round means)."""
    rng, now = random.Random(11), datetime.now(UTC)
    bulk_load(url, size, ({**row, "updated_at": now - timedelta(minutes=rng.randrange(0, 525_600))}
                          for row in item_rows(size)))
    raw = Raw(url)
    with raw.engine.connect() as connection:
        # VACUUM (PostgreSQL) runs outside a transaction; it clears the rows folded away from the board's totals
        statement = "ANALYZE" if connection.dialect.name == "sqlite" else "VACUUM ANALYZE"
        connection.execution_options(isolation_level="AUTOCOMMIT").exec_driver_sql(statement)
    crm = Engine(url)
    try:
        ids = random.Random(3).sample(range(1, size + 1), min(size, 2 * ops))
        stages = {item_id: "new" for item_id in ids}
        with raw.engine.begin() as connection:  # the moved items start in `new`, where every move may go
            connection.execute(sa.update(raw.items).where(raw.items.c.id.in_(ids)).values(stage="new"))
        ours_ids, raw_ids = ids[:ops], ids[ops:] or ids[:ops]

        def move(pool: list[int], mover: Callable[[int, str], Any]) -> Callable[[int], Any]:
            def one(n: int) -> None:
                item_id = pool[n % len(pool)]
                stages[item_id] = "work" if stages[item_id] == "new" else "new"
                mover(item_id, stages[item_id])
            return one

        sides: dict[str, tuple[Callable[[], float], Callable[[], float]]] = {
            "create": (lambda: per_call(lambda n: crm.create("deal", {"title": f"bench {n}", "amount": "100",
                                                                       "code": f"B-{n}-{random.random()}"}), ops),
                       lambda: per_call(raw.create, ops)),
            "move": (lambda: per_call(move(ours_ids, lambda i, s: crm.move("deal", i, s)), ops),
                     lambda: per_call(move(raw_ids, raw.move), ops)),
            "list page": (lambda: per_call(lambda n: crm.list("deal", pipeline="main", stage=STAGES[n % 4],
                                                              limit=50), ops),
                          lambda: per_call(lambda n: raw.page(STAGES[n % 4]), ops)),
            "kanban": (lambda: per_call(lambda n: crm.kanban("deal"), max(1, ops // 10)),
                       lambda: per_call(lambda n: raw.kanban(), max(1, ops // 10))),
            "kanban by GROUP BY": (lambda: math.nan,  # raw only: the board before the kept totals
                                   lambda: per_call(lambda n: raw.grouped_kanban(), max(1, ops // 10))),
            "export": (lambda: timed(lambda: crm.export("deal", folder / "ours.csv", ExportOptions(format="csv"))),
                       lambda: timed(lambda: raw.export(folder / "raw.csv"))),
        }
        for name in ("create", "move"):
            ours, theirs = sides[name]
            sides[f"{name}, totals not kept"] = (untracked(raw.engine, ours), untracked(raw.engine, theirs))
        found: dict[str, tuple[list[float], list[float]]] = {name: ([], []) for name in OPERATIONS}
        for round_number in range(rounds):
            for name in OPERATIONS:
                ours, theirs = sides[name]
                pair = (ours, theirs) if round_number % 2 == 0 else (theirs, ours)  # alternate who goes first
                first, second = pair[0](), pair[1]()
                o, r = (first, second) if round_number % 2 == 0 else (second, first)
                found[name][0].append(o)
                found[name][1].append(r)
        for name in ("create", "move"):  # what keeping the totals adds: the median of the rounds' own ratios
            kept, not_kept = found[name][0], found[f"{name}, totals not kept"][0]
            UPKEEP.setdefault(size, {})[name] = statistics.median(k / n for k, n in zip(kept, not_kept, strict=True))
        return {name: (statistics.median(o), statistics.median(r)) for name, (o, r) in found.items()}
    finally:
        crm.close()
        raw.engine.dispose()


def untracked(engine: Any, measure: Callable[[], float]) -> Callable[[], float]:
    """measure, run with the deal process's board-totals triggers dropped (then rebuilt and created again)."""
    process = _definition().processes[0]

    def run() -> float:
        with engine.begin() as connection:
            for statement in totals.drop_statements("deal", connection.dialect.name):
                connection.exec_driver_sql(statement)
        try:
            return measure()
        finally:
            with engine.begin() as connection:
                for statement in [*totals.rebuild_statements(process),
                                  *totals.create_statements(process, connection.dialect.name)]:
                    connection.exec_driver_sql(statement)
    return run


def timed(action: Callable[[], Any]) -> float:
    start = time.perf_counter()
    action()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", default=None, help="PostgreSQL URL (default: SQLite files)")
    parser.add_argument("--sizes", default="10000,100000,1000000")
    parser.add_argument("--ops", type=int, default=300, help="calls timed per side and round (kanban: a tenth)")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    backend = "PostgreSQL" if args.db else "SQLite"
    results: dict[int, dict[str, tuple[float, float]]] = {}
    print(f"{backend}: sizes {', '.join(f'{s:,}' for s in sizes)}; {args.ops} calls, {args.rounds} rounds", flush=True)
    print("| items | operation | smartflow | raw Core | × raw | growth (smartflow, raw) |")
    print("| ---: | --- | ---: | ---: | ---: | --- |")
    for size in sizes:
        with tempfile.TemporaryDirectory() as tmp, database(args.db, Path(tmp)) as url:
            started = time.perf_counter()
            results[size] = measure(url, Path(tmp), size, args.ops, args.rounds)
            for name in OPERATIONS:
                ours, raw = results[size][name]
                first_ours, first_raw = results[sizes[0]][name]
                unit = 1 if name == "export" else 1000
                label = "s" if name == "export" else "ms"
                if math.isnan(ours):  # raw only
                    print(f"| {size:,} | {name} | — | {raw * unit:.2f} {label} | — | —, {raw / first_raw:.1f}× |",
                          flush=True)
                    continue
                print(f"| {size:,} | {name} | {ours * unit:.2f} {label} | {raw * unit:.2f} {label} | "
                      f"{ours / raw:.2f}× | {ours / first_ours:.1f}×, {raw / first_raw:.1f}× |", flush=True)
            print(f"<!-- {size:,} items measured in {time.perf_counter() - started:.0f} s; keeping the board's "
                  f"totals: create {UPKEEP[size]['create']:.2f}×, move {UPKEEP[size]['move']:.2f}× the time without "
                  "(median of the rounds' own ratios) -->", flush=True)


if __name__ == "__main__":
    main()
