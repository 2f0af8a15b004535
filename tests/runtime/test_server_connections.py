"""A server's engine keeps its connections open. SQLAlchemy's default pool keeps five and opens the rest
per use: under 16 concurrent requests, about one in four opened a connection (on PostgreSQL a new backend
process) and closed it again. `Engine(server=True)`, what `smartflow serve` opens, pools all of
SMARTFLOW_DB_CONNECTIONS (15 by default, the default pool's own maximum)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa

from smartflow import Engine
from smartflow.db import SERVER_CONNECTIONS, server_connections
from tests.runtime.support import DOCUMENTS, Db, module_url

__all__ = ["module_url"]  # the fixture, imported for pytest

THREADS = 12


@pytest.fixture(scope="module")
def db(module_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Db]:
    database = Db(module_url, tmp_path_factory.mktemp("defs"), *DOCUMENTS)
    yield database
    database.close()


def _opened(engine: Engine, item_id: int) -> int:
    """Connections engine opens while THREADS threads read at once, 15 times each."""
    opened = [0]

    def connect(*_: Any) -> None:
        opened[0] += 1

    sa.event.listen(engine._db, "connect", connect)
    start = threading.Barrier(THREADS)
    failures: list[BaseException] = []

    def read() -> None:
        try:
            for _ in range(15):
                start.wait(30)  # all threads in a read at once, every round
                engine.get("purchase", item_id)
        except BaseException as failure:  # reported by the test below
            failures.append(failure)

    threads = [threading.Thread(target=read) for _ in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not failures
    return opened[0]


def test_a_server_engine_opens_each_connection_once(db: Db) -> None:
    item_id = db.admin.create("purchase", {"title": "pooled"})
    with Engine(db.url, server=True) as server:
        assert _opened(server, item_id) <= THREADS
        assert server._db.pool.size() == SERVER_CONNECTIONS


def test_the_number_of_connections_is_a_setting(monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> None:
    monkeypatch.setenv("SMARTFLOW_DB_CONNECTIONS", "40")
    assert server_connections() == 40
    with Engine(f"sqlite:///{tmp_path / 'x.db'}", server=True) as server:
        assert server._db.pool.size() == 40
    monkeypatch.setenv("SMARTFLOW_DB_CONNECTIONS", " ")
    assert server_connections() == SERVER_CONNECTIONS  # empty: the default
    for wrong in ("0", "-3", "many", "١٢", "1.5"):  # not a positive whole number (Arabic-Indic digits too)
        monkeypatch.setenv("SMARTFLOW_DB_CONNECTIONS", wrong)
        with pytest.raises(ValueError, match=r"SMARTFLOW_DB_CONNECTIONS=.* is not a positive whole number"):
            server_connections()


def test_serve_refuses_a_wrong_number_of_connections_in_one_line(monkeypatch: pytest.MonkeyPatch,
                                                                  runner: Any) -> None:
    """Before it opens the database or listens: the variable, what is wrong with it and how to fix it; exit 2."""
    from smartflow.cli.main import main

    monkeypatch.setenv("SMARTFLOW_DB_CONNECTIONS", "много")
    result = runner.invoke(main, ["serve", "--db", "sqlite:///nowhere/at/all.db"])
    assert result.exit_code == 2, result.output
    [line] = [text for text in result.output.splitlines() if text.startswith("Error:")]
    assert "SMARTFLOW_DB_CONNECTIONS='много' is not a positive whole number" in line and "unset it" in line
    assert "Traceback" not in result.output
