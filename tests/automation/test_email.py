"""E-mail notifications against a real SMTP server (aiosmtpd) on 127.0.0.1, on SQLite and PostgreSQL.

A mention, an assignment, a to-do given to someone and a `notify` action each leave an e-mail in the
outbox, written with the change; the worker sends it after commit, in the reader's language, with a
link to the card. Users who turned e-mail off, or have no address, get the inbox line only. A server
that is down is tried again after the backoff and then delivers once; a 5xx refusal fails the message
at once, where the administrators' outbox shows it. One test runs a real `smartflow worker` process.
"""

from __future__ import annotations

import email
import email.policy
import os
import re
import socket
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from smartflow.automation import mail
from smartflow.automation.worker import BACKOFF
from smartflow.deploy import apply as deploy
from smartflow.errors import InvalidValue, NotDeployed
from smartflow.i18n import render
from tests.automation.support import ROLES, SYSTEM, Auto, Clock, process
from tests.runtime.support import invoke, module_url

__all__ = ["module_url"]  # the fixture, imported for pytest

BASE = "http://board.example"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class Mailbox:
    """The SMTP server's handler: keeps each message it accepts; refuses recipients at bounce.example."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        self.envelopes: list[tuple[str, list[str]]] = []

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, options: Any) -> str:
        if address.endswith("@bounce.example"):
            return "550 5.1.1 no such mailbox"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
        parsed = email.message_from_bytes(envelope.original_content, policy=email.policy.default)
        assert isinstance(parsed, EmailMessage)
        self.messages.append(parsed)
        return "250 OK"

    def to(self, address: str) -> list[EmailMessage]:
        return [m for m in self.messages if address in str(m["To"])]


class Server:
    """An aiosmtpd server on a free port of 127.0.0.1, which the tests stop and start again."""

    def __init__(self) -> None:
        self.port = free_port()
        self.mailbox = Mailbox()
        self.controller: Controller | None = None

    def start(self) -> None:
        self.controller = Controller(self.mailbox, hostname="127.0.0.1", port=self.port)
        self.controller.start()

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None


def orders() -> dict[str, Any]:
    return process("orders", {"buyer": {"type": "user"}}, [
        {"id": "ping", "on": "stage_entered", "stage": "work",
         "do": [{"notify": {"users": ["buyer"], "subject": "Заказ «{{ title }}» в работе",
                            "message": "Проверьте счёт для «{{ title }}»"}}]},
    ], title={"ru": "Заказы", "en": "Orders"})


@pytest.fixture(scope="module")
def server() -> Iterator[Server]:
    found = Server()
    found.start()
    yield found
    found.stop()


@pytest.fixture(scope="module")
def db(module_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Auto]:
    auto = Auto(module_url, tmp_path_factory.mktemp("defs"), ROLES, orders())
    admin = auto.admin
    admin.add_user("boss", "Начальник", ["lead"], email="boss@example.com")
    admin.add_user("ivanova", "Иванова Мария", ["agent"], email="ivanova@example.com")
    admin.add_user("petrov", "Петров", ["agent"], email="petrov@example.com")
    admin.add_user("sidorov", "Сидоров", ["agent"])  # no address
    admin.add_user("smith", "John Smith", ["agent"], email="smith@bounce.example")
    admin.edit_user("ivanova", language="ru")
    yield auto
    auto.close()


@pytest.fixture
def smtp(server: Server, db: Auto, monkeypatch: pytest.MonkeyPatch) -> Iterator[Server]:
    """The server, configured for the worker, with an empty mailbox and nothing left in the outbox."""
    monkeypatch.setenv("SMARTFLOW_SMTP_URL", f"smtp://127.0.0.1:{server.port}")
    monkeypatch.setenv("SMARTFLOW_BASE_URL", BASE + "/")
    monkeypatch.setenv("SMARTFLOW_MAIL_FROM", "Smartflow <crm@example.com>")
    monkeypatch.delenv("SMARTFLOW_LANG", raising=False)
    if server.controller is None:
        server.start()
    db.drain()
    server.mailbox.messages.clear()
    yield server


def emails(db: Auto, status: str | None = None) -> list[dict[str, Any]]:
    return [r for r in db.rows("sf_outbox") if r["kind"] == "email" and status in (None, r["status"])]


def text(message: EmailMessage) -> str:
    body = message.get_body(("plain",))
    assert body is not None
    return str(body.get_content()).replace("\r\n", "\n")


def test_a_mention_emails_the_mentioned_user_in_russian_with_a_link_to_the_card(db: Auto, smtp: Server) -> None:
    boss = db.as_user("boss")
    item = boss.create("orders", {"title": "Бумага А4 — 10 пачек"})
    comment = boss.comment("orders", item, "@ivanova посмотрите счёт, пожалуйста: «ёжик» ✓")
    assert smtp.mailbox.messages == []  # written with the comment; sent by the worker only
    [waiting] = emails(db, "pending")
    assert waiting["payload"]["user_id"] and waiting["payload"]["event"] == "mention"
    db.drain()
    [sent] = smtp.mailbox.to("ivanova@example.com")
    assert sent["Subject"] == "Заказы · Бумага А4 — 10 пачек: Начальник упомянул(а) вас в комментарии"
    assert sent["From"] == "Smartflow <crm@example.com>"
    assert sent["To"].addresses[0].display_name == "Иванова Мария"
    body = text(sent)
    assert "@ivanova посмотрите счёт, пожалуйста: «ёжик» ✓" in body
    assert f"Открыть карточку: {BASE}/processes/orders/items/{item}#comment-{comment['id']}" in body
    assert sent["Message-ID"] == f"<smartflow-outbox-{waiting['id']}@example.com>"
    assert smtp.mailbox.envelopes[-1] == ("crm@example.com", ["ivanova@example.com"])
    assert emails(db, "sent")[-1]["id"] == waiting["id"]
    assert db.as_user("ivanova").inbox()[0]["subject"].startswith("@boss")  # the inbox line too


def test_assignment_todo_and_notify_action_email_in_the_readers_language(db: Auto, smtp: Server) -> None:
    boss = db.as_user("boss")
    item = boss.create("orders", {"title": "Картриджи", "buyer": "petrov"})
    boss.update("orders", item, {"assigned_to": "ivanova"})
    boss.add_todo("orders", item, "Позвонить поставщику", due="2030-02-01", responsible="petrov")
    boss.move("orders", item, "work")
    db.drain()
    [assigned] = smtp.mailbox.to("ivanova@example.com")
    assert assigned["Subject"] == "Заказы · Картриджи: Начальник назначил(а) вас ответственным"
    petrov = smtp.mailbox.to("petrov@example.com")  # petrov chose no language: the default, English
    assert [m["Subject"] for m in petrov] == ["Orders · Картриджи: Начальник gave you a to-do: “Позвонить поставщику”",
                                              "Orders · Картриджи: Заказ «Картриджи» в работе"]
    assert "Due: 2030-02-01" in text(petrov[0]) and f"{BASE}/processes/orders/items/{item}#todo-" in text(petrov[0])
    assert "Проверьте счёт для «Картриджи»" in text(petrov[1])
    assert f"Open the card: {BASE}/processes/orders/items/{item}\n" in text(petrov[1])


def test_the_inbox_tells_each_reader_in_their_language_and_an_older_line_as_it_was_written(db: Auto,
                                                                                          smtp: Server) -> None:
    boss, ivanova = db.as_user("boss"), db.as_user("ivanova")
    item = boss.create("orders", {"title": "Тонер"})
    boss.update("orders", item, {"assigned_to": "ivanova"})
    [line] = [m for m in ivanova.inbox() if m["item_id"] == item]
    assert (line["subject"], line["message"]) == ("You are responsible: Тонер",
                                                  "Начальник made you responsible for “Тонер”.")  # the CLI's
    assert render(line["subject"], "ru") == "Вы ответственный: Тонер"
    assert render(line["message"], "ru") == "Начальник назначил(а) вас ответственным за «Тонер»."
    assert render(line["message"], "en") == line["message"]
    [stored] = db.rows("sf_inbox", SYSTEM["sf_inbox"].c.id == line["id"])
    assert stored["message"] == line["message"]  # the English beside the msgid and its parameters
    assert stored["localized"]["message"] == ["{author} made you responsible for “{title}”.",
                                              {"author": "Начальник", "title": "Тонер"}]
    db.drain()
    [mailed] = [m for m in smtp.mailbox.to("ivanova@example.com") if "Тонер" in m["Subject"]]
    assert mailed["Subject"] == "Заказы · Тонер: Начальник назначил(а) вас ответственным"  # she reads Russian
    assert "Открыть карточку: " in text(mailed) and "Open" not in text(mailed)
    # a line written before messages were kept (or a `notify` text) shows what it stored, in any language
    with db.raw.begin() as connection:
        connection.execute(SYSTEM["sf_inbox"].update().where(SYSTEM["sf_inbox"].c.id == line["id"]).values(
            localized=None, message="Вы ответственный / You are responsible: Тонер"))
    [older] = [m for m in ivanova.inbox() if m["id"] == line["id"]]
    assert render(older["message"], "ru") == render(older["message"], "en") == \
        "Вы ответственный / You are responsible: Тонер"
    assert older["subject"] == "You are responsible: Тонер"


def test_apply_gives_an_older_inbox_its_messages_column_and_older_lines_read_as_written(
        db_url: str, tmp_path: Path) -> None:
    older = Auto(db_url, tmp_path / "defs", ROLES, orders())
    try:
        older.admin.add_user("boss", "Начальник", ["lead"])
        older.admin.add_user("ivanova", "Иванова Мария", ["agent"])
        older.as_user("boss").create("orders", {"title": "Бумага", "assigned_to": "ivanova"})
        older.execute("UPDATE sf_inbox SET message = 'Вы ответственный / You are responsible: Бумага'")
        older.execute("ALTER TABLE sf_inbox DROP COLUMN localized")  # the table as smartflow made it before
        with pytest.raises(NotDeployed, match="older than this smartflow"):
            older.as_user("ivanova").inbox()
        definitions = deploy.load_desired([tmp_path / "defs"])
        assert [op.describe() for op in deploy.plan(definitions, db_url).changes] == [
            "add column(s) localized to smartflow's table sf_inbox"]
        deploy.apply(definitions, db_url)
        [line] = older.as_user("ivanova").inbox()
        assert render(line["message"], "ru") == "Вы ответственный / You are responsible: Бумага"
        older.as_user("boss").create("orders", {"title": "Скрепки", "assigned_to": "ivanova"})
        assert render(older.as_user("ivanova").inbox()[0]["message"], "ru") == \
            "Начальник назначил(а) вас ответственным за «Скрепки»."
    finally:
        older.close()


def test_off_switch_and_no_address_mean_the_inbox_only(db: Auto, smtp: Server) -> None:
    petrov = db.as_user("petrov")
    assert petrov.settings()["email_notifications"] is True
    assert petrov.change_settings(email_notifications=False)["email_notifications"] is False
    boss = db.as_user("boss")
    item = boss.create("orders", {"title": "Скрепки"})
    before = len(emails(db))
    boss.comment("orders", item, "@petrov и @sidorov, посмотрите")
    db.drain()
    assert smtp.mailbox.messages == [] and len(emails(db)) == before
    for login in ("petrov", "sidorov"):
        assert db.as_user(login).inbox()[0]["item_title"] == "Скрепки"
    # turned off after the e-mail was written: it is not sent either, and says why
    petrov.change_settings(email_notifications=True)
    boss.comment("orders", item, "@petrov ещё раз")
    petrov.change_settings(email_notifications=False)
    db.drain()
    assert smtp.mailbox.messages == []
    assert emails(db)[-1]["status"] == "dropped"
    assert emails(db)[-1]["last_error"] == "the user turned e-mail notifications off"
    petrov.change_settings(email_notifications=True)
    with pytest.raises(InvalidValue, match="there is no language 'de'"):
        petrov.change_settings(language="de")


def test_a_server_that_is_down_is_tried_again_after_the_backoff_and_delivers_once(db: Auto, smtp: Server) -> None:
    smtp.stop()
    boss = db.as_user("boss")
    item = boss.create("orders", {"title": "Тонер"})
    boss.comment("orders", item, "@ivanova тонер закончился")
    tally = db.admin.work()
    [waiting] = emails(db, "pending")
    assert (tally.retried, waiting["attempts"]) == (1, 1)
    assert "ConnectionRefusedError" in waiting["last_error"] and f"127.0.0.1:{smtp.port}" in waiting["last_error"]
    smtp.start()
    assert db.admin.work().total == 0  # not due before its backoff
    db.clock.advance(seconds=BACKOFF.total_seconds() + 1)
    db.drain()
    db.clock.advance(hours=1)
    db.drain()  # again: nothing is sent twice
    assert [m["Subject"] for m in smtp.mailbox.messages] == ["Заказы · Тонер: Начальник упомянул(а) вас в комментарии"]
    sent = db.rows("sf_outbox", SYSTEM["sf_outbox"].c.id == waiting["id"])[0]
    assert (sent["status"], sent["attempts"], sent["last_error"]) == ("sent", 2, None)


def test_a_refused_recipient_fails_at_once_and_shows_in_the_outbox(db: Auto, smtp: Server) -> None:
    boss = db.as_user("boss")
    item = boss.create("orders", {"title": "Ручки"})
    boss.comment("orders", item, "@smith please check")
    db.drain()
    failed = db.admin.outbox("failed")[0]
    assert failed["kind"] == "email" and failed["attempts"] == 1
    assert failed["last_error"].startswith("refused: the server refused the recipient: smith@bounce.example: 550")
    assert smtp.mailbox.messages == []


def test_without_an_smtp_server_emails_are_dropped_saying_why(db: Auto, smtp: Server,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SMARTFLOW_SMTP_URL")
    boss = db.as_user("boss")
    boss.comment("orders", boss.create("orders", {"title": "Бумага"}), "@ivanova бумага")
    db.drain()
    assert emails(db)[-1]["status"] == "dropped"
    assert "SMARTFLOW_SMTP_URL" in emails(db)[-1]["last_error"]


def test_settings_from_the_environment() -> None:
    found = mail.settings({"SMARTFLOW_SMTP_URL": "smtp+starttls://robot:p%40ss@mail.example.com",
                           "SMARTFLOW_LANG": "ru"})
    assert found is not None
    assert (found.host, found.port, found.security, found.user, found.password, found.base_url, found.language) == (
        "mail.example.com", 587, "starttls", "robot", "p@ss", None, "ru")
    assert mail.settings({"SMARTFLOW_SMTP_URL": "smtps://mail.example.com"}).port == 465  # type: ignore[union-attr]
    assert mail.settings({}) is None
    with pytest.raises(InvalidValue, match="SMARTFLOW_SMTP_URL='http://x' is not an SMTP server's address"):
        mail.settings({"SMARTFLOW_SMTP_URL": "http://x"})
    with pytest.raises(InvalidValue, match="SMARTFLOW_BASE_URL='board' is not an http"):
        mail.settings({"SMARTFLOW_SMTP_URL": "smtp://x", "SMARTFLOW_BASE_URL": "board"})


def test_without_a_base_url_the_message_names_the_card_instead_of_linking_it() -> None:
    letter = mail.letter({"event": "assigned", "author": "Начальник", "process": "orders", "item_id": 7,
                          "item_title": "Бумага"}, "a@example.com", "A", "ru", "Заказы", None)
    assert "Откройте в smartflow: Заказы, № 7" in letter.body and "http" not in letter.body


def test_a_real_worker_process_sends_the_email(db_url: str, tmp_path: Path, server: Server) -> None:
    if server.controller is None:
        server.start()
    server.mailbox.messages.clear()
    auto = Auto(db_url, tmp_path, ROLES, process("desk", {}, [], title={"ru": "Стол", "en": "Desk"}),
                clock=Clock(datetime.now(UTC)))
    try:
        auto.admin.add_user("anna", "Анна", ["agent"], email="anna@example.com")
        auto.admin.add_user("oleg", "Олег", ["lead"])
        oleg = auto.as_user("oleg")
        oleg.comment("desk", oleg.create("desk", {"title": "Стул"}), "@anna стул сломан")
        env = {**os.environ, "SMARTFLOW_SMTP_URL": f"smtp://127.0.0.1:{server.port}", "SMARTFLOW_BASE_URL": BASE,
               "SMARTFLOW_LANG": "ru"}
        done = subprocess.run([sys.executable, "-m", "smartflow", "worker", "--once", "--db", db_url],
                              env=env, capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr
        assert "messages: 1 sent" in done.stdout
        [sent] = server.mailbox.to("anna@example.com")
        assert sent["Subject"] == "Стол · Стул: Олег упомянул(а) вас в комментарии"
        assert "@anna стул сломан" in text(sent)
    finally:
        auto.close()


def test_the_cli_turns_email_off_for_a_user_or_for_oneself(db: Auto) -> None:
    done = invoke(db.url, "user", "edit", "sidorov", "--no-email-notifications", "--language", "en")
    assert done.exit_code == 0 and done.output == "user sidorov changed: email_notifications, language\n"
    assert (db.admin.user("sidorov")["email_notifications"], db.admin.user("sidorov")["language"]) == (False, "en")
    mine = invoke(db.url, "user", "edit", "sidorov", "--email-notifications", as_user="sidorov")  # no admin needed
    assert mine.exit_code == 0 and db.admin.user("sidorov")["email_notifications"] is True
    refused = invoke(db.url, "user", "edit", "petrov", "--no-email-notifications", as_user="sidorov")
    assert refused.exit_code != 0 and "administrator" in refused.output


def test_an_import_assigning_items_tells_nobody(db: Auto, smtp: Server, tmp_path: Path) -> None:
    from smartflow.services.data import ImportOptions

    sheet = tmp_path / "orders.csv"
    sheet.write_text("title,assigned_to\nБумага из файла,ivanova\nКлей из файла,ivanova\n", encoding="utf-8")
    before = len(db.as_user("ivanova").inbox())
    result = db.as_user("boss").import_file("orders", sheet, ImportOptions())
    assert result.created == 2, result.problems
    db.drain()
    assert len(db.as_user("ivanova").inbox()) == before and smtp.mailbox.messages == []


def test_a_name_with_a_line_break_adds_no_header() -> None:
    written = mail.message(mail.Letter("anna@example.com", "Анна\r\nBcc: spy@evil.example", "Тема", "тело"),
                           "crm@example.com", 5)
    parsed = email.message_from_bytes(written.as_bytes(), policy=email.policy.default)
    assert parsed["Bcc"] is None
    assert [a.addr_spec for a in parsed["To"].addresses] == ["anna@example.com"]
    letter = mail.letter({"event": "notify", "subject": "Тема\nBcc: spy@evil.example", "message": "м"},
                         "anna@example.com", "Анна", "ru", None, None)
    assert "\n" not in letter.subject  # the worker's letters are one line; a header with a break is refused
    with pytest.raises(ValueError, match="linefeed"):
        mail.message(mail.Letter("anna@example.com", "", "Тема\nBcc: x", "тело"), "crm@example.com", 5)


def test_a_todo_gone_overdue_is_told_once_to_its_responsible_person(db: Auto, smtp: Server) -> None:
    boss, ivanova = db.as_user("boss"), db.as_user("ivanova")
    item = boss.create("orders", {"title": "Счёт-фактура"})
    now = db.clock.now
    soon = now + timedelta(hours=2)
    boss.add_todo("orders", item, "Сверить счёт", due=soon.strftime("%Y-%m-%dT%H:%M"), responsible="ivanova")
    boss.add_todo("orders", item, "Давно забытое", due=(now - timedelta(days=3)).date().isoformat(),
                  responsible="ivanova")  # overdue long before: no reminder now
    done = boss.add_todo("orders", item, "Уже сделано", due=soon.strftime("%Y-%m-%dT%H:%M"), responsible="ivanova")
    ivanova.set_todo_done("orders", item, done["id"])
    db.drain()
    smtp.mailbox.messages.clear()  # the e-mails of to-dos given
    assert db.admin.work().reminded == 0
    db.clock.advance(hours=3)
    assert db.drain().sent == 1
    [told] = smtp.mailbox.messages
    assert told["Subject"] == "Заказы · Счёт-фактура: Срок дела «Сверить счёт» прошёл"
    assert f"Срок: {soon.strftime('%Y-%m-%d %H:%M')} UTC" in text(told)
    assert ivanova.inbox()[0]["subject"] == "Overdue: Сверить счёт"  # English for the CLI, the reader's below
    assert render(ivanova.inbox()[0]["subject"], "ru") == "Просрочено: Сверить счёт"
    db.clock.advance(hours=1)
    db.drain()  # once only
    assert len(smtp.mailbox.messages) == 1
    # a to-do due on a day goes overdue when the day ends (UTC)
    today = db.clock.now.date()
    boss.add_todo("orders", item, "Отправить оригинал", due=today.isoformat(), responsible="ivanova")
    db.drain()
    smtp.mailbox.messages.clear()
    db.clock.now = datetime.combine(today, datetime.min.time(), tzinfo=UTC) + timedelta(hours=23, minutes=59)
    assert db.drain().sent == 0
    db.clock.advance(minutes=2)
    db.drain()
    assert [m["Subject"] for m in smtp.mailbox.messages] == [
        "Заказы · Счёт-фактура: Срок дела «Отправить оригинал» прошёл"]
    assert f"Срок: {today.isoformat()}\n" in text(smtp.mailbox.messages[0])


def test_a_long_russian_subject_keeps_every_space_where_it_is_folded() -> None:
    """Folded into several RFC 2047 words, a subject must read back as written (the newer EmailMessage
    API dropped the space at each split: "А500С Ø16" arrived as "А500СØ16")."""
    subject = "Закупка · Арматура А500С Ø16, 4 т: Поставка по закупке «Арматура А500С Ø16, 4 т» / Delivery due"
    letter = mail.Letter("anna@example.com", "Анна Иванова", subject, "тело")
    written = mail.message(letter, "Снабжение <crm@example.com>", 7).as_bytes()
    head = written.split(b"\n\n", 1)[0].decode("ascii")
    assert all(len(word) <= 75 for word in re.findall(r"=\?utf-8\?b\?[^?]*\?=", head))  # RFC 2047's longest
    parsed = email.message_from_bytes(written, policy=email.policy.default)
    assert parsed["Subject"] == subject
    assert str(parsed["From"]) == "Снабжение <crm@example.com>"
    assert str(parsed["To"]) == "Анна Иванова <anna@example.com>"
    assert parsed.get_body(("plain",)).get_content() == "тело"  # type: ignore[union-attr]
