"""Converting stored values when a field changes type or precision.

Stored forms (see compile/sql.py): number and money as integers of 10^-precision units,
dates as date, datetimes as datetime, enums as option ids, booleans as bool, links, users
and files as integer ids, everything else as text.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from smartflow.compile.sql import precision_of
from smartflow.definitions.model import Field
from smartflow.definitions.values import boolean, to_date, to_datetime

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_TEXT_TYPES = ("string", "text", "email", "phone", "url")
_REFERENCE_TYPES = ("link", "user", "file")


class Unconvertible(ValueError):
    """A stored value that has no equivalent under the new field definition."""


def to_decimal(stored: int, field: Field) -> Decimal:
    return Decimal(stored).scaleb(-precision_of(field))


def from_decimal(value: Decimal, field: Field) -> int:
    scaled = value.scaleb(precision_of(field))
    if scaled != scaled.to_integral_value():
        raise Unconvertible(f"{value} has more than {precision_of(field)} digits after the point")
    return int(scaled)


def _as_text(stored: Any, field: Field) -> str:
    if field.type in ("number", "money"):
        return str(to_decimal(stored, field))
    if isinstance(stored, bool):
        return "true" if stored else "false"
    if isinstance(stored, (date, datetime)):
        return stored.isoformat()
    return str(stored)


def _as_decimal(stored: Any, field: Field) -> Decimal:
    if field.type in ("number", "money"):
        return to_decimal(stored, field)
    if field.type == "integer":
        return Decimal(stored)
    if field.type in _TEXT_TYPES:
        try:
            return Decimal(str(stored).strip().replace(" ", "").replace(",", "."))
        except InvalidOperation:
            raise Unconvertible(f"{stored!r} is not a number") from None
    raise Unconvertible(f"a {field.type} value cannot become a number")


def convert(stored: Any, old: Field, new: Field) -> Any:
    """The stored value under the new definition; raises Unconvertible when it has none."""
    if stored is None:
        return None
    target = new.type
    if target in _TEXT_TYPES:
        if old.type in _REFERENCE_TYPES:
            raise Unconvertible(f"a {old.type} reference cannot become text")
        text = _as_text(stored, old)
        if target == "email" and not _EMAIL.match(text):
            raise Unconvertible(f"{text!r} is not an email address")
        return text
    if target == "integer":
        number = _as_decimal(stored, old)
        if number != number.to_integral_value():
            raise Unconvertible(f"{number} is not a whole number")
        return int(number)
    if target in ("number", "money"):
        return from_decimal(_as_decimal(stored, old), new)
    if target == "boolean":
        truth = boolean(_as_text(stored, old))
        if truth is None:
            raise Unconvertible(f"{stored!r} is not true or false")
        return truth
    if target == "date":
        return _as_date(stored)
    if target == "datetime":
        return _as_datetime(stored)
    if target == "enum":
        text = _as_text(stored, old)
        if text not in {o.id for o in new.options}:
            raise Unconvertible(f"{text!r} is not an option of the new enum")
        return text
    if target == old.type:
        return stored
    raise Unconvertible(f"a {old.type} value cannot become a {target}")


def _as_date(stored: Any) -> date:
    try:
        return to_date(stored)
    except ValueError:
        raise Unconvertible(f"{stored!r} is not a date (YYYY-MM-DD)") from None


def _as_datetime(stored: Any) -> datetime:
    try:
        return to_datetime(stored)
    except ValueError:
        raise Unconvertible(f"{stored!r} is not a date and time") from None


def needs_rewrite(old: Field, new: Field) -> bool:
    """Whether stored values must be rewritten (type or stored scale changes)."""
    if old.type != new.type:
        return True
    return old.type in ("number", "money") and precision_of(old) != precision_of(new)


def stored_value(value: Any, field: Field) -> Any:
    """A definition-level value (a default, a backfill) in its stored form."""
    if value is None:
        return None
    if field.type in ("number", "money"):
        return from_decimal(Decimal(str(value)), field)
    if field.type == "date":
        return date.today() if value == "today" else date.fromisoformat(str(value))
    if field.type == "datetime":
        return datetime.now(UTC) if value == "now" else _as_datetime(value)
    return value


def jsonable(value: Any) -> Any:
    """A stored value as JSON for the archive."""
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    return value
