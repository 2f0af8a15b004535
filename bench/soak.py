"""Soak test: concurrent creates, moves and worker jobs on PostgreSQL for a bounded time, then an audit.

Client processes create items and move their own items new → work → done for --seconds; entering
`work` queues a delayed job (`after: 1m`, a condition evaluated in the sandbox's child process, a
comment); creating an item runs a synchronous trigger (a comment). Worker processes run the jobs
meanwhile (`Engine.work_forever`, the loop `smartflow worker` runs, with a clock one minute and a
half ahead so the delayed jobs come due at once); every --kill-every seconds one worker is killed
with SIGKILL and another started, so jobs are left `running` under a dead worker's lease (2 s).
When the clients stop, the workers drain the queue; then the audit compares what the clients were
told succeeded with what the database holds:

- item rows = creates reported; `create` history rows = creates; creation comments = creates;
- `move` history rows = moves reported; job rows = moves into `work` reported;
- every job ended `done` or `dropped` (none pending, running or failed: none lost);
- on every item, job comments = its done jobs (none run twice, none missed).

It prints the figures and exits with status 1 on any mismatch (2 when it could not run).

    python3 bench/soak.py [--pg URL] [--seconds 120] [--short] [--clients 3] [--workers 3] [--kill-every 10]
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import random
import signal
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import sqlalchemy as sa

from smartflow import Engine
from smartflow.definitions.convert import to_yaml
from smartflow.deploy import apply as deploy

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_runtime import database  # a fresh PostgreSQL schema, dropped afterwards

MAX_SECONDS = 300
LEASE = 2.0
AHEAD = timedelta(seconds=90)  # the workers' clock: `after: 1m` jobs are due as soon as they exist
DRAIN_SECONDS = 120

PROCESS: dict[str, Any] = {
    "kind": "Process", "id": "soak", "title": "Soak", "fields": {"note": {"type": "text"}},
    "pipelines": {"main": {"title": "Main", "default": True, "stages": {
        "new": {"title": "New"}, "work": {"title": "Work"}, "done": {"title": "Done", "semantic": "success"},
        "lost": {"title": "Lost", "semantic": "failure"}}}},
    "triggers": [
        {"id": "hello", "on": "created", "do": [{"comment": "created {{ id }}"}]},
        {"id": "later", "on": "stage_entered", "stage": "work", "after": "1m",
         "when": "range(50) | select('odd') | list | length == 25",  # a call: evaluated in a child process
         "do": [{"comment": "job for {{ id }}"}]},
    ],
    "permissions": {"manager": "all"},
}


def client(url: str, seconds: float, seed: int, results: Any) -> None:
    """Create items and move own items forward until the time is up; report what succeeded."""
    report = {"creates": 0, "moves": 0, "to_work": 0, "errors": []}
    chooser = random.Random(seed)
    stages: dict[int, str] = {}
    try:
        with Engine(url) as crm:
            deadline = time.monotonic() + seconds
            while time.monotonic() < deadline:
                movable = [i for i, stage in stages.items() if stage != "done"]
                if not movable or chooser.random() < 0.4:
                    stages[crm.create("soak", {"title": f"soak {seed}-{len(stages)}"})] = "new"
                    report["creates"] += 1
                    continue
                fresh = [i for i in movable if stages[i] == "new"]
                item = chooser.choice(fresh if fresh and chooser.random() < 0.7 else movable)
                target = "work" if stages[item] == "new" else "done"
                crm.move("soak", item, target)
                stages[item] = target
                report["moves"] += 1
                report["to_work"] += target == "work"
    except Exception as exc:  # reported, and counted as a failure of the run
        report["errors"].append(f"{type(exc).__name__}: {exc}")
    results.put(report)


def worker(url: str, name: str, stop: Any, lease: float) -> None:
    """A worker process: the loop `smartflow worker` runs, on a clock ahead by AHEAD."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    with Engine(url, clock=lambda: datetime.now(UTC) + AHEAD) as crm:
        crm.work_forever(name, 0.1, 50, None, lambda tally: None, stop.is_set, lease=lease)


def audit(url: str, reports: list[dict[str, Any]]) -> tuple[dict[str, int], list[str]]:
    told = {key: sum(r[key] for r in reports) for key in ("creates", "moves", "to_work")}
    engine = sa.create_engine(url)
    with engine.connect() as connection:
        def scalar(statement: str) -> int:
            return int(connection.execute(sa.text(statement)).scalar() or 0)

        held = {
            "item rows": scalar("SELECT count(*) FROM p_soak"),
            "create history rows": scalar("SELECT count(*) FROM sf_history WHERE kind = 'create'"),
            "creation comments": scalar("SELECT count(*) FROM sf_history WHERE kind = 'comment' "
                                        "AND new::text LIKE '%created%'"),
            "move history rows": scalar("SELECT count(*) FROM sf_history WHERE kind = 'move' AND field = 'stage'"),
            "job rows": scalar("SELECT count(*) FROM sf_jobs"),
            "jobs done": scalar("SELECT count(*) FROM sf_jobs WHERE status = 'done'"),
            "jobs dropped": scalar("SELECT count(*) FROM sf_jobs WHERE status = 'dropped'"),
            "jobs run again after a kill": scalar("SELECT count(*) FROM sf_jobs WHERE attempts > 1"),
            "job comments": scalar("SELECT count(*) FROM sf_history WHERE kind = 'comment' "
                                   "AND new::text LIKE '%job for%'"),
        }
        unfinished = connection.execute(sa.text(
            "SELECT status, count(*) FROM sf_jobs WHERE status NOT IN ('done', 'dropped') GROUP BY status")).all()
        uneven = connection.execute(sa.text(
            "SELECT j.item_id, j.done, coalesce(c.n, 0) AS comments FROM "
            "(SELECT item_id, count(*) FILTER (WHERE status = 'done') AS done FROM sf_jobs GROUP BY item_id) j "
            "LEFT JOIN (SELECT item_id, count(*) AS n FROM sf_history WHERE kind = 'comment' "
            "AND new::text LIKE '%job for%' GROUP BY item_id) c ON c.item_id = j.item_id "
            "WHERE j.done <> coalesce(c.n, 0) LIMIT 5")).all()
    engine.dispose()
    problems = []
    for name, expected in (("item rows", told["creates"]), ("create history rows", told["creates"]),
                           ("creation comments", told["creates"]), ("move history rows", told["moves"]),
                           ("job rows", told["to_work"]), ("job comments", held["jobs done"])):
        if held[name] != expected:
            problems.append(f"{name}: {held[name]}, expected {expected}")
    if unfinished:
        problems.append("jobs left unfinished: " + ", ".join(f"{status} {n}" for status, n in unfinished))
    if uneven:
        problems.append("items whose job comments differ from their done jobs (item, done, comments): "
                        + ", ".join(str(tuple(row)) for row in uneven))
    for report in reports:
        problems += [f"a client failed: {error}" for error in report["errors"]]
    return {**{f"reported {k}": v for k, v in told.items()}, **held}, problems


def pending(url: str) -> int:
    engine = sa.create_engine(url)
    with engine.connect() as connection:
        count = connection.execute(sa.text("SELECT count(*) FROM sf_jobs WHERE status IN ('pending', 'running')"))
        left = int(count.scalar() or 0)
    engine.dispose()
    return left


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pg", default=os.environ.get("SMARTFLOW_TEST_DATABASE_URL"), help="PostgreSQL URL")
    parser.add_argument("--seconds", type=float, default=120.0,
                        help=f"how long the clients run (at most {MAX_SECONDS})")
    parser.add_argument("--short", action="store_true", help="a 20-second run")
    parser.add_argument("--clients", type=int, default=3)
    parser.add_argument("--workers", type=int, default=3)
    parser.add_argument("--kill-every", type=float, default=10.0, help="seconds between kill -9 of a worker; 0: none")
    args = parser.parse_args()
    if not args.pg:
        print("soak: --pg URL (or $SMARTFLOW_TEST_DATABASE_URL) is needed: the soak runs on PostgreSQL",
              file=sys.stderr)
        return 2
    seconds = 20.0 if args.short else min(args.seconds, MAX_SECONDS)
    context = multiprocessing.get_context("spawn")
    with database(args.pg) as url, tempfile.TemporaryDirectory() as folder:
        (Path(folder) / "soak.yaml").write_text(to_yaml(PROCESS), encoding="utf-8")
        deploy.apply(deploy.load_desired([Path(folder)]), url)
        stop, results = context.Event(), context.Queue()
        workers = {f"w{n}": context.Process(target=worker, args=(url, f"w{n}", stop, LEASE))
                   for n in range(args.workers)}
        clients = [context.Process(target=client, args=(url, seconds, n, results)) for n in range(args.clients)]
        for process in [*workers.values(), *clients]:
            process.start()
        started, kills = time.monotonic(), 0
        next_kill = started + args.kill_every if args.kill_every > 0 else float("inf")
        while any(c.is_alive() for c in clients) and time.monotonic() < started + seconds + 60:
            if time.monotonic() >= next_kill:
                victim = random.choice([name for name, w in workers.items() if w.is_alive()])
                os.kill(workers[victim].pid or 0, signal.SIGKILL)
                workers[victim].join(timeout=30)
                kills += 1
                name = f"r{kills}"
                workers[name] = context.Process(target=worker, args=(url, name, stop, LEASE))
                workers[name].start()
                next_kill += args.kill_every
            time.sleep(0.1)
        reports = [results.get(timeout=60) for _ in clients]
        for process in clients:
            process.join(timeout=30)
        client_seconds = time.monotonic() - started
        drain_deadline = time.monotonic() + DRAIN_SECONDS
        while pending(url) and time.monotonic() < drain_deadline:
            time.sleep(0.5)
        stop.set()
        for process in workers.values():
            process.join(timeout=30)
            if process.is_alive():
                process.kill()
                process.join()
        figures, problems = audit(url, reports)
    print(f"soak: {seconds:g} s of {args.clients} clients and {args.workers} workers on PostgreSQL, "
          f"{kills} workers killed with SIGKILL")
    for name, value in figures.items():
        print(f"  {name}: {value}")
    changes = figures["reported creates"] + figures["reported moves"]
    print(f"  creates and moves per second: {changes / client_seconds:.1f}")
    if problems:
        for problem in problems:
            print(f"MISMATCH: {problem}", file=sys.stderr)
        return 1
    print("soak: every reported success is in the database; no job lost or run twice")
    return 0


if __name__ == "__main__":
    sys.exit(main())
