"""The Engine's links, people, observers and recycle bin (`Engine` inherits `Linking`): the titles of
linked items, the pickers' searches, observers, and the recycle bin's items — each one transaction as
the engine's user, through `runtime.linking` and `runtime.observers`."""

from __future__ import annotations

from collections.abc import Iterable
from contextlib import AbstractContextManager
from typing import Any

from smartflow.runtime import files as item_files
from smartflow.runtime import items, linking, observers, query
from smartflow.runtime.linking import PICK_LIMIT

OBSERVERS = observers.FIELD


def observers_given(values: dict[str, Any]) -> tuple[list[Any] | None, dict[str, Any]]:
    """`observers` among the values of a create or update (a list, or logins separated by commas), and
    the other values; None when not given."""
    if OBSERVERS not in values:
        return None, values
    rest = dict(values)
    return observers.people_of(rest.pop(OBSERVERS)), rest


def set_observers(write: items.Write, process: str, item_id: int, wanted: list[Any] | None,
                  changes: dict[str, Any] | None = None) -> None:
    """Make the item's observers exactly wanted (when given), noting the change in changes."""
    if wanted is None:
        return
    found = items.process_of(write, process)
    before = observers.held(write, found, item_id) if found.observers is not None else []
    after = observers.change(write, process, item_id, replace=wanted)
    if changes is not None and after != before:
        changes[OBSERVERS] = (before, after)


def with_titles(item: dict[str, Any], link_fields: dict[str, str], titles: dict[str, dict[int, str]]
                ) -> dict[str, Any]:
    """The item with `_titles`: per link field, the linked item's title (a list for a multiple one; None
    for an item the user may not read) — beside the ids, which stay as they are; none without linked values."""
    shown: dict[str, Any] = {}
    for field_id, target in link_fields.items():
        value = item.get(field_id)
        if value is None or value == []:
            continue
        found = titles.get(target, {})
        shown[field_id] = [found.get(v) for v in value] if isinstance(value, list) else found.get(value)
    return {**item, "_titles": shown} if shown else item


class Linking:
    """Engine methods (the Engine provides `session`)."""

    def session(self, write: bool) -> AbstractContextManager[items.Write]:  # pragma: no cover - the Engine's
        raise NotImplementedError

    def link_titles(self, process: str, rows: Iterable[dict[str, Any]],
                    extra: Iterable[tuple[str, Any]] = ()) -> dict[str, dict[int, str]]:
        """The titles of the items that rows' link fields point to, by linked process and id, one query per
        linked process; an item the user may not read is left out (show its id)."""
        with self.session(False) as write:
            return linking.titles(write, process, rows, extra)

    def get_with_titles(self, process: str, item_id: int, *, files: bool = False) -> dict[str, Any]:
        """The item's values with `_titles` (see `with_titles`) and, in a process with observers, `observers`;
        with files, as `Engine.get(files=True)`."""
        with self.session(False) as write:
            item = query.item(write, process, item_id)
            found = items.process_of(write, process)
            titled = with_titles(item, _link_fields(found), linking.titles(write, process, [item]))
            if found.observers is not None:  # who observes it: id, login, name
                titled = {**titled, "observers": observers.of_item(write, process, item_id)}
            return item_files.described(write, found, titled) if files else titled

    def lookup(self, process: str, text: str = "", limit: int = PICK_LIMIT) -> list[dict[str, Any]]:
        """Items whose title contains text (or whose id it is) that the user may read: a link picker's options."""
        with self.session(False) as write:
            return linking.lookup(write, process, text, limit)

    def pickable_people(self, process: str, field: str | None = None, text: str = "",
                        limit: int | None = PICK_LIMIT, pipeline: str | None = None) -> list[dict[str, Any]]:
        """The users a user field (by default the responsible person) may hold, whose login or name contains
        text; a field with `roles` offers only users holding one of them (in pipeline, when given)."""
        with self.session(False) as write:
            return linking.pickable_people(write, process, field, text, limit, pipeline)

    def observers(self, process: str, item_id: int) -> list[dict[str, Any]]:
        """The item's observers: id, login, name."""
        with self.session(False) as write:
            return observers.of_item(write, process, item_id)

    def change_observers(self, process: str, item_id: int, *, add: Iterable[Any] = (), remove: Iterable[Any] = (),
                         replace: Iterable[Any] | None = None) -> list[dict[str, Any]]:
        """Add and remove observers (users by login, `#id` or id), or make them exactly `replace`; needs the
        `update` right over the item. Returns the observers after."""
        with self.session(True) as write:
            observers.change(write, process, item_id, add=add, remove=remove, replace=replace)
            return observers.of_item(write, process, item_id)

    def linked_from(self, process: str) -> list[dict[str, Any]]:
        """The processes (and their link field) pointing to process whose items this user may create: a card's
        "create a linked item" offers."""
        with self.session(False) as write:
            return linking.linked_from(write, process)

    def recycle_bin(self, process: str, limit: int = 200) -> list[dict[str, Any]]:
        """The deleted items of a process this user may restore, most recently deleted first."""
        with self.session(False) as write:
            return linking.recycle_bin(write, process, limit)


def _link_fields(process: Any) -> dict[str, str]:
    return {f.id: f.to for f in process.process.fields if f.type == "link" and f.to}
