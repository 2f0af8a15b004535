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
BEHIND = 50  # a page's event id starts this many rows back: a change committed late (PostgreSQL) is not missed


def position(write: items.Write) -> str:
    """The event id a page rendered now follows from: read before the page's data, and a little behind the
    newest row, so a change written meanwhile is told (perhaps twice: screens read again, harmlessly)."""
    return str(max(0, events.latest_id(write.connection) - BEHIND))


def follow(write: items.Write, process_id: str, after: str | None) -> events.Follower:
    """A follower of process's changes after the event id `after` (a screen reconnecting), or from now."""
    items.process_of(write, process_id)
    settled = int(after) if after and after.isascii() and after.isdigit() and len(after) < 19 else None
    if settled is None:
        settled = events.latest_id(write.connection)
    return events.Follower(process_id, settled)


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
