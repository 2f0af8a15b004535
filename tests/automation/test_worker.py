"""The worker, on SQLite and PostgreSQL: notifications into inboxes exactly once, webhooks with retries,
backoff and an allow-list, a real HTTP round trip on the loopback interface, `retry`, and — with real
OS processes — two workers sharing 1,000 due jobs (PostgreSQL) and a worker killed in the middle of a job.

Webhooks are sent through an injected `send` callable, except in the round trip, which goes to a tiny
`http.server` listening on 127.0.0.1 only. Time is the fake clock of tests/automation/support.py.
"""

from __future__ import annotations

import http.server
import json
import multiprocessing
import os
import signal
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from smartflow.automation.worker import BACKOFF, JOB_ATTEMPTS, LEASE, MAX_ATTEMPTS
from smartflow.errors import InvalidValue, NotFound, PermissionDenied
from tests.automation.support import ROLES, SYSTEM, Auto, Clock, process
from tests.runtime.support import module_url

__all__ = ["module_url"]  # the fixture, imported for pytest

EVENTS = ["none", "notify", "hook_ok", "hook_flaky", "hook_down", "hook_blocked", "local_ok", "local_busy",
          "local_garbage", "local_redirect", "jobfail"]


class Receiver:
    """A tiny HTTP server on 127.0.0.1 that records every request: /ok answers 200, /busy 503, /garbage not HTTP,
    /redirect a 302 to /ok on `localhost` (a host the tests leave out of the allow-list)."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                receiver.requests.append({"path": self.path, "method": self.command, "headers": dict(self.headers),
                                          "body": json.loads(body)})
                if self.path == "/redirect":
                    self.send_response(302)
                    self.send_header("Location", f"http://localhost:{receiver.port}/ok")
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                if self.path == "/garbage":
                    self.wfile.write(b"GARBAGE\r\n\r\n")
                    self.close_connection = True
                    return
                status = 200 if self.path == "/ok" else 503
                self.send_response(status)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def do_GET(self) -> None:
                receiver.requests.append({"path": self.path, "method": self.command, "headers": dict(self.headers),
                                          "body": None})
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *_: Any) -> None:  # keep the test output quiet
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class FakeSender:
    """The `send` callable: ok.example answers 200, flaky.example 500 until told otherwise, down.example fails."""

    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []
        self.flaky_status = 500

    def __call__(self, url: str, method: str, headers: dict[str, str], body: bytes, timeout: float) -> int:
        self.calls.append({"url": url, "method": method, "headers": headers, "body": json.loads(body)})
        if "down.example" in url:
            raise ConnectionRefusedError(111, "Connection refused")
        return self.flaky_status if "flaky.example" in url else 200

    def for_message(self, message_id: int) -> list[dict[str, Any]]:
        return [c for c in self.calls if c["headers"]["Idempotency-Key"] == f"smartflow-outbox-{message_id}"]


HOSTS = {"ok.example", "flaky.example", "down.example", "127.0.0.1"}


def worker_process(port: int) -> dict[str, Any]:
    def hook(event: str, url: str) -> dict[str, Any]:
        return {"id": event, "on": "field_changed", "field": "event", "to": event,
                "do": [{"webhook": {"url": url, "headers": {"X-Source": "smartflow"},
                                    "body": '{"id": {{ id }}, "title": {{ title|tojson }}}'}}]}

    return process("wk", {
        "event": {"type": "enum", "options": [{"id": e, "title": e} for e in EVENTS]},
        "memo": {"type": "text"},
        "owner": {"type": "user"},
    }, [
        {"id": "notify", "on": "field_changed", "field": "event", "to": "notify",
         "do": [{"notify": {"users": ["owner", "@inactive"], "roles": ["lead"], "subject": "{{ title }}",
                            "message": "{{ title }} needs you"}}]},
        hook("hook_ok", "https://ok.example/hook"),
        hook("hook_flaky", "https://flaky.example/hook"),
        hook("hook_down", "https://down.example/hook"),
        hook("hook_blocked", "https://blocked.example/hook"),
        hook("local_ok", f"http://127.0.0.1:{port}/ok"),
        hook("local_busy", f"http://127.0.0.1:{port}/busy"),
        hook("local_garbage", f"http://127.0.0.1:{port}/garbage"),
        hook("local_redirect", f"http://127.0.0.1:{port}/redirect"),
        {"id": "jobfail", "on": "field_changed", "field": "event", "to": "jobfail", "after": "5m",
         "do": [{"move": "gate"}]},
    ], "new", "gate", required={"gate": ["memo"]})


@pytest.fixture(scope="module")
def receiver() -> Iterator[Receiver]:
    server = Receiver()
    yield server
    server.close()


@pytest.fixture(scope="module")
def db(module_url: str, tmp_path_factory: pytest.TempPathFactory, receiver: Receiver) -> Iterator[Auto]:
    auto = Auto(module_url, tmp_path_factory.mktemp("defs"), ROLES, worker_process(receiver.port))
    admin = auto.admin
    admin.add_user("owner1", "Владелец", ["agent"])
    admin.add_user("boss1", "Начальник", ["lead"])
    admin.add_user("boss2", "Начальница", ["lead"])
    admin.add_user("inactive", "Уволен", ["lead"])
    auto.execute("UPDATE sf_users SET active = :no WHERE login = 'inactive'", no=False)
    yield auto
    auto.close()


def fire(db: Auto, event: str, title: str = "Заявка") -> tuple[int, int]:
    """A new item with the event set; returns (item id, id of the outbox message it wrote)."""
    item = db.admin.create("wk", {"title": title, "owner": "owner1"})
    db.admin.update("wk", item, {"event": event})
    written = [m for m in db.outbox(f"wk.{event}") if _item_of(m["payload"]) == item]
    return item, written[-1]["id"] if written else 0


def _item_of(payload: dict[str, Any]) -> Any:
    return payload["item_id"] if "item_id" in payload else payload["body"]["id"]


def message(db: Auto, message_id: int) -> dict[str, Any]:
    return db.rows("sf_outbox", SYSTEM["sf_outbox"].c.id == message_id)[0]


# ---- notify → inbox ------------------------------------------------------------------------------


def test_notification_reaches_each_active_recipients_inbox_exactly_once(db: Auto) -> None:
    db.drain(send=FakeSender(), allow_hosts=HOSTS)
    item, message_id = fire(db, "notify", "Срочно")
    assert db.inbox("owner1") == []
    db.drain()
    for login in ("owner1", "boss1", "boss2"):
        rows = [r for r in db.inbox(login) if r["outbox_id"] == message_id]
        assert [(r["subject"], r["message"], r["process"], r["item_id"]) for r in rows] == [
            ("Срочно", "Срочно needs you", "wk", item)]
    assert db.inbox("inactive") == []
    assert message(db, message_id)["status"] == "sent"
    db.clock.advance(hours=1)
    db.drain()  # again: nothing is delivered twice
    assert len([r for r in db.inbox("owner1") if r["outbox_id"] == message_id]) == 1


def test_inbox_through_the_api(db: Auto) -> None:
    fire(db, "notify", "Прочитать")
    db.drain()
    boss = db.as_user("boss1")
    unread = boss.inbox(unread_only=True)
    assert unread and unread[0]["message"] == "Прочитать needs you"
    assert boss.inbox(unread_only=True, mark_read=True) == unread
    assert boss.inbox(unread_only=True) == []
    assert len(boss.inbox()) >= len(unread)
    with pytest.raises(InvalidValue, match="the local administrator has no inbox"):
        db.admin.inbox()


# ---- webhooks through an injected sender -------------------------------------------------------------


def test_webhook_is_sent_once_with_an_idempotency_key(db: Auto) -> None:
    sender = FakeSender()
    db.drain(send=sender, allow_hosts=HOSTS)
    item, message_id = fire(db, "hook_ok", "Хук")
    assert sender.for_message(message_id) == []  # only after the change committed, by the worker
    tally = db.drain(send=sender, allow_hosts=HOSTS)
    assert tally.sent >= 1
    [call] = sender.for_message(message_id)
    assert (call["url"], call["method"], call["body"]) == ("https://ok.example/hook", "POST",
                                                          {"id": item, "title": "Хук"})
    assert call["headers"]["X-Source"] == "smartflow"
    assert call["headers"]["Content-Type"] == "application/json; charset=utf-8"
    row = message(db, message_id)
    assert (row["status"], row["attempts"], row["last_error"]) == ("sent", 1, None)
    db.clock.advance(days=1)
    db.drain(send=sender, allow_hosts=HOSTS)
    assert len(sender.for_message(message_id)) == 1


def test_failing_webhook_is_retried_with_backoff_then_failed_then_retried_by_hand(db: Auto) -> None:
    sender = FakeSender()
    db.drain(send=sender, allow_hosts=HOSTS)
    _, message_id = fire(db, "hook_flaky")
    for attempt in range(1, MAX_ATTEMPTS + 1):
        db.drain(send=sender, allow_hosts=HOSTS)
        row = message(db, message_id)
        assert len(sender.for_message(message_id)) == attempt
        assert (row["attempts"], row["last_error"]) == (attempt, "HTTP 500")
        if attempt < MAX_ATTEMPTS:
            wait = BACKOFF * 2 ** (attempt - 1)  # 30 s, 1 min, 2 min, 4 min
            assert row["status"] == "pending"
            due = row["next_attempt_at"].replace(tzinfo=None) - db.clock.now.replace(tzinfo=None)
            assert due == wait
            db.clock.advance(seconds=wait.total_seconds() - 1)
            db.drain(send=sender, allow_hosts=HOSTS)
            assert len(sender.for_message(message_id)) == attempt  # not before its time
            db.clock.advance(seconds=1)
    assert message(db, message_id)["status"] == "failed"
    db.clock.advance(days=1)
    db.drain(send=sender, allow_hosts=HOSTS)
    assert len(sender.for_message(message_id)) == MAX_ATTEMPTS  # a failed message stays failed

    sender.flaky_status = 200
    db.admin.retry("message", message_id)
    row = message(db, message_id)
    assert (row["status"], row["attempts"]) == ("pending", 0)
    db.drain(send=sender, allow_hosts=HOSTS)
    assert message(db, message_id)["status"] == "sent"
    keys = {c["headers"]["Idempotency-Key"] for c in sender.for_message(message_id)}
    assert keys == {f"smartflow-outbox-{message_id}"}  # the same key on every attempt


def test_unreachable_webhook_is_retried(db: Auto) -> None:
    sender = FakeSender()
    db.drain(send=sender, allow_hosts=HOSTS)
    _, message_id = fire(db, "hook_down")
    db.drain(send=sender, allow_hosts=HOSTS)
    row = message(db, message_id)
    assert (row["status"], row["attempts"]) == ("pending", 1)
    assert row["last_error"].startswith("ConnectionRefusedError: ")


def test_webhook_to_a_host_outside_the_allow_list_is_refused_without_a_request(db: Auto) -> None:
    sender = FakeSender()
    db.drain(send=sender, allow_hosts=HOSTS)
    _, message_id = fire(db, "hook_blocked")
    tally = db.drain(send=sender, allow_hosts=HOSTS)
    assert sender.for_message(message_id) == []
    row = message(db, message_id)
    assert (row["status"], row["attempts"]) == ("failed", 1)
    assert row["last_error"] == "refused: the host blocked.example is not in the allow-list"
    assert f"outbox {message_id}: refused: the host blocked.example is not in the allow-list" in tally.errors


# ---- a real HTTP round trip, loopback only ------------------------------------------------------------


def test_real_http_round_trip_on_the_loopback_interface(db: Auto, receiver: Receiver) -> None:
    db.drain(send=FakeSender(), allow_hosts=HOSTS)
    receiver.requests.clear()  # the server is shared by the backends, whose outbox ids (and keys) overlap
    item, ok_id = fire(db, "local_ok", "По-настоящему")
    _, busy_id = fire(db, "local_busy", "Занято")
    db.drain(allow_hosts={"127.0.0.1"})  # the real sender: urllib
    [request] = [r for r in receiver.requests if r["headers"]["Idempotency-Key"] == f"smartflow-outbox-{ok_id}"]
    assert (request["path"], request["method"]) == ("/ok", "POST")
    assert request["body"] == {"id": item, "title": "По-настоящему"}
    assert request["headers"]["X-Source"] == "smartflow"
    assert request["headers"]["User-Agent"] == "smartflow-worker"
    assert message(db, ok_id)["status"] == "sent"
    busy = message(db, busy_id)
    assert (busy["status"], busy["attempts"], busy["last_error"]) == ("pending", 1, "HTTP 503")


def test_a_reply_that_is_not_http_is_retried_and_the_worker_goes_on(db: Auto, receiver: Receiver) -> None:
    db.drain(send=FakeSender(), allow_hosts=HOSTS)
    _, garbage_id = fire(db, "local_garbage", "Мусор")
    _, ok_id = fire(db, "local_ok", "После мусора")
    db.drain(allow_hosts={"127.0.0.1"})
    garbage = message(db, garbage_id)
    assert (garbage["status"], garbage["attempts"]) == ("pending", 1)
    assert garbage["last_error"].startswith("BadStatusLine: ")
    assert message(db, ok_id)["status"] == "sent"


def test_a_redirect_is_not_followed_past_the_allow_list(db: Auto, receiver: Receiver) -> None:
    db.drain(send=FakeSender(), allow_hosts=HOSTS)
    receiver.requests.clear()
    _, message_id = fire(db, "local_redirect", "Перенаправление")
    db.drain(allow_hosts={"127.0.0.1"})
    assert [r["path"] for r in receiver.requests] == ["/redirect"]  # nothing went on to localhost
    row = message(db, message_id)
    assert (row["status"], row["attempts"], row["last_error"]) == ("pending", 1, "HTTP 302")


def test_without_an_allow_list_no_webhook_reaches_a_non_public_address(db: Auto, receiver: Receiver) -> None:
    """The outbound policy (automation.outbound): checked where the socket connects, after DNS."""
    db.drain(send=FakeSender(), allow_hosts=HOSTS)
    receiver.requests.clear()
    _, message_id = fire(db, "local_ok", "Внутрь сети")
    tally = db.drain()  # no allow-list: any public host, and only those
    assert receiver.requests == []
    row = message(db, message_id)
    assert (row["status"], row["attempts"]) == ("failed", 1)  # refused: not retried
    assert row["last_error"].startswith("refused: 127.0.0.1 resolves to 127.0.0.1, which is not a public address")
    assert any("--allow-host 127.0.0.1" in error for error in tally.errors)


@pytest.mark.parametrize(("address", "public"), [
    ("127.0.0.1", False), ("10.1.2.3", False), ("172.16.0.1", False), ("192.168.1.1", False),
    ("169.254.169.254", False), ("100.64.0.1", False), ("0.0.0.0", False), ("224.0.0.1", False),
    ("::1", False), ("fe80::1", False), ("fc00::1", False), ("::ffff:127.0.0.1", False),
    ("8.8.8.8", True), ("2a00:1450:4010:c05::64", True), ("::ffff:8.8.8.8", True),
])
def test_which_addresses_are_public(address: str, public: bool) -> None:
    from smartflow.automation.outbound import public as is_public

    assert is_public(address) is public


def test_a_name_resolving_to_loopback_is_refused_like_the_address() -> None:
    from smartflow.automation import outbound
    from smartflow.automation.worker import send_http

    with pytest.raises(outbound.OutboundRefused, match="localhost resolves to"):
        send_http("http://localhost:9/", "POST", {}, b"{}", 2.0)


# ---- jobs: failing, retry by hand --------------------------------------------------------------------


def test_failed_job_can_be_retried_after_the_cause_is_fixed(db: Auto) -> None:
    db.drain(send=FakeSender(), allow_hosts=HOSTS)
    item = db.admin.create("wk", {"title": "Без памятки"})
    db.admin.update("wk", item, {"event": "jobfail"})
    [job] = db.jobs("wk", item)
    with pytest.raises(InvalidValue, match=f"job {job['id']} is pending; only failed, dropped or cancelled ones"):
        db.admin.retry("job", job["id"])
    db.clock.advance(minutes=5)
    db.drain(send=FakeSender(), allow_hosts=HOSTS)
    [job] = db.jobs("wk", item)
    assert job["status"] == "failed"
    assert job["last_error"].startswith("trigger `wk.jobfail`, action 1 (move) failed: ")
    assert "stage `gate` requires `memo`" in job["last_error"]
    assert db.admin.get("wk", item)["stage"] == "new"

    db.admin.update("wk", item, {"memo": "заполнено"})
    db.admin.retry("job", job["id"])
    [job] = db.jobs("wk", item)
    assert job["status"] == "pending"
    db.drain(send=FakeSender(), allow_hosts=HOSTS)
    assert db.admin.get("wk", item)["stage"] == "gate"
    [job] = db.jobs("wk", item)
    assert (job["status"], job["attempts"]) == ("done", 2)
    moved = [h for h in db.history("wk", item) if h["kind"] == "move"]
    assert [(h["new"], h["via"]) for h in moved] == [("gate", "trigger:wk.jobfail")]


def test_retry_refuses_what_does_not_exist_and_people_who_are_not_administrators(db: Auto) -> None:
    with pytest.raises(NotFound, match="there is no job 999999"):
        db.admin.retry("job", 999999)
    with pytest.raises(NotFound, match="there is no message 999999"):
        db.admin.retry("message", 999999)
    boss = db.as_user("boss1")
    for call in (lambda: boss.jobs(), lambda: boss.outbox(), lambda: boss.retry("job", 1)):
        with pytest.raises(PermissionDenied, match="only administrators see and retry jobs and the outbox"):
            call()
    assert all(j["status"] in ("pending", "done", "failed", "dropped") for j in db.admin.jobs())
    assert [m["status"] for m in db.admin.outbox(status="sent", limit=3)] == ["sent"] * 3


# ---- real OS processes ---------------------------------------------------------------------------------

JOBS = 1000
BULK = process("bulk", {}, [{"id": "later", "on": "created", "after": "1m", "do": [{"comment": "job for {{ id }}"}]}],
               "new")


def _work_until_idle(url: str, name: str, now: datetime, barrier: Any, results: Any) -> None:
    """One worker process: its own Engine; works until a pass finds no due job; reports what it did."""
    report: dict[str, Any] = {"name": name, "done": 0, "other": 0, "errors": []}
    try:
        from smartflow import Engine

        with Engine(url, clock=lambda: now) as crm:
            crm.jobs(limit=1)  # open the pool and compile the definitions before the race
            barrier.wait(timeout=60)
            while True:
                tally = crm.work(name, batch=25)
                report["done"] += tally.done
                report["other"] += tally.dropped + tally.failed
                report["errors"] += tally.errors
                if tally.done + tally.dropped + tally.failed == 0:
                    break
    except BaseException as exc:  # report rather than hang the test
        report["errors"].append(f"{type(exc).__name__}: {exc}")
    results.put(report)


def _deploy_bulk(url: str, folder: Path) -> Auto:
    return Auto(url, folder, ROLES, BULK, clock=Clock())


def _seed_jobs(auto: Auto, count: int) -> list[int]:
    """count items, each with one due `later` job: the first made by the runtime, the rest copied from it."""
    first = auto.admin.create("bulk", {"title": "item 0"})
    [template] = auto.jobs("bulk", first)
    jobs = SYSTEM["sf_jobs"]
    table = sa.Table("p_bulk", sa.MetaData(), autoload_with=auto.raw)
    with auto.raw.begin() as connection:
        row = dict(connection.execute(sa.select(table).where(table.c.id == first)).mappings().one())
        del row["id"]
        inserted = connection.execute(table.insert().returning(table.c.id),
                                      [{**row, "title": f"item {n}"} for n in range(1, count)])
        ids = [first, *(int(i) for i in inserted.scalars())]
        copy = {k: v for k, v in template.items() if k != "id"}
        connection.execute(jobs.insert(), [{**copy, "item_id": i} for i in ids[1:]])
    return ids


def test_two_worker_processes_run_a_thousand_due_jobs_each_exactly_once(db_url: str, tmp_path: Path) -> None:
    if db_url.startswith("sqlite"):
        pytest.skip("SQLite serialises writers: run one worker on SQLite (several workers need PostgreSQL)")
    auto = _deploy_bulk(db_url, tmp_path / "defs")
    try:
        ids = _seed_jobs(auto, JOBS)
        assert auto.scalar("SELECT count(*) FROM sf_jobs WHERE status = 'pending'") == JOBS
        now = auto.clock.advance(minutes=2)
        context = multiprocessing.get_context("spawn")
        barrier, results = context.Barrier(2), context.Queue()
        workers = [context.Process(target=_work_until_idle, args=(db_url, f"w{n}", now, barrier, results))
                   for n in range(2)]
        for worker in workers:
            worker.start()
        reports = [results.get(timeout=120) for _ in workers]
        for worker in workers:
            worker.join(timeout=30)
            assert worker.exitcode == 0

        assert [r["errors"] for r in reports] == [[], []]
        assert sum(r["done"] for r in reports) == JOBS and sum(r["other"] for r in reports) == 0
        assert all(r["done"] > 0 for r in reports), reports  # both took part
        by_status = {r["status"]: r["n"] for r in auto.select(
            "SELECT status, count(*) AS n FROM sf_jobs GROUP BY status")}
        assert by_status == {"done": JOBS}
        assert auto.scalar("SELECT max(attempts) FROM sf_jobs") == 1
        by_worker = {r["locked_by"]: r["n"] for r in auto.select(
            "SELECT locked_by, count(*) AS n FROM sf_jobs GROUP BY locked_by")}
        assert by_worker == {r["name"]: r["done"] for r in reports}
        comments = auto.select("SELECT item_id, count(*) AS n FROM sf_history WHERE kind = 'comment' "
                               "GROUP BY item_id")
        assert len(comments) == JOBS and {c["n"] for c in comments} == {1}  # none twice, none missed
        assert {c["item_id"] for c in comments} == set(ids)
    finally:
        auto.close()


def _hold_a_job(url: str, now: datetime, ready: Any) -> None:
    """Claim the due job and run its actions, then hang before committing (until killed)."""
    from smartflow import Engine
    from smartflow.automation import worker

    real = worker.run_trigger

    def run_then_hang(*args: Any, **kwargs: Any) -> Any:
        result = real(*args, **kwargs)  # the comment is written inside the claiming transaction
        ready.set()
        time.sleep(300)
        return result

    worker.run_trigger = run_then_hang
    Engine(url, clock=lambda: now).work("doomed")


def test_a_worker_killed_mid_job_leaves_the_job_to_another_worker_after_its_lease(db_url: str,
                                                                                  tmp_path: Path) -> None:
    auto = _deploy_bulk(db_url, tmp_path / "defs")
    try:
        item = auto.admin.create("bulk", {"title": f"job {uuid.uuid4().hex[:6]}"})
        now = auto.clock.advance(minutes=2)
        context = multiprocessing.get_context("spawn")
        ready = context.Event()
        doomed = context.Process(target=_hold_a_job, args=(db_url, now, ready))
        doomed.start()
        try:
            assert ready.wait(timeout=60), "the doomed worker never reached the job"
            # the job is leased and its comment written, but the comment is not committed
            [job] = auto.jobs("bulk", item)
            assert (job["status"], job["locked_by"], job["attempts"]) == ("running", "doomed", 1)
            assert auto.comments("bulk", item) == []
            if not auto.sqlite:  # PostgreSQL: another worker skips the leased row instead of waiting
                assert auto.admin.work("skipper").done == 0
        finally:
            os.kill(doomed.pid, signal.SIGKILL)
            doomed.join(timeout=30)
        assert doomed.exitcode == -signal.SIGKILL
        assert auto.admin.work("survivor").total == 0  # the dead worker's lease still holds
        auto.clock.advance(seconds=LEASE.total_seconds() + 1)
        done, deadline = 0, time.monotonic() + 30
        while not done and time.monotonic() < deadline:  # until the server has noticed the dead connection
            done = auto.admin.work("survivor").done
            if not done:
                time.sleep(0.05)
        assert done == 1
        [job] = auto.jobs("bulk", item)
        assert (job["status"], job["locked_by"], job["attempts"]) == ("done", "survivor", 2)
        assert auto.comments("bulk", item) == [f"job for {item}"]
        assert auto.admin.work("survivor").total == 0
    finally:
        auto.close()


def _lease_then_die(url: str, now: datetime) -> None:
    """Lease the due job, then die at once (as a job that crashes its worker would)."""
    from smartflow import Engine
    from smartflow.automation import worker

    def die(*args: Any, **kwargs: Any) -> Any:
        os.kill(os.getpid(), signal.SIGKILL)

    worker.run_trigger = die
    Engine(url, clock=lambda: now).work("crasher")


def test_a_job_that_kills_its_worker_every_time_is_failed_after_its_attempts(db_url: str, tmp_path: Path) -> None:
    auto = _deploy_bulk(db_url, tmp_path / "defs")
    try:
        item = auto.admin.create("bulk", {"title": "poison"})
        context = multiprocessing.get_context("spawn")
        for attempt in range(1, JOB_ATTEMPTS + 1):
            now = auto.clock.advance(seconds=LEASE.total_seconds() + 1)
            crasher = context.Process(target=_lease_then_die, args=(db_url, now))
            crasher.start()
            crasher.join(timeout=60)
            assert crasher.exitcode == -signal.SIGKILL
            [job] = auto.jobs("bulk", item)
            assert (job["status"], job["attempts"]) == ("running", attempt)
        auto.clock.advance(seconds=LEASE.total_seconds() + 1)
        tally = auto.admin.work("survivor")
        assert (tally.done, tally.failed) == (0, 1)
        [job] = auto.jobs("bulk", item)
        assert job["status"] == "failed" and job["attempts"] == JOB_ATTEMPTS
        assert job["last_error"] == (f"its worker (crasher) stopped while running it, {JOB_ATTEMPTS} times in all; "
                                     "not tried again")
        assert auto.comments("bulk", item) == []
    finally:
        auto.close()
