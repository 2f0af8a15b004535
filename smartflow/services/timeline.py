"""Comments, to-dos and the item's timeline as Engine methods (the rules are runtime/timeline.py's).

Engine inherits these; each opens one transaction as the engine's user, like every Engine method."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from types import ModuleType
from typing import Any

from smartflow.runtime import items, query


def _rules() -> ModuleType:
    """runtime.timeline, imported when first used: a command that only reads or writes items never
    needs it (and it brings the working-hours calendars), so `smartflow item list` starts without it."""
    from smartflow.runtime import timeline

    return timeline


def __getattr__(name: str) -> Any:
    if name == "MENTION":  # what a comment's `@login` looks like (the board marks them when shown)
        return _rules().MENTION
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


class TimelineMethods:
    """Comments, to-dos, a user's inbox of them and counters, and the card's timeline."""

    _cache: dict[str, Any]

    def session(self, write: bool) -> AbstractContextManager[items.Write]:  # Engine's
        raise NotImplementedError

    @contextmanager
    def _timeline(self, write: bool) -> Iterator[items.Write]:
        """A session on a database that has the tables of comments and to-dos (NotDeployed before `apply`)."""
        with self.session(write) as session:
            _rules().require_tables(session, self._cache)
            yield session

    # ---- comments ------------------------------------------------------------------

    def comment(self, process: str, item_id: int, text: str) -> dict[str, Any]:
        """Comment on an item this user may read; `@login` mentions notify those users (who may read it)."""
        with self._timeline(True) as write:
            return _rules().add_comment(write, process, item_id, text)

    def comments(self, process: str, item_id: int) -> list[dict[str, Any]]:
        """The item's comments, oldest first (NotFound, like the item, when this user may not read it)."""
        with self._timeline(False) as write:
            return _rules().comments(write, process, item_id)

    def get_comment(self, process: str, item_id: int, comment_id: int) -> dict[str, Any]:
        with self._timeline(False) as write:
            return _rules().get_comment(write, process, item_id, comment_id)

    def edit_comment(self, process: str, item_id: int, comment_id: int, text: str) -> dict[str, Any]:
        """Change this user's own comment (PermissionDenied for anyone else's); the earlier text stays in history."""
        with self._timeline(True) as write:
            return _rules().edit_comment(write, process, item_id, comment_id, text)

    def delete_comment(self, process: str, item_id: int, comment_id: int) -> None:
        """Delete this user's own comment; its text stays in the item's history."""
        with self._timeline(True) as write:
            _rules().delete_comment(write, process, item_id, comment_id)

    # ---- to-dos --------------------------------------------------------------------

    def add_todo(self, process: str, item_id: int, title: str, due: Any = None,
                 responsible: str | None = None) -> dict[str, Any]:
        """A to-do on an item this user may read: due a day (`2026-12-31`), a moment (`2026-12-31T15:00`,
        UTC without an offset) or after a duration (`+2wd`); responsible a login (none: this user)."""
        with self._timeline(True) as write:
            return _rules().add_todo(write, process, item_id, title, due, responsible)

    def todos(self, process: str, item_id: int) -> list[dict[str, Any]]:
        with self._timeline(False) as write:
            return _rules().todos(write, process, item_id)

    def get_todo(self, process: str, item_id: int, todo_id: int) -> dict[str, Any]:
        with self._timeline(False) as write:
            return _rules().get_todo(write, process, item_id, todo_id)

    def set_todo_done(self, process: str, item_id: int, todo_id: int, done: bool = True) -> dict[str, Any]:
        """Mark a to-do done or open again (its responsible, its author, or whoever may update the item)."""
        with self._timeline(True) as write:
            return _rules().set_done(write, process, item_id, todo_id, done)

    # ---- this user's ---------------------------------------------------------------

    def my_todos(self, open_only: bool = True, limit: int = 100) -> list[dict[str, Any]]:
        """This user's to-dos on items they may read, most urgent first."""
        with self._timeline(False) as write:
            return _rules().my_todos(write, open_only, limit)

    def mentions(self, limit: int = 50) -> list[dict[str, Any]]:
        """The comments that mention this user, newest first, on items they may read."""
        with self._timeline(False) as write:
            return _rules().my_mentions(write, limit)

    def todo_counters(self) -> dict[str, int]:
        """This user's open to-dos overdue and due today: {"overdue": n, "today": n}."""
        with self._timeline(False) as write:
            return _rules().counters(write)

    def overdue_items(self, process: str, item_ids: list[int]) -> set[int]:
        """Which of the items (shown to this user) have an overdue open to-do (none on a database deployed
        before to-dos)."""
        with self.session(False) as write:
            items.process_of(write, process)
            if not _rules().has_tables(write, self._cache):
                return set()
            return _rules().overdue_items(write, process, item_ids)

    def timeline(self, process: str, item_id: int) -> list[dict[str, Any]]:
        """The item's comments, to-dos, field changes and moves, newest first (see runtime.timeline.timeline)."""
        with self._timeline(False) as write:
            history = query.history(write, process, item_id)
            return _rules().timeline(write, process, item_id, history)
