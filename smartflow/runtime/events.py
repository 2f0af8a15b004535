"""What the runtime tells the layers above it: the events of a change, and who listens.

The runtime never imports automation. Each change publishes its events to the listener that
the services layer attached to the compiled version (`CompiledDefinition.listener`); automation
is that listener today. A version without one (no triggers wired) publishes to nobody.
"""

from __future__ import annotations

from typing import Any, Protocol

from smartflow.records import record


@record(frozen=True)
class Event:
    """One thing that happened to an item in a change."""

    kind: str  # created, updated, field_changed, stage_entered, stage_left, deleted (heard by subscriptions)
    field: str | None = None
    stage: str | None = None
    value: Any = None


def changed_events(changes: dict[str, Any]) -> list[Event]:
    """The events of an update: `updated`, then one `field_changed` per field, with its new value."""
    return [Event("updated")] + [Event("field_changed", field=k, value=new) for k, (_, new) in changes.items()]


class Listener(Protocol):
    """Who hears an item's changes, inside the change's own transaction."""

    def watches(self, process_id: str) -> bool:
        """Whether anything listens to this process (a cheap check before the item is read again)."""
        ...

    def changed(self, write: Any, process_id: str, item_id: int, events: list[Event],
                item: dict[str, Any] | None = None) -> None:
        """An item was created, updated or moved; may change it further through the runtime. item is
        the item as the change left it when the change's statement returned it (None: read it)."""
        ...

    def removed(self, write: Any, process_id: str, item_id: int, reason: str) -> None:
        """An item was deleted for good (its id may be given to a new item)."""
        ...


# ---- the change feed: what other people's screens follow ------------------------------------------

GAP_SECONDS = 60.0  # an id not seen this long after later ones: its transaction rolled back (or is that slow)
READ_AT_MOST = 1000  # feed rows read in one step; more: the screen reads everything again


@record(frozen=True)
class Changed:
    """Items of a process written since the last step: their ids, or every item (`everything`: a large
    import, an apply, or a follower that fell behind the rows the feed keeps)."""

    item_ids: tuple[int, ...] = ()
    everything: bool = False


def _feed() -> Any:
    import sqlalchemy as sa

    from smartflow.compile.changes import TABLE

    return sa.table(TABLE, sa.column("id"), sa.column("process"), sa.column("item_id"))


def latest_id(connection: Any) -> int:
    """The newest row of the feed (0: none): a screen opened now follows from there."""
    import sqlalchemy as sa

    return int(connection.execute(sa.select(sa.func.max(_feed().c.id))).scalar() or 0)


def position(connection: Any, behind: int) -> tuple[int, tuple[int, ...]]:
    """Where a screen rendered now stands: the newest id, and the ids of the last `behind` not visible yet
    (PostgreSQL: changes written but not committed, which the screen does not show; empty on SQLite)."""
    import sqlalchemy as sa

    feed = _feed()
    newest = latest_id(connection)
    seen = {int(i) for i in connection.execute(sa.select(feed.c.id).where(feed.c.id > newest - behind)).scalars()}
    return newest, tuple(i for i in range(max(1, newest - behind + 1), newest + 1) if i not in seen)


class Follower:
    """One screen following one process's changes, step by step.

    Row ids are handed out when a change is written, not when it commits, so on PostgreSQL a later id
    may become visible before an earlier one. The follower hands out every row once, as soon as it is
    visible, and keeps `settled`: the id up to which every row is handed out (or given up, an id
    missing for GAP_SECONDS: a rolled-back change). A screen that reconnects gives `settled` back and
    may be told again of a change it already had: screens read items again, so twice is harmless,
    never missing one."""

    def __init__(self, process_id: str, settled: int, clock: Any = None, handed: frozenset[int] = frozenset()
                 ) -> None:
        import time

        self.process_id = process_id
        self.settled = settled
        self._clock = clock or time.monotonic
        self._handed: set[int] = set(handed)  # ids above settled already handed out (or shown on the screen)
        self._missing: dict[int, float] = {}  # ids above settled not seen yet → when first missed

    def step(self, connection: Any) -> Changed:
        """The changes visible now that were not handed out yet."""
        import sqlalchemy as sa

        feed = _feed()
        oldest = connection.execute(sa.select(sa.func.min(feed.c.id))).scalar()
        if oldest is not None and self.settled < oldest - 1 and self.settled > 0:
            self._restart(latest_id(connection))  # rows it had not seen were pruned
            return Changed(everything=True)
        rows = connection.execute(sa.select(feed.c.id, feed.c.process, feed.c.item_id)
                                  .where(feed.c.id > self.settled).order_by(feed.c.id)
                                  .limit(READ_AT_MOST + 1)).all()
        if len(rows) > READ_AT_MOST:
            self._restart(latest_id(connection))
            return Changed(everything=True)
        ids: dict[int, None] = {}
        everything = False
        for row in rows:
            if row.id in self._handed:
                continue
            self._handed.add(row.id)
            self._missing.pop(row.id, None)
            if row.process == self.process_id:
                if row.item_id is None:
                    everything = True
                else:
                    ids[int(row.item_id)] = None
        self._settle(rows[-1].id if rows else self.settled)
        return Changed(tuple(ids), everything)

    def _settle(self, newest: int) -> None:
        now = self._clock()
        for missing in range(self.settled + 1, newest):
            if missing not in self._handed:
                self._missing.setdefault(missing, now)
        while True:
            following = self.settled + 1
            if following in self._handed:
                self._handed.discard(following)
            elif following in self._missing and now - self._missing[following] >= GAP_SECONDS:
                del self._missing[following]
            else:
                return
            self.settled = following

    def _restart(self, newest: int) -> None:
        self.settled = newest
        self._handed.clear()
        self._missing.clear()


class Watcher:
    """Wakes whoever waits when the feed may have grown, for every screen of one server process.

    PostgreSQL: LISTEN on a connection of its own (NOTIFY comes with the commit of each change,
    from any server or machine); SQLite: the newest id, read a few times a second (one index look-up).
    Either way it also reads the newest id at least every `timeout`, so a lost notification costs a
    second at most."""

    POLL_SECONDS = 0.25  # SQLite: how often the newest id is read

    def __init__(self, database: Any) -> None:
        self._database = database  # an SQLAlchemy engine
        self._listening: Any = None  # PostgreSQL: the psycopg connection that LISTENs
        self.newest = -1

    def wait(self, timeout: float) -> bool:
        """Block up to timeout seconds; True when the feed may have grown since the last call."""
        import time

        deadline = time.monotonic() + timeout
        if self._database.dialect.name == "postgresql":
            self._notified(timeout)
        while True:
            newest = self._newest()
            if newest != self.newest:
                self.newest = newest
                return True
            if self._database.dialect.name == "postgresql" or time.monotonic() >= deadline:
                return False
            time.sleep(self.POLL_SECONDS)

    def close(self) -> None:
        if self._listening is not None:
            self._listening.close()
            self._listening = None

    def _newest(self) -> int:
        with self._database.connect() as connection:
            return latest_id(connection)

    def _notified(self, timeout: float) -> None:
        """PostgreSQL: wait for a NOTIFY on the feed's channel (consumed), or the timeout."""
        import select

        from smartflow.compile.changes import CHANNEL

        if self._listening is None:
            import psycopg

            self._listening = psycopg.Connection.connect(self._libpq_url(), autocommit=True)
            self._listening.add_notify_handler(lambda _: None)  # only the wake-up counts (no backlog kept)
            self._listening.execute(f"LISTEN {CHANNEL}")
        connection = self._listening
        ready, _, _ = select.select([connection.fileno()], [], [], timeout)
        if ready:
            connection.execute("SELECT 1")  # reads what arrived, notifications included

    def _libpq_url(self) -> str:
        url = self._database.url.set(drivername="postgresql")
        return str(url.render_as_string(hide_password=False))
