"""Form inputs by field type, and form data back into the values the services take (the same
JSON shapes the API accepts: money as amount and currency, lists for multiple fields).

A save sends only what the user changed: an input posted as the form showed the stored value
(a money field's amount and currency, a date-time to the minute, a text with the browser's CRLF
line ends, a checkbox left as it was) is left out, so an untouched field keeps its value exactly."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from smartflow.services import CURRENCIES, DEFAULT_CURRENCY, plain
from smartflow.web.present import ProcessView

EDITABLE = ("string", "text", "email", "phone", "url", "integer", "number", "money", "boolean", "date",
            "datetime", "enum", "user", "link")


def input_kind(spec: dict[str, Any]) -> str:
    """Which input a field gets: a type the templates know, `readonly` for what a form cannot set."""
    kind = str(spec.get("type"))
    if kind == "file":  # an upload input (web/files.py); its files are not form values
        return "file"
    return kind if kind in EDITABLE else "readonly"


_PICKED = ("enum", "user")  # multiple values picked from a list (checkboxes, a select), not typed


def input_value(spec: dict[str, Any], value: Any) -> Any:
    """A stored value as an input's value (money: the amount; dates in ISO; several enum options or
    users a list; several other values one text, comma-separated, money each with its currency)."""
    if value is None:
        return [] if spec.get("multiple") and input_kind(spec) in _PICKED else ""
    if spec.get("multiple") and isinstance(value, list):
        if input_kind(spec) in _PICKED:
            return [input_value({**spec, "multiple": False}, v) for v in value]
        if spec.get("type") == "money":
            return ", ".join(f"{v['amount']} {v['currency']}".strip() for v in (plain(v) for v in value))
        return ", ".join(str(input_value({**spec, "multiple": False}, v)) for v in value)
    if spec.get("type") == "money":
        shown = plain(value)
        return shown.get("amount", "") if isinstance(shown, dict) else shown
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%dT%H:%M")
    if isinstance(value, date):
        return value.isoformat()
    shown = plain(value)
    return "" if shown is None else shown


def input_currency(spec: dict[str, Any], value: Any) -> str:
    """The currency a money input shows: the stored value's, else the field's own."""
    if isinstance(value, dict) and value.get("currency"):
        return str(value["currency"])
    return str(spec.get("currency") or DEFAULT_CURRENCY)


def currency_choices(spec: dict[str, Any], current: str) -> list[str]:
    """The codes a money input offers: the one shown, the field's own, then every ISO 4217 code."""
    return list(dict.fromkeys([current, str(spec.get("currency") or DEFAULT_CURRENCY), *sorted(CURRENCIES)]))


def sent_fields(form: dict[str, list[str]]) -> list[str]:
    """The field ids a form carries inputs for (`<id>`, `<id>__currency`, `<id>__present`)."""
    return list(dict.fromkeys(name.split("__")[0] for name in form if name != "csrf"))


def values_from(view: ProcessView, form: dict[str, list[str]], field_ids: list[str],
                item: dict[str, Any] | None = None) -> dict[str, Any]:
    """The values of field_ids sent by a form (each input named by its field id; a money field's
    currency as `<id>__currency`); a field whose input the form does not carry is left alone, and so
    is one posted as the form showed item's value (when item, the stored item, is given)."""
    values: dict[str, Any] = {}
    for field_id in field_ids:
        spec = view.field(field_id)
        kind = input_kind(spec)
        if kind in ("readonly", "file") or (field_id not in form and f"{field_id}__present" not in form):
            continue
        sent = [v.replace("\r\n", "\n") for v in form.get(field_id, []) if v is not None]  # a textarea's CRLF
        if item is not None and _untouched(spec, kind, sent, form, item.get(field_id)):
            continue
        if spec.get("multiple"):  # checkboxes or a multiple select send each; a text input, commas
            parts = sent if kind in _PICKED else [p for v in sent for p in v.split(",")]
            values[field_id] = [_user(v.strip()) if kind == "user" else _money(v.strip()) if kind == "money"
                                else v.strip() for v in parts if v.strip()]
            continue
        text = sent[-1].strip() if sent else ""
        if kind == "boolean":
            values[field_id] = None if text == "" else text
        elif kind == "money":
            currency = (form.get(f"{field_id}__currency") or [spec.get("currency") or ""])[-1]
            values[field_id] = None if text == "" else {"amount": text, **({"currency": currency} if currency else {})}
        elif kind in ("string", "text"):
            values[field_id] = sent[-1] if sent else None  # empty is no value (the services store NULL)
        elif kind == "user":
            values[field_id] = None if text == "" else _user(text)
        else:
            values[field_id] = None if text == "" else text
    return values


def _untouched(spec: dict[str, Any], kind: str, sent: list[str], form: dict[str, list[str]], stored: Any) -> bool:
    """Whether a field's inputs were posted as the form showed the stored value."""
    shown = input_value(spec, stored)
    if spec.get("multiple"):
        if kind in _PICKED:  # the form shows no order: the same options or users are the same value
            return sorted(sent) == sorted(str(v) for v in shown)
        return ", ".join(p.strip() for v in sent for p in v.split(",") if p.strip()) == shown
    text = sent[-1] if sent else ""
    if kind == "boolean":
        return text == ("true" if stored is True else "false") or (stored is None and text in ("", "false"))
    if kind == "money":
        currency = (form.get(f"{spec['id']}__currency") or [input_currency(spec, stored)])[-1]
        return text.strip() == str(shown) and (stored is None or currency == input_currency(spec, stored))
    return (text if kind in ("string", "text") else text.strip()) == str(shown)


def _money(part: str) -> dict[str, str]:
    """One of several money values typed as `1500.50 USD` (or an amount alone, in the field's currency)."""
    amount, _, currency = part.partition(" ")
    return {"amount": amount, **({"currency": currency.strip()} if currency.strip() else {})}


def _user(option: str) -> int | str:
    """A user picker's option is the user's id: the services read a number as an id, while text,
    digits included, is a login."""
    return int(option) if option.isascii() and option.isdigit() and len(option) <= 12 else option
