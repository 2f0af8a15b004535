"""PostgreSQL connections in smartflow's pool: one idle for a while is pinged before use, so a connection
the server dropped (a restart, an idle timeout, an administrator's pg_terminate_backend) is replaced before
an operation sees it; one used a moment ago is not pinged, which would cost a round trip per operation."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from smartflow import db
from tests.dbutil import PG_ENV, database_url

pytestmark = pytest.mark.skipif(not os.environ.get(PG_ENV), reason="PostgreSQL only: set SMARTFLOW_TEST_DATABASE_URL")


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[sa.Engine]:
    for url in database_url("postgresql", tmp_path):  # a schema of its own, dropped after
        made = db.make_engine(url, pool_size=1, max_overflow=0)
        yield made
        made.dispose()


def _backend(engine: sa.Engine) -> int:
    with engine.connect() as connection:
        return int(connection.exec_driver_sql("SELECT pg_backend_pid()").scalar_one())


def _terminate(pid: int) -> None:
    admin = sa.create_engine(os.environ[PG_ENV])
    with admin.connect() as connection:
        connection.exec_driver_sql(f"SELECT pg_terminate_backend({pid})")
        connection.commit()
    admin.dispose()


def test_a_connection_the_server_dropped_while_idle_is_replaced_before_use(engine: sa.Engine,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    first = _backend(engine)
    _terminate(first)
    monkeypatch.setattr(db, "PING_IDLE_SECONDS", 0.0)  # as if it had been idle for a while
    second = _backend(engine)  # no error: the ping found it dead, and the pool connected anew
    assert second != first


def test_a_connection_used_a_moment_ago_is_not_pinged(engine: sa.Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    pings: list[str] = []
    real = engine.dialect.do_ping
    monkeypatch.setattr(engine.dialect, "do_ping", lambda connection: pings.append("ping") or real(connection))
    for _ in range(5):
        _backend(engine)
    assert pings == []  # five operations, one connection, no round trip spent on a ping
    monkeypatch.setattr(db, "PING_IDLE_SECONDS", 0.0)
    _backend(engine)
    assert pings == ["ping"]


def test_a_dropped_connection_used_a_moment_ago_fails_that_operation_only(engine: sa.Engine) -> None:
    first = _backend(engine)
    _terminate(first)
    with pytest.raises(sa.exc.OperationalError):
        _backend(engine)  # not pinged: the operation meets the dead connection, as if the server died during it
    assert _backend(engine) != first  # the pool dropped it; the next operation connects anew
