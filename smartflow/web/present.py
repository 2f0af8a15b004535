"""How values look on the board: a process described for the user (its fields by id, titles in
their language), and each value as text by its field's type."""

from __future__ import annotations

from dataclasses import field
from datetime import date, datetime
from decimal import Decimal
from functools import cached_property
from typing import Any

from smartflow.records import record
from smartflow.services import plain
from smartflow.web.text import title, word

CURRENCY_SIGNS = {"RUB": "₽", "USD": "$", "EUR": "€"}
SYSTEM_TYPES = {"id": "integer", "title": "string", "stage": "stage", "pipeline": "pipeline", "assigned_to": "user",
                "created_by": "user", "updated_by": "user", "moved_by": "user", "created_at": "datetime",
                "updated_at": "datetime", "moved_at": "datetime", "closed_at": "datetime", "version": "integer"}


@record
class ProcessView:
    """A process as `Engine.describe` gives it for the user, with lookups the templates need."""

    data: dict[str, Any]
    lang: str
    users: dict[int, str] = field(default_factory=dict)  # id → name
    logins: dict[int, str] = field(default_factory=dict)  # id → login (what filters name a user by)
    pickable: list[int] = field(default_factory=list)  # whom a user picker offers: the active users with a right here
    files: dict[int, str] = field(default_factory=dict)  # file id → name (of the card's item: web/files.py)
    links: dict[str, dict[int, str]] = field(default_factory=dict)  # linked process → id → title (readable ones)

    def choices(self, value: Any, pickable: list[int] | None = None) -> dict[int, str]:
        """A user picker's options: the pickable users (of the process, or those given: the field's in the
        item's pipeline), and whoever the field holds now (kept, even if they left the process or were
        deactivated)."""
        held = value if isinstance(value, list) else [value]
        offered = set(self.pickable if pickable is None else pickable)
        return {user_id: name for user_id, name in self.users.items() if user_id in offered or user_id in held}

    def person(self, login: str | None) -> str:
        """A user's name for their login (history rows name people by login)."""
        for user_id, found in self.logins.items():
            if found == login:
                return self.users.get(user_id, found)
        return login or ""

    @property
    def id(self) -> str:
        return str(self.data["id"])

    @property
    def title(self) -> str:
        return title(self.data["title"], self.lang, self.id)

    @property
    def may(self) -> dict[str, str]:
        return dict(self.data["may"])

    def fields(self) -> dict[str, dict[str, Any]]:
        """The fields the user sees, by id (built once per page: every card's every value asks)."""
        return self._fields

    @cached_property
    def _fields(self) -> dict[str, dict[str, Any]]:
        return {f["id"]: f for f in self.data["fields"]}

    def field(self, field_id: str) -> dict[str, Any]:
        found = self.fields().get(field_id)
        if found is not None:
            return found
        if field_id == "observers":  # history rows of observers added and removed: users
            return {"id": field_id, "type": "user", "title": None, "multiple": True}
        return {"id": field_id, "type": SYSTEM_TYPES.get(field_id, "string"), "title": None, "multiple": False}

    def field_title(self, field_id: str) -> str:
        found = self.fields().get(field_id)
        if found is not None:
            return title(found["title"], self.lang, field_id)
        return word(field_id, self.lang) if field_id in ("title", "stage", "assigned_to", "created_at", "updated_at",
                                                          "id", "observers") else field_id

    def pipelines(self) -> list[dict[str, Any]]:
        return list(self.data["pipelines"])

    def pipeline(self, pipeline_id: str | None) -> dict[str, Any]:
        for found in self.data["pipelines"]:
            if found["id"] == pipeline_id or (pipeline_id is None and found["default"]):
                return dict(found)
        return dict(self.data["pipelines"][0])

    def stage(self, stage_id: str) -> dict[str, Any] | None:
        for pipeline in self.data["pipelines"]:
            for found in pipeline["stages"]:
                if found["id"] == stage_id:
                    return dict(found)
        return None

    def stage_title(self, stage_id: str | None) -> str:
        found = self.stage(stage_id or "")
        return title(found["title"], self.lang, stage_id or "") if found else (stage_id or "")

    def list_columns(self) -> list[str]:
        return [c for c in self.data["list_columns"] if c == "title" or c in self.fields() or c in SYSTEM_TYPES] \
            or ["title", "stage"]

    def card_fields(self) -> list[str]:
        """The list columns a kanban card shows under its title (the stage is its column)."""
        return [c for c in self.list_columns() if c not in ("title", "stage", "id")]

    def show(self, field_id: str, value: Any) -> str:
        """A value as text, by its field's type."""
        return show(self.field(field_id), value, self.lang, self)


def money(value: Any, lang: str) -> str:
    if not isinstance(value, dict) or value.get("amount") is None:
        return ""
    return amount(value["amount"], value.get("currency") or "", lang)


def amount(number: Any, currency: str, lang: str) -> str:
    quantity = Decimal(str(number))
    text = f"{quantity:,.2f}"
    if text.endswith(".00"):
        text = text[:-3]
    if lang == "ru":
        text = text.replace(",", "\u202f").replace(".", ",")
    sign = CURRENCY_SIGNS.get(currency, currency)
    return f"{text} {sign}".strip()


def show(spec: dict[str, Any], value: Any, lang: str, view: ProcessView | None = None) -> str:
    if value is None or value == "" or value == []:
        return ""
    if spec.get("multiple") and isinstance(value, list):
        return ", ".join(show({**spec, "multiple": False}, v, lang, view) for v in value)
    kind = spec.get("type")
    if kind in ("user", "link") and isinstance(value, str) and value.isascii() and value.isdigit():
        value = int(value)  # an id as a form sent it back
    if kind == "money":
        return money(plain(value), lang)
    if kind == "boolean":
        return word("yes" if value else "no", lang)
    if kind == "enum":
        for option in spec.get("options", ()):
            if option["id"] == value:
                return title(option["title"], lang, str(value))
        return str(value)
    if kind == "user" and view is not None:
        return view.users.get(value, f"#{value}") if isinstance(value, int) else str(value)
    if kind == "stage" and view is not None:
        return view.stage_title(value)
    if kind == "link":
        found = view.links.get(str(spec.get("to") or ""), {}).get(value) if view is not None else None
        return f"{found} (#{value})" if found else f"#{value}"  # an item the user may not read: its id alone
    if kind == "file" and isinstance(value, int):
        return view.files.get(value, f"#{value}") if view is not None else f"#{value}"
    if isinstance(value, datetime):
        return value.strftime("%d.%m.%Y %H:%M" if lang == "ru" else "%Y-%m-%d %H:%M")
    if isinstance(value, date):
        return value.strftime("%d.%m.%Y" if lang == "ru" else "%Y-%m-%d")
    if isinstance(value, Decimal):
        return f"{value:f}"
    shown = plain(value)
    return shown if isinstance(shown, str) else str(shown)
