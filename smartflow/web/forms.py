"""Form inputs by field type, and form data back into the values the services take (the same
JSON shapes the API accepts: money as amount and currency, lists for multiple fields)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from smartflow.services import plain
from smartflow.web.present import ProcessView

EDITABLE = ("string", "text", "email", "phone", "url", "integer", "number", "money", "boolean", "date",
            "datetime", "enum", "user", "link")


def input_kind(spec: dict[str, Any]) -> str:
    """Which input a field gets: a type the templates know, `readonly` for what a form cannot set."""
    kind = str(spec.get("type"))
    return kind if kind in EDITABLE else "readonly"


def input_value(spec: dict[str, Any], value: Any) -> Any:
    """A stored value as an input's value (money: the amount; dates in ISO; lists stay lists)."""
    if value is None:
        return [] if spec.get("multiple") else ""
    if spec.get("multiple") and isinstance(value, list):
        return [input_value({**spec, "multiple": False}, v) for v in value]
    if spec.get("type") == "money":
        shown = plain(value)
        return shown.get("amount", "") if isinstance(shown, dict) else shown
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%dT%H:%M")
    if isinstance(value, date):
        return value.isoformat()
    shown = plain(value)
    return "" if shown is None else shown


def sent_fields(form: dict[str, list[str]]) -> list[str]:
    """The field ids a form carries inputs for (`<id>`, `<id>__currency`, `<id>__present`)."""
    return list(dict.fromkeys(name.split("__")[0] for name in form if name != "csrf"))


def values_from(view: ProcessView, form: dict[str, list[str]], field_ids: list[str]) -> dict[str, Any]:
    """The values of field_ids sent by a form (each input named by its field id; a money field's
    currency as `<id>__currency`); a field whose input the form does not carry is left alone."""
    values: dict[str, Any] = {}
    for field_id in field_ids:
        spec = view.field(field_id)
        kind = input_kind(spec)
        if kind == "readonly" or (field_id not in form and f"{field_id}__present" not in form):
            continue
        sent = [v for v in form.get(field_id, []) if v is not None]
        if spec.get("multiple"):  # checkboxes or a multiple select send each; a text input, commas
            parts = sent if kind in ("enum", "user") else [p for v in sent for p in v.split(",")]
            values[field_id] = [_user(v.strip()) if kind == "user" else v.strip() for v in parts if v.strip()]
            continue
        text = sent[-1].strip() if sent else ""
        if kind == "boolean":
            values[field_id] = None if text == "" else text
        elif kind == "money":
            currency = (form.get(f"{field_id}__currency") or [spec.get("currency") or ""])[-1]
            values[field_id] = None if text == "" else {"amount": text, **({"currency": currency} if currency else {})}
        elif kind in ("string", "text"):
            values[field_id] = sent[-1] if sent else ""
        elif kind == "user":
            values[field_id] = None if text == "" else _user(text)
        else:
            values[field_id] = None if text == "" else text
    return values


def _user(option: str) -> int | str:
    """A user picker's option is the user's id: the services read a number as an id, while text,
    digits included, is a login."""
    return int(option) if option.isdigit() else option
