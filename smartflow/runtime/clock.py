"""What "now" is for the operation in progress.

An Engine may run on a fake clock (tests, `smartflow test` scenarios); everything that asks
for the current time during one of its operations — `now`/`today` in conditions and
templates, `default: today`, typed `now` — must see that clock, not the wall clock.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, date, datetime

_current: ContextVar[datetime | None] = ContextVar("smartflow_now", default=None)


def now() -> datetime:
    """The operation's time (aware, UTC), or the wall clock outside an operation."""
    return _current.get() or datetime.now(UTC)


def today() -> date:
    return now().date()


@contextmanager
def using(moment: datetime) -> Iterator[None]:
    """Run a block with now() fixed to moment."""
    token = _current.set(moment)
    try:
        yield
    finally:
        _current.reset(token)
