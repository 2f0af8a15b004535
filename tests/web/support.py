"""The shipped examples deployed on one database, their users with passwords, and `smartflow serve`'s
application listening on a free port of 127.0.0.1 (in this process, so tests read the database
through the services while the browser works the board). Chromium is Debian's; without it the
browser tests are skipped."""

from __future__ import annotations

import atexit
import os
import re
import shutil
import socket
import sqlite3
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
import uvicorn

from smartflow.http.app import create_app
from smartflow.services import Engine
from smartflow.services import deploy as deploying
from smartflow.services.data import ImportOptions
from tests.dbutil import PG_ENV

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"
PASSWORD = "board-password-1"
DEPARTMENTS = {"supply": "Снабжение / Supply", "hr": "Отдел кадров / HR", "care": "Служба заботы / Customer care",
               "reception": "Регистратура / Reception", "therapy": "Терапия / Therapy"}
USERS = [  # the examples' people (examples/*/demo.sh): each team's roles hold in its own processes only
    ("ivanova", "Анна Иванова", ["buyer"], "supply", ["procurement"]),
    ("orlov", "Сергей Орлов", ["buyer"], "supply", ["procurement"]),
    ("petrov", "Пётр Петров", ["manager"], None, ["procurement"]),
    ("smirnova", "Мария Смирнова", ["recruiter"], "hr", ["candidate"]),
    ("volkova", "Елена Волкова", ["hr_head"], "hr", ["candidate"]),
    ("belova", "Наталья Белова", ["support"], "care", ["complaint"]),
    ("gusev", "Виктор Гусев", ["manager"], None, ["complaint"]),
    ("sokolova", "Ольга Соколова", ["registrar"], "reception", ["patient", "appointment"]),
    ("lebedev", "Михаил Лебедев", ["doctor"], "therapy", ["patient", "appointment"]),
    ("boss", "Boss", ["administrator"], None, []),
]
SAMPLES = [("patient", "clinic/patients.csv"), ("appointment", "clinic/appointments.csv"),
           ("complaint", "complaints/complaints.csv"), ("candidate", "hr/candidates.csv"),
           ("procurement", "procurement/procurement.csv")]


def free_port() -> int:
    """A port free now on 127.0.0.1, for a server in another process (one in this process is handed a bound
    socket instead, as Site does)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def chromium_or_skip() -> str:
    if not Path(CHROMIUM).exists() or shutil.which(CHROMIUM) is None:
        pytest.skip(f"no Chromium at {CHROMIUM}: install Debian's `chromium` package to run the browser tests")
    return CHROMIUM


class Site:
    """A deployed database with the examples' users and samples, served on 127.0.0.1."""

    def __init__(self, url: str, samples: bool = True, extra: tuple[Path, ...] = (),
                 clock: Callable[[], datetime] | None = None, *, built: bool = False) -> None:
        self.url = url
        if not built:  # built: url is a copy of a database build() made (see served())
            build(url, samples, extra, clock)
        self.admin = Engine(url, clock=clock)  # clock: a fake "now" for the served app too (tests move it)
        # the server is handed a socket already bound to a free port: no other test (or xdist worker)
        # can take the port between choosing it and listening on it
        self.socket = socket.socket()
        self.socket.bind(("127.0.0.1", 0))
        self.port = int(self.socket.getsockname()[1])
        self.base = f"http://127.0.0.1:{self.port}"
        # a stop gives open event streams (a page's EventSource, a test's reader) a second, not their next
        # heartbeat: `smartflow serve`'s own graceful stop is tested in tests/http/test_serve.py
        config = uvicorn.Config(create_app(engine=self.admin), host="127.0.0.1", port=self.port, log_level="warning",
                                lifespan="on", timeout_graceful_shutdown=1)
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.socket]}, daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            assert self.thread.is_alive() and time.monotonic() < deadline, "the server did not start"
            time.sleep(0.05)

    def as_user(self, login: str) -> Engine:
        return self.admin.as_user(login)

    def close(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=20)
        self.socket.close()
        self.admin.close()


def build(url: str, samples: bool = True, extra: tuple[Path, ...] = (),
          clock: Callable[[], datetime] | None = None) -> None:
    """Deploy the shipped processes (and extra: folders of a test's own) on url, add the examples' departments
    and users with passwords, and import the samples."""
    deploying.apply([ROOT / "processes", *extra], url)
    admin = Engine(url, clock=clock)
    try:
        for department, title in DEPARTMENTS.items():
            admin.add_department(department, title)
        for login, name, roles, department, processes in USERS:
            admin.add_user(login, name, roles, department, processes)
            admin.set_password(login, PASSWORD)
        if samples:
            for process, sample in SAMPLES:
                result = admin.import_file(process, ROOT / "examples" / sample, ImportOptions())
                assert result.created, result.problems
    finally:
        admin.close()


def serve(url: str, samples: bool = True, extra: tuple[Path, ...] = (),
          clock: Callable[[], datetime] | None = None) -> Iterator[Site]:
    site = Site(url, samples, extra, clock)
    try:
        yield site
    finally:
        site.close()


_BUILT: dict[str, str] = {}  # backend → this process's built database (SQLite: its file; PostgreSQL: its name)


def served(kind: str, folder: Path) -> Iterator[Site]:
    """The examples' site (build()'s defaults) on a fresh database of kind, served: a copy of one database this
    process built once, since building takes 2–4 s a site and most board modules serve the same one.

    SQLite: a file copied with SQLite's backup API. PostgreSQL: a database made with CREATE DATABASE … TEMPLATE,
    dropped after (a schema cannot be copied; the template is this process's own, so no other xdist worker
    is connected to it while it is copied)."""
    if kind == "sqlite":
        if kind not in _BUILT:
            source = Path(tempfile.mkdtemp(prefix="smartflow-site-")) / "built.db"
            atexit.register(shutil.rmtree, source.parent, True)
            build(f"sqlite:///{source}")
            _BUILT[kind] = str(source)
        target = folder / "site.db"
        built, copy = sqlite3.connect(_BUILT[kind]), sqlite3.connect(target)
        try:
            built.backup(copy)
        finally:
            built.close()
            copy.close()
        yield from _serve_built(f"sqlite:///{target}")
        return
    base = sa.engine.make_url(os.environ[PG_ENV])
    admin = sa.create_engine(base, isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool)
    if kind not in _BUILT:
        name = f"t_built_{uuid.uuid4().hex[:12]}"
        with admin.connect() as connection:
            connection.execute(sa.text(f"CREATE DATABASE {name}"))
        atexit.register(_drop_database, base, name)
        build(base.set(database=name).render_as_string(hide_password=False))
        _BUILT[kind] = name
    name = f"t_site_{uuid.uuid4().hex[:12]}"
    with admin.connect() as connection:
        connection.execute(sa.text(f"CREATE DATABASE {name} TEMPLATE {_BUILT[kind]}"))
    try:
        yield from _serve_built(base.set(database=name).render_as_string(hide_password=False))
    finally:
        _drop_database(base, name)


def _serve_built(url: str) -> Iterator[Site]:
    site = Site(url, built=True)
    try:
        yield site
    finally:
        site.close()


def _drop_database(base: sa.engine.URL, name: str) -> None:
    admin = sa.create_engine(base, isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool)
    with admin.connect() as connection:
        connection.execute(sa.text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))


def wait_until(page: Any, condition: str, timeout_ms: int = 30_000) -> None:
    """Wait until the JavaScript condition holds in the page, checked every frame.

    Not page.wait_for_function: Playwright compiles its predicate with `new Function` in the page,
    which the board's Content-Security-Policy (no unsafe-eval) refuses; page.evaluate goes through
    the DevTools protocol, as the browser's own tools do, and is not held to the page's policy."""
    script = """([timeout, said]) => new Promise((resolve, reject) => {
        const deadline = performance.now() + timeout;
        const check = () => {
            if (CONDITION) resolve(true);
            else if (performance.now() > deadline) reject(new Error("still false: " + said));
            else requestAnimationFrame(check);
        };
        check();
    })"""
    page.evaluate(script.replace("CONDITION", condition), [timeout_ms, condition])


HTTP_TIMEOUT = 30  # seconds: Playwright's own default, not httpx's 5 s (a busy 2-core CI machine once took longer)


def http_client(site: Site, **options: Any) -> Any:
    """An HTTP client of the site (httpx), that waits for an answer as long as the browser's pages do
    (options: httpx.Client's, a longer timeout among them)."""
    import httpx

    options.setdefault("timeout", HTTP_TIMEOUT)
    return httpx.Client(base_url=site.base, **options)


def login_form_token(client: Any) -> str:
    """GET the sign-in form with an HTTP client (which keeps its cookie) and read its CSRF token."""
    form = client.get("/login")
    assert form.status_code == 200
    found = re.search(r'name="csrf" value="([^"]+)"', form.text)
    assert found, form.text
    return found.group(1)


def post_sign_in(client: Any, login: str, password: str = PASSWORD, next_path: str = "/") -> Any:
    """Sign in with an HTTP client through the form, as a browser does (its CSRF token included)."""
    token = login_form_token(client)
    return client.post("/login", data={"login": login, "password": password, "next": next_path, "csrf": token})


def sign_in_with_the_form(page: Any, site: Site, login: str, path: str = "/") -> None:
    """Sign in through the form the way a person does, landing on path."""
    page.goto(site.base + path)
    assert "/login" in page.url
    page.fill("input[name=login]", login)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(site.base + path)


def sign_in(page: Any, site: Site, login: str, path: str = "/") -> None:
    """Signed in as login, landing on path: the sign-in form is posted (its CSRF token included) by an HTTP
    client, and the cookies the site answers with are handed to the page's browser context.

    The same session a person's sign-in starts, without loading two pages in the browser first (about
    0.7 s a sign-in, a third of a board test). The form itself is driven in the browser by
    sign_in_with_the_form, in the tests of signing in (test_kanban.py, test_languages.py)."""
    with http_client(site) as client:
        answer = post_sign_in(client, login, next_path=path)
        assert answer.status_code == 303, answer.text
        assert answer.headers["location"] == path, answer.headers
        cookies = [{"name": cookie.name, "value": cookie.value or "", "url": site.base, "sameSite": "Strict",
                    "httpOnly": cookie.has_nonstandard_attr("HttpOnly")}
                   for cookie in client.cookies.jar]
    page.context.add_cookies(cookies)
    page.goto(site.base + path)
    assert page.url == site.base + path, page.url
