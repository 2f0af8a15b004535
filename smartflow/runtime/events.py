"""What the runtime tells the layers above it: the events of a change, and who listens.

The runtime never imports automation. Each change publishes its events to the listener that
the services layer attached to the compiled version (`CompiledDefinition.listener`); automation
is that listener today. A version without one (no triggers wired) publishes to nobody.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol


@dataclass(frozen=True)
class Event:
    """One thing that happened to an item in a change."""

    kind: str  # created, updated, field_changed, stage_entered, stage_left
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
