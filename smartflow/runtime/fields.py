"""Field values: parse what people type, check it against the field's rules, store and load it.

Canonical Python values: str (string, text, email, phone, url, enum option id), int
(integer; ids of links, users and files), Decimal (number), {"amount": Decimal,
"currency": str} (money; an active ISO 4217 code), bool, date, datetime (aware, UTC), and
lists of those for multiple fields. Empty is None for every type: an empty or blank text is
no value (never `''`, which a unique index would count), whichever way it came.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Callable
from dataclasses import field as dataclass_field
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from smartflow.compile.sql import currency_column, precision_of
from smartflow.definitions.model import Field
from smartflow.definitions.values import boolean, currency, to_date, to_datetime
from smartflow.i18n import tr
from smartflow.records import record
from smartflow.runtime import clock, media

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_PHONE = re.compile(r"^\+?[0-9 ()\-]{5,20}$")
_URL = re.compile(r"^https?://[^\s/$.?#][^\s]*$", re.IGNORECASE)
_FORMATS = {"email": (_EMAIL, tr("an email address")), "phone": (_PHONE, tr("a phone number")),
            "url": (_URL, tr("an http(s) URL"))}
DEFAULT_CURRENCY = "RUB"
MAX_ID = 2**31 - 1  # item, user and file ids are 32-bit integer columns on every database


class ValueProblem(ValueError):
    """A value that breaks a field's rule; the message names the value and the rule."""


@record(frozen=True)
class FileRef:
    """A file to attach: its content, held until the write stores it (runtime/filestore.py); the
    media type is sniffed from the bytes (runtime/media.py), never taken from the client."""

    name: str
    size: int
    checksum: str
    content: bytes = dataclass_field(default=b"", repr=False, compare=False)
    content_type: str | None = None


UPLOAD_LIMIT_ENV = "SMARTFLOW_UPLOAD_LIMIT"  # the largest upload, in bytes, whatever a field's max_size
DEFAULT_UPLOAD_LIMIT = 50_000_000


def upload_limit() -> int:
    """The largest file one upload may carry (SMARTFLOW_UPLOAD_LIMIT, bytes; default 50 MB)."""
    raw = os.environ.get(UPLOAD_LIMIT_ENV, "").strip()
    return int(raw) if raw.isascii() and raw.isdigit() and int(raw) > 0 else DEFAULT_UPLOAD_LIMIT


def file_name(name: str) -> str:
    """A file's name as kept: its last path part (a browser or a client may send a path), without
    control characters, at most 255 characters; `file` when nothing is left."""
    last = name.replace("\\", "/").rsplit("/", 1)[-1]
    kept = "".join(c for c in last if c.isprintable()).strip()
    if len(kept) > 255:
        stem, dot, suffix = kept.rpartition(".")
        kept = (stem[:254 - len(suffix)] + dot + suffix) if dot and len(suffix) < 16 else kept[:255]
    return kept if kept not in ("", ".", "..") else "file"


def file_upload(name: str, content: bytes) -> FileRef:
    """An uploaded file: its kept name, size, SHA-256 and sniffed media type. ValueProblem when it
    is over the upload limit."""
    limit = upload_limit()
    kept = file_name(name)
    if len(content) > limit:
        raise ValueProblem(f"{kept} is {len(content):,} bytes, over the upload limit of {limit:,}")
    return FileRef(kept, len(content), hashlib.sha256(content).hexdigest(), content, media.sniff(content))


def text_problem(text: str) -> str | None:
    """Why a text cannot be stored alike on every database, or None: a NUL character (PostgreSQL's
    text refuses it) or a lone surrogate (not Unicode: no database can encode it)."""
    if "\x00" in text:
        return tr("contains a NUL character, which text cannot hold")
    if not text.isascii():
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            return tr("contains a lone surrogate, which is not Unicode text")
    return None


def clean_text(text: str) -> str:
    """text when it can be stored (text_problem); else ValueProblem naming the text and why not."""
    problem = text_problem(text)
    if problem is not None:
        shown = repr(text) if len(text) <= 40 else f"{text[:40]!r}…"
        raise ValueProblem(f"{shown} {problem}")
    return text


def identifier(value: Any) -> int:
    """An id (of an item, a user, a linked item or a file) as given: a whole number from 1 to MAX_ID,
    from an int or its digits; else ValueProblem (a larger number names no row of any table)."""
    if isinstance(value, bool):
        raise ValueProblem(f"{value!r} is not an item id")
    text = str(value).strip() if isinstance(value, (int, str, Decimal)) else ""
    if not (text.isascii() and text.isdigit()) or int(text[:12]) == 0:
        raise ValueProblem(f"{_shown(value)} is not an id")
    if len(text) > 12 or int(text) > MAX_ID:
        raise ValueProblem(f"{_shown(value)} is not an id (ids go up to {MAX_ID})")
    return int(text)


def _shown(value: Any) -> str:
    text = repr(value) if isinstance(value, str) else str(value)
    return text if len(text) <= 40 else text[:40] + "…"


def is_empty(value: Any) -> bool:
    """None, empty text, an empty list, or money without an amount."""
    if value is None:
        return True
    if isinstance(value, str):
        return value == ""
    if isinstance(value, list):
        return not value
    return isinstance(value, dict) and value.get("amount") is None


def parse_text(field: Field, raw: str) -> Any:
    """A value typed on the command line (`--set field=raw`) in canonical form."""
    text = raw.strip()
    if field.multiple:
        return [] if not text else [parse_text(_single(field), part) for part in _split(text)]
    if text == "":
        return None
    if field.type == "file" and text.startswith("@"):  # never a path read here: the server's files are not uploads
        raise ValueProblem(f"{_shown(text)}: a file is uploaded (the command line's --set {field.id}=@PATH reads "
                           "it where the command runs), never named by a path")
    if field.type == "money":
        parts = text.split()
        if len(parts) == 2 and re.fullmatch(r"[^\W\d_]+", parts[1]):  # `1500 USD`: an amount and a code
            return {"amount": _decimal(field, parts[0]), "currency": _currency(parts[1])}
        return {"amount": _decimal(field, text), "currency": field.currency or DEFAULT_CURRENCY}
    return coerce(field, raw if field.type in ("string", "text") else text)


def _single(field: Field) -> Field:
    from dataclasses import replace

    return replace(field, multiple=False)


def _split(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


def _decimal(field: Field, raw: Any) -> Decimal:
    if isinstance(raw, bool):
        raise ValueProblem(tr("{value} is not a number", value=repr(raw)))
    try:
        value = Decimal(str(raw).strip().replace(" ", "").replace(",", ".")) if isinstance(raw, str) \
            else Decimal(str(raw))
    except (InvalidOperation, ValueError):  # ValueError: an int of more digits than str() writes
        raise ValueProblem(tr("{value} is not a number", value=_shown(raw))) from None
    if not value.is_finite():
        raise ValueProblem(tr("{value} is not a number", value=_shown(raw)))
    places = precision_of(field)
    try:
        rounded = round(value, places)
    except InvalidOperation:  # more digits than a Decimal holds (28): far past what a column stores
        raise ValueProblem(tr("{value} is too large to store (at most {largest})",
                              value=raw, largest=_largest(field))) from None
    if value != rounded:
        raise ValueProblem(tr("{value} has more than {places} digits after the point", value=raw, places=places))
    return value


def coerce(field: Field, value: Any) -> Any:
    """A value from JSON or Python in canonical form; raises ValueProblem."""
    if field.multiple:
        if value is None:
            return []
        items = value if isinstance(value, list) else _split(value) if isinstance(value, str) else [value]
        single = _single(field)
        return [found for found in (coerce(single, item) for item in items) if found is not None]
    if value is None or (isinstance(value, str) and (not value or value.isspace())):
        return None  # empty is NULL for every type: '' would be a value to a unique index
    kind = field.type
    if kind in ("string", "text", "email", "phone", "url"):
        if not isinstance(value, (str, int)) or isinstance(value, bool):
            raise ValueProblem(tr("{value} is not text", value=_shown(value)))
        return clean_text(str(value))
    if kind == "integer":
        if isinstance(value, bool):
            raise ValueProblem(tr("{value} is not a whole number", value=repr(value)))
        try:
            number = Decimal(str(value).strip())
        except (InvalidOperation, ValueError):  # ValueError: an int of more digits than str() writes
            raise ValueProblem(tr("{value} is not a whole number", value=_shown(value))) from None
        if not number.is_finite():
            raise ValueProblem(tr("{value} is not a whole number", value=_shown(value)))
        if number.adjusted() > 30:  # before int(): 1e999999999 would be an int of a billion digits
            shown = str(value).strip()
            raise ValueProblem(f"{shown[:40]}{'…' if len(shown) > 40 else ''} is too large to store "
                               f"(at most {STORED_LIMIT - 1})")
        if number != number.to_integral_value():
            raise ValueProblem(tr("{value} is not a whole number", value=repr(value)))
        return int(number)
    if kind == "number":
        return _decimal(field, value)
    if kind == "money":
        if isinstance(value, dict):
            given = value.get("currency")
            blank = given is None or (isinstance(given, str) and not given.strip())  # none given: the field's
            code = field.currency or DEFAULT_CURRENCY if blank else _currency(given)
            return {"amount": _decimal(field, value.get("amount")), "currency": code}
        return {"amount": _decimal(field, value), "currency": field.currency or DEFAULT_CURRENCY}
    if kind == "boolean":
        truth = boolean(value)
        if truth is None:
            raise ValueProblem(tr("{value} is not true or false", value=repr(value)))
        return truth
    if kind == "date":
        return _date(value)
    if kind == "datetime":
        return _datetime(value)
    if kind == "enum":
        if not isinstance(value, (str, int)) or isinstance(value, bool):
            raise ValueProblem(tr("{value} is not an option id", value=_shown(value)))
        return clean_text(str(value))
    if kind in ("link", "file"):
        if isinstance(value, FileRef) and kind == "file":
            return value
        if isinstance(value, dict) and kind == "file" and "id" in value:  # a file as an item's JSON lists it
            return identifier(value["id"])
        return identifier(value)
    if kind == "user":
        return _user(value)
    raise ValueProblem(f"unsupported field type {kind}")


def _currency(value: Any) -> str:
    """An active ISO 4217 code (`usd` → USD); anything else is refused."""
    code = currency(value)
    if code is None:
        shown = repr(value) if not isinstance(value, str) or len(value) <= 20 else f"{value[:20]!r}…"
        raise ValueProblem(tr("{value} is not an ISO 4217 currency code (such as RUB, USD or EUR)", value=shown))
    return code


def _user(value: Any) -> int | str:
    """A user as given: an int is an id, `#12` is the id 12, other text is a login (digits too)."""
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("#"):
            return identifier(text[1:])
        if not text:
            raise ValueProblem(tr("an empty text is not a user"))
        return clean_text(text)
    return identifier(value)


def _date(value: Any) -> date:
    if isinstance(value, str) and value.strip() == "today":
        return clock.today()
    try:
        return to_date(value)
    except ValueError:
        raise ValueProblem(tr("{value} is not a date (write YYYY-MM-DD)", value=repr(value))) from None


def _datetime(value: Any) -> datetime:
    if isinstance(value, str) and value.strip() == "now":
        return clock.now()
    try:
        return to_datetime(value)
    except ValueError:
        raise ValueProblem(tr("{value} is not a date and time (write 2026-12-01T09:30)", value=repr(value))) from None


def with_decimals(field: Field, value: Any) -> Any:
    """A checked canonical value with the field's decimals, as it reads back from the database
    (`270000` → `270000.00`), so history and change lists show old and new alike."""
    if field.type not in ("number", "money") or is_empty(value):
        return value
    if field.multiple:
        return [with_decimals(_single(field), item) for item in value]
    exponent = Decimal(1).scaleb(-precision_of(field))
    try:
        if field.type == "money":
            return {**value, "amount": value["amount"].quantize(exponent)}
        return value.quantize(exponent)
    except InvalidOperation:  # more digits than a Decimal holds: left as given (the database refuses it)
        return value


def check(field: Field, value: Any) -> None:
    """Raise ValueProblem when a canonical non-empty value breaks one of the field's rules."""
    if field.multiple:
        for item in value:
            check(_single(field), item)
        return
    kind = field.type
    if kind in ("string", "text", "email", "phone", "url"):
        _check_text(field, value)
    elif kind in ("integer", "number", "money", "date", "datetime"):
        _check_range(field, value["amount"] if kind == "money" else value)
    elif kind == "enum":
        ids = [o.id for o in field.options]
        if value not in ids:
            raise ValueProblem(tr("{value} is not one of the options ({options})",
                                  value=repr(value), options=", ".join(ids)))
    elif kind == "file" and isinstance(value, FileRef):
        if field.max_size is not None and value.size > field.max_size:
            raise ValueProblem(tr("{name} is {size} bytes, over the limit of {limit}",
                                  name=value.name, size=value.size, limit=field.max_size))
        suffix = value.name.rsplit(".", 1)[-1].lower() if "." in value.name else ""
        if field.extensions and suffix not in field.extensions:
            raise ValueProblem(tr("{name} is not one of the allowed kinds ({kinds})",
                                  name=value.name, kinds=", ".join(field.extensions)))


_TEXT_TYPES = frozenset({"string", "text", "email", "phone", "url"})


def checker(field: Field) -> Callable[[Any], Any]:
    """check(field, value) then with_decimals(field, value), for a non-empty canonical value,
    prepared once per field (the same messages: tests/runtime/test_checker.py): a text field
    without rules, a boolean or a date without bounds returns the value, an enum checks a set of
    its option ids, a number its bounds read once; the rest run check and with_decimals."""
    kind = field.type
    if not field.multiple:
        if kind in _TEXT_TYPES and kind not in _FORMATS and field.min_length is None \
                and field.max_length is None and field.pattern is None:
            return _unchanged
        if kind == "boolean" or (kind == "date" and field.min is None and field.max is None):
            return _unchanged
        if kind == "enum":
            ids = [o.id for o in field.options]
            known = frozenset(ids)

            def option(value: Any) -> Any:
                if value not in known:
                    raise ValueProblem(tr("{value} is not one of the options ({options})",
                                          value=repr(value), options=", ".join(ids)))
                return value

            return option
        if kind in ("integer", "number", "money"):
            return _numeric(field)

    def checked(value: Any) -> Any:
        check(field, value)
        return with_decimals(field, value)

    return checked


def _numeric(field: Field) -> Callable[[Any], Any]:
    """checker of a single integer, number or money field: _check_range with its bounds read once."""
    kind = field.type
    low, high = _bound(field, field.min), _bound(field, field.max)
    places = 0 if kind == "integer" else precision_of(field)

    def numeric(value: Any) -> Any:
        amount = value["amount"] if kind == "money" else value
        if abs(amount if kind == "integer" else amount.scaleb(places)) >= STORED_LIMIT:
            raise ValueProblem(tr("{value} is too large to store (at most {largest})",
                                  value=amount, largest=_largest(field)))
        if low is not None and amount < low:
            raise ValueProblem(tr("{value} is less than the minimum {minimum}", value=amount, minimum=field.min))
        if high is not None and amount > high:
            raise ValueProblem(tr("{value} is more than the maximum {maximum}", value=amount, maximum=field.max))
        return value if kind == "integer" else with_decimals(field, value)

    return numeric


def _unchanged(value: Any) -> Any:
    return value


def _check_text(field: Field, value: str) -> None:
    if field.min_length is not None and len(value) < field.min_length:
        raise ValueProblem(tr("{value} is shorter than {length} characters",
                              value=repr(value), length=field.min_length))
    if field.max_length is not None and len(value) > field.max_length:
        shown = repr(value) if len(value) <= 40 else f"{value[:40]!r}…"
        raise ValueProblem(tr("{value} is longer than {length} characters", value=shown, length=field.max_length))
    if field.pattern is not None and not re.fullmatch(field.pattern, value):
        raise ValueProblem(tr("{value} does not match the pattern {pattern}", value=repr(value), pattern=field.pattern))
    if field.type in _FORMATS and not _FORMATS[field.type][0].match(value):
        raise ValueProblem(tr("{value} is not {kind}", value=repr(value), kind=_FORMATS[field.type][1]))


STORED_LIMIT = 2**63  # integers, and numbers and money in minor units, are stored as 64-bit integers


def _check_range(field: Field, value: Any) -> None:
    if field.type in ("integer", "number", "money"):
        stored = value if field.type == "integer" else value.scaleb(precision_of(field))
        if abs(stored) >= STORED_LIMIT:
            raise ValueProblem(tr("{value} is too large to store (at most {largest})",
                                  value=value, largest=_largest(field)))
    low, high = _bound(field, field.min), _bound(field, field.max)
    if low is not None and value < low:
        raise ValueProblem(tr("{value} is less than the minimum {minimum}", value=value, minimum=field.min))
    if high is not None and value > high:
        raise ValueProblem(tr("{value} is more than the maximum {maximum}", value=value, maximum=field.max))


def _largest(field: Field) -> str:
    return format(Decimal(STORED_LIMIT - 1).scaleb(-precision_of(field) if field.type != "integer" else 0), "f")


def _bound(field: Field, bound: Any) -> Any:
    if bound is None:
        return None
    if field.type == "date":
        return date.fromisoformat(str(bound))
    if field.type == "datetime":
        return _datetime(bound)
    return Decimal(str(bound))


def to_stored(field: Field, value: Any) -> dict[str, Any]:
    """The item-table columns for a single-valued field's canonical value."""
    if field.type == "money":
        if value is None:
            return {field.id: None, currency_column(field.id): None}
        return {field.id: _scaled(field, value["amount"]), currency_column(field.id): value["currency"]}
    return {field.id: stored_scalar(field, value)}


def stored_scalar(field: Field, value: Any) -> Any:
    if value is None:
        return None
    if field.type == "number":
        return _scaled(field, value)
    if field.type == "money":
        return _scaled(field, value["amount"])
    return value


def _scaled(field: Field, amount: Decimal) -> int:
    return int(amount.scaleb(precision_of(field)))


def scalar_from_stored(field: Field, raw: Any, currency: str | None = None) -> Any:
    if raw is None:
        return None
    if field.type == "number":
        return Decimal(raw).scaleb(-precision_of(field))
    if field.type == "money":
        return {"amount": Decimal(raw).scaleb(-precision_of(field)), "currency": currency}
    return raw


def file_reference(path: Path) -> FileRef:
    """A file on the caller's disk read for upload (`--set field=@path`): its content, name, size,
    SHA-256 and sniffed media type; the path itself is not kept anywhere."""
    try:
        if path.stat().st_size > upload_limit():
            raise ValueProblem(f"{path.name} is {path.stat().st_size:,} bytes, over the upload limit of "
                               f"{upload_limit():,}")
        content = path.read_bytes()
    except OSError as exc:
        raise ValueProblem(f"cannot read {path}: {exc.strerror}") from None
    return file_upload(path.name, content)


_PLAIN = frozenset({str, int, bool, float})  # JSON-friendly as they are


def plain(value: Any) -> Any:
    """A canonical value as JSON-friendly data (for --format json and history rows)."""
    if value is None or type(value) in _PLAIN:
        return value
    if isinstance(value, list):
        return [plain(v) for v in value]
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    if isinstance(value, FileRef):
        return {"name": value.name, "size": value.size, "checksum": value.checksum, "content_type": value.content_type}
    return value
