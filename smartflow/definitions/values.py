"""Reading plain values the way the definition language means them: yes/no words, dates and
date-times. One reading for every layer: the runtime coerces what people type with it, and a
deploy converts stored values with it when a field changes type."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from typing import Any

TRUE_WORDS = frozenset({"true", "yes", "y", "1", "t", "on", "да"})
FALSE_WORDS = frozenset({"false", "no", "n", "0", "f", "off", "нет"})


def boolean(value: Any) -> bool | None:
    """True or False for a yes/no word (any case, Russian too); None when it is neither."""
    if isinstance(value, bool):
        return value
    word = str(value).strip().lower()
    return True if word in TRUE_WORDS else False if word in FALSE_WORDS else None


def to_date(value: Any) -> date:
    """A date from a date, a date-time (its day) or ISO text; ValueError otherwise."""
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    return date.fromisoformat(str(value).strip())


def to_datetime(value: Any) -> datetime:
    """An aware date-time (UTC when none is given) from a date-time, a date (its midnight) or ISO
    text (`Z` allowed); ValueError otherwise."""
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, date):
        moment = datetime.combine(value, time(0))
    else:
        moment = datetime.fromisoformat(str(value).strip().replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
