"""Benchmark: moves per second with 0, 1 and 5 synchronous trigger actions per move, as a ratio to the plain move.

Four processes with the same fields and stages are deployed side by side; only their triggers differ.
Each move is one `Engine.move` (one transaction) of an item between stages `a` and `b`; a trigger on
entering either stage runs its actions in that same transaction:

- plain: no triggers;
- 1 action: a `comment` (one history row, its template rendered in the sandbox, in-process: it
  cannot loop or call);
- 1 action in a child: the same with a `replace` filter, so its template is rendered in a child
  process of the evaluator's pool (a round trip per move);
- 5 actions: five `comment`s;
- 5 mixed actions: `set` (an update of the item, with its history row and its own events), `comment`,
  `notify` (an outbox row), `webhook` (an outbox row, its JSON body rendered and parsed), `comment`;
- 1 delayed action: `after: 1h` — the move only writes the job row (for comparison; not synchronous).

The sides alternate in rounds and each figure is the median over the rounds, so a drift of the machine
shows on all of them. It runs on SQLite (a file in a temporary folder) and, given --pg URL (or
$SMARTFLOW_TEST_DATABASE_URL), on PostgreSQL in a fresh schema dropped afterwards; the tables go to
stdout and to --out (bench/RESULTS_automation.md).

    python3 bench/bench_automation.py [--pg URL] [--ops 1000] [--rounds 5] [--items 20] [--out FILE]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import sqlalchemy as sa

from smartflow import Engine
from smartflow.definitions.convert import to_yaml
from smartflow.deploy import apply as deploy

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_runtime import database  # a fresh SQLite file or PostgreSQL schema

COMMENT = {"comment": "moved to {{ stage }} (version {{ version }}) by {{ user }}"}
# a filter outside the linear few: evaluated in a child process of the evaluator's pool
COMMENT_IN_CHILD = {"comment": "moved to {{ stage|replace('_', ' ') }} (version {{ version }}) by {{ user }}"}
MIXED = [
    {"set": {"note": "moved to {{ stage }} at version {{ version }}"}},
    COMMENT,
    {"notify": {"users": ["assigned_to", "created_by"], "roles": ["manager"], "subject": "{{ title }}",
                "message": "{{ title }} is now in {{ stage }}"}},
    {"webhook": {"url": "https://hooks.example.com/moves",
                 "body": '{"id": {{ id }}, "title": {{ title|tojson }}, "stage": "{{ stage }}"}'}},
    COMMENT,
]
SIDES: dict[str, tuple[str, list[dict[str, Any]], str | None]] = {
    # side → (process id, actions per move, after)
    "plain": ("m0", [], None),
    "1 action": ("m1", [COMMENT], None),
    "1 action in a child": ("m1child", [COMMENT_IN_CHILD], None),
    "5 actions": ("m5", [COMMENT] * 5, None),
    "5 mixed actions": ("m5mix", MIXED, None),
    "1 delayed action": ("m1later", [COMMENT], "1h"),
}


def process(process_id: str, actions: list[dict[str, Any]], after: str | None) -> dict[str, Any]:
    triggers = []
    for stage in ("a", "b") if actions else ():
        trigger: dict[str, Any] = {"id": f"on_{stage}", "on": "stage_entered", "stage": stage,
                                   "do": json.loads(json.dumps(actions))}  # no shared objects: no YAML aliases
        if after:
            trigger["after"] = after
        triggers.append(trigger)
    return {"kind": "Process", "id": process_id, "title": process_id,
            "fields": {"note": {"type": "text"}, "amount": {"type": "integer"}},
            "pipelines": {"main": {"title": "Main", "default": True, "stages": {
                "a": {"title": "A"}, "b": {"title": "B"},
                "done": {"title": "Done", "semantic": "success"}, "lost": {"title": "Lost", "semantic": "failure"}}}},
            "triggers": triggers, "permissions": {"manager": "all"}}


def deploy_all(url: str, folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for process_id, actions, after in SIDES.values():
        (folder / f"{process_id}.yaml").write_text(to_yaml(process(process_id, actions, after)), encoding="utf-8")
    deploy.apply(deploy.load_desired([folder]), url)


def alternate(rounds: int, sides: dict[str, Callable[[], float]]) -> dict[str, float]:
    """The median seconds per move of each side, the sides taking turns (order reversed every other round)."""
    times: dict[str, list[float]] = {name: [] for name in sides}
    for r in range(rounds):
        for name in (list(sides) if r % 2 == 0 else list(reversed(sides))):
            times[name].append(sides[name]())
    return {name: statistics.median(found) for name, found in times.items()}


def run(url: str, folder: Path, ops: int, rounds: int, items: int) -> tuple[dict[str, float], dict[str, int]]:
    deploy_all(url, folder)
    crm = Engine(url)
    try:
        crm.add_user("bench", "Bench", ["manager"])
        crm = crm.as_user("bench")
        pools: dict[str, list[list[Any]]] = {}  # side → [[item id, its stage], …]
        for side, (process_id, _, _) in SIDES.items():
            pools[side] = [[crm.create(process_id, {"title": f"{side} {n}", "amount": n}, stage="a"), "a"]
                           for n in range(items)]
        per_round = max(1, ops // rounds)

        def mover(side: str) -> Callable[[], float]:
            process_id, pool, turn = SIDES[side][0], pools[side], [0]

            def measure() -> float:
                start = time.perf_counter()
                for _ in range(per_round):
                    entry = pool[turn[0] % len(pool)]
                    turn[0] += 1
                    entry[1] = "b" if entry[1] == "a" else "a"
                    crm.move(process_id, entry[0], entry[1])
                return (time.perf_counter() - start) / per_round

            return measure

        for side in SIDES:  # warm up: pools open, statements and templates compiled
            for _ in range(3):
                mover(side)()
        results = alternate(rounds, {side: mover(side) for side in SIDES})
        with crm._db.connect() as connection:  # proof that the actions ran: what they wrote
            written = {
                "comments": connection.execute(sa.text("SELECT count(*) FROM sf_history WHERE kind = 'comment'"))
                .scalar_one(),
                "outbox": connection.execute(sa.text("SELECT count(*) FROM sf_outbox")).scalar_one(),
                "jobs": connection.execute(sa.text("SELECT count(*) FROM sf_jobs")).scalar_one()}
        return results, {k: int(v) for k, v in written.items()}
    finally:
        crm.close()


def table(results: dict[str, float]) -> list[str]:
    plain = results["plain"]
    lines = ["| each move runs | moves/s | ms per move | speed as a ratio to the plain move |",
             "| --- | ---: | ---: | ---: |"]
    for side, seconds in results.items():
        lines.append(f"| {side} | {1 / seconds:,.0f} | {seconds * 1000:.2f} | {plain / seconds:.2f}x |")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pg", default=os.environ.get("SMARTFLOW_TEST_DATABASE_URL"),
                        help="PostgreSQL URL (default: $SMARTFLOW_TEST_DATABASE_URL; none: SQLite only)")
    parser.add_argument("--ops", type=int, default=1000, help="moves measured per side")
    parser.add_argument("--rounds", type=int, default=5, help="rounds the sides alternate in")
    parser.add_argument("--items", type=int, default=20, help="items each side moves in turn")
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "RESULTS_automation.md")
    args = parser.parse_args()

    lines = ["# Automation benchmark: moves per second with synchronous trigger actions", "",
             f"`python3 bench/bench_automation.py --ops {args.ops} --rounds {args.rounds} --items {args.items}` "
             f"on {datetime.now(UTC):%Y-%m-%d}: Python {sys.version.split()[0]}, SQLAlchemy {sa.__version__}, "
             f"{platform.system()} {platform.machine()}, {os.cpu_count()} CPUs. Each figure is the median over the "
             "rounds of one `Engine.move` per transaction; the ratio is the plain move's time divided by the "
             "side's (1.00x = as fast as a move without triggers).", ""]
    backends = [("SQLite", None)] + ([("PostgreSQL", args.pg)] if args.pg else [])
    for name, base in backends:
        with tempfile.TemporaryDirectory() as tmp, database(base) as url:
            print(f"{name}: {args.ops} moves per side in {args.rounds} rounds …", flush=True)
            results, written = run(url, Path(tmp) / "defs", args.ops, args.rounds, args.items)
        body = table(results)
        print("\n".join(body), flush=True)
        print(f"  (written by the actions: {written})", flush=True)
        server = ""
        if base is not None:
            engine = sa.create_engine(base)
            with engine.connect() as connection:
                server = " " + str(connection.execute(sa.text("SHOW server_version")).scalar_one())
            engine.dispose()
        else:
            import sqlite3

            server = " " + sqlite3.sqlite_version
        lines += [f"## {name}{server}", "", *body, "",
                  f"Written by the actions during the run: {written['comments']} comments, "
                  f"{written['outbox']} outbox messages, {written['jobs']} jobs.", ""]
    args.out.write_text("\n".join(lines), encoding="utf-8")
    print(f"written to {args.out}")


if __name__ == "__main__":
    main()
