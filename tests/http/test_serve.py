"""`smartflow serve` as scripts use it: a real process on a free loopback port, spoken to over
HTTP, stopped by SIGTERM (exit 0), on SQLite and PostgreSQL; and the HTTP API guide's commands
(curl against the procurement example), run as written."""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import ROOT
from tests.dbutil import backends, database_url

PROCESSES = ROOT / "processes"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def environment() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("SMARTFLOW_")}


def smartflow(*args: str, db: str, stdin: str | None = None) -> str:
    done = subprocess.run([sys.executable, "-m", "smartflow", *args, "--db", db], env=environment(), input=stdin,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout


def wait_listening(port: int, server: subprocess.Popen[str], seconds: float = 90) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        assert server.poll() is None, server.communicate()
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise AssertionError(f"nothing listens on port {port}")


@pytest.fixture(params=backends())
def url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    yield from database_url(request.param, tmp_path)


@pytest.mark.db
@pytest.mark.parametrize("workers", [1, 2])
def test_serve_listens_answers_and_stops_on_sigterm_with_exit_0(url: str, workers: int) -> None:
    smartflow("apply", str(PROCESSES), db=url)
    smartflow("user", "add", "ivanova", "--role", "buyer", db=url)
    token = smartflow("token", "create", "ivanova", "--expires", "1d", db=url).strip()
    port = free_port()
    server = subprocess.Popen([sys.executable, "-m", "smartflow", "serve", "--port", str(port), "--db", url,
                               "--workers", str(workers)],
                              env=environment(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              start_new_session=True)  # its workers in its group, to be killed with it
    try:
        wait_listening(port, server)
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", headers={"Authorization": f"Bearer {token}"},
                          timeout=30) as client:
            assert client.get("/api/v1/processes").status_code == 200
            created = client.post("/api/v1/processes/procurement/items", json={"title": "Кирпич", "estimate": "9000",
                                                                              "materials": ["rebar"]})
            assert created.status_code == 201, created.text
            item = created.json()["id"]
            moved = client.post(f"/api/v1/processes/procurement/items/{item}/move", json={"stage": "prices"})
            assert moved.status_code == 200 and moved.json()["stage"] == "prices", moved.text
            exported = client.get("/api/v1/processes/procurement/export", params={"format": "csv"})
            assert "Кирпич" in exported.text
            for _ in range(4):  # several connections: with 2 workers both serve the same data
                again = httpx.get(f"http://127.0.0.1:{port}/api/v1/processes/procurement/items/{item}",
                                  headers={"Authorization": f"Bearer {token}"})
                assert again.json()["stage"] == "prices"
            assert httpx.get(f"http://127.0.0.1:{port}/api/v1/processes").status_code == 401
        server.send_signal(signal.SIGTERM)
        out, err = server.communicate(timeout=60)
    finally:
        if server.poll() is None or (server.stdout and not server.stdout.closed):
            # a supervisor killed alone leaves its workers running, holding the pipes open
            with contextlib.suppress(ProcessLookupError):
                os.killpg(server.pid, signal.SIGKILL)
            server.communicate(timeout=30)
    assert server.returncode == 0, err
    assert out.splitlines()[0].startswith(f"smartflow serving http://127.0.0.1:{port} ")
    assert "Traceback" not in err


def test_serve_on_an_empty_database_says_so_and_exits(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "-m", "smartflow", "serve", "--port", str(free_port()), "--db",
                           f"sqlite:///{tmp_path / 'empty.db'}"], env=environment(), capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 12 and done.stdout == ""
    assert done.stderr.startswith("error: nothing is deployed in this database\n")


def readme_http_commands() -> str:
    """The commands of the HTTP API guide's session with curl (docs/how-to/http-api.md)."""
    page = (ROOT / "docs" / "how-to" / "http-api.md").read_text(encoding="utf-8")
    section = page[page.index("## A session with curl"):]
    found = re.search(r"```sh\n(.*?)```", section, re.S)
    assert found is not None
    return found.group(1)


@pytest.mark.skipif(not (shutil.which("curl") and shutil.which("jq")), reason="the README uses curl and jq")
def test_readme_http_api_commands_run_as_written(tmp_path: Path) -> None:
    assert shutil.which("smartflow"), "the README installs the `smartflow` command first"
    port = free_port()
    script = readme_http_commands().replace("8000", str(port)).replace("sh examples/", f"sh {ROOT}/examples/")
    # a session of its own: if the script fails half-way, its background server is stopped with it
    script_run = subprocess.Popen(["sh", "-eu", "-c", script], cwd=tmp_path, env=environment(), text=True,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
    try:
        stdout, stderr = script_run.communicate(timeout=300)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(script_run.pid, signal.SIGKILL)
        if script_run.poll() is None:
            script_run.communicate()
    done = subprocess.CompletedProcess(script_run.args, script_run.returncode, stdout, stderr)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert '"stage":"prices"' in done.stdout, done.stdout[-2000:]
    assert (tmp_path / "purchases.xlsx").stat().st_size > 1000
    assert "Traceback" not in done.stderr


@pytest.mark.db
def test_sigterm_lets_a_streaming_export_in_flight_finish(url: str, tmp_path: Path) -> None:
    from tests.runtime.support import CLAIM, Db

    database = Db(url, tmp_path / "defs", {"kind": "Roles", "roles": {"worker": {"title": "Worker"}}}, CLAIM)
    try:
        database.admin.add_user("ivanova", "Иванова", ["worker"])
        token = database.admin.create_token("ivanova")
        rows = 30_000  # some 2.7 MB of CSV, written a batch at a time while the client reads slowly
        database.insert_items("claim", [{"title": f"claim number {n} " + "x" * 60, "reason": "r"} for n in range(rows)])
    finally:
        database.close()
    port = free_port()
    server = subprocess.Popen([sys.executable, "-m", "smartflow", "serve", "--port", str(port), "--db", url],
                              env=environment(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        wait_listening(port, server)
        received = lines = 0
        with httpx.stream("GET", f"http://127.0.0.1:{port}/api/v1/processes/claim/export",
                          headers={"Authorization": f"Bearer {token}"}, timeout=60) as response:
            assert response.status_code == 200
            chunks = response.iter_bytes(64 * 1024)
            first = next(chunks)
            received, lines = len(first), first.count(b"\n")
            server.send_signal(signal.SIGTERM)  # the export is still being written
            time.sleep(0.5)
            for chunk in chunks:
                received += len(chunk)
                lines += chunk.count(b"\n")
        _, err = server.communicate(timeout=60)
    finally:
        if server.poll() is None:
            server.kill()
            server.communicate()
    assert server.returncode == 0, err
    assert received > 2_000_000 and lines == rows + 1  # every item, after the header: nothing cut off
