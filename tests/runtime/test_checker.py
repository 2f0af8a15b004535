"""`fields.checker(field)`, prepared once per field for creates and imports, gives exactly what
`fields.check` then `fields.with_decimals` give: the same value, or the same problem word for word."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from smartflow.definitions.model import Field, Option, Text
from smartflow.runtime import fields

bounds = st.one_of(st.none(), st.integers(-1000, 1000))
decimals = st.one_of(st.decimals(min_value=-10**6, max_value=10**6, allow_nan=False, places=3),
                     st.decimals(min_value=-10**20, max_value=10**20, allow_nan=False, places=0),
                     st.sampled_from([Decimal("92233720368547758.07"), Decimal("-9223372036854775.808"),
                                      Decimal("1E+20"), Decimal("0.001"), Decimal("-0")]))


@st.composite
def field_and_value(draw: st.DrawFn) -> tuple[Field, Any]:
    kind = draw(st.sampled_from(["string", "text", "email", "phone", "url", "integer", "number", "money", "boolean",
                                 "date", "datetime", "enum"]))
    low, high = draw(bounds), draw(bounds)
    options: tuple[Option, ...] = ()
    extra: dict[str, Any] = {}
    if kind in ("string", "text", "email", "phone", "url"):
        extra = {"min_length": draw(st.one_of(st.none(), st.integers(0, 5))),
                 "max_length": draw(st.one_of(st.none(), st.integers(1, 12))),
                 "pattern": draw(st.sampled_from([None, r"[A-Z]-[0-9]+", r".*"]))}
        value: Any = draw(st.one_of(st.text(max_size=15), st.sampled_from(["a@b.cd", "+7 495 123-45-67",
                                                                          "https://x.ru", "A-12"])))
    elif kind == "integer":
        extra = {"min": low, "max": high}
        value = draw(st.one_of(st.integers(-2000, 2000), st.integers(-2**64, 2**64)))
    elif kind in ("number", "money"):
        extra = {"min": low, "max": high, "precision": draw(st.sampled_from([None, 0, 2, 3]))}
        amount = draw(decimals)
        value = {"amount": amount, "currency": "RUB"} if kind == "money" else amount
    elif kind == "boolean":
        value = draw(st.booleans())
    elif kind == "date":
        extra = {"min": draw(st.sampled_from([None, "2020-01-01"])), "max": draw(st.sampled_from([None, "2030-12-31"]))}
        value = draw(st.dates(min_value=date(2000, 1, 1), max_value=date(2050, 1, 1)))
    elif kind == "datetime":
        extra = {"min": draw(st.sampled_from([None, "2020-01-01T00:00"]))}
        value = draw(st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2050, 1, 1))).replace(tzinfo=UTC)
    else:
        options = (Option("retail", Text((("ru", "Розница"),))), Option("bulk", Text((("ru", "Опт"),))))
        value = draw(st.sampled_from(["retail", "bulk", "wholesale", "Опт"]))
    field = Field(id="f", type=kind, options=options, **{k: v for k, v in extra.items() if v is not None})
    return field, value


def outcome(run: Any) -> tuple[str, Any]:
    try:
        return "value", run()
    except fields.ValueProblem as problem:
        return "problem", str(problem)


def general(field: Field, value: Any) -> Any:
    fields.check(field, value)
    return fields.with_decimals(field, value)


@settings(max_examples=600, deadline=None)
@given(field_and_value())
def test_the_prepared_checker_is_check_then_with_decimals(case: tuple[Field, Any]) -> None:
    field, value = case
    prepared = fields.checker(field)
    ours, theirs = outcome(lambda: prepared(value)), outcome(lambda: general(field, value))
    assert ours == theirs
    if ours[0] == "value" and isinstance(ours[1], (Decimal, dict)):
        assert str(ours[1]) == str(theirs[1])  # the same decimals, not only an equal number
