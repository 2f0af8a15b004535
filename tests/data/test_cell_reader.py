"""An import reads a column's cells with a reader prepared once for it (`Resolver.reader`); what
it gives, or the problem it names, must be exactly what the general `Resolver.value` gives for
the same cell, for every kind of field and any text a person may type."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from hypothesis import example, given, settings
from hypothesis import strategies as st

from smartflow.data.cells import neutralise
from smartflow.data.columns import column
from smartflow.data.parse import CellProblem, Resolver
from smartflow.runtime import clock
from tests.data.test_roundtrip import PROCESS, USERS

MOMENT = datetime(2026, 12, 6, 9, 30, tzinfo=UTC)
FIELDS = [*sorted(f.id for f in PROCESS.fields if f.type != "file"), "title", "assigned_to"]

near = st.one_of(
    st.from_regex(r"\A\s?[+-]?[0-9]{1,20}\s?\Z"),  # whole numbers, signs and blanks around
    st.from_regex(r"\A[0-9]{4}-[0-9]{2}-[0-9]{2}\Z"),  # ISO dates, real and impossible (2026-02-30)
    st.from_regex(r"\A[0-9]{1,2}\.[0-9]{1,2}\.[0-9]{4}\Z"),  # Russian dates
    st.from_regex(r"\A-?[0-9 ]{1,9}([.,][0-9]{1,4})?( [A-Za-z]{3})?\Z"),  # amounts, with a currency
    st.sampled_from(["today", "now", "true", "нет", "Да", "retail", "Розница", "bulk", "web, phone", "ivanova",
                     "#1", "#0", "#2", "0", "007", "+5", "-0", "1e3", "١٢", "²", "=1+1", "'=1+1", " ", "",
                     "2026-12-01T09:30", "2026-12-01 09:30:00+03:00", "12.5O", "Иванова Мария"]),
)
cells = st.one_of(near, st.text(max_size=12), near.map(neutralise))


def outcome(read: Any, raw: Any) -> tuple[str, Any]:
    """What reading raw gives, at one fixed moment (`now` and `today` are cells too)."""
    try:
        with clock.using(MOMENT):
            return "value", read(raw)
    except CellProblem as problem:
        return "problem", (problem.column, problem.value, str(problem))


@settings(max_examples=400, deadline=None)
@given(field_id=st.sampled_from(FIELDS), raw=cells, neutralised=st.booleans())
@example(field_id="qty", raw=" 12 ", neutralised=True)
@example(field_id="due", raw="2026-02-30", neutralised=True)
@example(field_id="due", raw="31.12.2026", neutralised=False)
@example(field_id="meet_at", raw="now", neutralised=False)
def test_a_prepared_reader_reads_every_text_cell_as_the_general_path_does(field_id: str, raw: str,
                                                                         neutralised: bool) -> None:
    chosen = column(PROCESS, field_id)
    resolver = Resolver(PROCESS, USERS, neutralised)
    general = outcome(lambda cell: resolver.value(chosen, cell), raw)
    assert outcome(resolver.reader(chosen), raw) == general


@given(field_id=st.sampled_from(FIELDS), raw=st.one_of(st.none(), st.integers(-10**6, 10**6), st.booleans(),
                                                       st.floats(allow_nan=False, allow_infinity=False),
                                                       st.dates()))
@settings(max_examples=150, deadline=None)
def test_typed_cells_take_the_general_path(field_id: str, raw: Any) -> None:
    chosen = column(PROCESS, field_id)
    resolver = Resolver(PROCESS, USERS, neutralised=False)
    assert outcome(resolver.reader(chosen), raw) == outcome(lambda cell: resolver.value(chosen, cell), raw)
