"""Reading plain values the way the definition language means them: yes/no words, dates,
date-times and currency codes. One reading for every layer: the runtime coerces what people type
with it, a definition's `currency` is validated with it, and a deploy converts stored values with
it when a field changes type."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from typing import Any

TRUE_WORDS = frozenset({"true", "yes", "y", "1", "t", "on", "да"})
FALSE_WORDS = frozenset({"false", "no", "n", "0", "f", "off", "нет"})

# The active ISO 4217 currency codes (list one, as Debian's iso-codes 4.18 and pycountry 26.2 give
# it; the fund and metal codes included, the testing code XTS and "no currency" XXX left out).
# A frozen copy: pycountry would cost 23 MB installed and 130–150 ms of import for 176 words.
CURRENCIES = frozenset("""
    AED AFN ALL AMD AOA ARS AUD AWG AZN BAM BBD BDT BHD BIF BMD BND BOB BOV BRL BSD BTN BWP BYN BZD
    CAD CDF CHE CHF CHW CLF CLP CNY COP COU CRC CUP CVE CZK DJF DKK DOP DZD EGP ERN ETB EUR FJD FKP
    GBP GEL GHS GIP GMD GNF GTQ GYD HKD HNL HTG HUF IDR ILS INR IQD IRR ISK JMD JOD JPY KES KGS KHR
    KMF KPW KRW KWD KYD KZT LAK LBP LKR LRD LSL LYD MAD MDL MGA MKD MMK MNT MOP MRU MUR MVR MWK MXN
    MXV MYR MZN NAD NGN NIO NOK NPR NZD OMR PAB PEN PGK PHP PKR PLN PYG QAR RON RSD RUB RWF SAR SBD
    SCR SDG SEK SGD SHP SLE SOS SRD SSP STN SVC SYP SZL THB TJS TMT TND TOP TRY TTD TWD TZS UAH UGX
    USD USN UYI UYU UYW UZS VED VES VND VUV WST XAD XAF XAG XAU XBA XBB XBC XBD XCD XCG XDR XOF XPD
    XPF XPT XSU XUA YER ZAR ZMW ZWG
""".split())


def currency(value: Any) -> str | None:
    """An ISO 4217 code from text in any case (`usd` → USD); None when it is not an active code."""
    if not isinstance(value, str):
        return None
    code = value.strip().upper()
    return code if code in CURRENCIES else None


def boolean(value: Any) -> bool | None:
    """True or False for a yes/no word (any case, Russian too); None when it is neither."""
    if isinstance(value, bool):
        return value
    word = str(value).strip().lower()
    return True if word in TRUE_WORDS else False if word in FALSE_WORDS else None


def to_date(value: Any) -> date:
    """A date from a date, a date-time (its day) or ISO text; ValueError otherwise."""
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    return date.fromisoformat(str(value).strip())


def to_datetime(value: Any) -> datetime:
    """A date-time in UTC from a date-time, a date (its midnight) or ISO text (`Z` allowed), the
    same instant as given (`10:00+03:00` → `07:00+00:00`; UTC when no offset is given);
    ValueError otherwise. Every date-time is stored so, which SQLite, keeping no offset, needs."""
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, date):
        moment = datetime.combine(value, time(0))
    else:
        moment = datetime.fromisoformat(str(value).strip().replace("Z", "+00:00"))
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment if moment.tzinfo is UTC else moment.astimezone(UTC)
