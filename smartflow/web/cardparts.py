"""What the card shows about links and people beside its fields: the linked items' titles (read within
the user's rights, one query per linked process), the responsible person and the observers with their
pickers, "create a linked item" per process that links here, and the delete button."""

from __future__ import annotations

from typing import Any

from smartflow.web.present import ProcessView
from smartflow.web.session import Visitor
from smartflow.web.text import title


def remember_titles(found: Visitor, view: ProcessView, rows: list[dict[str, Any]],
                    history: list[dict[str, Any]] | None = None) -> None:
    """Read the titles of the items rows (and history rows' values) link to, for view.show."""
    extra = [(row.get("field") or "", value) for row in history or () for value in (row.get("old"), row.get("new"))]
    if rows or extra:
        view.links = found.crm.link_titles(view.id, rows, extra)


def card_extras(found: Visitor, view: ProcessView, item: dict[str, Any], history: list[dict[str, Any]],
                rights: dict[str, bool]) -> dict[str, Any]:
    """The card's context for card_links.html (and titles for its link fields and history)."""
    remember_titles(found, view, [item], history)
    features = view.data.get("features") or {}
    observers = found.crm.observers(view.id, item["id"]) if features.get("observers") else None
    offers = [{"href": f"/processes/{o['process']}/items/new?{o['field']}={item['id']}",
               "label": title(o["process_title"], view.lang, o["process"]),
               "field": title(o["field_title"], view.lang, o["field"])}
              for o in found.crm.linked_from(view.id)]
    return {"observers": observers, "linked_offers": offers, "may_delete": rights.get("delete", False),
            "recycle_bin": bool(features.get("recycle_bin"))}
