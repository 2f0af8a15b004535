"""Filter presets of a process's views: the shared ones of the definition (`list.presets`) and those a
user saved for themselves (runtime/presets.py), and what "mine" means — one place for both, so the
board, the list, the deadlines and calendar views and the API filter alike.

Engine inherits PresetMethods; each method opens one transaction as the engine's user."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Any

from smartflow.definitions.filters import split_filter
from smartflow.errors import NotFound
from smartflow.i18n import Name, tr
from smartflow.runtime import access, items, names
from smartflow.runtime import presets as stored

MINE_FIELD = "assigned_to"  # "my items": the ones assigned to the user looking


def mine(login: str) -> str:
    """The condition "assigned to this user", in the `--where` language."""
    return f"{MINE_FIELD} = {login}"


def conditions(preset: dict[str, Any], login: str) -> tuple[list[str], str | None]:
    """A shared preset as the list view's filters for the user looking: (where, search)."""
    where = [*([mine(login)] if preset.get("mine") else []), *preset.get("where", [])]
    return where, preset.get("search")


def shared(write: items.Write, compiled: Any) -> list[dict[str, Any]]:
    """The definition's presets the actor may use (none naming a field hidden from them), as data."""
    hidden = access.hidden_fields(write.actor, compiled)
    found = []
    for preset in compiled.process.list_presets:
        named = {parts[0] for parts in map(split_filter, preset.where) if parts is not None}
        if named & hidden:
            continue
        found.append({"id": preset.id, "title": dict(preset.title.values), "mine": preset.mine,
                      "where": list(preset.where), "search": preset.search})
    return found


class PresetMethods:
    """The presets of a process's views: shared and the user's own."""

    _cache: dict[str, Any]

    def session(self, write: bool) -> AbstractContextManager[items.Write]:  # Engine's
        raise NotImplementedError

    @contextmanager
    def _presets(self, write: bool) -> Iterator[items.Write]:
        with self.session(write) as session:
            stored.require_table(session, self._cache)
            yield session

    def presets(self, process: str) -> dict[str, list[dict[str, Any]]]:
        """{"shared": the definition's presets this user may use, "own": the ones they saved (none on a
        database deployed before saved presets)}."""
        with self.session(False) as write:
            compiled = items.process_of(write, process)
            own = stored.own(write, process) if stored.has_table(write, self._cache) else []
            return {"shared": shared(write, compiled), "own": own}

    def preset_filter(self, process: str, preset_id: str) -> tuple[list[str], str | None]:
        """A shared preset as the list view's filters for this user: (where, search); NotFound for no such."""
        with self.session(False) as write:
            compiled = items.process_of(write, process)
            for preset in shared(write, compiled):
                if preset["id"] == preset_id:
                    return conditions(preset, write.actor.login)
            raise NotFound(tr("{process} has no preset {preset}", process=names.process(compiled),
                              preset=Name(preset_id)), tr("choose one of the presets the board offers"))

    def save_preset(self, process: str, title: str, query: str) -> dict[str, Any]:
        """Keep a view's filter (its query string) for this user under a title."""
        with self._presets(True) as write:
            return stored.save(write, process, title, query)

    def delete_preset(self, process: str, preset_id: int) -> None:
        with self._presets(True) as write:
            stored.delete(write, process, preset_id)
