"""Three real `smartflow worker` processes on PostgreSQL, killed with SIGKILL in the middle of jobs.

Each job writes a comment and queues a webhook to a receiver on 127.0.0.1. While the three work,
the test kills (kill -9) a worker that is running a job, starts another in its place, and does so
again: the job a dead worker held stays `running` under its lease and is run again, once, by
another worker after the lease (5 s here) has run out. At the end every job is done once (one
comment per item, attempts 2 for the orphans), every webhook was delivered, and
the receiver saw each delivery's Idempotency-Key, duplicates (a worker killed between sending and
committing) only as repeats of a key it already had.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from tests.automation.support import ROLES, SYSTEM, Auto, Clock, process
from tests.automation.test_worker import Receiver

JOBS = 150
LEASE = 5.0  # seconds
KILLS = 2  # orphaned jobs to make
# evaluated in a child process (a call and a loop): a few milliseconds, so a job is often mid-run
SLOW = "range(2000) | map('string') | list | length > 0"


def _chaos(port: int) -> dict[str, Any]:
    return process("chaos", {}, [{"id": "later", "on": "created", "after": "1m", "when": SLOW, "do": [
        {"comment": "job for {{ id }}"},
        {"webhook": {"url": f"http://127.0.0.1:{port}/ok", "body": '{"id": {{ id }}}'}},
    ]}], "new")


def _seed(auto: Auto, count: int) -> list[int]:
    """count items, each with one `later` job due now (real time): the first made by the runtime."""
    first = auto.admin.create("chaos", {"title": "item 0"})
    [template] = auto.jobs("chaos", first)
    jobs = SYSTEM["sf_jobs"]
    table = sa.Table("p_chaos", sa.MetaData(), autoload_with=auto.raw)
    due = datetime.now(UTC) - timedelta(seconds=1)
    with auto.raw.begin() as connection:
        row = dict(connection.execute(sa.select(table).where(table.c.id == first)).mappings().one())
        del row["id"]
        inserted = connection.execute(table.insert().returning(table.c.id),
                                      [{**row, "title": f"item {n}"} for n in range(1, count)])
        ids = [first, *(int(i) for i in inserted.scalars())]
        copy = {k: v for k, v in template.items() if k not in ("id", "item_id", "due_at")}
        connection.execute(sa.update(jobs).values(due_at=due))
        connection.execute(jobs.insert(), [{**copy, "item_id": i, "due_at": due} for i in ids[1:]])
    return ids


def _start(url: str, name: str, folder: Path) -> subprocess.Popen[bytes]:
    """A `smartflow worker` process; its connections carry its name (application_name) for pg_stat_activity."""
    named = sa.engine.make_url(url).update_query_dict({"application_name": name}).render_as_string(
        hide_password=False)
    with open(folder / f"{name}.log", "wb") as log:  # the child keeps its own copy of the descriptor
        return subprocess.Popen(
            [sys.executable, "-m", "smartflow", "worker", "--db", named, "--name", name, "--lease", str(LEASE),
             "--interval", "0.2", "--batch", "10", "--allow-host", "127.0.0.1"],
            stdout=log, stderr=subprocess.STDOUT)


def _wait_for(check: Any, seconds: float) -> Any:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.01)
    return check()


def test_three_workers_killed_mid_job_run_each_job_exactly_once(db_url: str, tmp_path: Path) -> None:
    if db_url.startswith("sqlite"):
        pytest.skip("several workers need PostgreSQL (SQLite serialises writers: run one worker there)")
    receiver = Receiver()
    auto = Auto(db_url, tmp_path / "defs", ROLES, _chaos(receiver.port), clock=Clock())
    workers: dict[str, subprocess.Popen[bytes]] = {}
    try:
        ids = _seed(auto, JOBS)
        for n in range(3):
            workers[f"w{n}"] = _start(db_url, f"w{n}", tmp_path)
        orphans: dict[int, str] = {}  # job id → the worker killed while running it
        for attempt in range(12):
            if len(orphans) >= KILLS:
                break
            busy = _wait_for(lambda: auto.select(
                "SELECT locked_by FROM sf_jobs WHERE status = 'running' AND locked_by = ANY(:names) LIMIT 1",
                names=[n for n, w in workers.items() if w.poll() is None]), 60)
            assert busy, "no worker was running a job"
            victim = busy[0]["locked_by"]
            workers[victim].send_signal(signal.SIGKILL)
            assert workers[victim].wait(timeout=30) == -signal.SIGKILL
            # until the server has ended the dead worker's sessions: a COMMIT it had sent is then done
            assert _wait_for(lambda name=victim: auto.scalar("SELECT count(*) = 0 FROM pg_stat_activity "
                                                             "WHERE application_name = :name", name=name), 30)
            for row in auto.select("SELECT id FROM sf_jobs WHERE status = 'running' AND locked_by = :name",
                                   name=victim):
                orphans[row["id"]] = victim
            workers[f"r{attempt}"] = _start(db_url, f"r{attempt}", tmp_path)  # three at work again
        assert len(orphans) >= 1, "no kill landed in the middle of a job"

        def finished() -> bool:
            jobs = auto.scalar("SELECT count(*) FROM sf_jobs WHERE status = 'done'")
            sent = auto.scalar("SELECT count(*) FROM sf_outbox WHERE status = 'sent'")
            return bool(jobs == JOBS and sent == JOBS)

        assert _wait_for(finished, 120), (auto.select("SELECT status, count(*) FROM sf_jobs GROUP BY status"),
                                          [(tmp_path / f"{n}.log").read_text() for n in workers])
    finally:
        for worker in workers.values():
            if worker.poll() is None:
                worker.send_signal(signal.SIGTERM)
        for worker in workers.values():
            try:
                worker.wait(timeout=30)
            except subprocess.TimeoutExpired:
                worker.kill()
                worker.wait()
        receiver.close()
    try:
        jobs = {row["id"]: row for row in auto.select("SELECT id, status, attempts, locked_by FROM sf_jobs")}
        assert {row["status"] for row in jobs.values()} == {"done"}
        for job_id, victim in orphans.items():  # run again, by another worker, after the lease
            # 2 attempts, or 3 when the worker that took it over was killed too (a batch holds up to
            # 50 jobs, so a later kill may land on a taken-over one); the comments prove it ran once
            assert jobs[job_id]["attempts"] >= 2 and jobs[job_id]["locked_by"] != victim, jobs[job_id]
        # Other jobs may show attempts 2 too, without having run twice: on a loaded machine a live
        # worker can stall between leasing a job and taking its row for longer than the lease, and
        # then another takes the job over; the stalled one finds it gone and leaves it (the comments
        # below prove each job ran once).
        comments = auto.select("SELECT item_id, count(*) AS n FROM sf_history WHERE kind = 'comment' "
                               "GROUP BY item_id")
        assert {c["item_id"] for c in comments} == set(ids) and {c["n"] for c in comments} == {1}
        keys = [r["headers"]["Idempotency-Key"] for r in receiver.requests]
        assert len(set(keys)) == JOBS  # one delivery per job's webhook, as the receiver dedupes them
        assert sorted({r["body"]["id"] for r in receiver.requests}) == sorted(ids)
        assert len(keys) - len(set(keys)) <= len(workers) - 3  # a repeat only where a worker was killed
    finally:
        auto.close()
