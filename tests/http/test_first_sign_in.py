"""The first sign-in: while no administrator has a password, `smartflow serve` prints a one-time
link (as Jupyter prints its token URL); opening it signs in as the administrator after choosing a
password, it works once, and once an administrator has a password serve prints none. On SQLite and
PostgreSQL (the server is a real process; the link is used against it)."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from smartflow.services import Engine
from tests.dbutil import backends, database_url
from tests.http.test_serve import PROCESSES, environment, free_port, smartflow, wait_listening

pytestmark = pytest.mark.db


@pytest.fixture(params=backends())
def url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    yield from database_url(request.param, tmp_path)


def _serve(url: str, port: int) -> subprocess.Popen[str]:
    server = subprocess.Popen([sys.executable, "-m", "smartflow", "serve", "--port", str(port), "--db", url],
                              env=environment(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    wait_listening(port, server)
    return server


def _stop(server: subprocess.Popen[str]) -> str:
    server.send_signal(signal.SIGTERM)
    out, err = server.communicate(timeout=60)
    assert server.returncode == 0 and "Traceback" not in err, err
    return out


def test_serve_prints_a_one_time_sign_in_link_while_no_administrator_has_a_password(url: str) -> None:
    smartflow("apply", str(PROCESSES), db=url)
    port = free_port()
    server = _serve(url, port)
    try:
        assert server.stdout is not None
        lines = [server.stdout.readline(), server.stdout.readline(), server.stdout.readline()]
        link = re.search(r"(http://127\.0\.0\.1:\d+/welcome\?code=sfr_[\w-]+)", "".join(lines))
        assert link, lines
        assert "sign in as `admin`" in lines[1]
        with httpx.Client() as browser:
            form = browser.get(link.group(1))
            assert form.status_code == 200 and "admin" in form.text
            code = link.group(1).split("code=")[1]
            done = browser.post(f"http://127.0.0.1:{port}/welcome",
                                data={"code": code, "password": "first-password-1", "again": "first-password-1"})
            assert (done.status_code, done.headers["location"]) == (303, "/")
            assert browser.get(f"http://127.0.0.1:{port}/admin/users").status_code == 200  # an administrator
        with httpx.Client() as other:
            assert other.get(link.group(1)).status_code == 401  # it worked once
    finally:
        _stop(server) if server.poll() is None else None
    with Engine(url) as admin:
        assert [(u["login"], u["roles"]) for u in admin.directory()["users"]] == [("admin", ["administrator"])]
        assert [e["action"] for e in admin.audit_log()][:2] == ["password.reset_used", "password.first_sign_in"]
    again = _serve(url, port := free_port())
    out = _stop(again)
    assert out.startswith(f"smartflow serving http://127.0.0.1:{port} ") and "welcome" not in out


def test_an_existing_administrator_without_a_password_gets_the_link(url: str) -> None:
    smartflow("apply", str(PROCESSES), db=url)
    smartflow("user", "add", "boss", "--name", "Босс", "--role", "administrator", db=url)
    port = free_port()
    out = _stop(_serve(url, port))
    assert "sign in as `boss`" in out and "/welcome?code=sfr_" in out
    with Engine(url) as admin:
        assert [u["login"] for u in admin.directory()["users"]] == ["boss"]  # nobody else was made
