"""Automation health for administrators, over the API and on the board: a failed job with its
error, retried once the cause is fixed (it then runs once), cancelled jobs that never run, and
every such change in the audit log. On SQLite and PostgreSQL."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient

from smartflow.http.app import create_app
from tests.automation.support import ROLES, Auto, Clock, process
from tests.runtime.support import invoke, module_url
from tests.web.support import post_sign_in

__all__ = ["module_url"]

PASSWORD = "admin-password-1"
JOBS = process("aj", {"event": {"type": "enum", "options": [{"id": "jobfail", "title": "jobfail"},
                                                             {"id": "later", "title": "later"}]},
                      "memo": {"type": "text"}}, [
    {"id": "jobfail", "on": "field_changed", "field": "event", "to": "jobfail", "after": "1m",
     "do": [{"move": "gate"}]},
    {"id": "later", "on": "field_changed", "field": "event", "to": "later", "after": "1d",
     "do": [{"comment": "a day later"}]},
], "new", "gate", required={"gate": ["memo"]})


@pytest.fixture(scope="module")
def db(module_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Auto]:
    auto = Auto(module_url, tmp_path_factory.mktemp("defs"), ROLES, JOBS, clock=Clock(datetime(2020, 1, 6, 10, 0,
                                                                                                tzinfo=UTC)))
    auto.admin.add_user("boss", "Босс", ["administrator"])
    auto.admin.set_password("boss", PASSWORD)
    auto.admin.add_user("agent1", "Агент", ["agent"])
    auto.admin.set_password("agent1", PASSWORD)
    yield auto
    auto.close()


@pytest.fixture(scope="module")
def client(db: Auto) -> Iterator[TestClient]:
    with TestClient(create_app(engine=db.admin), raise_server_exceptions=False) as found:
        yield found


def _failed_job(db: Auto) -> tuple[int, int]:
    item = db.admin.create("aj", {"title": "Сбой"})
    db.admin.update("aj", item, {"event": "jobfail"})
    assert invoke(db.url, "worker", "--once").exit_code == 0  # the real clock: the job is long due
    [job] = [j for j in db.jobs("aj", item) if j["trigger"] == "jobfail"]
    assert job["status"] == "failed" and "memo" in job["last_error"]
    return item, int(job["id"])


def test_an_administrator_retries_a_failed_job_over_the_api_and_it_runs_once(db: Auto, client: TestClient) -> None:
    item, job = _failed_job(db)
    token = db.admin.create_token("boss")
    headers = {"Authorization": f"Bearer {token}"}
    failed = client.get("/api/v1/jobs", params={"status": "failed"}, headers=headers).json()["jobs"]
    assert [(j["id"], "memo" in j["last_error"]) for j in failed if j["item_id"] == item] == [(job, True)]
    agent = {"Authorization": f"Bearer {db.admin.create_token('agent1')}"}
    assert client.post(f"/api/v1/jobs/{job}/retry", headers=agent).status_code == 403
    db.admin.update("aj", item, {"memo": "есть"})  # the cause fixed
    answer = client.post(f"/api/v1/jobs/{job}/retry", headers=headers)
    assert (answer.status_code, answer.json()) == (200, {"job": job, "status": "pending"})
    again = client.post(f"/api/v1/jobs/{job}/retry", headers=headers)
    assert again.status_code == 422 and "pending" in again.json()["message"]
    assert invoke(db.url, "worker", "--once").exit_code == 0
    assert invoke(db.url, "worker", "--once").exit_code == 0
    assert db.admin.get("aj", item)["stage"] == "gate"
    moves = [h for h in db.history("aj", item) if h["kind"] == "move"]
    assert len(moves) == 1  # it ran once
    assert [j["status"] for j in db.jobs("aj", item) if j["id"] == job] == ["done"]
    audit = client.get("/api/v1/audit", headers=headers).json()["entries"]
    assert (audit[0]["action"], audit[0]["target"], audit[0]["actor"]) == ("job.retry", f"job {job}", "boss")
    assert client.post("/api/v1/jobs/999999/retry", headers=headers).status_code == 404


def test_a_cancelled_job_never_runs_and_can_be_queued_again(db: Auto, client: TestClient) -> None:
    item = db.admin.create("aj", {"title": "Позже"})
    db.admin.update("aj", item, {"event": "later"})
    [job] = [j["id"] for j in db.jobs("aj", item) if j["trigger"] == "later"]
    headers = {"Authorization": f"Bearer {db.admin.create_token('boss')}"}
    answer = client.post(f"/api/v1/jobs/{job}/cancel", headers=headers)
    assert (answer.status_code, answer.json()["status"]) == (200, "cancelled")
    assert client.post(f"/api/v1/jobs/{job}/cancel", headers=headers).status_code == 422
    db.clock.advance(days=2)
    db.drain()
    assert db.comments("aj", item) == []
    assert client.post(f"/api/v1/jobs/{job}/retry", headers=headers).status_code == 200
    db.drain()
    assert db.comments("aj", item) == ["a day later"]


def _csrf(client: TestClient) -> str:
    return str(client.cookies["smartflow_csrf"])


def test_the_automation_page_shows_the_error_and_retries_with_a_form(db: Auto) -> None:
    item, job = _failed_job(db)
    with TestClient(create_app(engine=db.admin), follow_redirects=False) as board:
        assert post_sign_in(board, "agent1", PASSWORD).status_code == 303
        assert board.get("/admin/automation").status_code == 403  # not an administrator
        board.cookies.clear()
        assert post_sign_in(board, "boss", PASSWORD).status_code == 303
        page = board.get("/admin/automation", params={"status": "failed"})
        assert page.status_code == 200
        row = re.search(rf'<tr data-job="{job}".*?</tr>', page.text, re.S)
        assert row and "memo" in row.group(0) and f"/admin/automation/job/{job}/retry" in row.group(0)
        refused = board.post(f"/admin/automation/job/{job}/retry", data={"csrf": "wrong"}, follow_redirects=False)
        assert refused.status_code == 403
        assert [j["status"] for j in db.jobs("aj", item) if j["id"] == job] == ["failed"]
        db.admin.update("aj", item, {"memo": "исправлено"})
        done = board.post(f"/admin/automation/job/{job}/retry", data={"csrf": _csrf(board)}, follow_redirects=False)
        assert (done.status_code, done.headers["location"]) == (303, "/admin/automation?done=job_retry")
    assert invoke(db.url, "worker", "--once").exit_code == 0
    assert db.admin.get("aj", item)["stage"] == "gate"
    assert len([h for h in db.history("aj", item) if h["kind"] == "move"]) == 1
