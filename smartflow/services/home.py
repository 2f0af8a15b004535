"""The home page's day at a glance, for one user: the processes they may read as tiles with their
counts, their own open items (assigned to them, not in a success or failure stage) and their overdue
to-dos. Read through Engine methods, so rights, hidden fields and the clock are the usual ones."""

from __future__ import annotations

from typing import Any

from smartflow import errors
from smartflow.services.engine import Engine
from smartflow.services.presets import mine

OWN_SHOWN = 10  # a process's own open items the home page lists
FINAL = ("success", "failure")


def open_stages(described: dict[str, Any]) -> list[str]:
    """The stages of a described process an item is still being worked in (not a success or failure)."""
    return list(dict.fromkeys(s["id"] for p in described["pipelines"] for s in p["stages"]
                              if s["semantic"] not in FINAL))


def open_condition(described: dict[str, Any]) -> str | None:
    """"Not in a final stage" as a list filter; None when every stage is final (nothing is open)."""
    stages = open_stages(described)
    return f"stage in {','.join(stages)}" if stages else None


def overview(crm: Engine, shown: int = OWN_SHOWN) -> dict[str, Any]:
    """{"tiles": per readable process its counts (all, open, the user's open) and the user's open items
    (the most recently updated first), "todos": the user's overdue to-dos (none before to-dos exist)}."""
    with crm.snapshot():  # one transaction and one view for the whole page's counts and lists
        login = crm.whoami()
        tiles = []
        for summary in crm.processes():
            if summary["may"]["read"] == "none":
                continue
            described = crm.describe(summary["id"])
            still_open = open_condition(described)
            own: list[dict[str, Any]] = []
            open_count = own_count = 0
            if still_open is not None:
                open_count = crm.count(summary["id"], [still_open])
                own_where = (mine(login), still_open)
                own = crm.list(summary["id"], where=own_where, sort="updated_at:desc", limit=shown,
                               columns=("title", "stage", "pipeline", "updated_at"))
                own_count = len(own) if len(own) < shown else crm.count(summary["id"], own_where)
            tiles.append({"id": summary["id"], "title": summary["title"], "may": summary["may"],
                          "count": crm.count(summary["id"]), "open": open_count, "own_open": own_count,
                          "own": own, "described": described})
        try:
            todos = [todo for todo in crm.my_todos() if todo["state"] == "overdue"]
        except errors.NotDeployed:
            todos = []
        return {"login": login, "tiles": tiles, "todos": todos}
