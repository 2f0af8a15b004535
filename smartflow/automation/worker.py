"""The worker: runs delayed trigger jobs when due and delivers the outbox after commit.

Any number of workers may share one PostgreSQL database. Due jobs are first leased, up to CLAIM
at a time in due order: a worker takes due rows (`SELECT … FOR UPDATE SKIP LOCKED`), marks them
`running` under its name, counts the attempt, and commits. It then runs them in a second
transaction that holds their rows, each job in a savepoint of its own (a job that fails leaves
nothing of itself written and the others' results intact), and commits the jobs' changes together
with their outcomes and the lease of the next due batch: a busy worker spends one transaction per
batch. A worker killed mid-batch leaves nothing of the batch written and its rows `running` under
its lease; when the lease has run out, other workers take them one at a time and run them again,
once. A job that kills its worker every time is failed after JOB_ATTEMPTS. A job whose condition
or template was stopped by a limit (time, memory) runs again after a backoff, JOB_ATTEMPTS times
in all. On SQLite one worker at a time (writers are serialised).

Notifications are delivered into users' inboxes in the claiming transaction: exactly once.
Webhooks are sent over HTTP before that transaction commits: if the worker dies between the
two, the webhook is sent again, so each request carries an `Idempotency-Key` the receiver
can use to drop the duplicate. Failed webhooks are retried with exponential backoff. E-mail
notifications (automation/mail.py) are sent the same way, one outbox message per reader: a server
that is down or answers 4xx is tried again with backoff, a 5xx refusal fails the message at once,
and a copy sent again after a crash carries the same Message-ID.
"""

from __future__ import annotations

import http.client
import json
import smtplib
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import field
from datetime import datetime, timedelta
from typing import Any, NamedTuple

import sqlalchemy as sa

from smartflow.automation import mail, outbound
from smartflow.automation.triggers import Chain, moved_since, run_trigger
from smartflow.definitions.sandbox import EvaluationStopped
from smartflow.errors import InvalidValue, ItemError
from smartflow.records import record
from smartflow.runtime import notices, timeline
from smartflow.runtime.compiled import built, deployed_columns
from smartflow.runtime.items import Sessions, fetch_unfiltered
from smartflow.runtime.rules import context

MAX_ATTEMPTS = 5  # deliveries of an outbox message
JOB_ATTEMPTS = 3  # runs of a job stopped by a limit, or whose worker died running it
MAX_CHAIN = 32  # causes followed back from a failure
LEASE = timedelta(seconds=60)  # a running job whose worker has not finished it by then is taken over
BACKOFF = timedelta(seconds=30)
CLAIM = 50  # due jobs leased and run together: one lease and one commit for all of them
BATCH_SECONDS = 5.0  # a batch's jobs not reached by then go back to the queue (its rows and items stay locked)
TIMEOUT = 5.0
MAX_RESPONSE = 64 * 1024
REMIND_EVERY = 60.0  # seconds between a running worker's looks for to-dos gone overdue

Sender = Callable[[str, str, dict[str, str], bytes, float], int]


@record
class Tally:
    """What one pass of the worker did."""

    done: int = 0
    dropped: int = 0
    failed: int = 0
    sent: int = 0
    retried: int = 0  # outbox messages to deliver again
    postponed: int = 0  # jobs stopped by a limit, to run again after a backoff
    reminded: int = 0  # to-dos gone overdue whose responsible people were told
    errors: list[str] = field(default_factory=list)

    @property
    def total(self) -> int:
        return self.done + self.dropped + self.failed + self.sent + self.retried + self.postponed + self.reminded


def _claim(write: Any, table: sa.Table, due_column: Any) -> Any:
    query = (sa.select(table).where(table.c.status == "pending", due_column <= write.now)
             .order_by(due_column, table.c.id).limit(1))
    if not write.sqlite:
        query = query.with_for_update(skip_locked=True)
    return write.connection.execute(query).mappings().first()


# ---- jobs ----------------------------------------------------------------------------


class Lease(NamedTuple):
    """The jobs a worker leased: their ids in due order, the time of the lease, and their rows as the
    lease left them (read back by the statement that leased them). seen: the deployed version and whether
    an outbound event subscription existed, read by the statement that took the lease (a lone job's
    outcome and the next lease, see _statements); the jobs' transaction then need not read them again,
    and checks them instead in its own last statement (see _run_batch)."""

    ids: list[int]
    at: datetime
    rows: list[dict[str, Any]]
    seen: tuple[int, bool] | None = None


class _Stale(Exception):
    """The jobs ran under the version their lease saw, and a deploy (or a new event subscription) came
    since: rolled back whole, they run again under the version read anew."""


class _Careful(Exception):
    """A batch run without savepoints met a failure, or a job whose lease had been taken over: it is rolled
    back whole and run again with a savepoint per job. known: the outcome of the job that failed, which is
    not run twice."""

    def __init__(self, known: dict[int, tuple[str, str | None, bool]]) -> None:
        super().__init__("run the batch again, carefully")
        self.known = known


def _statements(write: Any) -> dict[str, Any]:
    """The worker's statements on sf_jobs, built once per deployed version (building one costs
    SQLAlchemy more than running it)."""
    jobs = write.compiled.tables["sf_jobs"]

    def build() -> dict[str, Any]:
        # what Engine.session reads first (services/engine.py), read instead by the statement that finishes a
        # lone job and takes the next: the next job's transaction is spared that round trip
        seen = deployed_columns(sa.inspect(write.connection).has_table("sf_event_bindings"))

        def due(condition: Any, *columns: Any) -> Any:
            # each answered by the (status, due_at) index, where one query with an OR would scan the table
            query = sa.select(*columns).where(condition).order_by(jobs.c.due_at, jobs.c.id).limit(
                sa.bindparam("_limit"))
            return query if write.sqlite else query.with_for_update(skip_locked=True)

        pending = sa.and_(jobs.c.status == "pending", jobs.c.due_at <= sa.bindparam("_now"))
        # what running a job reads of its row
        running = (jobs.c.id, jobs.c.process, jobs.c.item_id, jobs.c.trigger, jobs.c.due_at, jobs.c.attempts,
                   jobs.c.payload, jobs.c.last_error)
        leasing = {"status": "running", "attempts": jobs.c.attempts + 1, "locked_by": sa.bindparam("_worker"),
                   "locked_at": sa.bindparam("_now")}
        outcome = {name: sa.bindparam(f"_{name}") for name in ("status", "last_error", "due_at", "attempts")}
        statements = {
            "seen": sa.select(*seen),
            "orphans": due(sa.and_(jobs.c.status == "running", jobs.c.locked_at <= sa.bindparam("_now")),
                           jobs.c.id, jobs.c.status, jobs.c.attempts, jobs.c.locked_by),
            "pending": due(pending, jobs.c.id),
            "lease": sa.update(jobs).where(jobs.c.id == sa.bindparam("_id")).values(leasing),
            # the rows of a lease, held (FOR UPDATE) while they run: what the careful run reads again
            "leased": sa.select(*running).where(
                jobs.c.id.in_(sa.bindparam("_ids", expanding=True)), jobs.c.status == "running",
                jobs.c.locked_by == sa.bindparam("_worker"), jobs.c.locked_at == sa.bindparam("_leased"),
            ).order_by(jobs.c.due_at, jobs.c.id).with_for_update(),
            "read": sa.select(*running).where(jobs.c.id.in_(sa.bindparam("_ids", expanding=True))),
            # an outcome is written only while the lease is this worker's: a job whose lease ran out and
            # was taken over by another worker is not finished twice (see run_jobs)
            "finish": sa.update(jobs).where(
                jobs.c.id == sa.bindparam("_id"), jobs.c.status == "running",
                jobs.c.locked_by == sa.bindparam("_worker"), jobs.c.locked_at == sa.bindparam("_leased"),
            ).values(outcome),
        }
        if write.connection.dialect.update_returning:
            # the due jobs taken and leased in one statement that hands back their rows (SQLite ≥ 3.35, PostgreSQL)
            take = sa.update(jobs).where(jobs.c.id.in_(due(pending, jobs.c.id))).values(leasing)
            statements["take"] = take.returning(*running)
            if write.sqlite:
                # SQLite (no data-modifying CTE): a lone job's outcome and the next lease in one UPDATE, each
                # row set by whether it is the job finished (its outcome, only while the lease is this
                # worker's) or one taken (leased). The due jobs are chosen before any row changes (SQLite
                # evaluates the IN list once): the job just finished is running then, never taken again.
                # Its rows come back flagged `_finished`. A statement less for each job of a trickle.
                ours = jobs.c.id == sa.bindparam("_id")

                def pick(finish: Any, leased: Any) -> Any:
                    return sa.case((ours, finish), else_=leased)

                def typed(name: str, column: Any) -> Any:  # a bind inside CASE knows no type by itself
                    return sa.bindparam(name, type_=column.type)

                holder = typed("_worker", jobs.c.locked_by)  # the worker holding (or taking) the lease
                statements["finish_take"] = sa.update(jobs).where(sa.or_(
                    sa.and_(ours, jobs.c.status == "running", jobs.c.locked_by == holder,
                            jobs.c.locked_at == typed("_leased", jobs.c.locked_at)),
                    jobs.c.id.in_(due(pending, jobs.c.id)),
                )).values({
                    "status": pick(typed("_status", jobs.c.status), sa.literal("running", jobs.c.status.type)),
                    "attempts": pick(typed("_attempts", jobs.c.attempts), jobs.c.attempts + 1),
                    "locked_by": pick(jobs.c.locked_by, holder),
                    "locked_at": pick(jobs.c.locked_at, typed("_now", jobs.c.locked_at)),
                    "last_error": pick(typed("_last_error", jobs.c.last_error), jobs.c.last_error),
                    "due_at": pick(typed("_due_at", jobs.c.due_at), jobs.c.due_at),
                }).returning(*running, ours.label("_finished"), *seen)
            else:
                # PostgreSQL: a lone job's outcome and the next lease in one statement (a round trip less for
                # each job of a trickle). Both run on the statement's snapshot: the job just finished is not
                # due to be taken again in it. One row always, with the outcome's count.
                finished = statements["finish"].returning(jobs.c.id).cte("finished")
                taken = take.returning(*running).cte("taken")
                one = sa.select(sa.literal(1).label("one")).subquery("one")
                statements["finish_take"] = sa.select(
                    sa.select(sa.func.count()).select_from(finished).scalar_subquery().label("_finished"),
                    *seen, *taken.c).select_from(one.outerjoin(taken, sa.true()))
        return statements

    found: dict[str, Any] = built((jobs, "worker", write.sqlite), build)
    return found


def _take(write: Any, worker: str, lease: timedelta, size: int, orphans: bool, tally: Tally) -> Lease | None:
    """Lease up to size due jobs in write's transaction, in due order; None when none is due.

    With orphans, a job whose worker's lease ran out is looked for first, and leased alone: if it is
    what killed its worker, it cannot take a batch of other jobs down with it again (orphans are few,
    so a backlog cannot starve them). One that has had its JOB_ATTEMPTS is failed instead (then no job
    is leased).
    """
    statements = _statements(write)
    connection = write.connection
    if orphans:
        found = connection.execute(statements["orphans"], {"_now": write.now - lease, "_limit": 1}).first()
        if found is not None:
            if found.attempts >= JOB_ATTEMPTS:
                error = (f"its worker ({found.locked_by}) stopped while running it, {found.attempts} times in all; "
                         "not tried again")
                jobs = write.compiled.tables["sf_jobs"]
                connection.execute(sa.update(jobs).where(jobs.c.id == found.id).values(
                    status="failed", last_error=error))
                tally.failed += 1
                tally.errors.append(f"job {found.id}: {error}")
                return Lease([], write.now, [])
            return _lease(write, statements, worker, [found.id])
    if "take" in statements:
        return _in_due_order([dict(row) for row in connection.execute(statements["take"], {
            "_now": write.now, "_limit": size, "_worker": worker}).mappings()], write.now)
    ids = list(connection.execute(statements["pending"], {"_now": write.now, "_limit": size}).scalars())
    return _lease(write, statements, worker, ids) if ids else None


def _in_due_order(rows: list[dict[str, Any]], at: datetime, seen: tuple[int, bool] | None = None) -> Lease | None:
    """The lease of rows a statement took and handed back in no order; None when it took none."""
    if not rows:
        return None
    rows.sort(key=lambda row: (row["due_at"], row["id"]))
    return Lease([row["id"] for row in rows], at, rows, seen)


def _lease(write: Any, statements: dict[str, Any], worker: str, ids: list[int]) -> Lease:
    """Lease the jobs of ids (held by this transaction), and read back their rows."""
    write.connection.execute(statements["lease"], [{"_id": i, "_worker": worker, "_now": write.now} for i in ids])
    rows = {row["id"]: dict(row) for row in write.connection.execute(statements["read"], {"_ids": ids}).mappings()}
    return Lease(ids, write.now, [rows[i] for i in ids])


def lease_jobs(engine: Sessions, worker: str, tally: Tally, lease: timedelta = LEASE, size: int = CLAIM,
               orphans: bool = True) -> Lease | None:
    """Lease up to size due jobs (a lone orphan first when orphans) in a transaction of its own; None
    when none is due.

    The lease is committed before the jobs run, so each attempt is counted even if the worker is
    killed: a job that kills its worker every time is failed after JOB_ATTEMPTS, not run forever.
    """
    with engine.session(True) as write:
        if not write.sqlite:
            # The lease need not wait for its WAL flush: the jobs' own commit flushes the WAL up to
            # itself, lease included. A lease lost in a server crash only leaves the jobs pending.
            write.connection.exec_driver_sql("SET LOCAL synchronous_commit TO OFF")
        return _take(write, worker, lease, size, orphans, tally)


def run_jobs(engine: Sessions, worker: str, leased: Lease, tally: Tally, lease: timedelta = LEASE,
             then: int = 0) -> Lease | None:
    """Run the jobs this worker leased; with then, lease up to that many more due jobs in the same
    transaction and return them (None when none is due).

    The jobs run in one transaction that commits their changes with their outcomes. It first runs
    them as they come, without a savepoint each, and writes their outcomes only where the lease is
    still this worker's: the least a job can cost. If a job fails, or a lease ran out and another
    worker took the job over (the outcome's UPDATE finds it no longer ours), that transaction is
    rolled back whole and the batch runs again carefully: its rows read and held (FOR UPDATE) while
    this worker still has them, a savepoint per job, so a job that fails leaves nothing of itself
    written and the others' changes intact; the job that failed is not run twice, its outcome kept.
    If the worker is killed meanwhile, nothing of the batch is written, its rows stay `running` under
    the dead worker's lease, and once the lease has run out other workers take them and run them again
    (once each: the lease is renewed in the transaction that takes a job). The next batch's lease
    commits with this batch's outcomes, before those jobs run: a steady worker spends one transaction
    per batch. Jobs not reached within BATCH_SECONDS go back to the queue, their attempt not counted.

    A lease taken with a lone job's outcome saw the deployed version (Lease.seen): the jobs' transaction
    runs under it without reading it first, and its own last statement reads it again. If it changed
    meanwhile (a deploy, or a new event subscription), or anything failed, the transaction is rolled back
    whole and the batch runs again as above, the version read first: nothing is ever committed under a
    version that was not the latest when the transaction's last statement ran.
    """
    if leased.seen is not None:
        try:
            return _run_batch(engine, worker, leased, tally, lease, then, None)
        except (_Stale, _Careful, sa.exc.DBAPIError):
            leased = leased._replace(seen=None)  # a failure may come from the version run: not told apart
    try:
        return _run_batch(engine, worker, leased, tally, lease, then, None)
    except _Careful as careful:
        return _run_batch(engine, worker, leased, tally, lease, then, careful.known)


def _run_batch(engine: Sessions, worker: str, leased: Lease, tally: Tally, lease: timedelta, then: int,
               known: dict[int, tuple[str, str | None, bool]] | None) -> Lease | None:
    """run_jobs' one attempt: fast (known is None: no savepoints, any failure raises _Careful) or careful."""
    careful = known is not None
    counted = Tally()  # added to tally once the transaction commits
    with engine.session(True, seen=None if careful else leased.seen) as write:
        statements = _statements(write)
        rows: list[Any] = leased.rows
        if careful and leased.ids:  # only the jobs still leased to this worker, held while they run
            rows = list(write.connection.execute(statements["leased"], {
                "_ids": leased.ids, "_worker": worker, "_leased": leased.at}).mappings())
        deadline = time.monotonic() + BATCH_SECONDS
        finished: list[dict[str, Any]] = []
        for job in rows:
            ours = {"_id": job["id"], "_worker": worker, "_leased": leased.at}
            if finished and time.monotonic() > deadline:  # the rest back to the queue, as if never leased
                finished.append({**ours, "_status": "pending", "_last_error": job["last_error"],
                                 "_due_at": job["due_at"], "_attempts": job["attempts"] - 1})
                continue
            if careful and job["id"] in known:
                outcome, error, retry = known[job["id"]]
            else:
                outcome, error, retry = _run_job(write, job, savepoint=careful)
                if not careful and outcome == "failed":
                    raise _Careful({job["id"]: (outcome, error, retry)})
            values = {**ours, "_status": outcome, "_last_error": error, "_due_at": job["due_at"],
                      "_attempts": job["attempts"]}
            if retry and job["attempts"] < JOB_ATTEMPTS:
                outcome = "postponed"
                values.update(_status="pending", _due_at=write.now + BACKOFF * (2 ** (job["attempts"] - 1)))
            finished.append(values)
            setattr(counted, outcome, getattr(counted, outcome) + 1)
            if error and outcome in ("failed", "postponed"):
                again = " (to run again)" if outcome == "postponed" else ""
                counted.errors.append(f"job {job['id']}: {error}{again}")
        following: Lease | None = None
        if len(finished) == 1 and then > 0 and "finish_take" in statements:
            found = [dict(row) for row in write.connection.execute(statements["finish_take"], {
                **finished[0], "_now": write.now, "_limit": then}).mappings()]
            seen = (found[0]["_version"], bool(found[0]["_subscribed"])) if found else None
            if leased.seen is not None and not careful and seen != leased.seen:
                raise _Stale()
            if write.sqlite:  # a row per job changed: the one finished (flagged) and those taken
                written = sum(1 for row in found if row["_finished"])
                found = [row for row in found if not row["_finished"]]
            else:  # one row: the count of outcomes written, beside a job taken (its id None when none was)
                written = found[0]["_finished"]
                found = [row for row in found if row["id"] is not None]
            for row in found:
                del row["_finished"], row["_version"], row["_subscribed"]
            if written != 1 and not careful:  # a lease taken over meanwhile: see run_jobs
                raise _Careful({})
            following = _in_due_order(found, write.now, seen)
        else:
            if leased.seen is not None and not careful:  # ran under the lease's version: is it still the latest?
                version, subscribed = write.connection.execute(statements["seen"]).one()
                if (version, bool(subscribed)) != leased.seen:
                    raise _Stale()
            if finished:  # every outcome in one statement (executemany)
                written = write.connection.execute(statements["finish"], finished).rowcount
                if written != len(finished) and not careful:  # a lease taken over meanwhile: see run_jobs
                    raise _Careful({})
            following = _take(write, worker, lease, then, False, counted) if then > 0 else None
    for name in ("done", "dropped", "failed", "postponed"):
        setattr(tally, name, getattr(tally, name) + getattr(counted, name))
    tally.errors.extend(counted.errors)
    return following


def run_one_job(engine: Sessions, worker: str, tally: Tally, lease: timedelta = LEASE) -> bool:
    """Lease and run the next due job (an orphan first); False when none is due."""
    leased = lease_jobs(engine, worker, tally, lease, size=1)
    if leased is None:
        return False
    run_jobs(engine, worker, leased, tally, lease)
    return True


def _run_job(write: Any, job: Any, savepoint: bool = True) -> tuple[str, str | None, bool]:
    """Run a due job's actions (inside a savepoint of its own with savepoint); returns (status, reason,
    whether to retry it). Without a savepoint, a job that failed leaves the transaction to be rolled back."""
    compiled_trigger = write.compiled.listener.names.get(f"{job['process']}.{job['trigger']}")
    if compiled_trigger is None:
        return "dropped", "the trigger no longer exists in the deployed definitions", False
    item = fetch_unfiltered(write, job["process"], job["item_id"])
    if item is None:
        return "dropped", "the item was deleted", False
    payload = job["payload"] if isinstance(job["payload"], dict) else json.loads(job["payload"])
    trigger = compiled_trigger.trigger
    if trigger.on == "stage_entered" and item["stage"] != payload.get("stage"):
        return "dropped", f"the item left stage `{payload.get('stage')}` (it is in `{item['stage']}`)", False
    if trigger.on == "stage_entered" and moved_since(item, payload):
        return "dropped", f"the item left stage `{payload.get('stage')}` and came back; a newer job waits", False
    if compiled_trigger.condition is not None:
        values = context(write.compiled.processes[job["process"]], item, write.actor)
        try:
            if not compiled_trigger.holds(values):
                return "dropped", f"the condition `{trigger.when}` no longer holds", False
        except Exception as exc:
            return "failed", f"the condition failed: {exc}", isinstance(exc, EvaluationStopped)
    chain = Chain(root=str(payload.get("root") or job["id"]), depth=int(payload.get("depth", 0)))
    chain.seen.add((job["process"], trigger.id, job["item_id"]))
    # The job's own savepoint, in plain SQL: SQLAlchemy's begin_nested() compiles its SAVEPOINT and
    # RELEASE anew each time, which cost more than the job's comment itself (1.3 ms a job, measured)
    connection = write.connection
    if savepoint:
        connection.exec_driver_sql("SAVEPOINT sf_job")
    try:
        run_trigger(write.derived(chain=chain), compiled_trigger, item, chain)
    except ItemError as error:
        if savepoint:
            _undo(connection)
        return "failed", str(error), _stopped_by_a_limit(error)
    except sa.exc.DBAPIError as error:
        # the database refused a write (a conflict with a concurrent change, say): this job only is
        # undone, and runs again after a backoff; the batch's other jobs keep their changes
        if savepoint:
            _undo(connection)
        return "failed", f"the database refused it: {str(error.orig).splitlines()[0]}", True
    if savepoint:
        connection.exec_driver_sql("RELEASE SAVEPOINT sf_job")
    return "done", None, False


def _undo(connection: Any) -> None:
    connection.exec_driver_sql("ROLLBACK TO SAVEPOINT sf_job")
    connection.exec_driver_sql("RELEASE SAVEPOINT sf_job")


def _stopped_by_a_limit(error: BaseException) -> bool:
    """Whether a failure comes from a text stopped while it ran (worth retrying), not refused for what it is."""
    cause: BaseException | None = error
    for _ in range(MAX_CHAIN):
        if cause is None:
            return False
        if isinstance(cause, EvaluationStopped):
            return True
        cause = cause.__cause__ or cause.__context__
    return False


# ---- outbox --------------------------------------------------------------------------


def send_http(url: str, method: str, headers: dict[str, str], body: bytes, timeout: float) -> int:
    """POST (or PUT/PATCH) body under the outbound policy (automation.outbound: no redirects followed, no
    non-public address unless allow-listed); returns the status code, reading at most MAX_RESPONSE bytes."""
    request = urllib.request.Request(url, data=body, method=method, headers=headers)
    try:
        with outbound.OPENER.open(request, timeout=timeout) as response:
            response.read(MAX_RESPONSE)
            return int(response.status)
    except urllib.error.HTTPError as error:
        return int(error.code)
    except urllib.error.URLError as error:
        if isinstance(error.reason, OSError):
            raise error.reason from None  # the policy's refusal, or a failure to connect, as itself
        raise


def deliver_one(engine: Sessions, worker: str, tally: Tally, allow_hosts: set[str] | None = None,
                send: Sender = send_http, timeout: float = TIMEOUT) -> bool:
    """Claim and deliver the next pending outbox message; False when none is due."""
    with engine.session(True) as write:
        outbox = write.compiled.tables["sf_outbox"]
        message = _claim(write, outbox, outbox.c.next_attempt_at)
        if message is None:
            return False
        payload = message["payload"] if isinstance(message["payload"], dict) else json.loads(message["payload"])
        if message["kind"] == "notify":
            _deliver_notify(write, message["id"], payload)
            error = None
        elif message["kind"] == "email":
            error = _deliver_email(write, message["id"], payload)
        else:
            error = _deliver_webhook(message["id"], payload, allow_hosts, send, timeout)
        attempts = message["attempts"] + 1
        if error is None:
            values: dict[str, Any] = {"status": "sent", "sent_at": write.now, "attempts": attempts, "last_error": None}
            tally.sent += 1
        elif error.startswith(NOT_SENT):
            values = {"status": "dropped", "attempts": attempts, "last_error": error.removeprefix(NOT_SENT)}
            tally.dropped += 1
        elif attempts >= MAX_ATTEMPTS or error.startswith("refused:"):
            values = {"status": "failed", "attempts": attempts, "last_error": error}
            tally.failed += 1
            tally.errors.append(f"outbox {message['id']}: {error}")
        else:
            values = {"attempts": attempts, "last_error": error,
                      "next_attempt_at": write.now + BACKOFF * (2 ** (attempts - 1))}
            tally.retried += 1
        write.connection.execute(sa.update(outbox).where(outbox.c.id == message["id"]).values(values))
    return True


def _deliver_notify(write: Any, outbox_id: int, payload: dict[str, Any]) -> None:
    """A `notify` action's message into its recipients' inboxes (and e-mail to send, for those who get it)."""
    process_id, item_id = payload.get("process"), payload.get("item_id")
    item = None
    if item_id is not None:
        title = None
        if process_id in write.compiled.processes:
            table = write.compiled.processes[process_id].table
            title = write.connection.execute(sa.select(table.c.title).where(table.c.id == item_id)).scalar()
        item = {"id": item_id, "title": title}
    notices.tell(write, payload.get("recipients") or [], process_id, item, "notify", payload.get("subject"),
                 payload["message"], outbox_id=outbox_id)


NOT_SENT = "not sent: "  # an e-mail that is not to be sent (dropped, not failed): the reason follows


def _deliver_email(write: Any, outbox_id: int, payload: dict[str, Any]) -> str | None:
    """Send a notification's e-mail to its reader as they are now (their address, their wish, their
    language); None when sent, else why not (NOT_SENT first when it is not to be sent at all, `refused:`
    first when sending it again would not help)."""
    try:
        found = mail.settings()
    except InvalidValue as wrong:
        return f"{wrong} ({wrong.hint})"
    if found is None:
        return NOT_SENT + "e-mail is not configured (set SMARTFLOW_SMTP_URL for the worker, then retry it)"
    users = write.compiled.tables["sf_users"]
    reader = write.connection.execute(sa.select(users.c.email, users.c.name, users.c.active,
                                                users.c.email_notifications, users.c.language).where(
        users.c.id == payload.get("user_id"))).first()
    if reader is None or not reader.active:
        return NOT_SENT + "the user is deactivated or gone"
    if not reader.email:
        return NOT_SENT + "the user has no e-mail address"
    if reader.email_notifications is False:
        return NOT_SENT + "the user turned e-mail notifications off"
    language = reader.language if reader.language in mail.LANGUAGES else found.language
    process = write.compiled.processes.get(payload.get("process") or "")
    title = process.process.title.get(language) if process is not None else None
    try:
        letter = mail.letter(payload, reader.email, reader.name, language, title, found.base_url)
        message = mail.message(letter, found.sender, outbox_id)
    except (ValueError, TypeError) as unwritable:  # an address or a name no e-mail header may carry
        return f"refused: the e-mail cannot be written: {unwritable}"
    try:
        mail.send(found, message)
    except mail.Refused as refused:
        return f"refused: {refused}"
    except (OSError, smtplib.SMTPException) as exc:
        return f"{type(exc).__name__}: {exc} (SMTP server {found.server})"
    return None


def form_body(data: dict[str, Any]) -> bytes:
    """Nested data as PHP reads a form (`data[FIELDS][ID]=5`), UTF-8, as Bitrix24 posts its events."""
    pairs: list[tuple[str, str]] = []

    def walk(prefix: str, value: Any) -> None:
        if isinstance(value, dict):
            for key, inner in value.items():
                walk(f"{prefix}[{key}]" if prefix else str(key), inner)
        elif isinstance(value, list):
            for index, inner in enumerate(value):
                walk(f"{prefix}[{index}]", inner)
        else:
            pairs.append((prefix, "" if value is None else str(value)))

    walk("", data)
    return urllib.parse.urlencode(pairs).encode("ascii")


def _deliver_webhook(outbox_id: int, payload: dict[str, Any], allow_hosts: set[str] | None, send: Sender,
                     timeout: float) -> str | None:
    url = payload["url"]
    try:
        host = outbound.check_url(url, allow_hosts)
    except outbound.OutboundRefused as refused:
        return f"refused: {refused}"
    if "form" in payload:  # an outbound event subscription's message, in the shape its format gives
        kind, body = "application/x-www-form-urlencoded", form_body(payload["form"])
    else:
        kind, body = "application/json; charset=utf-8", json.dumps(payload.get("body"), ensure_ascii=False).encode()
    headers = {"Content-Type": kind, "Idempotency-Key": f"smartflow-outbox-{outbox_id}",
               "User-Agent": "smartflow-worker", **payload.get("headers", {})}
    token = outbound.permitting_private(host, allow_hosts)
    try:
        status = send(url, payload.get("method", "POST"), headers, body, timeout)
    except outbound.OutboundRefused as refused:
        return f"refused: {refused}"
    except (OSError, ValueError, http.client.HTTPException) as exc:  # HTTPException: a reply that is not HTTP
        return f"{type(exc).__name__}: {exc}"
    finally:
        outbound.reset(token)
    return None if 200 <= status < 300 else f"HTTP {status}"


# ---- the loop -----------------------------------------------------------------------


def remind_overdue(engine: Sessions, tally: Tally, batch: int) -> None:
    """Tell the responsible people of to-dos just gone overdue (runtime.timeline), in one transaction; their
    e-mails join the outbox this pass delivers."""
    with engine.session(True) as write:
        # none in a database deployed before to-dos; once there, known for the deployed version (an idle
        # worker passes every second, and asking the catalogue costs more than the pass's own query)
        if built((write.compiled.tables["sf_todos"], "kept"),
                 lambda: sa.inspect(write.connection).has_table("sf_todos") or None):
            tally.reminded += timeline.remind_overdue(write, batch)


def work_once(engine: Sessions, worker: str = "worker", batch: int = 100, allow_hosts: set[str] | None = None,
              send: Sender = send_http, lease: timedelta = LEASE, claim: int = CLAIM, remind: bool = True) -> Tally:
    """Run every due job, tell of to-dos just gone overdue (with remind) and deliver every due message (up
    to batch of each); jobs are leased and run claim at a time."""
    tally = Tally()
    left = batch
    with engine.held():  # the pass's transactions on one connection
        # orphans (jobs whose worker died) are looked for once a pass: few rows, but a query each time
        leased = lease_jobs(engine, worker, tally, lease, min(claim, batch), orphans=True)
        while leased is not None:
            left -= max(len(leased[0]), 1)
            leased = run_jobs(engine, worker, leased, tally, lease, then=min(claim, left))
        if remind:
            remind_overdue(engine, tally, batch)
        for _ in range(batch):
            if not deliver_one(engine, worker, tally, allow_hosts, send):
                break
    return tally


def work_forever(engine: Sessions, worker: str, interval: float, batch: int, allow_hosts: set[str] | None,
                 report: Callable[[Tally], None], should_stop: Callable[[], bool], lease: timedelta = LEASE) -> None:
    """Keep working until should_stop(); sleeps interval seconds when there is nothing to do."""
    reminded_at = -REMIND_EVERY  # overdue to-dos are looked for once in a while, not on every pass
    while not should_stop():
        remind = time.monotonic() - reminded_at >= REMIND_EVERY
        if remind:
            reminded_at = time.monotonic()
        tally = work_once(engine, worker, batch, allow_hosts, send_http, lease, remind=remind)
        if tally.total:
            report(tally)
        else:
            deadline = time.monotonic() + interval
            while time.monotonic() < deadline and not should_stop():
                time.sleep(min(0.2, interval))


# ---- listing and retrying ---------------------------------------------------------


def _require_admin(write: Any) -> None:
    from smartflow.errors import PermissionDenied

    if not write.actor.is_local_admin and "administrator" not in write.actor.roles:
        raise PermissionDenied("only administrators see and retry jobs and the outbox")


def list_rows(write: Any, table_name: str, status: str | None, limit: int) -> list[dict[str, Any]]:
    _require_admin(write)
    table = write.compiled.tables[table_name]
    query = sa.select(table).order_by(table.c.id.desc()).limit(limit)
    if status:
        query = query.where(table.c.status == status)
    return [dict(row) for row in write.connection.execute(query).mappings()]


def retry(write: Any, table_name: str, row_id: int) -> None:
    """Put a failed (or dropped) job or message back in the queue, due now."""
    from smartflow.errors import InvalidValue, NotFound

    _require_admin(write)
    table = write.compiled.tables[table_name]
    row = write.connection.execute(sa.select(table.c.status).where(table.c.id == row_id)).first()
    what = "job" if table_name == "sf_jobs" else "message"
    if row is None:
        raise NotFound(f"there is no {what} {row_id}")
    if row.status not in ("failed", "dropped", "cancelled"):
        raise InvalidValue(f"{what} {row_id} is {row.status}; only failed, dropped or cancelled ones can be retried")
    due = {"due_at": write.now} if table_name == "sf_jobs" else {"next_attempt_at": write.now, "attempts": 0}
    write.connection.execute(sa.update(table).where(table.c.id == row_id).values(status="pending", **due))


def cancel(write: Any, table_name: str, row_id: int) -> None:
    """Cancel a pending or failed job or message: the worker never takes it (retry brings it back)."""
    from smartflow.errors import InvalidValue, NotFound

    _require_admin(write)
    table = write.compiled.tables[table_name]
    what = "job" if table_name == "sf_jobs" else "message"
    changed = write.connection.execute(sa.update(table).where(table.c.id == row_id,
                                                              table.c.status.in_(("pending", "failed")))
                                       .values(status="cancelled", last_error="cancelled by an administrator"))
    if changed.rowcount != 1:
        row = write.connection.execute(sa.select(table.c.status).where(table.c.id == row_id)).first()
        if row is None:
            raise NotFound(f"there is no {what} {row_id}")
        raise InvalidValue(f"{what} {row_id} is {row.status}; only pending or failed ones can be cancelled")
