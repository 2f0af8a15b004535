"""The automation commands through click's CliRunner, on SQLite and PostgreSQL: `worker --once`, `jobs`,
`jobs retry`, `outbox`, `outbox retry`, `inbox`, and the exit code of a change a trigger refused.

The CLI runs on the real clock, so the items here are made on a fake clock set years back: their jobs
and messages are due by the time the commands run. No webhook leaves the machine: the one here goes to
a host outside `--allow-host` and is refused without a request.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from click.testing import Result

from tests.automation.support import ROLES, Auto, Clock, process
from tests.runtime.support import invoke, module_url

__all__ = ["module_url"]  # the fixture, imported for pytest

EVENTS = ["none", "notify", "hook", "jobfail", "refuse"]

CLI_PROCESS = process("cl", {
    "event": {"type": "enum", "options": [{"id": e, "title": e} for e in EVENTS]},
    "memo": {"type": "text"},
}, [
    {"id": "later", "on": "created", "after": "1h", "do": [{"comment": "an hour later"}]},
    {"id": "tell", "on": "field_changed", "field": "event", "to": "notify",
     "do": [{"notify": {"users": ["@agent1"], "subject": "{{ title }}", "message": "{{ title }}: look"}}]},
    {"id": "hook", "on": "field_changed", "field": "event", "to": "hook",
     "do": [{"webhook": {"url": "https://blocked.example/hook"}}]},
    {"id": "jobfail", "on": "field_changed", "field": "event", "to": "jobfail", "after": "1m",
     "do": [{"move": "gate"}]},
    {"id": "refuse", "on": "field_changed", "field": "event", "to": "refuse", "do": [{"move": "gate"}]},
], "new", "gate", required={"gate": ["memo"]})




@pytest.fixture(scope="module")
def db(module_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Auto]:
    auto = Auto(module_url, tmp_path_factory.mktemp("defs"), ROLES, CLI_PROCESS,
                clock=Clock(datetime(2020, 1, 6, 10, 0, tzinfo=UTC)))
    auto.admin.add_user("agent1", "Агент", ["agent"])
    yield auto
    auto.close()


def _json(result: Result) -> list[dict[str, object]]:
    assert result.exit_code == 0, result.output
    rows: list[dict[str, object]] = json.loads(result.stdout)
    return rows


def test_worker_once_runs_due_jobs_and_delivers_notifications(db: Auto) -> None:
    invoke(db.url, "worker", "--once", "--allow-host", "ok.example")  # whatever earlier tests left
    item = db.admin.create("cl", {"title": "Раз"})
    db.admin.update("cl", item, {"event": "notify"})
    result = invoke(db.url, "worker", "--once", "--name", "cron", "--allow-host", "ok.example")
    assert result.exit_code == 0, result.output
    assert result.stdout == "jobs: 1 done, 0 dropped, 0 failed; messages: 1 sent, 0 to retry\n"
    assert db.comments("cl", item) == ["an hour later"]
    assert db.jobs("cl", item)[0]["locked_by"] == "cron"
    rows = _json(invoke(db.url, "inbox", "--format", "json", "--unread", "--mark-read", as_user="agent1"))
    assert [(r["subject"], r["message"], r["item_id"]) for r in rows] == [("Раз", "Раз: look", item)]
    assert _json(invoke(db.url, "inbox", "--format", "json", "--unread", as_user="agent1")) == []
    again = invoke(db.url, "worker", "--once", "--allow-host", "ok.example")
    assert again.stdout == "jobs: 0 done, 0 dropped, 0 failed; messages: 0 sent, 0 to retry\n"  # nothing twice


def test_inbox_needs_a_user(db: Auto) -> None:
    result = invoke(db.url, "inbox")
    assert result.exit_code == 9
    assert result.stderr == "error: the local administrator has no inbox\n  hint: pass --as USER\n"


def test_jobs_and_jobs_retry(db: Auto) -> None:
    invoke(db.url, "worker", "--once", "--allow-host", "ok.example")
    item = db.admin.create("cl", {"title": "Сбой"})
    db.admin.update("cl", item, {"event": "jobfail"})
    failed_run = invoke(db.url, "worker", "--once", "--allow-host", "ok.example")
    assert failed_run.exit_code == 0
    job_id = next(j["id"] for j in db.jobs("cl", item) if j["trigger"] == "jobfail")
    assert f"job {job_id}: trigger `cl.jobfail`, action 1 (move) failed: " in failed_run.stderr
    rows = _json(invoke(db.url, "jobs", "--status", "failed", "--format", "json"))
    assert [r["id"] for r in rows if r["item_id"] == item] == [job_id]
    table = invoke(db.url, "jobs", "--limit", "5")
    assert table.exit_code == 0 and "jobfail" in table.stdout and "last_error" in table.stdout

    refused = invoke(db.url, "jobs", "retry", str(job_id + 1000))
    assert (refused.exit_code, refused.stderr) == (7, f"error: there is no job {job_id + 1000}\n")
    db.admin.update("cl", item, {"memo": "есть"})
    result = invoke(db.url, "jobs", "retry", str(job_id))
    assert (result.exit_code, result.stdout) == (0, f"job {job_id} queued again\n")
    again = invoke(db.url, "jobs", "retry", str(job_id))
    assert again.exit_code == 9
    assert again.stderr == f"error: job {job_id} is pending; only failed, dropped or cancelled ones can be retried\n"
    invoke(db.url, "worker", "--once", "--allow-host", "ok.example")
    assert db.admin.get("cl", item)["stage"] == "gate"


def test_outbox_and_outbox_retry(db: Auto) -> None:
    invoke(db.url, "worker", "--once", "--allow-host", "ok.example")
    item = db.admin.create("cl", {"title": "Хук"})
    db.admin.update("cl", item, {"event": "hook"})
    [message] = db.outbox("cl.hook")
    result = invoke(db.url, "worker", "--once", "--allow-host", "ok.example")
    assert f"outbox {message['id']}: refused: the host blocked.example is not in the allow-list" in result.stderr
    rows = _json(invoke(db.url, "outbox", "--status", "failed", "--format", "json"))
    [row] = [r for r in rows if r["id"] == message["id"]]
    assert (row["kind"], row["trigger"], row["what"], row["attempts"]) == (
        "webhook", "cl.hook", "https://blocked.example/hook", 1)
    retried = invoke(db.url, "outbox", "retry", str(message["id"]))
    assert (retried.exit_code, retried.stdout) == (0, f"message {message['id']} queued again\n")
    pending = _json(invoke(db.url, "outbox", "--status", "pending", "--format", "json"))
    assert [(r["attempts"], r["last_error"]) for r in pending if r["id"] == message["id"]] == [
        (0, "refused: the host blocked.example is not in the allow-list")]


def test_only_administrators_see_jobs_and_the_outbox(db: Auto) -> None:
    for command in (["jobs"], ["outbox"], ["jobs", "retry", "1"], ["outbox", "retry", "1"]):
        result = invoke(db.url, *command, as_user="agent1")
        assert result.exit_code == 8, (command, result.output)
        assert result.stderr == "error: only administrators see and retry jobs and the outbox\n"


def test_a_change_refused_by_a_trigger_exits_13_and_writes_nothing(db: Auto) -> None:
    item = db.admin.create("cl", {"title": "Отказ"})
    before = db.state("cl")
    result = invoke(db.url, "item", "update", "cl", str(item), "--set", "event=refuse")
    assert result.exit_code == 13
    assert result.stderr.startswith("error: trigger `cl.refuse`, action 1 (move) failed: cl ")
    assert "stage `gate` requires `memo`" in result.stderr
    assert db.state("cl") == before
