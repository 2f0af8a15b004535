"""What an open board, list or card of a process learns of other people's changes (the change feed of
runtime.events, read as one user): the items written since the last step that this user may read, as
the list view shows them to this user (hidden fields absent), and whether anything else changed.

"Anything else" is a bare flag: an item that left this user's sight (moved to a stage or a person
beyond their rights, deleted) makes their board read itself again, which drops its card; what it was,
or that it exists, is never said.
"""

from __future__ import annotations

from typing import Any

from smartflow.runtime import events, items, query

MAX_ITEMS = 200  # more items than this in one step: the screen reads itself again instead
BEHIND = 200  # a page's position names the ids of this many last rows not yet visible (PostgreSQL commits late)


def position(write: items.Write) -> str:
    """The event id a page rendered now follows from (read before the page's data): the newest row, and the
    recent ids not visible yet (`NEWEST~ID.ID`), whose changes the page cannot show and so will be told of."""
    newest, pending = events.position(write.connection, BEHIND)
    return f"{newest}~{'.'.join(map(str, pending))}" if pending else str(newest)


def _parsed(after: str | None) -> tuple[int, tuple[int, ...]] | None:
    """(newest, pending ids) of an event id or a page's position; None when after is none of them."""
    if not after or len(after) > 1000 or not after.isascii():
        return None
    newest, _, rest = after.partition("~")
    pending = rest.split(".") if rest else []
    if not all(part.isdigit() and len(part) < 19 for part in (newest, *pending)):
        return None
    return int(newest), tuple(sorted({int(p) for p in pending if int(p) <= int(newest)}))


def follow(write: items.Write, process_id: str, after: str | None) -> events.Follower:
    """A follower of process's changes after the event id `after` (a screen reconnecting), or from now."""
    items.process_of(write, process_id)
    found = _parsed(after)
    if found is None:
        return events.Follower(process_id, events.latest_id(write.connection))
    newest, pending = found
    if not pending:
        return events.Follower(process_id, newest)
    settled = pending[0] - 1  # every id after it but the pending ones the screen already shows
    return events.Follower(process_id, settled, handed=frozenset(range(settled + 1, newest + 1)) - set(pending))


def step(write: items.Write, follower: events.Follower) -> dict[str, Any] | None:
    """What the follower's screen should be told now, or None when nothing of its process changed.

    {"id": the event id to resume after, "items": [changed items this user may read], "others": whether a
    changed item is not among them, "reload": whether the screen should read everything again}."""
    changed = follower.step(write.connection)
    if not changed.item_ids and not changed.everything:
        return None
    if changed.everything or len(changed.item_ids) > MAX_ITEMS:
        return {"id": str(follower.settled), "items": [], "others": False, "reload": True}
    seen = query.list_items(write, follower.process_id,
                            where=[f"id in {','.join(map(str, changed.item_ids))}"], limit=len(changed.item_ids))
    return {"id": str(follower.settled), "items": seen, "others": len(seen) < len(changed.item_ids),
            "reload": False}


def watcher(database: Any) -> events.Watcher:
    """What a server waits on for the feed to grow (one per server process)."""
    return events.Watcher(database)
