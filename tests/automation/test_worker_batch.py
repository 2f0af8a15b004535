"""The worker's batches, on SQLite and PostgreSQL: due jobs leased together in one transaction in due
order, run together in a second one with a savepoint each (a job that fails leaves the others' results
intact), a batch whose worker was killed (by SIGKILL, a real OS process) taken over after its lease one
job at a time, and the jobs a batch did not reach in time put back as they were.

Time is the fake clock of tests/automation/support.py; each test deploys a database of its own.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from smartflow.automation import worker
from smartflow.automation.worker import LEASE, Tally
from smartflow.deploy import apply as deploy
from tests.automation.support import ROLES, Auto, Clock, process
from tests.automation.test_worker import _hold_a_job
from tests.dbutil import statements
from tests.runtime.support import write_definitions

# Each job comments, then moves its item to `gate`, which requires `memo`: an item without a memo makes
# its job fail, and the job's comment must go with it.
GATED = process("gated", {"memo": {"type": "text"}}, [
    {"id": "later", "on": "created", "after": "1m", "do": [{"comment": "job for {{ title }}"}, {"move": "gate"}]},
], "new", "gate", required={"gate": ["memo"]})


@pytest.fixture
def auto(db_url: str, tmp_path: Path) -> Iterator[Auto]:
    deployed = Auto(db_url, tmp_path / "defs", ROLES, GATED, clock=Clock())
    yield deployed
    deployed.close()


def _items(auto: Auto, *memos: str) -> list[int]:
    """One item per memo ("" for none), a minute apart: their jobs fall due in this order."""
    made = []
    for number, memo in enumerate(memos):
        made.append(auto.admin.create("gated", {"title": f"заявка {number}", **({"memo": memo} if memo else {})}))
        auto.clock.advance(minutes=1)
    return made


def _job(auto: Auto, item: int) -> dict[str, Any]:
    [job] = auto.jobs("gated", item)
    return job


def test_due_jobs_are_leased_together_in_due_order_and_finished_in_one_statement(auto: Auto) -> None:
    items = _items(auto, "a", "b", "c", "d", "e")
    # created at +0…+4 min, each due a minute later; the clock is at +5 min: back to +4.5, four are due
    auto.clock.advance(seconds=-30)
    with statements(lambda sql: "sf_jobs" in sql and sql.lstrip().upper().startswith("UPDATE")) as updates:
        tally = Tally()
        leased = worker.lease_jobs(auto.admin, "w1", tally, size=3)
        assert leased is not None and leased[0] == [_job(auto, i)["id"] for i in items[:3]]
        assert worker.run_jobs(auto.admin, "w1", leased, tally) is None
    # one UPDATE leases the three, one (an executemany) writes their outcomes
    assert len(updates) == 2
    assert (tally.done, tally.failed, tally.errors) == (3, 0, [])
    done, rest = [_job(auto, i) for i in items[:3]], [_job(auto, i) for i in items[3:]]
    assert {(j["status"], j["attempts"], j["locked_by"]) for j in done} == {("done", 1, "w1")}
    assert len({j["locked_at"] for j in done}) == 1  # one lease
    assert [j["status"] for j in rest] == ["pending", "pending"]
    assert [auto.items("gated")[n]["stage"] for n in range(5)] == ["gate", "gate", "gate", "new", "new"]
    leased = worker.lease_jobs(auto.admin, "w1", tally, size=3)
    assert leased is not None and leased[0] == [_job(auto, items[3])["id"]]  # the fifth is not due yet
    assert worker.run_jobs(auto.admin, "w1", leased, tally, then=3) is None
    assert _job(auto, items[4])["status"] == "pending"
    assert worker.lease_jobs(auto.admin, "w1", tally, size=3) is None


def test_the_next_batch_is_leased_in_the_transaction_that_finishes_one(auto: Auto) -> None:
    items = _items(auto, "a", "b", "c", "d", "e")
    tally = Tally()
    leased = worker.lease_jobs(auto.admin, "w1", tally, size=2)
    assert leased is not None
    following = worker.run_jobs(auto.admin, "w1", leased, tally, then=2)
    # committed with the first two's outcomes, before the next two run: their attempt is counted
    assert following is not None and following[0] == [_job(auto, i)["id"] for i in items[2:4]]
    assert [(j["status"], j["attempts"]) for j in (_job(auto, i) for i in items)] == [
        ("done", 1), ("done", 1), ("running", 1), ("running", 1), ("pending", 0)]
    last = worker.run_jobs(auto.admin, "w1", following, tally, then=2)
    assert last is not None and last[0] == [_job(auto, items[4])["id"]]
    assert worker.run_jobs(auto.admin, "w1", last, tally, then=2) is None
    assert tally.done == 5 and {(j["status"], j["attempts"]) for j in auto.jobs("gated")} == {("done", 1)}


def test_a_lone_job_s_outcome_and_the_next_lease_are_one_statement(auto: Auto) -> None:
    """A trickle (every lease finds one job): the outcome of the job run and the lease of the next due one are
    one UPDATE on both databases (PostgreSQL: two data-modifying CTEs; SQLite: one UPDATE choosing per row)."""
    items = _items(auto, "a", "b", "c")
    tally = Tally()
    leased = worker.lease_jobs(auto.admin, "w1", tally, size=1)
    assert leased is not None and leased[0] == [_job(auto, items[0])["id"]]
    with statements(lambda sql: "sf_jobs" in sql and sql.lstrip().upper().startswith(("UPDATE", "WITH"))) as seen:
        following = worker.run_jobs(auto.admin, "w1", leased, tally, then=1)
    assert len(seen) == 1
    assert following is not None and following[0] == [_job(auto, items[1])["id"]]
    assert following[2][0]["attempts"] == 1 and following[2][0]["item_id"] == items[1]
    assert [(j["status"], j["attempts"], j["locked_by"]) for j in (_job(auto, i) for i in items)] == [
        ("done", 1, "w1"), ("running", 1, "w1"), ("pending", 0, None)]
    last = worker.run_jobs(auto.admin, "w1", following, tally, then=1)
    assert last is not None and last[0] == [_job(auto, items[2])["id"]]
    assert worker.run_jobs(auto.admin, "w1", last, tally, then=1) is None
    assert tally.done == 3 and {(j["status"], j["attempts"]) for j in auto.jobs("gated")} == {("done", 1)}


def test_a_deploy_between_two_jobs_of_a_trickle_runs_the_second_under_it(auto: Auto, tmp_path: Path) -> None:
    """The lease taken with a lone job's outcome saw the deployed version, and the next job's transaction
    runs under it without reading it again; a deploy that came in between is seen by that transaction's
    last statement, and the job runs again, under the new version, before anything of it is committed."""
    items = _items(auto, "a", "b", "c")
    tally = Tally()
    leased = worker.lease_jobs(auto.admin, "w1", tally, size=1)
    assert leased is not None
    following = worker.run_jobs(auto.admin, "w1", leased, tally, then=1)
    assert following is not None and following.seen is not None
    version = auto.scalar("SELECT max(id) FROM sf_versions")
    assert following.seen[0] == version
    changed = [{**trigger, "do": [{"comment": "v2: {{ title }}"}]} for trigger in GATED["triggers"]]
    deploy.apply(write_definitions(tmp_path / "v2", ROLES, {**GATED, "triggers": changed}), auto.url)
    last = worker.run_jobs(auto.admin, "w1", following, tally, then=1)
    assert last is not None and last.seen is not None and last.seen[0] == version + 1
    # and when the transaction leases nothing more (its last statement writes the outcome alone)
    changed = [{**trigger, "do": [{"comment": "v3: {{ title }}"}]} for trigger in GATED["triggers"]]
    deploy.apply(write_definitions(tmp_path / "v3", ROLES, {**GATED, "triggers": changed}), auto.url)
    assert worker.run_jobs(auto.admin, "w1", last, tally, then=0) is None
    assert [auto.comments("gated", item) for item in items] == [["job for заявка 0"], ["v2: заявка 1"],
                                                                 ["v3: заявка 2"]]
    assert tally.done == 3 and {(j["status"], j["attempts"]) for j in auto.jobs("gated")} == {("done", 1)}


def test_an_event_subscription_made_between_two_jobs_of_a_trickle_hears_the_second(auto: Auto) -> None:
    """The lease also saw that no outbound event subscription existed; one bound in between is seen by the
    next job's transaction before it commits, and the job's move is published to it."""
    items = _items(auto, "a", "b")
    tally = Tally()
    leased = worker.lease_jobs(auto.admin, "w1", tally, size=1)
    assert leased is not None
    following = worker.run_jobs(auto.admin, "w1", leased, tally, then=1)
    assert following is not None and following.seen is not None and following.seen[1] is False
    auto.admin.subscribe("updated", "onCrmDynamicItemUpdate", "http://127.0.0.1:9/hook", allow_hosts={"127.0.0.1"})
    assert worker.run_jobs(auto.admin, "w1", following, tally, then=1) is None
    published = [json.loads(row["payload"]) if isinstance(row["payload"], str) else row["payload"]
                 for row in auto.rows("sf_outbox")]
    assert [message["form"]["data"]["FIELDS"]["ID"] for message in published] == [items[1]], published
    assert tally.done == 2


def test_a_pass_of_the_worker_runs_on_one_connection(auto: Auto) -> None:
    """work() holds one connection for its transactions (a lease, a transaction per job, the outbox), a job
    that fails (its transaction rolled back, run again carefully) included."""
    _items(auto, "a", "", "b", "c")
    auto.clock.advance(minutes=5)
    checkouts: list[Any] = []
    sa.event.listen(auto.admin._db, "checkout", lambda *args: checkouts.append(args))
    tally = auto.admin.work("w1", claim=1)
    assert (tally.done, tally.failed) == (3, 1)
    assert len(checkouts) == 1
    assert {(j["status"], j["attempts"]) for j in auto.jobs("gated")} == {("done", 1), ("failed", 1)}


def test_a_pass_after_the_first_asks_the_catalogue_nothing(auto: Auto) -> None:
    """What a pass needs to know of the schema (whether to-dos and event subscriptions exist) is learnt once per
    deployed version: an idle worker polls every second, and a catalogue query costs more than the poll."""
    _items(auto, "a")
    auto.clock.advance(minutes=5)
    assert auto.admin.work("w1").done == 1
    asked: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if any(word in statement for word in ("pg_catalog", "PRAGMA", "sqlite_master", "sqlite_schema")):
            asked.append(statement)

    sa.event.listen(auto.admin._db, "before_cursor_execute", record)
    try:
        _items(auto, "b")
        auto.clock.advance(minutes=5)
        assert auto.admin.work("w1").done == 1
        assert auto.admin.work("w1").total == 0
    finally:
        sa.event.remove(auto.admin._db, "before_cursor_execute", record)
    assert asked == []


def test_a_job_that_fails_in_a_batch_keeps_the_others_results(auto: Auto) -> None:
    items = _items(auto, "есть", "", "yes", "", "да")
    auto.clock.advance(minutes=5)
    tally = Tally()
    leased = worker.lease_jobs(auto.admin, "w1", tally, size=10)
    assert leased is not None and len(leased[0]) == 5
    worker.run_jobs(auto.admin, "w1", leased, tally)
    assert (tally.done, tally.failed) == (3, 2)
    assert len(tally.errors) == 2 and all("memo" in error for error in tally.errors), tally.errors
    stages = {row["id"]: row["stage"] for row in auto.items("gated")}
    for item, ok in zip(items, (True, False, True, False, True), strict=True):
        job = _job(auto, item)
        if ok:
            assert (job["status"], job["last_error"], stages[item]) == ("done", None, "gate")
            assert auto.comments("gated", item) == [f"job for заявка {items.index(item)}"]
        else:  # nothing of the failed job is written: neither its comment nor its move
            assert job["status"] == "failed" and "memo" in job["last_error"]
            assert (stages[item], auto.comments("gated", item)) == ("new", [])
    assert auto.drain().total == 0


def test_a_batch_leased_by_a_worker_that_died_is_taken_over_after_its_lease_one_job_at_a_time(auto: Auto) -> None:
    items = _items(auto, "a", "b", "c")
    auto.clock.advance(minutes=5)
    # a worker leases the three and dies before running them (its lease committed, nothing else)
    assert worker.lease_jobs(auto.admin, "dead", Tally(), LEASE, size=10) is not None
    assert {(j["status"], j["attempts"], j["locked_by"]) for j in auto.jobs("gated")} == {("running", 1, "dead")}
    assert auto.admin.work("survivor").total == 0  # the lease still holds
    auto.clock.advance(seconds=LEASE.total_seconds() + 1)
    for _ in items:  # each orphan alone: one that killed its worker cannot take the others down again
        tally = Tally()
        leased = worker.lease_jobs(auto.admin, "survivor", tally, LEASE, size=10, orphans=True)
        assert leased is not None and len(leased[0]) == 1
        worker.run_jobs(auto.admin, "survivor", leased, tally)
        assert tally.done == 1
    assert {(j["status"], j["attempts"], j["locked_by"]) for j in auto.jobs("gated")} == {("done", 2, "survivor")}
    assert [auto.comments("gated", i) for i in items] == [[f"job for заявка {n}"] for n in range(3)]


def test_a_worker_killed_mid_batch_writes_nothing_and_each_job_runs_once_after_the_lease(db_url: str,
                                                                                        auto: Auto) -> None:
    items = _items(auto, "a", "b", "c")
    now = auto.clock.advance(minutes=5)
    context = multiprocessing.get_context("spawn")
    ready = context.Event()
    doomed = context.Process(target=_hold_a_job, args=(db_url, now, ready))  # hangs inside the first job
    doomed.start()
    try:
        assert ready.wait(timeout=60), "the doomed worker never reached the job"
        assert {(j["status"], j["attempts"], j["locked_by"]) for j in auto.jobs("gated")} == {("running", 1, "doomed")}
    finally:
        os.kill(doomed.pid, signal.SIGKILL)
        doomed.join(timeout=30)
    assert doomed.exitcode == -signal.SIGKILL
    assert [auto.comments("gated", i) for i in items] == [[], [], []]  # the first job's comment was not committed
    auto.clock.advance(seconds=LEASE.total_seconds() + 1)
    done, deadline = 0, time.monotonic() + 30
    while done < len(items) and time.monotonic() < deadline:  # until the server has noticed the dead connection
        done += auto.admin.work("survivor").done
        if done < len(items):
            time.sleep(0.05)
    assert done == len(items)
    assert {(j["status"], j["attempts"], j["locked_by"]) for j in auto.jobs("gated")} == {("done", 2, "survivor")}
    assert [auto.comments("gated", i) for i in items] == [[f"job for заявка {n}"] for n in range(3)]


def test_jobs_a_batch_did_not_reach_in_time_go_back_to_the_queue_uncounted(auto: Auto,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    items = _items(auto, "a", "b", "c")
    auto.clock.advance(minutes=5)
    monkeypatch.setattr(worker, "BATCH_SECONDS", -1.0)  # out of time after the first job
    tally = Tally()
    leased = worker.lease_jobs(auto.admin, "w1", tally, size=10)
    assert leased is not None and len(leased[0]) == 3
    worker.run_jobs(auto.admin, "w1", leased, tally)
    assert tally.done == 1
    jobs = [_job(auto, i) for i in items]
    assert [(j["status"], j["attempts"]) for j in jobs] == [("done", 1), ("pending", 0), ("pending", 0)]
    leased = worker.lease_jobs(auto.admin, "w1", tally, size=10)  # due as before: taken at once
    assert leased is not None and len(leased[0]) == 2
    worker.run_jobs(auto.admin, "w1", leased, tally)
    assert [_job(auto, i)["status"] for i in items] == ["done", "done", "pending"]
    monkeypatch.setattr(worker, "BATCH_SECONDS", 5.0)
    assert auto.drain().done == 1
    assert {(j["status"], j["attempts"]) for j in auto.jobs("gated")} == {("done", 1)}


@pytest.mark.parametrize("survivor_ran_it", [False, True])
@pytest.mark.parametrize("leased_together", [1, 2])
def test_a_lease_taken_over_before_its_batch_ran_is_not_run_twice(auto: Auto, leased_together: int,
                                                                 survivor_ran_it: bool) -> None:
    """A worker that stalls past its lease finds, when it writes the outcomes, that another worker took a
    job over (and is running it, or has run it): what it ran of the batch is rolled back, and it runs only
    the jobs still its own."""
    items = _items(auto, "a", "b")
    auto.clock.advance(minutes=5)
    stalled = worker.lease_jobs(auto.admin, "stalled", Tally(), LEASE, size=leased_together)
    assert stalled is not None and len(stalled.ids) == leased_together
    auto.clock.advance(seconds=LEASE.total_seconds() + 1)
    # another worker takes the first job over (an orphan, alone)
    survivor = worker.lease_jobs(auto.admin, "survivor", Tally(), LEASE, size=1, orphans=True)
    assert survivor is not None and survivor.ids == [_job(auto, items[0])["id"]]
    if survivor_ran_it:
        worker.run_jobs(auto.admin, "survivor", survivor, Tally())
    tally = Tally()
    following = worker.run_jobs(auto.admin, "stalled", stalled, tally, then=5)
    assert tally.done == leased_together - 1  # only the job still leased to it
    if not survivor_ran_it:
        assert _job(auto, items[0])["status"] == "running"
        worker.run_jobs(auto.admin, "survivor", survivor, Tally())
    if following is not None:
        worker.run_jobs(auto.admin, "stalled", following, tally)
    assert [auto.comments("gated", i) for i in items] == [["job for заявка 0"], ["job for заявка 1"]]
    assert [(j["status"], j["attempts"]) for j in (_job(auto, i) for i in items)] == [("done", 2), ("done", 1)]


def test_a_batch_with_a_failure_runs_again_carefully_without_running_the_failed_job_twice(
        auto: Auto, monkeypatch: pytest.MonkeyPatch) -> None:
    items = _items(auto, "a", "", "c")
    auto.clock.advance(minutes=5)
    ran: list[int] = []
    real = worker._run_job

    def counting(write: Any, job: Any, savepoint: bool = True) -> tuple[str, str | None, bool]:
        ran.append(job["item_id"])
        return real(write, job, savepoint)

    monkeypatch.setattr(worker, "_run_job", counting)
    tally = Tally()
    leased = worker.lease_jobs(auto.admin, "w1", tally, size=10)
    assert leased is not None
    worker.run_jobs(auto.admin, "w1", leased, tally)
    # the first pass stops at the failing job and is rolled back; the careful pass runs the others again
    assert ran == [items[0], items[1], items[0], items[2]]
    assert (tally.done, tally.failed) == (2, 1)
    assert [auto.comments("gated", i) for i in items] == [["job for заявка 0"], [], ["job for заявка 2"]]


def test_without_update_returning_jobs_are_leased_read_back_and_run_once(auto: Auto) -> None:
    """SQLite before 3.35 has no UPDATE … RETURNING: the worker then picks the due jobs, leases them with one
    UPDATE (an executemany) and reads them back, in the same transaction. This database has RETURNING; the
    dialect is told it has not, before the worker builds its statements, so that path runs here."""
    dialect = auto.admin._db.dialect
    assert dialect.update_returning  # SQLite 3.35+ and PostgreSQL: the path every other test takes
    items = _items(auto, "a", "b", "", "c")
    auto.clock.advance(minutes=5)
    dialect.update_returning = False
    try:
        with statements(lambda sql: "sf_jobs" in sql and "RETURNING" in sql.upper()) as returning:
            tally = Tally()
            leased = worker.lease_jobs(auto.admin, "w1", tally, size=2)
            assert leased is not None and leased[0] == [_job(auto, i)["id"] for i in items[:2]]
            assert [row["item_id"] for row in leased[2]] == items[:2]  # the rows read back, in due order
            following = worker.run_jobs(auto.admin, "w1", leased, tally, then=2)
            assert following is not None and following[0] == [_job(auto, i)["id"] for i in items[2:]]
            assert worker.run_jobs(auto.admin, "w1", following, tally, then=2) is None
        assert returning == []
    finally:
        dialect.update_returning = True
    assert (tally.done, tally.failed) == (3, 1) and "memo" in tally.errors[0]
    jobs = [_job(auto, i) for i in items]
    assert [(j["status"], j["attempts"]) for j in jobs] == [("done", 1), ("done", 1), ("failed", 1), ("done", 1)]
    assert [auto.comments("gated", i) for i in items] == [
        ["job for заявка 0"], ["job for заявка 1"], [], ["job for заявка 3"]]
