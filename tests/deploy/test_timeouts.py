"""apply on PostgreSQL never waits forever: a table lock held elsewhere, a statement that runs too long.

Each test works in a schema of its own; the sessions that hold locks are found in that schema
only, so another engineer's apply on the same server does not show up in the messages.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from smartflow.cli.main import EXIT_BUSY, main
from smartflow.deploy import apply as deploy
from smartflow.deploy.timeouts import Timeouts
from smartflow.errors import Busy
from tests.dbutil import PG_ENV, database_url, snapshot
from tests.deploy.helpers import base, desired, insert_items
from tests.deploy.test_cli_deploy import write

pytestmark = pytest.mark.skipif(not os.environ.get(PG_ENV), reason=f"PostgreSQL only: set {PG_ENV}")


@pytest.fixture
def pg_url(tmp_path: Path) -> Iterator[str]:
    yield from database_url("postgresql", tmp_path)


def _with_region() -> dict[str, Any]:
    changed = base()
    changed["fields"]["region"] = {"type": "string"}
    return changed


def _reader_in_a_transaction(url: str) -> tuple[sa.Engine, sa.Connection, int]:
    """A report tool that read p_deal and left its transaction open (it holds ACCESS SHARE on the table)."""
    engine = sa.create_engine(url, connect_args={"application_name": "month-end-report"})
    connection = engine.connect()
    connection.begin()
    connection.execute(sa.text("SELECT count(*) FROM p_deal")).scalar()
    pid = connection.execute(sa.text("SELECT pg_backend_pid()")).scalar_one()
    return engine, connection, pid


def test_apply_gives_up_on_a_held_table_lock_names_the_session_and_changes_nothing(
        pg_url: str, tmp_path: Path) -> None:
    deploy.apply(desired(tmp_path, base()), pg_url)
    insert_items(pg_url, "deal", [{"code": "A-1"}, {"code": "A-2"}])
    target = desired(tmp_path, _with_region())
    before = snapshot(pg_url)
    engine, reader, pid = _reader_in_a_transaction(pg_url)
    try:
        started = time.monotonic()
        with pytest.raises(Busy) as busy:
            deploy.apply(target, pg_url, timeouts=Timeouts(table_lock=0.5))
        waited = time.monotonic() - started
        message = str(busy.value)
        assert snapshot(pg_url) == before
    finally:
        reader.rollback()
        reader.close()
        engine.dispose()
    assert waited < 5
    assert message.startswith("apply waited 0.5s for a table lock and gave up, nothing was changed: ")
    assert message.endswith(" (step: process `deal`: add field `region` (string))")
    assert f"session pid {pid} (user " in message
    assert "application 'month-end-report', idle in transaction since " in message
    assert re.search(r"since \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC, last query: SELECT pg_backend_pid\(\)\) "
                     r"holds locks on p_deal", message), message
    assert "\n" not in message
    assert f"pg_terminate_backend({pid})" in (busy.value.hint or "")
    assert not deploy.apply(target, pg_url).empty  # the table is free again


def test_cli_exits_5_with_one_line_naming_the_session(runner: CliRunner, pg_url: str, tmp_path: Path) -> None:
    folder = write(tmp_path / "processes", base())
    assert runner.invoke(main, ["apply", str(folder), "--db", pg_url]).exit_code == 0
    write(folder, _with_region())
    before = snapshot(pg_url)
    engine, reader, pid = _reader_in_a_transaction(pg_url)
    try:
        result = runner.invoke(main, ["apply", str(folder), "--db", pg_url, "--table-lock-timeout", "0.3"])
    finally:
        reader.rollback()
        reader.close()
        engine.dispose()
    assert result.exit_code == EXIT_BUSY, result.output
    first, hint = result.stderr.splitlines()
    assert first.startswith("error: apply waited 0.3s for a table lock and gave up, nothing was changed: session ")
    assert f"session pid {pid} " in first and "'month-end-report'" in first
    assert hint.startswith("  hint: end that transaction")
    assert snapshot(pg_url) == before


def test_rollback_is_bounded_too(runner: CliRunner, pg_url: str, tmp_path: Path) -> None:
    folder = write(tmp_path / "processes", base())
    assert runner.invoke(main, ["apply", str(folder), "--db", pg_url]).exit_code == 0
    write(folder, _with_region())
    assert runner.invoke(main, ["apply", str(folder), "--db", pg_url]).exit_code == 0
    before = snapshot(pg_url)
    engine, reader, pid = _reader_in_a_transaction(pg_url)
    try:
        result = runner.invoke(main, ["rollback", "1", "--db", pg_url, "--table-lock-timeout", "0.3"])
    finally:
        reader.rollback()
        reader.close()
        engine.dispose()
    assert result.exit_code == EXIT_BUSY, result.output
    assert f"session pid {pid} " in result.stderr
    assert snapshot(pg_url) == before


def test_a_statement_over_the_statement_timeout_is_cancelled_and_nothing_changes(pg_url: str,
                                                                                tmp_path: Path) -> None:
    deploy.apply(desired(tmp_path, base()), pg_url)
    engine = sa.create_engine(pg_url)
    with engine.begin() as connection:  # enough rows that filling a new field takes > 1 ms
        connection.execute(sa.text(
            "INSERT INTO p_deal (title, pipeline, stage, created_at, updated_at, amount) "
            "SELECT 'item ' || n, 'main', 'new', now(), now(), n FROM generate_series(1, 50000) AS n"))
    engine.dispose()
    required = _with_region()
    required["fields"]["region"].update(required=True, backfill="Тула")
    target = desired(tmp_path, required)
    before = snapshot(pg_url)
    with pytest.raises(Busy, match=r"ran longer than 0.001s and was cancelled, nothing was changed"):
        deploy.apply(target, pg_url, timeouts=Timeouts(statement=0.001))
    assert snapshot(pg_url) == before
    assert not deploy.apply(target, pg_url).empty  # the default timeout lets it through


def test_the_help_shows_the_defaults_the_service_uses(runner: CliRunner) -> None:
    text = " ".join(runner.invoke(main, ["apply", "--help"]).output.split())
    defaults = Timeouts()
    assert f"(0: no limit). [default: {defaults.table_lock:g}]" in text
    assert f"(0: no limit). [default: {defaults.statement:g}]" in text
