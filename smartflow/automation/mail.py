"""E-mail notifications: the worker's SMTP settings, the message a notification becomes in its
reader's language, and its sending (stdlib smtplib).

Configured by the environment of `smartflow worker`:

- `SMARTFLOW_SMTP_URL`: `smtp://host:port` (plain, port 25 by default), `smtp+starttls://host:port`
  (STARTTLS, 587) or `smtps://host:port` (TLS from the start, 465); a user and password may be
  given in it (`smtp+starttls://user:password@host`) or in `SMARTFLOW_SMTP_USER` and
  `SMARTFLOW_SMTP_PASSWORD`. Unset: no e-mail is sent (each waiting message is dropped, saying so).
- `SMARTFLOW_MAIL_FROM`: the sender (default `smartflow@localhost`).
- `SMARTFLOW_BASE_URL`: where people open the board (`https://crm.example.com`), for the link to the
  card; unset, the message names the process and the item's number instead of linking to it.
- `SMARTFLOW_LANG`: the language of a user who chose none (ru or en; default en).

A message is written when it is sent, in the recipient's language, from what the notification
recorded (runtime/notices.py). Its Message-ID is made from the outbox message's id, so a copy sent
again (the worker died between sending and recording it) can be recognised as the same message.
"""

from __future__ import annotations

import os
import smtplib
import ssl
from collections.abc import Mapping
from email.charset import BASE64, QP, Charset
from email.header import Header
from email.message import Message as Email
from email.mime.text import MIMEText
from email.policy import compat32
from email.utils import formataddr, parseaddr
from typing import Any
from urllib.parse import unquote, urlsplit

from smartflow.errors import InvalidValue
from smartflow.i18n import Message, tr
from smartflow.records import record

TIMEOUT = 20.0  # seconds for the SMTP server to answer
SCHEMES = {"smtp": ("plain", 25), "smtp+starttls": ("starttls", 587), "smtps": ("ssl", 465)}
LANGUAGES = ("ru", "en")


@record(frozen=True)
class Settings:
    """Where and how the worker sends e-mail."""

    host: str
    port: int
    security: str  # plain, starttls or ssl
    user: str | None
    password: str | None
    sender: str
    base_url: str | None
    language: str

    @property
    def server(self) -> str:
        return f"{self.host}:{self.port} ({self.security})"


def settings(env: Mapping[str, str] | None = None) -> Settings | None:
    """The SMTP settings of the environment; None when SMARTFLOW_SMTP_URL is unset. InvalidValue names
    the variable that is wrong."""
    env = os.environ if env is None else env
    url = env.get("SMARTFLOW_SMTP_URL", "").strip()
    if not url:
        return None
    parts = urlsplit(url)
    if parts.scheme not in SCHEMES or not parts.hostname:
        raise InvalidValue(f"SMARTFLOW_SMTP_URL={url!r} is not an SMTP server's address",
                           "write smtp://host:port, smtp+starttls://host:port or smtps://host:port")
    try:
        port = parts.port
    except ValueError:
        raise InvalidValue(f"SMARTFLOW_SMTP_URL={url!r} has a port that is not a number",
                           "write smtp://host:port") from None
    security, default_port = SCHEMES[parts.scheme]
    sender = env.get("SMARTFLOW_MAIL_FROM", "").strip() or "smartflow@localhost"
    if "@" not in parseaddr(sender)[1]:
        raise InvalidValue(f"SMARTFLOW_MAIL_FROM={sender!r} is not an e-mail address",
                           "write it as smartflow@example.com or 'Smartflow <smartflow@example.com>'")
    base = env.get("SMARTFLOW_BASE_URL", "").strip().rstrip("/") or None
    if base is not None and urlsplit(base).scheme not in ("http", "https"):
        raise InvalidValue(f"SMARTFLOW_BASE_URL={base!r} is not an http(s) address",
                           "write where people open the board: https://crm.example.com")
    language = env.get("SMARTFLOW_LANG", "").strip().lower() or "en"
    user = env.get("SMARTFLOW_SMTP_USER") or (unquote(parts.username) if parts.username else None)
    password = env.get("SMARTFLOW_SMTP_PASSWORD") or (unquote(parts.password) if parts.password else None)
    return Settings(parts.hostname, port or default_port, security, user, password, sender, base,
                    language if language in LANGUAGES else "en")


# ---- the message ------------------------------------------------------------------------

# what happened, by the notification's event (catalogue messages); {author} did it, {todo} is a to-do's title
WHAT = {
    "mention": tr("{author} mentioned you in a comment"),
    "assigned": tr("{author} made you responsible"),
    "todo": tr("{author} gave you a to-do: “{todo}”"),
    "overdue": tr("The to-do “{todo}” is overdue"),
    "observer": tr("{author} made you an observer"),
    "notify": tr("Notification"),
}
WORDS = {
    "due": tr("Due"),
    "open": tr("Open the card"),
    "no_link": tr("Open it in smartflow: {process}, no. {item}"),
    "why": tr("You get this because your e-mail notifications are on. You can turn them off on your inbox "
              "page{inbox}."),
}


def _say(table: dict[str, Message], key: str, language: str, **values: Any) -> str:
    """A frame of the letter in the reader's language (the catalogue's), its parameters filled."""
    return Message(table[key].msgid, **values).render(language)


@record(frozen=True)
class Letter:
    """One notification e-mail, before it is a message."""

    to: str
    to_name: str
    subject: str
    body: str


def letter(payload: dict[str, Any], to: str, to_name: str, language: str, process_title: str | None,
           base_url: str | None) -> Letter:
    """The e-mail of a notification (an outbox message's payload, runtime/notices.py) for one reader."""
    event = payload.get("event") if payload.get("event") in WHAT else "notify"
    item_title = payload.get("item_title") or ""
    what = _say(WHAT, event, language, author=payload.get("author") or "smartflow", todo=payload.get("todo") or "")
    headline = payload.get("subject") if event == "notify" and payload.get("subject") else what
    where = " · ".join(part for part in (process_title, item_title) if part)
    subject = f"{where}: {headline}" if where else headline
    lines = [what + ("" if event == "notify" else "."), ""]
    if event == "notify" and payload.get("subject"):
        lines[0] = str(payload["subject"])
    if event in ("mention", "notify") and payload.get("message"):
        lines += [str(payload["message"]), ""]
    if event in ("todo", "overdue") and payload.get("due"):
        lines += [f"{_say(WORDS, 'due', language)}: {payload['due']}", ""]
    if where:
        lines.append(where)
    process, item_id = payload.get("process"), payload.get("item_id")
    if process and item_id is not None:
        if base_url:
            anchor = f"#{payload['anchor']}" if payload.get("anchor") else ""
            lines.append(f"{_say(WORDS, 'open', language)}: {base_url}/processes/{process}/items/{item_id}{anchor}")
        else:
            lines.append(_say(WORDS, "no_link", language, process=process_title or process, item=item_id))
    lines += ["", "-- ", _say(WORDS, "why", language, inbox=f" ({base_url}/inbox)" if base_url else "")]
    return Letter(to, to_name, " ".join(subject.split())[:300], "\n".join(lines) + "\n")


def message(found: Letter, sender: str, outbox_id: int) -> Email:
    """The letter as an e-mail: UTF-8 headers and body, its Message-ID made from the outbox message's id.

    Headers are encoded by the classic `email.header` API (RFC 2047 words of at most 75 characters):
    the newer EmailMessage API folds a long non-ASCII subject into encoded words and, in the Pythons we
    support, drops the space where it splits them ("А500С Ø16" arrived as "А500СØ16")."""
    for text in (found.subject, sender):  # the name's breaks are spaces (below)
        if "\n" in text or "\r" in text:
            raise ValueError("a header value may not hold a linefeed or a carriage return")
    utf8 = Charset("utf-8")
    utf8.header_encoding, utf8.body_encoding = BASE64, QP
    # lines of 76 at most: each encoded word then has RFC 2047's 75 characters at most
    mail = MIMEText(found.body, "plain", utf8, policy=compat32.clone(max_line_length=76))  # type: ignore[arg-type]
    name, address = parseaddr(sender)
    # a display name is one RFC 2047 word, as mail clients split and join none of a name's letters
    mail["From"] = formataddr((name, address), charset=utf8)
    mail["To"] = formataddr((" ".join(found.to_name.split()), found.to), charset=utf8)
    mail["Subject"] = Header(found.subject, utf8, header_name="Subject")
    domain = address.rpartition("@")[2] or "localhost"
    mail["Message-ID"] = f"<smartflow-outbox-{outbox_id}@{domain}>"
    mail["Auto-Submitted"] = "auto-generated"  # RFC 3834: no vacation replies to a notification
    return mail


# ---- sending ----------------------------------------------------------------------------


class Refused(Exception):
    """The server refused the message for good (a 5xx answer): sending it again would not help."""


def send(found: Settings, mail: Email, timeout: float = TIMEOUT) -> None:
    """Send mail through the configured server. Refused for a permanent refusal; OSError or
    smtplib.SMTPException for anything worth trying again (the server is down, busy, or answered 4xx)."""
    context = ssl.create_default_context()
    client: smtplib.SMTP = (smtplib.SMTP_SSL(found.host, found.port, timeout=timeout, context=context)
                            if found.security == "ssl" else smtplib.SMTP(found.host, found.port, timeout=timeout))
    try:
        if found.security == "starttls":
            client.starttls(context=context)
        if found.user:
            client.login(found.user, found.password or "")
        client.send_message(mail)
    except smtplib.SMTPRecipientsRefused as error:
        codes = [code for code, _ in error.recipients.values()]
        if all(code >= 500 for code in codes):
            raise Refused(f"the server refused the recipient: {_answer(error.recipients)}") from None
        raise
    except (smtplib.SMTPSenderRefused, smtplib.SMTPDataError, smtplib.SMTPAuthenticationError) as error:
        if error.smtp_code >= 500:
            raise Refused(f"the server answered {error.smtp_code} {_text(error.smtp_error)}") from None
        raise
    finally:
        try:
            client.quit()
        except (smtplib.SMTPException, OSError):
            client.close()


def _text(answer: Any) -> str:
    return answer.decode("utf-8", "replace") if isinstance(answer, bytes) else str(answer)


def _answer(recipients: dict[str, tuple[int, Any]]) -> str:
    return "; ".join(f"{address}: {code} {_text(text)}" for address, (code, text) in recipients.items())
