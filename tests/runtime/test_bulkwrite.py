"""`bulkwrite.insert_rows` stores rows exactly as SQLAlchemy's own executemany stores them, and a
row the database refuses raises SQLAlchemy's IntegrityError inside the caller's savepoint, with
the rows before it undone and the transaction still usable: below and above COPY_FROM (an
executemany, and COPY on PostgreSQL)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest
import sqlalchemy as sa

from smartflow.db import make_engine
from smartflow.runtime.bulkwrite import COPY_FROM, insert_rows

NAMES = ["id", "code", "at", "day", "flag", "amount", "doc"]


def table() -> sa.Table:
    return sa.Table("bulk_probe", sa.MetaData(),
                    sa.Column("id", sa.Integer, primary_key=True), sa.Column("code", sa.String(20), unique=True),
                    sa.Column("at", sa.DateTime(timezone=True)), sa.Column("day", sa.Date),
                    sa.Column("flag", sa.Boolean), sa.Column("amount", sa.BigInteger), sa.Column("doc", sa.JSON))


def rows(count: int, start: int = 1) -> list[tuple[Any, ...]]:
    moment = datetime(2026, 12, 6, 9, 30, 15, 123456, tzinfo=UTC)
    odd = ["", "tab\there", "line\nbreak", "back\\slash", "\\N", "quote \"«»\" '", "€ ß 漢字 🙂"]
    return [(start + i, f"код-{start + i}{odd[i % len(odd)]}", moment, date(2026, 1, 1 + i % 28), i % 2 == 0,
             10**15 + i, None if i % 3 == 0 else {"название": "Бетон «М300»", "n": i, "list": [1, "два"]})
            for i in range(count)]


@pytest.fixture
def probed(db_url: str) -> Iterator[tuple[sa.Engine, sa.Table]]:
    """An engine as smartflow makes it, and the probe table created in its database (dropped after)."""
    engine = make_engine(db_url)
    probe = table()
    probe.metadata.create_all(engine)
    try:
        yield engine, probe
    finally:
        probe.metadata.drop_all(engine)
        engine.dispose()


def stored(connection: sa.Connection, probe: sa.Table) -> list[tuple[Any, ...]]:
    return [tuple(r) for r in connection.execute(sa.select(probe).order_by(probe.c.id))]


@pytest.mark.parametrize("count", [3, COPY_FROM + 7])
def test_rows_are_stored_as_sqlalchemy_stores_them(probed: tuple[sa.Engine, sa.Table], count: int) -> None:
    engine, probe = probed
    with engine.begin() as connection:
        insert_rows(connection, probe, NAMES, rows(count))
        ours = stored(connection, probe)
        raw_nulls = connection.execute(sa.text("SELECT count(*) FROM bulk_probe WHERE doc IS NULL")).scalar()
        connection.execute(sa.delete(probe))
        connection.execute(probe.insert(), [dict(zip(NAMES, row, strict=True)) for row in rows(count)])
        assert stored(connection, probe) == ours
        assert connection.execute(sa.text("SELECT count(*) FROM bulk_probe WHERE doc IS NULL")).scalar() == \
            raw_nulls
    assert ours[0][6] is None and ours[1][6]["название"] == "Бетон «М300»"


@pytest.mark.parametrize("count", [3, COPY_FROM + 7])
def test_a_refused_row_raises_integrity_error_and_leaves_the_transaction_usable(probed: tuple[sa.Engine, sa.Table],
                                                                                count: int) -> None:
    engine, probe = probed
    with engine.begin() as connection:
        insert_rows(connection, probe, NAMES, rows(1, start=1000))
        clashing = rows(count)
        clashing[-1] = (clashing[-1][0], "код-1000", *clashing[-1][2:])  # the unique code of row 1000
        with pytest.raises(sa.exc.IntegrityError), connection.begin_nested():
            insert_rows(connection, probe, NAMES, clashing)
        insert_rows(connection, probe, NAMES, rows(2, start=2000))
    with engine.connect() as connection:
        assert [r[0] for r in stored(connection, probe)] == [1000, 2000, 2001]


def test_json_columns_write_decimals_and_dates_as_plain_text(probed: tuple[sa.Engine, sa.Table]) -> None:
    """History rows of a bulk import hold canonical values; the serialiser writes them as fields.plain."""
    engine, probe = probed
    with engine.begin() as connection:
        insert_rows(connection, probe, ["id", "doc"], [(1, {"amount": Decimal("1500.50"), "due": date(2026, 12, 1),
                                                              "at": datetime(2026, 12, 1, 9, 30, tzinfo=UTC)})])
        assert connection.execute(sa.select(probe.c.doc)).scalar() == {
            "amount": "1500.50", "due": "2026-12-01", "at": "2026-12-01T09:30:00+00:00"}
