"""Benchmark: due jobs run per second by smartflow's worker against a raw one-job-per-transaction loop.

N due jobs (each a `comment` action: one history row) are run to the end by k worker processes
started together; between runs the jobs are put back to pending and their comments deleted. The
sides alternate in rounds (the median of the rounds is reported):

- smartflow: each process runs `Engine.work()` until nothing is due: due jobs are leased together
  in one transaction (`SELECT … FOR UPDATE SKIP LOCKED … LIMIT 50`, marked running) and run in a
  second that holds their rows and writes each job's changes in a savepoint of its own, then all
  their outcomes in one statement (automation/worker.py);
- raw: each process loops over one plain transaction with the claim of one job
  (`SELECT … FOR UPDATE SKIP LOCKED LIMIT 1` on PostgreSQL), an INSERT of the history row and an
  UPDATE of the job: the least a one-job-per-transaction queue over this table could do;
- statements (trickle mode; `--no-floor` leaves it out): smartflow's own statements for a job, built as
  the worker builds them, in a bare loop with raw Core and nothing else (statements_worker): how close
  to raw smartflow could come if its own code cost nothing. The item's read of all its columns, the
  comment's typed INSERT and the UPDATE that finishes a job and takes the next cost more than the raw
  loop's three untyped statements; that difference is the floor, not smartflow's code.

Two modes:

- backlog: all N jobs due at the start, so every lease finds a full batch;
- trickle: smartflow leases one job at a time (`claim=1`), what each job costs when jobs fall
  due one by one and every lease finds only one (the raw loop is one job at a time anyway).

After every run the table is checked: every job done once (attempts 1), one comment per job; a
mismatch ends the script with exit status 1. Several workers need PostgreSQL (SQLite serialises
writers): on SQLite one worker runs.

    python3 bench/bench_workers.py [--db URL] [--jobs 2000] [--backlog 10000] [--rounds 2] [--workers 2] [--no-floor]
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import platform
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import sqlalchemy as sa

from smartflow import Engine
from smartflow.automation import worker
from smartflow.db import make_engine
from smartflow.definitions.convert import to_yaml
from smartflow.deploy import apply as deploy
from smartflow.runtime import items

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_runtime import database  # a fresh PostgreSQL schema, dropped afterwards

PROCESS: dict[str, Any] = {
    "kind": "Process", "id": "queue", "title": "Queue", "fields": {"note": {"type": "text"}},
    "pipelines": {"main": {"title": "Main", "default": True, "stages": {
        "new": {"title": "New"}, "done": {"title": "Done", "semantic": "success"},
        "lost": {"title": "Lost", "semantic": "failure"}}}},
    "triggers": [{"id": "later", "on": "created", "after": "1m", "do": [{"comment": "job for {{ id }}"}]}],
    "permissions": {"manager": "all"},
}


def seed(url: str, count: int) -> None:
    """count items, each with one `later` job; the first made by the runtime, the rest copied from it."""
    with tempfile.TemporaryDirectory() as folder:
        (Path(folder) / "queue.yaml").write_text(to_yaml(PROCESS), encoding="utf-8")
        deploy.apply(deploy.load_desired([Path(folder)]), url)
    with Engine(url) as crm:
        crm.create("queue", {"title": "item 0"})
    raw = sa.create_engine(url)
    meta = sa.MetaData()
    items, jobs = (sa.Table(name, meta, autoload_with=raw) for name in ("p_queue", "sf_jobs"))
    with raw.begin() as connection:
        row = dict(connection.execute(sa.select(items)).mappings().one())
        job = dict(connection.execute(sa.select(jobs)).mappings().one())
        del row["id"], job["id"]
        ids = connection.execute(items.insert().returning(items.c.id),
                                 [{**row, "title": f"item {n}"} for n in range(1, count)]).scalars().all()
        connection.execute(jobs.insert(), [{**job, "item_id": i} for i in ids])
    raw.dispose()


def reset(url: str, count: int) -> None:
    """The first count jobs pending and due (the others done), no comments."""
    raw = sa.create_engine(url)
    with raw.begin() as connection:
        connection.execute(sa.text("DELETE FROM sf_history WHERE kind = 'comment'"))
        connection.execute(sa.text("UPDATE sf_jobs SET status = CASE WHEN id <= :count THEN 'pending' ELSE 'done' "
                                   "END, attempts = 0, locked_by = NULL, locked_at = NULL, due_at = :due"),
                           {"due": datetime.now(UTC) - timedelta(seconds=1), "count": count})
    with raw.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        if raw.dialect.name == "sqlite":
            connection.execute(sa.text("ANALYZE"))
        else:
            connection.execute(sa.text("VACUUM ANALYZE sf_jobs"))
            connection.execute(sa.text("VACUUM ANALYZE sf_history"))
    raw.dispose()


def check(url: str, count: int) -> list[str]:
    raw = sa.create_engine(url)
    with raw.connect() as connection:
        done, max_attempts = connection.execute(sa.text(
            "SELECT count(*), max(attempts) FROM sf_jobs WHERE status = 'done' AND id <= :count"),
            {"count": count}).one()
        comments, items = connection.execute(sa.text(
            "SELECT count(*), count(DISTINCT item_id) FROM sf_history WHERE kind = 'comment'")).one()
    raw.dispose()
    problems = []
    if done != count or max_attempts != 1:
        problems.append(f"{done} of {count} jobs done, attempts up to {max_attempts}")
    if comments != count or items != count:
        problems.append(f"{comments} comments on {items} items for {count} jobs")
    return problems


def smartflow_worker(url: str, name: str, claim: int, barrier: Any, results: Any) -> None:
    with Engine(url) as crm:
        crm.jobs(limit=1)  # pool open, definitions compiled before the start
        barrier.wait(timeout=120)
        done = 0
        while True:
            tally = crm.work(name, batch=100, claim=claim)
            done += tally.done
            if tally.total == 0:
                break
    results.put(done)


def raw_worker(url: str, name: str, _claim: int, barrier: Any, results: Any) -> None:
    engine = make_engine(url)  # smartflow's connection settings (on SQLite: WAL, synchronous=NORMAL, BEGIN IMMEDIATE)
    lock = "" if url.startswith("sqlite") else " FOR UPDATE SKIP LOCKED"
    claim = sa.text("SELECT id, item_id FROM sf_jobs WHERE status = 'pending' AND due_at <= :now "
                    "ORDER BY due_at, id LIMIT 1" + lock)
    comment = sa.text("INSERT INTO sf_history (process, item_id, at, kind, new, via) "
                      "VALUES ('queue', :item, :now, 'comment', :text, 'trigger:queue.later')")
    finish = sa.text("UPDATE sf_jobs SET status = 'done', attempts = attempts + 1, locked_by = :name, "
                     "locked_at = :now WHERE id = :id")
    with engine.connect() as connection:
        connection.execute(sa.text("SELECT 1"))
        connection.commit()
        barrier.wait(timeout=120)
        done = 0
        while True:
            with connection.begin():
                now = datetime.now(UTC)
                job = connection.execute(claim, {"now": now}).first()
                if job is None:
                    break
                connection.execute(comment, {"item": job.item_id, "now": now, "text": f'"job for {job.item_id}"'})
                connection.execute(finish, {"name": name, "now": now, "id": job.id})
            done += 1
    engine.dispose()
    results.put(done)


def statements_worker(url: str, name: str, _claim: int, barrier: Any, results: Any) -> None:
    """The floor under smartflow's trickle: the statements smartflow's worker runs for a job, as it builds
    them (the item's SELECT, the comment's INSERT into sf_history, the UPDATE … RETURNING that finishes
    the job and leases the next), executed by a bare loop with raw Core, each job in one transaction:
    no trigger, no template, no rules, no bookkeeping. What smartflow would cost if its own code cost nothing."""
    with Engine(url) as crm, crm.session(False) as write:
        statements = worker._statements(write)
        select_item = items.unfiltered_statement(write.compiled.processes["queue"])
        insert_comment = write.compiled.tables["sf_history"].insert()
        version, sqlite = write.compiled.version, write.sqlite
    engine = make_engine(url)  # the raw loop's connection settings
    with engine.connect() as connection:
        connection.execute(sa.text("SELECT 1"))
        connection.commit()
        barrier.wait(timeout=120)
        leased = datetime.now(UTC)  # locked_at of the job taken: its outcome is written only while it holds
        with connection.begin():  # the first lease, as the worker's first transaction takes it
            taken = connection.execute(statements["take"], {"_now": leased, "_limit": 1, "_worker": name}).all()
        done = 0
        while taken:
            job = taken[0]
            with connection.begin():
                now = datetime.now(UTC)
                item = connection.execute(select_item, {"_item_id": job.item_id}).first()
                connection.execute(insert_comment, {
                    "process": "queue", "item_id": item.id, "at": now, "actor_id": None, "kind": "comment",
                    "field": None, "old": None, "new": f"job for {item.id}", "via": "trigger:queue.later",
                    "definition_version": version})
                found = connection.execute(statements["finish_take"], {
                    "_id": job.id, "_worker": name, "_leased": leased,
                    "_status": "done", "_last_error": None, "_due_at": job.due_at, "_attempts": job.attempts,
                    "_now": now, "_limit": 1}).all()
            # SQLite: a row per job changed, the one finished flagged; PostgreSQL: one row, the job taken's id or None
            taken = [row for row in found if not row._finished] if sqlite else [row for row in found
                                                                                 if row.id is not None]
            leased = now
            done += 1
    engine.dispose()
    results.put(done)


def run(url: str, side: str, workers: int, count: int, claim: int) -> float:
    """Seconds for `workers` processes of one side to run all count jobs."""
    reset(url, count)
    context = multiprocessing.get_context("spawn")
    barrier, results = context.Barrier(workers + 1), context.Queue()
    target = {"smartflow": smartflow_worker, "raw": raw_worker, "statements": statements_worker}[side]
    processes = [context.Process(target=target, args=(url, f"{side}{n}", claim, barrier, results))
                 for n in range(workers)]
    for process in processes:
        process.start()
    barrier.wait(timeout=120)
    started = time.perf_counter()
    done = [results.get(timeout=1800) for _ in processes]
    elapsed = time.perf_counter() - started
    for process in processes:
        process.join(timeout=60)
    problems = check(url, count)
    if sum(done) != count:
        problems.append(f"the workers reported {sum(done)} jobs done of {count}")
    if problems:
        print(f"MISMATCH ({side}, {workers} workers): " + "; ".join(problems), file=sys.stderr)
        sys.exit(1)
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", "--pg", dest="db", default=os.environ.get("SMARTFLOW_TEST_DATABASE_URL"),
                        help="a PostgreSQL URL (a fresh schema is made and dropped) or `sqlite` (a temporary file)")
    parser.add_argument("--jobs", type=int, default=2000, help="due jobs in trickle mode")
    parser.add_argument("--backlog", type=int, default=10000, help="due jobs in backlog mode")
    parser.add_argument("--modes", default="trickle,backlog")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--workers", type=int, default=2, help="up to this many worker processes (PostgreSQL)")
    parser.add_argument("--floor", action=argparse.BooleanOptionalAction, default=True,
                        help="in trickle mode, also run smartflow's statements alone (statements_worker)")
    args = parser.parse_args()
    if not args.db:
        parser.error("--db URL (or $SMARTFLOW_TEST_DATABASE_URL), or --db sqlite")
    sqlite = args.db == "sqlite"
    modes = {"trickle": (args.jobs, 1), "backlog": (args.backlog, worker.CLAIM)}
    modes = {name: modes[name] for name in args.modes.split(",")}
    most_workers = 1 if sqlite else args.workers
    with database(None if sqlite else args.db) as url:
        seed(url, max(count for count, _ in modes.values()))
        with sa.create_engine(url).connect() as connection:
            server = connection.exec_driver_sql("SELECT sqlite_version()" if sqlite else "SHOW server_version").scalar()
        print(f"`python3 bench/bench_workers.py --db {'sqlite' if sqlite else 'URL'} --jobs {args.jobs} --backlog "
              f"{args.backlog} --rounds {args.rounds} --workers {most_workers}` on {datetime.now(UTC):%Y-%m-%d}: "
              f"Python {platform.python_version()}, {'SQLite' if sqlite else 'PostgreSQL'} {server}, "
              f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} at the start. Median over the rounds "
              "of the time for k processes to run the due jobs; each job writes one comment.\n", flush=True)
        times: dict[tuple[str, str, int], list[float]] = {}
        for round_number in range(args.rounds):
            sides = ("raw", "smartflow", "statements") if round_number % 2 == 0 else ("statements", "smartflow", "raw")
            for mode, (count, claim) in modes.items():
                for workers in range(1, most_workers + 1):
                    for side in sides:
                        if side == "statements" and (mode != "trickle" or not args.floor):
                            continue
                        elapsed = run(url, side, workers, count, claim)
                        times.setdefault((mode, side, workers), []).append(elapsed)
                        print(f"  round {round_number + 1}, {mode}, {side}, {workers} workers: {count / elapsed:,.0f} "
                              f"jobs/s (load average {os.getloadavg()[0]:.1f})", file=sys.stderr, flush=True)
        print("| mode | due jobs | workers | raw jobs/s | smartflow jobs/s | smartflow as a ratio to raw "
              "| smartflow vs its 1 worker | smartflow's statements alone (the floor), as a ratio to raw |")
        print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
        for mode, (count, _) in modes.items():
            single = count / statistics.median(times[(mode, "smartflow", 1)])
            for workers in range(1, most_workers + 1):
                raw = count / statistics.median(times[(mode, "raw", workers)])
                ours = count / statistics.median(times[(mode, "smartflow", workers)])
                floor = times.get((mode, "statements", workers))
                alone = f"{count / statistics.median(floor) / raw:.2f}x" if floor else "-"
                print(f"| {mode} | {count:,} | {workers} | {raw:,.0f} | {ours:,.0f} | {ours / raw:.2f}x "
                      f"| {ours / single:.2f}x | {alone} |")
        print(f"\nEvery run checked: every job done once (attempts 1), one comment per job; load average "
              f"{os.getloadavg()[0]:.1f} at the end.")


if __name__ == "__main__":
    main()
